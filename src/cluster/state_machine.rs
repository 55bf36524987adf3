//! openraft's state machine (v2 API): committed entries applied to this node's own message
//! store ([`Store`]), in log order, with the applied log id and membership recorded in the
//! same store transaction (see [`super::apply`]); snapshots kept in [`RaftDb`].

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

use super::apply;
use super::db::{DbError, RaftDb, keys};
use super::entry::{ClusterOp, Response};
use super::snapshot::{self, SnapshotBody};
use super::types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::store::Store;

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
        let ops = tokio::task::spawn_blocking(move || snapshot::replacing_ops(&store, &body))
            .await
            .map_err(sm_write)?
            .map_err(sm_write)?;
        self.commit(vec![ops], meta.last_log_id, &meta.last_membership)
            .await?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
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
