//! The `warren` binary's allocator (not part of the library): jemalloc, set up to give
//! memory back to the system once a backlog has drained (issue #11; figures in the README).
//!
//! glibc's malloc kept hundreds of MiB after a large backlog drained (per-thread arenas,
//! fragmentation); jemalloc's background threads purge freed pages within `dirty_decay_ms`.
//! What a thread frees goes first to its own cache (tcache), which an idle thread never
//! empties by itself: [`flush_thread_cache`] is registered as the library's idle hook
//! ([`warren::idle_trim`]), so tokio's workers and the store's writer give their caches back
//! when they go idle.
#![allow(unsafe_code)]

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it initialises: background purging threads, freed pages
/// returned to the system over about a second, no lazy (MADV_FREE) stage, which would leave
/// them counted in the resident set until the kernel needs them, and one arena: jemalloc
/// never unmaps the metadata of the extents an arena used, and with its default of four
/// arenas per CPU a drained backlog left about 1.3 MiB more of it behind (README,
/// Benchmarks). `_RJEM_MALLOC_CONF` in the environment overrides these.
// SAFETY: jemalloc reads this symbol once, as a NUL-terminated C string; the static is
// immutable and its bytes end with NUL.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: &[u8; 70] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1\0";

/// Returns the calling thread's cache of freed blocks to jemalloc's arenas
/// (`thread.tcache.flush`), so that the pages they free can be purged.
#[cfg(not(target_env = "msvc"))]
pub fn flush_thread_cache() {
    // SAFETY: `thread.tcache.flush` is a void mallctl: it reads and writes nothing, so null
    // pointers and a zero length are its documented arguments; the name is NUL-terminated.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        tracing::debug!(rc, "thread.tcache.flush failed");
    }
}

/// Elsewhere the system allocator is used, and there is nothing to flush.
#[cfg(target_env = "msvc")]
pub fn flush_thread_cache() {}

/// Registers [`flush_thread_cache`] as the library's idle hook.
pub fn install() {
    warren::idle_trim::set(flush_thread_cache);
}
