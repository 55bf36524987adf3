//! openraft's state machine (v2 API): committed entries applied to this node's own message
//! store ([`Store`]), in log order, with the applied log id and membership recorded in the
//! same store transaction (see [`super::apply`]); snapshots are copies of that store, kept
//! as files by [`Snapshots`].

use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

use super::apply;
use super::db::{RaftDb, keys};
use super::entry::{ClusterOp, Response};
use super::snapshot::Snapshots;
use super::types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::store::Store;

/// The state machine of one node.
#[derive(Debug)]
pub struct StateMachine {
    store: Store,
    snapshots: Arc<Snapshots>,
    applied: Option<LogId>,
    membership: StoredMembership,
}

fn sm_read(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_state_machine(&e).into()
}

fn sm_write(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

fn snap_read(meta: Option<&SnapshotMeta>, e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_snapshot(meta.map(SnapshotMeta::signature), &e).into()
}

fn snap_write(meta: Option<&SnapshotMeta>, e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_snapshot(meta.map(SnapshotMeta::signature), &e).into()
}

impl StateMachine {
    /// Opens the state machine over `db` and `store`, with its snapshot files beside `db`'s.
    pub async fn open(db: Arc<RaftDb>, store: Store) -> Result<StateMachine, StorageError> {
        // The store's mark is the truth; the cluster db's records are from builds that kept
        // the applied id there.
        let (applied, membership) = match apply::read_mark(&store).map_err(sm_read)? {
            Some(state) => state,
            None => (
                db.get::<Option<LogId>>(keys::APPLIED)
                    .map_err(sm_read)?
                    .flatten(),
                db.get(keys::MEMBERSHIP)
                    .map_err(sm_read)?
                    .unwrap_or_default(),
            ),
        };
        let snapshots = tokio::task::spawn_blocking(move || Snapshots::open(db))
            .await
            .map_err(|e| snap_read(None, e))?
            .map_err(|e| snap_read(None, e))?;
        Ok(StateMachine {
            store,
            snapshots: Arc::new(snapshots),
            applied,
            membership,
        })
    }

    /// The last applied log id.
    pub fn applied(&self) -> Option<LogId> {
        self.applied
    }

    /// Applies `batches` with the mark of `applied` and `membership` in one store
    /// transaction.
    async fn commit(
        &self,
        batches: Vec<Vec<ClusterOp>>,
        applied: Option<LogId>,
        membership: &StoredMembership,
    ) -> Result<Vec<Response>, StorageError> {
        let mark = apply::mark(applied, membership).map_err(sm_write)?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || apply::apply_entries(&store, batches, mark))
            .await
            .map_err(sm_write)?
            .map_err(sm_write)
    }
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
        let mut skipped = 0usize;
        let mut membership = self.membership.clone();
        for entry in entries {
            if Some(entry.log_id) <= self.applied {
                // Already in the store (its mark says so): never applied twice.
                skipped += 1;
                continue;
            }
            last = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => batches.push(Vec::new()),
                EntryPayload::Normal(request) => batches.push(request.ops),
                EntryPayload::Membership(m) => {
                    membership = StoredMembership::new(Some(entry.log_id), m);
                    batches.push(Vec::new());
                }
            }
        }
        let mut responses = vec![Response::Applied; skipped];
        let Some(last) = last else {
            return Ok(responses);
        };
        responses.extend(self.commit(batches, Some(last), &membership).await?);
        self.applied = Some(last);
        self.membership = membership;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            store: self.store.clone(),
            snapshots: Arc::clone(&self.snapshots),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let snapshots = Arc::clone(&self.snapshots);
        let file = tokio::task::spawn_blocking(move || snapshots.begin_receiving())
            .await
            .map_err(|e| snap_write(None, e))?
            .map_err(|e| snap_write(None, e))?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        tracing::info!(last = ?meta.last_log_id, id = %meta.snapshot_id, "cluster: installing a snapshot");
        let file = snapshot.into_std().await;
        let snapshots = Arc::clone(&self.snapshots);
        let store = self.store.clone();
        let owned = meta.clone();
        let (applied, membership) =
            tokio::task::spawn_blocking(move || snapshots.install(&store, &owned, file))
                .await
                .map_err(|e| snap_write(Some(meta), e))?
                .map_err(|e| {
                    tracing::error!(error = %e, "cluster: snapshot refused");
                    snap_read(Some(meta), e)
                })?;
        self.applied = applied;
        self.membership = membership;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let snapshots = Arc::clone(&self.snapshots);
        let current = tokio::task::spawn_blocking(move || snapshots.current())
            .await
            .map_err(|e| snap_read(None, e))?
            .map_err(|e| snap_read(None, e))?;
        Ok(current.map(|(meta, file)| Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        }))
    }
}

/// Builds a snapshot: a copy of the store taken on a blocking thread while entries go on
/// being applied (its metadata is read from the copy, so it describes exactly what it holds).
#[derive(Debug)]
pub struct SnapshotBuilder {
    store: Store,
    snapshots: Arc<Snapshots>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let snapshots = Arc::clone(&self.snapshots);
        let store = self.store.clone();
        let (meta, file) = tokio::task::spawn_blocking(move || snapshots.build(&store))
            .await
            .map_err(|e| snap_write(None, e))?
            .map_err(|e| snap_write(None, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        })
    }
}
