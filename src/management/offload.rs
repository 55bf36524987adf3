//! Heavy renders (Prometheus scrapes, queue listings) run off the async worker threads, on
//! threads of their own at a lower priority (see [`super::low_priority`]), one at a time
//! per kind: concurrent scrapes of the same endpoint queue behind each other instead of
//! multiplying CPU, and the AMQP connections keep their worker threads (and most of the
//! CPU) while 100,000 queues are rendered.
//!
//! A scrape body is streamed while it is rendered. [`Offload::stream_cached`] keeps it for
//! the rest of the sampler tick, so other scrapes of the same endpoint and query in that
//! tick stream the same body instead of rendering it again (see [`super::render_cache`]).
//! [`Offload::stream`] renders for one client only: its body goes out through a bounded
//! channel, so its memory stays a few chunks whatever the number of queues, and a client
//! that goes away stops the render.

use super::low_priority::{self, RenderThreadError};
use super::render_cache::{Lookup, RenderCache};
use super::shared_body::SharedBody;
use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, watch};

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
    /// The work panicked, or no thread could be started for it.
    #[error("offloaded work failed: {0}")]
    Failed(#[from] RenderThreadError),
    /// The render stopped before the body was complete.
    #[error("rendering stopped before the body was complete")]
    Incomplete,
}

/// Size of the chunks a body is handed on in.
const CHUNK: usize = 256 * 1024;
/// Chunks rendered ahead of what the client has read (uncached bodies).
const CHUNKS_AHEAD: usize = 4;

/// The per-kind gates and the scrape cache; one per management/Prometheus server state.
#[derive(Debug)]
pub struct Offload {
    gates: [Arc<Semaphore>; Work::COUNT],
    cache: Arc<RenderCache>,
}

impl Default for Offload {
    fn default() -> Offload {
        Offload {
            gates: std::array::from_fn(|_| Arc::new(Semaphore::new(1))),
            cache: Arc::default(),
        }
    }
}

impl Offload {
    /// Runs `work` on a low-priority thread once no other work of its kind runs.
    pub async fn run<T: Send + 'static>(
        &self,
        kind: Work,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadError> {
        let gate = &self.gates[kind.index()];
        // The semaphore is never closed, so acquiring only waits.
        let _permit = gate.acquire().await;
        Ok(low_priority::run(work).await?)
    }

    /// The scrape cache (tests read its render count).
    pub fn cache(&self) -> &RenderCache {
        &self.cache
    }

    /// The body of `kind` for `key` (the query, normalised by the caller) in the current
    /// sampler tick (`ticks`, see [`crate::metrics::sampler::Sampler::ticks`]): the body
    /// another scrape of the same tick rendered, or one `render` writes now, on a
    /// low-priority thread once no other work of its kind runs. Either way it streams as it
    /// is written. The body is kept until the tick passes; the render runs to the end even
    /// if this client goes away, since others may read it.
    pub async fn stream_cached(
        &self,
        kind: Work,
        key: &str,
        mut ticks: watch::Receiver<u64>,
        render: impl FnOnce(&mut RenderSink) -> std::fmt::Result + Send + 'static,
    ) -> Body {
        let tick = *ticks.borrow_and_update();
        let body = match self.cache.lookup(kind, key, tick) {
            Lookup::Hit(body) => return body.reader(),
            Lookup::Full => return self.stream(kind, render).await,
            Lookup::Miss(body) => body,
        };
        let gate = Arc::clone(&self.gates[kind.index()]);
        let (cache, shared) = (Arc::clone(&self.cache), Arc::clone(&body));
        tokio::spawn(async move {
            {
                let _permit = gate.acquire().await;
                let sink_body = Arc::clone(&shared);
                let rendered = low_priority::run(move || {
                    let mut sink = RenderSink::new(Out::Shared(sink_body));
                    render(&mut sink)?;
                    sink.flush()
                })
                .await;
                let complete = matches!(rendered, Ok(Ok(())));
                if !complete {
                    tracing::warn!(?kind, ?rendered, "a cached render failed");
                }
                shared.finish(complete);
            }
            // Kept until the tick passes (or the sampler is gone).
            let _ = ticks.wait_for(|t| *t != tick).await;
            cache.evict(&shared);
        });
        body.reader()
    }

    /// Starts `render` on a low-priority thread once no other work of its kind runs, and
    /// returns the body it writes, streamed as it is written, for this client only. A
    /// render that fails (its sink was closed by a client going away, or it panicked) ends
    /// the body with an error, so the response is cut off rather than served short.
    pub async fn stream(
        &self,
        kind: Work,
        render: impl FnOnce(&mut RenderSink) -> std::fmt::Result + Send + 'static,
    ) -> Body {
        let gate = Arc::clone(&self.gates[kind.index()]);
        let permit = gate.acquire_owned().await;
        let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        let job = tokio::spawn(low_priority::run(move || {
            let _permit = permit;
            let mut sink = RenderSink::new(Out::Channel(tx));
            render(&mut sink)?;
            sink.flush()
        }));
        Body::from_stream(
            futures_util::stream::unfold((rx, Some(job)), |(mut rx, job)| async move {
                if let Some(chunk) = rx.recv().await {
                    return Some((Ok(chunk), (rx, job)));
                }
                let outcome = finished(job?.await).await;
                outcome.err().map(|e| (Err(e), (rx, None)))
            })
            // Polled again after its end (gzip compression does), it stays ended.
            .fuse(),
        )
    }
}

/// How an uncached render ended.
async fn finished(
    job: Result<Result<std::fmt::Result, RenderThreadError>, tokio::task::JoinError>,
) -> Result<(), OffloadError> {
    match job {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(_))) => {
            tracing::debug!("a streamed render stopped early");
            Err(OffloadError::Incomplete)
        }
        Ok(Err(e)) => {
            tracing::error!(%e, "a streamed render failed");
            Err(OffloadError::Failed(e))
        }
        Err(e) => {
            tracing::error!(%e, "a streamed render was cancelled");
            Err(OffloadError::Incomplete)
        }
    }
}

/// Where a render's chunks go.
#[derive(Debug)]
enum Out {
    /// Into a cached body.
    Shared(Arc<SharedBody>),
    /// To one client, through a bounded channel.
    Channel(mpsc::Sender<Bytes>),
}

/// The [`std::fmt::Write`] a render writes its body into: it hands the body on in chunks
/// of `CHUNK` bytes and lets other threads run between chunks. Writing fails once an
/// uncached render's client has gone away.
#[derive(Debug)]
pub struct RenderSink {
    buf: String,
    out: Out,
}

impl RenderSink {
    fn new(out: Out) -> RenderSink {
        RenderSink {
            buf: String::with_capacity(CHUNK),
            out,
        }
    }

    fn flush(&mut self) -> std::fmt::Result {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            String::with_capacity(CHUNK),
        ));
        match &self.out {
            Out::Shared(body) => body.push(chunk),
            Out::Channel(tx) => tx.blocking_send(chunk).map_err(|_| std::fmt::Error)?,
        }
        std::thread::yield_now();
        Ok(())
    }
}

impl std::fmt::Write for RenderSink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        // Chunks stay within their allocation, so a cached body holds no spare capacity.
        if self.buf.len() + s.len() > CHUNK {
            self.flush()?;
        }
        self.buf.push_str(s);
        Ok(())
    }
}
