//! The writer thread: owns every write transaction after start-up.
//!
//! Protocol: submitters send [`Request`]s on an unbounded channel. The thread blocks for the
//! first, drains up to `max_batch` (or [`MAX_BATCH_BYTES`] of bodies) more without waiting,
//! applies them all in one transaction and commits (group commit: batch size follows disk
//! speed), then runs each op's completion with its own result and loops. On `MapFull` it
//! aborts, grows the map and retries the same batch; on any other error every op of the batch
//! is completed with that error and the thread keeps serving. It exits when every sender is
//! gone, after draining the channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};

use super::apply::{self, Ctx};
use super::env::{Shared, grow};
use super::types::{Completion, StoreError, StoreOp};

/// Stop draining once a batch carries this many body bytes (bounds latency and dirty pages).
const MAX_BATCH_BYTES: usize = 64 << 20;

/// What submitters send to the writer.
pub(crate) enum Request {
    /// An op and its completion.
    Op(StoreOp, Option<Completion>),
    /// Persist that queue ids below this are taken.
    QueueCounter(u64),
    /// Reply once everything before has committed (or failed).
    Flush(Sender<Result<(), StoreError>>),
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Op(op, done) => f
                .debug_tuple("Op")
                .field(op)
                .field(&done.as_ref().map(|_| "completion"))
                .finish(),
            Request::QueueCounter(n) => f.debug_tuple("QueueCounter").field(n).finish(),
            Request::Flush(_) => f.write_str("Flush"),
        }
    }
}

/// Counters the handle exposes.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) commits: AtomicU64,
    pub(crate) ops: AtomicU64,
    /// Requests submitted and not yet processed (the writer's queue depth).
    pub(crate) pending: AtomicU64,
    /// Woken when the queue depth falls below half of [`super::Store::BACKLOG_LIMIT`].
    pub(crate) drained: tokio::sync::Notify,
}

/// The thread's state.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) rx: Receiver<Request>,
    pub(crate) max_batch: usize,
    pub(crate) last_msg_id: u64,
    pub(crate) metrics: Arc<Metrics>,
}

fn body_len(r: &Request) -> usize {
    match r {
        Request::Op(StoreOp::Publish { message, .. }, _) => message.body.len(),
        _ => 0,
    }
}

impl Writer {
    /// The thread's body.
    pub(crate) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch.min(4096));
        while let Ok(first) = self.rx.recv() {
            let mut bytes = body_len(&first);
            batch.push(first);
            while batch.len() < self.max_batch && bytes < MAX_BATCH_BYTES {
                match self.rx.try_recv() {
                    Ok(r) => {
                        bytes += body_len(&r);
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            let n = batch.len() as u64;
            self.process(&mut batch);
            let before = self.metrics.pending.fetch_sub(n, Ordering::AcqRel);
            if before.saturating_sub(n) < super::Store::BACKLOG_LIMIT / 2 {
                self.metrics.drained.notify_waiters();
            }
        }
    }

    fn process(&mut self, batch: &mut Vec<Request>) {
        let outcome = loop {
            let saved = self.last_msg_id;
            match self.commit(batch) {
                Ok(results) => break Ok(results),
                Err(StoreError::MapFull) => {
                    self.last_msg_id = saved;
                    if let Err(e) = grow(&self.shared) {
                        break Err(e);
                    }
                }
                Err(e) => {
                    self.last_msg_id = saved;
                    break Err(e);
                }
            }
        };
        // A full store at its maximum size: commit the ops one by one instead, so the ones
        // that free space (acks, purges) and small ones still go through and only the ops
        // that do not fit fail.
        let outcome = match outcome {
            Err(StoreError::MapFull) if batch.len() > 1 => {
                let mut results = Vec::with_capacity(batch.len());
                for req in batch.iter() {
                    let saved = self.last_msg_id;
                    let r = match self.commit(std::slice::from_ref(req)) {
                        Ok(mut r) => r.pop().unwrap_or(Ok(())),
                        Err(e) => {
                            self.last_msg_id = saved;
                            Err(e)
                        }
                    };
                    results.push(r);
                }
                Ok(results)
            }
            other => other,
        };
        match &outcome {
            Ok(_) => {
                self.metrics.commits.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .ops
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, ops = batch.len(), "store batch failed"),
        }
        let mut results = match outcome {
            Ok(r) => r.into_iter(),
            Err(e) => {
                let all: Vec<_> = batch.iter().map(|_| Err(e.duplicate())).collect();
                all.into_iter()
            }
        };
        for req in batch.drain(..) {
            let res = results.next().unwrap_or(Err(StoreError::Closed));
            match req {
                Request::Op(_, Some(done)) => {
                    // A panicking completion is a caller bug; it must not kill the writer
                    // (every later op would then fail with `Closed`).
                    let run = std::panic::AssertUnwindSafe(move || done(res));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("store completion panicked");
                    }
                }
                Request::Op(op, None) => {
                    if let Err(e) = res {
                        tracing::warn!(error = %e, ?op, "store op failed");
                    }
                }
                Request::Flush(tx) => {
                    let _ = tx.send(res);
                }
                Request::QueueCounter(_) => {}
            }
        }
    }

    /// One transaction over the whole batch; per-op results on success.
    fn commit(&mut self, batch: &[Request]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let guard = self.shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        let mut txn = env.write_txn()?;
        let dbs = self.shared.dbs;
        let mut ctx = Ctx::new(dbs, &mut self.last_msg_id);
        let mut results = Vec::with_capacity(batch.len());
        for req in batch {
            let r = match req {
                Request::Op(op, _) => apply::apply(&mut txn, &mut ctx, op)?,
                Request::QueueCounter(n) => apply::bump_queue_counter(&mut txn, &dbs, *n)?,
                Request::Flush(_) => Ok(()),
            };
            results.push(r);
        }
        ctx.finish(&mut txn)?;
        txn.commit()?;
        Ok(results)
    }
}
