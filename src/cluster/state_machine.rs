//! openraft's state machine (v2 API): committed entries applied to this node's own message
//! store ([`Store`]), in log order; the applied log id and membership kept in [`RaftDb`].
//!
//! The store commit and the applied-id record do not share a transaction yet: after a crash
//! between the two, the entries are applied again. Definitions (put and delete by key),
//! removes, marks and purges give the same result; a publish applied twice counts its
//! entries twice in the queue's counters (see the README's cluster TODO).

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

use super::db::{DbError, RaftDb, keys};
use super::entry::{ClusterOp, Response};
use super::snapshot::{self, SnapshotBody};
use super::types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::store::{Store, StoreError};

/// The state machine of one node.
#[derive(Debug)]
pub struct StateMachine {
    db: Arc<RaftDb>,
    store: Store,
    applied: Option<LogId>,
    membership: StoredMembership,
    snapshots_built: u64,
}

fn sm_read(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_state_machine(&e).into()
}

fn sm_write(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

impl StateMachine {
    /// Opens the state machine over `db` and `store`. If a snapshot was recorded but its
    /// install did not finish (a crash in between), it is installed again now.
    pub async fn open(db: Arc<RaftDb>, store: Store) -> Result<StateMachine, StorageError> {
        let applied: Option<LogId> = db.get(keys::APPLIED).map_err(sm_read)?.flatten();
        let membership: StoredMembership = db
            .get(keys::MEMBERSHIP)
            .map_err(sm_read)?
            .unwrap_or_default();
        let mut sm = StateMachine {
            db,
            store,
            applied,
            membership,
            snapshots_built: 0,
        };
        if let Some((meta, data)) = sm.stored_snapshot().map_err(sm_read)?
            && meta.last_log_id > sm.applied
        {
            tracing::info!(last = ?meta.last_log_id, "cluster: finishing an interrupted snapshot install");
            sm.install(&meta, data).await?;
        }
        Ok(sm)
    }

    /// The last applied log id.
    pub fn applied(&self) -> Option<LogId> {
        self.applied
    }

    fn stored_snapshot(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, DbError> {
        let meta: Option<SnapshotMeta> = self.db.get(keys::SNAPSHOT_META)?;
        let data: Option<Vec<u8>> = self.db.get(keys::SNAPSHOT_DATA)?;
        Ok(meta.zip(data))
    }

    fn save_applied(&self) -> Result<(), DbError> {
        let applied = super::db::encode("applied log id", &self.applied)?;
        let membership = super::db::encode("membership", &self.membership)?;
        self.db
            .put_all(&[(keys::APPLIED, applied), (keys::MEMBERSHIP, membership)])
    }

    /// Records the snapshot, replaces the store's replicated state with it, then moves the
    /// applied id (in that order, so a crash part-way is finished by [`Self::open`]).
    async fn install(&mut self, meta: &SnapshotMeta, data: Vec<u8>) -> Result<(), StorageError> {
        let body = SnapshotBody::decode(&data).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(Some(meta.signature()), &e))
        })?;
        let meta_bytes = super::db::encode("snapshot meta", meta).map_err(sm_write)?;
        let data_bytes = super::db::encode("snapshot data", &data).map_err(sm_write)?;
        self.db
            .put_all(&[
                (keys::SNAPSHOT_META, meta_bytes),
                (keys::SNAPSHOT_DATA, data_bytes),
            ])
            .map_err(sm_write)?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || snapshot::replace_definitions(&store, &body))
            .await
            .map_err(sm_write)?
            .map_err(sm_write)?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.save_applied().map_err(sm_write)
    }
}

/// Submits `ops` (one inner list per entry) to this node's own store writer (never back
/// into the log), waits for their commit and returns, per entry, the refused ops. A store
/// failure other than a refusal is returned as the outer error (fatal for the node).
fn apply_to_store(
    store: &Store,
    batches: Vec<Vec<ClusterOp>>,
) -> Result<Vec<Response>, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut submitted = 0usize;
    for (i, ops) in batches.iter().enumerate() {
        for (j, op) in ops.iter().enumerate() {
            let Some(store_op) = op.to_store_op() else {
                if let ClusterOp::QueueCounter { next } = op {
                    store.queue_counter_local(*next);
                }
                continue;
            };
            let tx = tx.clone();
            let j = u32::try_from(j).unwrap_or(u32::MAX);
            store.submit_local(
                store_op,
                Some(Box::new(move |r| {
                    let _ = tx.send((i, j, r));
                })),
            );
            submitted += 1;
        }
    }
    drop(tx);
    store.flush()?;
    let mut responses = vec![Response::Applied; batches.len()];
    for (i, j, result) in rx.iter().take(submitted) {
        match result {
            Ok(()) => {}
            Err(StoreError::Rejected(reason)) => match responses.get_mut(i) {
                Some(Response::Refused(list)) => list.push((j, reason)),
                Some(r) => *r = Response::Refused(vec![(j, reason)]),
                None => {}
            },
            Err(e) => return Err(e),
        }
    }
    Ok(responses)
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batches = Vec::new();
        let mut last = None;
        for entry in entries {
            last = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => batches.push(Vec::new()),
                EntryPayload::Normal(request) => batches.push(request.ops),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                    batches.push(Vec::new());
                }
            }
        }
        let Some(last) = last else {
            return Ok(Vec::new());
        };
        let store = self.store.clone();
        let responses = tokio::task::spawn_blocking(move || apply_to_store(&store, batches))
            .await
            .map_err(sm_write)?
            .map_err(sm_write)?;
        self.applied = Some(last);
        self.save_applied().map_err(sm_write)?;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Read the state now, between two applies, so the snapshot is exactly `applied`.
        self.snapshots_built += 1;
        let store = self.store.clone();
        let body = tokio::task::spawn_blocking(move || SnapshotBody::read(&store)).await;
        SnapshotBuilder {
            db: Arc::clone(&self.db),
            applied: self.applied,
            membership: self.membership.clone(),
            seq: self.snapshots_built,
            body: match body {
                Ok(Ok(body)) => Ok(body),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        tracing::info!(last = ?meta.last_log_id, "cluster: installing a snapshot");
        self.install(meta, snapshot.into_inner()).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(self
            .stored_snapshot()
            .map_err(sm_read)?
            .map(|(meta, data)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            }))
    }
}

/// Builds a snapshot from the state read when it was created.
#[derive(Debug)]
pub struct SnapshotBuilder {
    db: Arc<RaftDb>,
    applied: Option<LogId>,
    membership: StoredMembership,
    seq: u64,
    body: Result<SnapshotBody, String>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let body = self
            .body
            .as_ref()
            .map_err(|e| StorageIOError::read_state_machine(openraft::AnyError::error(e)))?;
        let data = body.encode().map_err(sm_read)?;
        let snapshot_id = match self.applied {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, self.seq),
            None => format!("0-0-{}", self.seq),
        };
        let meta = SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let meta_bytes = super::db::encode("snapshot meta", &meta).map_err(sm_write)?;
        let data_bytes = super::db::encode("snapshot data", &data).map_err(sm_write)?;
        self.db
            .put_all(&[
                (keys::SNAPSHOT_META, meta_bytes),
                (keys::SNAPSHOT_DATA, data_bytes),
            ])
            .map_err(|e: DbError| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(last = ?meta.last_log_id, bytes = data.len(), "cluster: snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}
