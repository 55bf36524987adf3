//! The cluster's own tokio runtime: openraft's tasks, the cluster port and the transport
//! run on a dedicated worker thread (plus tokio's blocking pool for the stores' synced
//! writes), so a broker busy with AMQP load cannot delay heartbeats and elections.
//!
//! One worker, not two: the Raft tasks hand work to each other many times per log entry,
//! and a second worker turned those hand-offs into cross-thread wake-ups (tokio's work
//! stealing). Three nodes on two cores under the cluster benchmark confirmed 47–58k msg/s
//! with one worker against 24–48k with two, at 24–28 instead of 30–51 ms of CPU per 1,000
//! messages (README, "Cluster"). Handles to the node
//! (writes, metrics, waits) work from any runtime.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};

/// Worker threads of the cluster runtime.
pub const WORKERS: usize = 1;

/// The runtime; dropping it stops its tasks without waiting (safe from async code).
#[derive(Debug)]
pub struct RaftRuntime(Option<Runtime>);

impl RaftRuntime {
    /// Starts the runtime's worker thread (`warren-raft`).
    pub fn new() -> std::io::Result<RaftRuntime> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("warren-raft")
            .enable_all()
            .build()?;
        Ok(RaftRuntime(Some(runtime)))
    }

    /// Runs `task` on the cluster runtime and waits for it from the caller's runtime.
    pub async fn run<F>(&self, task: F) -> Result<F::Output, tokio::task::JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(runtime) => runtime.spawn(task).await,
            // Only after drop; `run` cannot be called then.
            None => tokio::spawn(task).await,
        }
    }
}

impl Drop for RaftRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
