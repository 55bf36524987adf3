//! Applying committed entries to this node's store: every entry of one `apply` call goes to
//! the store writer as one [`Group`] whose mark is the last entry's log id and the
//! membership, so the effects and the applied id commit in one LMDB transaction.
//!
//! Why the mark lives in the message store and not in the cluster's own environment: the
//! two are separate LMDB environments and no transaction spans both; keeping the applied id
//! beside the data it describes makes "applied" true exactly when the effects are on disk,
//! and a copy of the store (a snapshot) carries its own applied id.
//!
//! Why a store commit needs only one disk flush (the store is opened without LMDB's meta
//! sync in cluster mode): a system crash can then undo the store's last commit, effects
//! and mark together, never half of it. The undone entries are still in the Raft log,
//! which is synced before any of them was counted toward a commit: the node starts from
//! the older mark and applies them again. The log is purged only up to a snapshot that
//! is already recorded (synced) in the cluster database, and
//! [`super::state_machine::StateMachine::open`] installs a recorded snapshot newer than
//! the store's mark before anything else, so the entries after the mark are always there
//! to re-apply. A kill -9 loses nothing either way (the OS keeps the written pages).

use std::sync::mpsc;

use super::entry::{ClusterOp, Response};
use super::types::{LogId, StoredMembership};
use crate::store::{AppliedMark, Group, Store, StoreError};

/// The state kept with the applied mark.
type MarkState = (Option<LogId>, StoredMembership);

/// Encodes the applied log id and membership as a store mark.
pub(crate) fn mark(
    applied: Option<LogId>,
    membership: &StoredMembership,
) -> Result<AppliedMark, postcard::Error> {
    let state = postcard::to_allocvec(&(applied, membership))?;
    Ok(AppliedMark {
        index: applied.map_or(0, |id| id.index),
        state,
    })
}

/// The applied log id and membership recorded in `store`, if it has a mark.
pub(crate) fn read_mark(store: &Store) -> Result<Option<MarkState>, ApplyError> {
    match store.cluster_applied()? {
        None => Ok(None),
        Some(m) => Ok(Some(postcard::from_bytes::<MarkState>(&m.state)?)),
    }
}

/// Why applying failed (fatal for the node: its store cannot follow the log).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mark could not be encoded or decoded.
    #[error("cluster applied mark in the store: {0}")]
    Mark(#[from] postcard::Error),
}

/// Applies `batches` (one inner list per entry) and `mark` in one store transaction and
/// returns, per entry, the refused ops. Blocking: call from a blocking thread.
pub(crate) fn apply_entries(
    store: &Store,
    batches: Vec<Vec<ClusterOp>>,
    mark: AppliedMark,
) -> Result<Vec<Response>, ApplyError> {
    let mut ops = Vec::new();
    // (entry, op within the entry) of each store op.
    let mut origin = Vec::new();
    let mut queue_counter: Option<u64> = None;
    for (i, entry_ops) in batches.iter().enumerate() {
        for (j, op) in entry_ops.iter().enumerate() {
            match op.to_store_op() {
                Some(store_op) => {
                    ops.push(store_op);
                    origin.push((i, u32::try_from(j).unwrap_or(u32::MAX)));
                }
                None => {
                    if let ClusterOp::QueueCounter { next } = op {
                        queue_counter = Some(queue_counter.map_or(*next, |n| n.max(*next)));
                    }
                }
            }
        }
    }
    let (tx, rx) = mpsc::channel();
    store.submit_group(Group {
        ops,
        queue_counter,
        mark: Some(mark),
        done: Box::new(move |r| {
            let _ = tx.send(r);
        }),
    });
    let refused = rx.recv().map_err(|_| StoreError::Closed)??;
    let mut responses = vec![Response::Applied; batches.len()];
    for (k, reason) in refused {
        let Some(&(i, j)) = origin.get(k) else {
            continue;
        };
        match responses.get_mut(i) {
            Some(Response::Refused(list)) => list.push((j, reason)),
            Some(r) => *r = Response::Refused(vec![(j, reason)]),
            None => {}
        }
    }
    Ok(responses)
}
