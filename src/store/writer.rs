//! The writer thread: owns every write transaction after start-up.
//!
//! Protocol: submitters send [`Request`]s on an unbounded channel. The thread blocks for the
//! first, drains up to `max_batch` more without waiting (fewer once [`batch::fits`] says the
//! batch would dirty too many pages),
//! applies them all in one transaction and commits (group commit: batch size follows disk
//! speed), then runs each op's completion with its own result and loops. On `MapFull` it
//! aborts, grows the map and retries the same batch. A batch that still fails (disk full,
//! store at its maximum size, I/O error) is committed op by op, so removals that free space
//! go through and only the ops that do not fit fail. A removal or delivery mark that fails
//! even alone is kept and tried again before new work (every [`RETRY_EVERY`] while idle):
//! an ack is never dropped because the disk was full when it arrived. The thread exits when
//! every sender is gone, after draining the channel.
//!
//! Back-pressure: every request counts its body bytes plus [`PENDING_OP_BYTES`] in
//! [`Metrics::pending_bytes`] from submission until its batch is done; publishing connections
//! stop reading while that is over the store's bound, so a writer that falls behind slows the
//! clients down instead of letting unwritten messages pile up in memory (issue #11).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

use super::apply::{self, Ctx};
use super::batch;
use super::env::{Shared, grow};
use super::mapped;
use super::space;
use super::types::{Completion, StoreError, StoreOp};

/// What a request counts against the pending bound besides its body: the request, its
/// completion and the message's bookkeeping, so a flood of acks is bounded too.
pub const PENDING_OP_BYTES: u64 = 256;
/// Room kept for a batch's requests while the writer is idle; a burst grows it again.
const IDLE_BATCH_CAPACITY: usize = 64;
/// How often failed removals are tried again while no new work arrives.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// After about this many bytes of writes (as [`batch::dirty_bytes`] counts them) the pages
/// of the data file mapped meanwhile are given back even though the store is not empty: a
/// backlog written over free pages of a file that held an earlier one maps every leaf it
/// appends to, and so does a long drain that reads its messages back (issue #11).
const RELEASE_AFTER_BYTES: usize = 64 << 20;

/// What submitters send to the writer.
pub(crate) enum Request {
    /// An op and its completion.
    Op(StoreOp, Option<Completion>),
    /// Persist that queue ids below this are taken.
    QueueCounter(u64),
    /// Message ids up to this one are taken: later publishes of lower ids must not use
    /// LMDB's append mode (the store's content was replaced, see [`super::copy`]).
    MsgIdFloor(u64),
    /// Ops applied in one transaction, never split ([`super::group`]).
    Group(Box<super::group::Pending>),
    /// Reply once everything before has committed (or failed).
    Flush(Sender<Result<(), StoreError>>),
    /// Test hook: after everything before has committed, hold the thread until the
    /// sender of this channel is dropped.
    Pause(Receiver<()>),
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
            Request::MsgIdFloor(n) => f.debug_tuple("MsgIdFloor").field(n).finish(),
            Request::Group(p) => f.debug_tuple("Group").field(&p.group).finish(),
            Request::Flush(_) => f.write_str("Flush"),
            Request::Pause(_) => f.write_str("Pause"),
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
    /// Their cost in bytes ([`cost`]).
    pub(crate) pending_bytes: AtomicU64,
    /// The bound on `pending_bytes` (the store is backed up at or above it).
    pub(crate) max_pending_bytes: u64,
    /// Woken when `pending_bytes` falls below half the bound.
    pub(crate) drained: tokio::sync::Notify,
}

/// What a request counts against the pending bound.
pub(crate) fn cost(r: &Request) -> u64 {
    u64::try_from(body_len(r))
        .unwrap_or(u64::MAX)
        .saturating_add(PENDING_OP_BYTES)
}

/// The thread's state.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) rx: Receiver<Request>,
    pub(crate) max_batch: usize,
    pub(crate) last_msg_id: u64,
    pub(crate) metrics: Arc<Metrics>,
    /// Removals and delivery marks whose commit failed, tried again first.
    pub(crate) retry: Vec<Request>,
    /// The data file (to find its map for [`mapped::release`]).
    pub(crate) data_file: PathBuf,
    /// A batch was processed since the writer was last idle.
    pub(crate) touched: bool,
    /// Bytes written (as [`batch::dirty_bytes`] counts them) since mapped pages were last
    /// given back.
    pub(crate) written_since_release: usize,
}

fn body_len(r: &Request) -> usize {
    match r {
        Request::Op(StoreOp::Publish { message, .. }, _) => message.body.len(),
        Request::Group(p) => p.body_len(),
        _ => 0,
    }
}

impl Writer {
    /// The thread's body.
    pub(crate) fn run(mut self) {
        let mut batch = Vec::with_capacity(IDLE_BATCH_CAPACITY);
        let mut open = true;
        while open || !self.retry.is_empty() {
            let first = if self.retry.is_empty() {
                match self.rx.try_recv() {
                    Ok(r) => Some(r),
                    Err(TryRecvError::Empty) => {
                        // A large batch's room is given back while nothing is waiting.
                        batch.shrink_to(IDLE_BATCH_CAPACITY);
                        self.on_idle();
                        self.rx.recv().ok()
                    }
                    Err(TryRecvError::Disconnected) => None,
                }
            } else if open {
                match self.rx.recv_timeout(RETRY_EVERY) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        open = false;
                        None
                    }
                }
            } else {
                // Closing: one last try for what failed, then exit.
                let last = std::mem::take(&mut self.retry);
                batch.extend(last);
                self.process(&mut batch);
                self.retry.clear();
                break;
            };
            // Requests tried again were counted in `pending` when first submitted.
            batch.append(&mut self.retry);
            let Some(first) = first else {
                if batch.is_empty() {
                    open = false;
                } else {
                    self.process(&mut batch);
                }
                continue;
            };
            let mut dirty = batch::dirty_bytes(&first);
            let mut done_cost = cost(&first);
            let mut paused = matches!(first, Request::Pause(_));
            batch.push(first);
            let mut n = 1u64;
            while !paused && batch.len() < self.max_batch && batch::fits(dirty) {
                match self.rx.try_recv() {
                    Ok(r) => {
                        dirty = dirty.saturating_add(batch::dirty_bytes(&r));
                        done_cost = done_cost.saturating_add(cost(&r));
                        // A pause ends the batch: what comes after it waits.
                        paused = matches!(r, Request::Pause(_));
                        batch.push(r);
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            self.process(&mut batch);
            self.after_writing(dirty);
            self.metrics.pending.fetch_sub(n, Ordering::AcqRel);
            let before = self
                .metrics
                .pending_bytes
                .fetch_sub(done_cost, Ordering::AcqRel);
            if before.saturating_sub(done_cost) < self.metrics.max_pending_bytes / 2 {
                self.metrics.drained.notify_waiters();
            }
        }
    }

    /// Nothing is waiting: once the store holds no message any more (a backlog drained),
    /// the pages its readers mapped are given back ([`mapped::release`]).
    fn on_idle(&mut self) {
        if !std::mem::take(&mut self.touched) {
            return;
        }
        crate::idle_trim::run();
        let empty = {
            let guard = self.shared.env.read();
            guard.as_ref().is_some_and(|env| {
                env.read_txn()
                    .and_then(|txn| self.shared.dbs.messages.len(&txn))
                    .is_ok_and(|n| n == 0)
            })
        };
        if empty {
            self.written_since_release = 0;
            let bytes = mapped::release(&self.shared, &self.data_file);
            tracing::debug!(bytes, "store empty: mapped pages released");
        }
    }

    /// Counts a batch's bytes and, every [`RELEASE_AFTER_BYTES`], gives back the pages
    /// mapped since the last time, so the file's resident pages stay bounded while a large
    /// backlog is written or read back.
    fn after_writing(&mut self, dirty: usize) {
        self.written_since_release = self.written_since_release.saturating_add(dirty);
        if self.written_since_release >= RELEASE_AFTER_BYTES {
            self.written_since_release = 0;
            let bytes = mapped::release(&self.shared, &self.data_file);
            tracing::trace!(bytes, "mapped pages released while writing");
        }
    }

    fn process(&mut self, batch: &mut Vec<Request>) {
        self.touched = true;
        for req in batch.iter() {
            if let Request::MsgIdFloor(n) = req {
                self.last_msg_id = self.last_msg_id.max(*n);
            }
        }
        let room = self.has_room(batch);
        let outcome = loop {
            let saved = self.last_msg_id;
            match self.commit(batch, room) {
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
        // A full store or disk: commit the ops one by one instead, in order, so the ones
        // that free space (acks, purges) and small ones still go through and only the ops
        // that do not fit fail.
        let outcome = match outcome {
            Err(e) if batch.len() > 1 && !matches!(e, StoreError::Closed) => {
                let mut results = Vec::with_capacity(batch.len());
                for req in batch.iter() {
                    let saved = self.last_msg_id;
                    let r = match self.commit(std::slice::from_ref(req), room) {
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
                Request::Op(op, None) => match res {
                    Ok(()) => {}
                    Err(e) if retriable(&op, &e) => {
                        tracing::warn!(error = %e, ?op, "store op failed; will retry");
                        self.retry.push(Request::Op(op, None));
                    }
                    Err(e) => tracing::warn!(error = %e, ?op, "store op failed"),
                },
                Request::Flush(tx) => {
                    let _ = tx.send(res);
                }
                Request::Pause(resume) => {
                    tracing::debug!("store writer paused");
                    // Returns once the sender is dropped.
                    let _ = resume.recv();
                }
                Request::Group(p) => p.finish(res),
                Request::QueueCounter(_) | Request::MsgIdFloor(_) => {}
            }
        }
    }

    /// Whether the batch's bodies fit on the disk beside [`space::DISK_RESERVE`].
    fn has_room(&self, batch: &[Request]) -> bool {
        let bytes: usize = batch.iter().map(body_len).sum();
        if bytes == 0 {
            return true;
        }
        let guard = self.shared.env.read();
        guard.as_ref().is_none_or(|env| {
            space::has_room(
                env,
                &self.shared.dbs,
                u64::try_from(bytes).unwrap_or(u64::MAX),
            )
        })
    }

    /// One transaction over the whole batch (its publishes refused as [`StoreError::DiskFull`]
    /// without `room`); per-op results on success.
    fn commit(
        &mut self,
        batch: &[Request],
        room: bool,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let guard = self.shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        let mut txn = env.write_txn()?;
        let dbs = self.shared.dbs;
        let mut ctx = Ctx::new(dbs, &mut self.last_msg_id);
        let mut results = Vec::with_capacity(batch.len());
        for req in batch {
            let r = match req {
                Request::Op(StoreOp::Publish { .. }, _) if !room => Err(StoreError::DiskFull),
                Request::Op(op, _) => apply::apply(&mut txn, &mut ctx, op)?,
                Request::QueueCounter(n) => apply::bump_queue_counter(&mut txn, &dbs, *n)?,
                // A group is applied whatever the disk's room: the cluster's committed
                // entries must land on every node (a full disk then fails the transaction).
                Request::Group(p) => super::group::apply(&mut txn, &mut ctx, p)?,
                Request::Flush(_) | Request::Pause(_) | Request::MsgIdFloor(_) => Ok(()),
            };
            results.push(r);
        }
        ctx.finish(&mut txn)?;
        txn.commit()?;
        Ok(results)
    }
}

/// Whether a failed op is kept to be tried again: removals, delivery marks and delivery
/// counts (they stay right whenever they land: nothing else writes their entry, and a count
/// never replaces a higher one), when the transaction failed (not when the op itself was
/// refused).
fn retriable(op: &StoreOp, e: &StoreError) -> bool {
    matches!(
        op,
        StoreOp::Remove { .. } | StoreOp::MarkDelivered { .. } | StoreOp::DeliveryCount { .. }
    ) && !matches!(e, StoreError::Rejected(_) | StoreError::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_counts_are_retried_like_removals_but_refusals_are_not() {
        let count = StoreOp::DeliveryCount {
            queue: 1,
            seq: 2,
            count: 3,
        };
        let remove = StoreOp::Remove { queue: 1, seq: 2 };
        assert!(retriable(&count, &StoreError::DiskFull));
        assert!(retriable(&remove, &StoreError::DiskFull));
        assert!(!retriable(&count, &StoreError::Rejected("no".into())));
        assert!(!retriable(&count, &StoreError::Closed));
    }
}
