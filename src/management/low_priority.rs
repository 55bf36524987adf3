//! Threads for heavy renders (Prometheus scrapes, queue listings) at a lower scheduling
//! priority than the broker's own threads: on a busy machine a render gets the CPU that
//! message flow leaves over instead of an equal share of it.
//!
//! Each render gets a short-lived thread of its own (renders run one per kind at a time,
//! so there are never more than a few), whose nice value is raised to [`RENDER_NICE`].
//! Linux keeps a nice value per thread, so the broker's other threads keep theirs; a
//! thread's nice value can only be raised without privileges, which is why renders do not
//! borrow threads from a pool that other work shares.

#![allow(unsafe_code)]

use std::panic::AssertUnwindSafe;
use tokio::sync::oneshot;

/// The nice value render threads run at (0 is the default, 19 the lowest priority). At
/// 10 a render gets about a tenth of a core that a busy broker thread also wants.
pub const RENDER_NICE: i32 = 10;

/// Why a render thread gave no result.
#[derive(Debug, thiserror::Error)]
pub enum RenderThreadError {
    /// The operating system refused a new thread.
    #[error("cannot start a render thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// The render panicked.
    #[error("the render panicked")]
    Panicked,
}

/// Runs `work` on a new low-priority thread; waits for its result without holding an
/// async worker.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RenderThreadError> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("warren-render".into())
        .spawn(move || {
            lower_priority();
            // The receiver is gone only if the request was dropped; nothing to tell then.
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        })?;
    match rx.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) | Err(_) => Err(RenderThreadError::Panicked),
    }
}

/// Raises the calling thread's nice value to [`RENDER_NICE`] (Linux only; elsewhere
/// `setpriority` would change the whole process, so renders keep the default priority).
/// The HTTP runtime's threads call it too (see `crate::server::http_runtime`).
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority reads only its integer arguments; on Linux, PRIO_PROCESS
        // with `who` 0 changes the calling thread's nice value and nothing else.
        let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, RENDER_NICE) };
        if r != 0 {
            let err = std::io::Error::last_os_error();
            tracing::debug!(%err, "a low-priority thread keeps the default priority");
        }
    }
}

/// The calling thread's nice value (tests check render and HTTP threads run lowered).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn current_nice() -> i32 {
    // SAFETY: getpriority reads only its integer arguments.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_thread_with_a_raised_nice_value() {
        let before = current_nice();
        let (nice, name) = run(|| {
            let name = std::thread::current().name().map(str::to_string);
            (current_nice(), name)
        })
        .await
        .unwrap();
        assert_eq!(nice, RENDER_NICE.max(before));
        assert_eq!(name.as_deref(), Some("warren-render"));
        assert_eq!(
            current_nice(),
            before,
            "the caller's thread keeps its priority"
        );
    }

    #[tokio::test]
    async fn a_panicking_render_is_an_error() {
        let result = run(|| -> u32 { panic!("render failed") }).await;
        assert!(matches!(result, Err(RenderThreadError::Panicked)));
    }
}
