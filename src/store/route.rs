//! Where the broker's durable writes go: the seam between the store and cluster mode.
//!
//! Single node (the default), every [`StoreOp`] goes to this node's writer thread, exactly
//! as before: no replicator is set and [`Store::submit`] pays one `OnceLock` check.
//! In cluster mode a [`Replicator`] is set once at start-up: every op that must survive the
//! loss of this node (definitions, persistent messages and their removes, delivered marks,
//! purges, the queue-id counter) is handed to it instead, and it applies them to every
//! node's store through the Raft log, calling [`Store::submit_local`] on each. Transient
//! messages paged out of memory stay local (a restart drops them anyway).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::types::{Completion, StoreError, StoreOp};
use super::writer::PENDING_OP_BYTES;
use super::{Store, startup};

/// Takes the replicated writes of a node in cluster mode.
pub trait Replicator: Send + Sync + std::fmt::Debug {
    /// Replicates `op`; `durable`, if given, runs once the op is committed to the cluster's
    /// log (on a majority's disks: it can no longer be lost), usually before this node has
    /// applied it; `done` runs once the op is applied on this node. On failure both run with
    /// the error (the op may then be lost, and the caller must not acknowledge it to a
    /// client).
    fn propose(&self, op: StoreOp, durable: Option<Completion>, done: Completion);

    /// Replicates `ops` as one unit: applied all together, in order, on every node (see
    /// [`Store::atomically`]); each `done` runs as for [`Replicator::propose`].
    fn propose_group(&self, ops: Vec<(StoreOp, Completion)>);

    /// Replicates that queue ids below `next` are taken.
    fn queue_counter(&self, next: u64);
}

/// Whether `op` goes through the cluster log (everything except transient message bodies).
pub(super) fn replicated(op: &StoreOp) -> bool {
    !matches!(op, StoreOp::Publish { message, .. } if !message.persistent)
}

fn op_cost(op: &StoreOp) -> u64 {
    let body = match op {
        StoreOp::Publish { message, .. } => message.body.len(),
        _ => 0,
    };
    u64::try_from(body)
        .unwrap_or(u64::MAX)
        .saturating_add(PENDING_OP_BYTES)
}

impl Store {
    /// Cluster mode: sends replicated writes to `replicator` from now on. Set once; `false`
    /// if one was already set.
    pub fn set_replicator(&self, replicator: Arc<dyn Replicator>) -> bool {
        self.inner.replicator.set(replicator).is_ok()
    }

    /// Whether writes go through a replicator (cluster mode).
    pub fn is_replicated(&self) -> bool {
        self.inner.replicator.get().is_some()
    }

    /// Hands `op` to the replicator, counting it in the pending bytes until it is done so
    /// that a log that falls behind slows the clients down as a slow disk does.
    /// `durable` runs once the op is committed (see [`Replicator::propose`]).
    pub(super) fn propose(
        &self,
        r: &dyn Replicator,
        op: StoreOp,
        durable: Option<Completion>,
        done: Option<Completion>,
    ) {
        let done = self.counted(&op, done);
        r.propose(op, durable, done);
    }

    /// Hands `ops` to the replicator as one group (counted as [`Store::propose`] counts).
    pub(super) fn propose_group(&self, ops: Vec<(StoreOp, Option<Completion>)>) {
        let Some(r) = self.inner.replicator.get() else {
            for (op, done) in ops {
                self.submit_local(op, done);
            }
            return;
        };
        let ops = ops
            .into_iter()
            .map(|(op, done)| {
                let done = self.counted(&op, done);
                (op, done)
            })
            .collect();
        r.propose_group(ops);
    }

    /// Counts `op` in the pending bytes until the returned completion runs (then `done`).
    fn counted(&self, op: &StoreOp, done: Option<Completion>) -> Completion {
        let cost = op_cost(op);
        let metrics = Arc::clone(&self.inner.metrics);
        metrics.pending_bytes.fetch_add(cost, Ordering::AcqRel);
        Box::new(move |result| {
            let before = metrics.pending_bytes.fetch_sub(cost, Ordering::AcqRel);
            if before.saturating_sub(cost) < metrics.max_pending_bytes / 2 {
                metrics.drained.notify_waiters();
            }
            if let Some(done) = done {
                done(result);
            }
        })
    }

    /// Records that queue ids below `next` are taken, on this node's writer only (what the
    /// cluster's state machine calls for a replicated counter).
    pub fn queue_counter_local(&self, next: u64) {
        let _ = self.send(super::writer::Request::QueueCounter(next));
        self.inner.next_queue.fetch_max(next, Ordering::AcqRel);
    }

    /// Reads the counters again and drops transient entries, as at open: for a node that
    /// becomes the cluster's leader (its store was written by the log since it opened) or
    /// stops being it (its broker's paged transient messages are gone with the broker).
    /// Waits for what was queued before; returns the highest message id.
    pub fn reload(&self) -> Result<u64, StoreError> {
        self.flush()?;
        let (max_msg_id, next_queue) = startup(&self.inner.shared)?;
        self.inner.max_msg_id.store(max_msg_id, Ordering::Release);
        self.inner.next_queue.store(next_queue, Ordering::Release);
        Ok(max_msg_id)
    }
}
