//! Groups: several ops the writer applies in one write transaction, never split across two,
//! optionally with the cluster's applied mark in that same transaction.
//!
//! The cluster's state machine hands every batch of committed log entries to the store as
//! one group whose mark is the last entry's log id (with the membership): the entries'
//! effects and the record of having applied them commit together, so a crash can never
//! leave the store with the effects but without the mark (a restart would then apply the
//! entries again, and a publish applied twice counts its entries twice).

use heed::RwTxn;
use parking_lot::Mutex;

use super::Store;
use super::apply::{self, Ctx, OpResult};
use super::codec;
use super::env::Dbs;
use super::types::{StoreError, StoreOp};
use super::writer::Request;

/// Key of the cluster's applied mark in the store's `meta` database.
pub(crate) const META_CLUSTER_APPLIED: &[u8] = b"cluster-applied";

/// The record of the last log entry applied to this store, written with the entries' ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMark {
    /// The entry's log index (what [`Store::cluster_applied`] orders by).
    pub index: u64,
    /// Opaque state kept with it (the cluster encodes its log id and membership).
    pub state: Vec<u8>,
}

impl AppliedMark {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.state.len());
        v.extend_from_slice(&self.index.to_be_bytes());
        v.extend_from_slice(&self.state);
        v
    }

    pub(crate) fn decode(raw: &[u8]) -> Option<AppliedMark> {
        let index = codec::be_u64(raw, 0)?;
        Some(AppliedMark {
            index,
            state: raw.get(8..)?.to_vec(),
        })
    }
}

/// What a committed group reports: the ops the store refused, as `(position, reason)`
/// (each refused op was undone alone; the others were applied).
pub type Refusals = Vec<(usize, String)>;

/// Runs once the group's transaction committed (with its refusals) or failed.
pub type GroupCompletion = Box<dyn FnOnce(Result<Refusals, StoreError>) + Send + 'static>;

/// Ops applied in one transaction, in order.
pub struct Group {
    /// The ops.
    pub ops: Vec<StoreOp>,
    /// Queue ids below this are taken (the highest of the group's counters).
    pub queue_counter: Option<u64>,
    /// Written in the same transaction, after the ops.
    pub mark: Option<AppliedMark>,
    /// Runs after the commit.
    pub done: GroupCompletion,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("ops", &self.ops.len())
            .field("queue_counter", &self.queue_counter)
            .field("mark", &self.mark.as_ref().map(|m| m.index))
            .finish_non_exhaustive()
    }
}

/// A group on its way through the writer; the refusals of the last attempt are kept here
/// (a batch is tried again after the map grows).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) group: Group,
    pub(crate) refused: Mutex<Refusals>,
}

impl Pending {
    /// Body bytes of the group's publishes.
    pub(crate) fn body_len(&self) -> usize {
        self.group
            .ops
            .iter()
            .map(|op| match op {
                StoreOp::Publish { message, .. } => message.body.len(),
                _ => 0,
            })
            .sum()
    }

    /// Runs the completion: the refusals if `result` is `Ok`.
    pub(crate) fn finish(self, result: Result<(), StoreError>) {
        let refused = self.refused.into_inner();
        (self.group.done)(result.map(|()| refused));
    }
}

/// Applies a group inside the writer's transaction.
pub(crate) fn apply(txn: &mut RwTxn<'_>, ctx: &mut Ctx<'_>, p: &Pending) -> OpResult {
    let dbs: Dbs = ctx.dbs;
    let mut refused = Vec::new();
    for (i, op) in p.group.ops.iter().enumerate() {
        if let Err(e) = apply::apply(txn, ctx, op)? {
            let reason = match e {
                StoreError::Rejected(reason) => reason,
                other => other.to_string(),
            };
            refused.push((i, reason));
        }
    }
    if let Some(next) = p.group.queue_counter {
        // Never refused: the counter only moves up.
        let _ = apply::bump_queue_counter(txn, &dbs, next)?;
    }
    if let Some(mark) = &p.group.mark {
        dbs.meta.put(txn, META_CLUSTER_APPLIED, &mark.encode())?;
    }
    *p.refused.lock() = refused;
    Ok(Ok(()))
}

impl Store {
    /// Queues `group` on this node's writer (never through the cluster log): its ops and
    /// mark commit in one transaction. A closed store fails it with [`StoreError::Closed`].
    pub fn submit_group(&self, group: Group) {
        if let Some(next) = group.queue_counter {
            self.inner
                .next_queue
                .fetch_max(next, std::sync::atomic::Ordering::AcqRel);
        }
        let pending = Pending {
            group,
            refused: Mutex::new(Vec::new()),
        };
        if let Err(req) = self.send(Request::Group(Box::new(pending)))
            && let Request::Group(p) = *req
        {
            p.finish(Err(StoreError::Closed));
        }
    }

    /// The cluster's applied mark as last committed ([`Group::mark`]), if any.
    pub fn cluster_applied(&self) -> Result<Option<AppliedMark>, StoreError> {
        self.read(|txn, dbs| {
            Ok(dbs
                .meta
                .get(txn, META_CLUSTER_APPLIED)?
                .and_then(AppliedMark::decode))
        })
    }
}
