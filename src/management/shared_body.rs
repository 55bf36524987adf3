//! A body rendered once and read by any number of responses, also while it is still being
//! written: the render appends chunks ([`SharedBody::push`]), each reader
//! ([`SharedBody::reader`]) streams them from the first, waiting for the next one or the
//! end.

use super::offload::OffloadError;
use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::watch;

/// How far the render has got.
#[derive(Debug, Default)]
struct Progress {
    chunks: Vec<Bytes>,
    /// `None` while rendering; then whether the body is complete.
    end: Option<bool>,
}

/// One rendered body, shared by its readers.
#[derive(Debug, Default)]
pub struct SharedBody {
    progress: Mutex<Progress>,
    changed: watch::Sender<()>,
}

impl SharedBody {
    /// An empty body still being rendered.
    pub fn new() -> Arc<SharedBody> {
        Arc::default()
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.progress.lock());
        self.changed.send_replace(());
    }

    /// Appends a chunk.
    pub fn push(&self, chunk: Bytes) {
        self.update(|p| p.chunks.push(chunk));
    }

    /// Ends the body: complete, or cut off (its readers end with an error).
    pub fn finish(&self, complete: bool) {
        self.update(|p| p.end = Some(complete));
    }

    /// Whether the render stopped before the body was complete.
    pub fn failed(&self) -> bool {
        self.progress.lock().end == Some(false)
    }

    /// The body's bytes so far.
    pub fn len(&self) -> usize {
        self.progress.lock().chunks.iter().map(Bytes::len).sum()
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What a reader that has had `next` chunks gets now.
    fn step(&self, next: usize) -> Step {
        let progress = self.progress.lock();
        match (progress.chunks.get(next), progress.end) {
            (Some(chunk), _) => Step::Chunk(chunk.clone()),
            (None, Some(true)) => Step::Done,
            (None, Some(false)) => Step::Failed,
            (None, None) => Step::Wait,
        }
    }

    /// The whole body as a response body, from its first chunk, streamed as it is written.
    /// The stream is fused: a layer that polls it again after its end (gzip compression
    /// does) sees the end again.
    pub fn reader(self: &Arc<Self>) -> Body {
        let reader = Reader {
            body: Arc::clone(self),
            next: 0,
            changes: self.changed.subscribe(),
        };
        Body::from_stream(
            futures_util::stream::unfold(Some(reader), |reader| async move {
                let mut reader = reader?;
                loop {
                    match reader.body.step(reader.next) {
                        Step::Chunk(chunk) => {
                            reader.next += 1;
                            return Some((Ok(chunk), Some(reader)));
                        }
                        Step::Done => return None,
                        Step::Failed => return Some((Err(OffloadError::Incomplete), None)),
                        Step::Wait => {
                            // The sender lives in the body this reader holds.
                            if reader.changes.changed().await.is_err() {
                                return Some((Err(OffloadError::Incomplete), None));
                            }
                        }
                    }
                }
            })
            .fuse(),
        )
    }
}

/// What a reader does next.
enum Step {
    Chunk(Bytes),
    Done,
    Failed,
    Wait,
}

/// One response's place in a [`SharedBody`].
struct Reader {
    body: Arc<SharedBody>,
    next: usize,
    changes: watch::Receiver<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(body: Body) -> Result<Bytes, axum::Error> {
        axum::body::to_bytes(body, usize::MAX).await
    }

    #[tokio::test]
    async fn readers_started_before_during_and_after_the_render_get_the_same_bytes() {
        let body = SharedBody::new();
        let early = tokio::spawn(read(body.reader()));
        let text = "x".repeat(1000) + "tail";
        body.push(Bytes::from(text[..1000].to_string()));
        let during = tokio::spawn(read(body.reader()));
        body.push(Bytes::from(text[1000..].to_string()));
        body.finish(true);
        let after = read(body.reader()).await.unwrap();
        assert_eq!(after, text.as_bytes());
        assert_eq!(early.await.unwrap().unwrap(), text.as_bytes());
        assert_eq!(during.await.unwrap().unwrap(), text.as_bytes());
        assert_eq!(body.len(), text.len());
    }

    #[tokio::test]
    async fn a_failed_render_ends_its_readers_with_an_error() {
        let body = SharedBody::new();
        let waiting = tokio::spawn(read(body.reader()));
        body.push(Bytes::from_static(b"part"));
        body.finish(false);
        assert!(body.failed());
        assert!(waiting.await.unwrap().is_err());
        assert!(read(body.reader()).await.is_err());
    }
}
