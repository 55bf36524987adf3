//! Heavy renders (Prometheus scrapes, queue listings) run off the async worker threads, on
//! the blocking pool, one at a time per kind: concurrent scrapes of the same endpoint queue
//! behind each other instead of multiplying CPU, and the AMQP connections keep their
//! worker threads while 100,000 queues are rendered.
//!
//! A scrape body is streamed: the render writes into [`ChunkSink`], which hands the body
//! on in chunks through a bounded channel, so its memory stays a few chunks whatever the
//! number of queues, and a client that goes away stops the render.

use axum::body::Body;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

/// The kinds of heavy work; each runs one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// `/metrics`.
    Aggregated,
    /// `/metrics/per-object`.
    PerObject,
    /// `/metrics/detailed`.
    Detailed,
    /// `GET /api/queues[/{vhost}]`.
    QueueListing,
}

impl Work {
    const COUNT: usize = 4;

    fn index(self) -> usize {
        match self {
            Work::Aggregated => 0,
            Work::PerObject => 1,
            Work::Detailed => 2,
            Work::QueueListing => 3,
        }
    }
}

/// Why offloaded work produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    /// The work panicked or was cancelled at shutdown.
    #[error("offloaded work failed: {0}")]
    Failed(#[from] tokio::task::JoinError),
    /// The render stopped (its sink failed) before the body was complete.
    #[error("rendering stopped before the body was complete")]
    Incomplete,
}

/// Size of the chunks a streamed body is sent in.
const CHUNK: usize = 256 * 1024;
/// Chunks rendered ahead of what the client has read.
const CHUNKS_AHEAD: usize = 4;

/// The per-kind gates; one per management/Prometheus server state.
#[derive(Debug)]
pub struct Offload {
    gates: [Arc<Semaphore>; Work::COUNT],
}

impl Default for Offload {
    fn default() -> Offload {
        Offload {
            gates: std::array::from_fn(|_| Arc::new(Semaphore::new(1))),
        }
    }
}

impl Offload {
    /// Runs `work` on the blocking pool once no other work of its kind runs.
    pub async fn run<T: Send + 'static>(
        &self,
        kind: Work,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadError> {
        let gate = &self.gates[kind.index()];
        // The semaphore is never closed, so acquiring only waits.
        let _permit = gate.acquire().await;
        Ok(tokio::task::spawn_blocking(work).await?)
    }

    /// Starts `render` on the blocking pool once no other work of its kind runs, and
    /// returns the body it writes, streamed as it is written. A render that fails (its
    /// sink was closed by a client going away, or it panicked) ends the body with an error,
    /// so the response is cut off rather than served short.
    pub async fn stream(
        &self,
        kind: Work,
        render: impl FnOnce(&mut ChunkSink) -> std::fmt::Result + Send + 'static,
    ) -> Body {
        let gate = Arc::clone(&self.gates[kind.index()]);
        let permit = gate.acquire_owned().await;
        let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut sink = ChunkSink {
                buf: String::with_capacity(CHUNK),
                tx,
            };
            render(&mut sink)?;
            sink.flush()
        });
        Body::from_stream(futures_util::stream::unfold(
            (rx, Some(job)),
            |(mut rx, job)| async move {
                if let Some(chunk) = rx.recv().await {
                    return Some((Ok(chunk), (rx, job)));
                }
                let outcome = finished(job?).await;
                outcome.err().map(|e| (Err(e), (rx, None)))
            },
        ))
    }
}

/// How a streamed render ended.
async fn finished(job: JoinHandle<std::fmt::Result>) -> Result<(), OffloadError> {
    match job.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => {
            tracing::debug!("a streamed render stopped early");
            Err(OffloadError::Incomplete)
        }
        Err(e) => {
            tracing::error!(%e, "a streamed render failed");
            Err(OffloadError::Failed(e))
        }
    }
}

/// A [`std::fmt::Write`] that sends what is written as body chunks; writing fails once
/// the receiving response is gone.
#[derive(Debug)]
pub struct ChunkSink {
    buf: String,
    tx: mpsc::Sender<Bytes>,
}

impl ChunkSink {
    fn flush(&mut self) -> std::fmt::Result {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK));
        self.tx
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| std::fmt::Error)
    }
}

impl std::fmt::Write for ChunkSink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }
}
