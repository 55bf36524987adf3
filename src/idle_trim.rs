//! A hook for giving a thread's cached memory back once it has gone idle (issue #11).
//!
//! The library does not know which allocator the program runs on. The `warren` binary
//! (jemalloc) registers a function with [`set`] that returns the calling thread's cache of
//! freed blocks to the allocator's arenas, so that their pages can be purged; threads that
//! go idle after a burst of work call [`run`]: the tokio worker threads when they park, the
//! store's writer thread when its queue empties. Nothing is registered in tests or in
//! programs embedding the library, and then [`run`] does nothing.
//!
//! Calls are rate-limited per thread (at most one every [`EVERY`]), so a thread that parks
//! thousands of times a second pays for one trim a second at most.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The shortest time between two trims on one thread.
pub const EVERY: Duration = Duration::from_secs(1);

static HOOK: OnceLock<fn()> = OnceLock::new();

thread_local! {
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Registers the trim function (the first registration wins); returns whether it was taken.
pub fn set(hook: fn()) -> bool {
    HOOK.set(hook).is_ok()
}

/// Runs the registered trim on this thread unless it ran here less than [`EVERY`] ago.
/// Returns whether it ran.
pub fn run() -> bool {
    let Some(hook) = HOOK.get() else {
        return false;
    };
    let now = Instant::now();
    let due = LAST.with(|last| match last.get() {
        Some(at) if now.duration_since(at) < EVERY => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if due {
        hook();
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        // Per thread: the store's writer threads of other tests call `run` too.
        static CALLS: Cell<u32> = const { Cell::new(0) };
    }

    fn count() {
        CALLS.with(|c| c.set(c.get() + 1));
    }

    #[test]
    fn runs_the_hook_once_per_period_and_per_thread() {
        assert!(set(count), "the hook is registered only here");
        assert!(run());
        assert!(!run(), "a second call within the period is skipped");
        assert_eq!(CALLS.with(Cell::get), 1);
        // Another thread has its own period.
        let other = std::thread::spawn(|| (run(), CALLS.with(Cell::get))).join();
        assert!(matches!(other, Ok((true, 1))));
        assert_eq!(CALLS.with(Cell::get), 1);
        assert!(!set(count), "only the first registration counts");
    }
}
