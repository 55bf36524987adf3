//! openraft's log storage (v2 API) over [`RaftDb`]: vote, committed id, entries, purge.
//! Each call syncs before it returns; `append` reports the flush to openraft
//! only after its transaction is on disk.
//!
//! The committed log id is the exception: openraft 0.9 saves it inline in its core loop on
//! every commit, and a synced write there (two disk flushes with LMDB) stalled the whole
//! node once per commit. It is kept in memory and written in the next append's
//! transaction instead. That is safe because the value is only a hint for start-up: the
//! state machine's applied id is committed with its effects in the message store (see
//! [`super::apply`]), entries up to any committed id are on a majority's disks, and a
//! stale committed id (older than the true one) only means the node applies the rest once
//! the leader tells it the commit index, as it does for every new entry anyway.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};

use super::commit_progress::CommitProgress;
use super::db::{DbError, RaftDb, keys};
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// The Raft log of one node. Cheap to clone (readers share the environment).
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<RaftDb>,
    /// The committed log id openraft last reported and no append has written yet.
    committed: Arc<parking_lot::Mutex<Option<Option<LogId>>>>,
    /// Where this node's proposals landed and how far the log is committed.
    progress: Arc<CommitProgress>,
}

impl LogStore {
    /// A log store over `db`.
    pub fn new(db: Arc<RaftDb>) -> LogStore {
        LogStore {
            db,
            committed: Arc::default(),
            progress: Arc::default(),
        }
    }

    /// What this log reports to the node's proposer.
    pub fn progress(&self) -> Arc<CommitProgress> {
        Arc::clone(&self.progress)
    }
}

fn read_err(e: DbError) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: DbError) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

/// Runs a synced log write on a blocking thread.
async fn blocking(
    write: impl FnOnce() -> Result<(), DbError> + Send + 'static,
) -> Result<(), StorageError> {
    match tokio::task::spawn_blocking(write).await {
        Ok(done) => done.map_err(write_err),
        Err(e) => Err(StorageIOError::write_logs(&std::io::Error::other(format!(
            "cluster log task failed: {e}"
        )))
        .into()),
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e,
            Bound::Excluded(&0) => return Ok(Vec::new()),
            Bound::Excluded(&e) => e - 1,
            Bound::Unbounded => u64::MAX,
        };
        self.db.entries(start, end).map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let purged: Option<LogId> = self.db.get(keys::PURGED).map_err(read_err)?;
        let last = self.db.last_log_id().map_err(read_err)?.or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.db
            .put(keys::VOTE, vote)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.db
            .get(keys::VOTE)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Written with the next append (see the module's documentation).
        *self.committed.lock() = Some(committed);
        // Entries up to here are on a majority's disks: the proposer may confirm them.
        self.progress.committed(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        if let Some(pending) = *self.committed.lock() {
            return Ok(pending);
        }
        self.db.committed().map_err(read_err)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        for entry in &entries {
            if let openraft::EntryPayload::Normal(request) = &entry.payload
                && request.proposal != 0
            {
                self.progress.placed(request.proposal, entry.log_id);
            }
        }
        // The commit syncs to disk: off the cluster runtime's workers, which also carry
        // heartbeats and the cluster port.
        let db = std::sync::Arc::clone(&self.db);
        let committed = self.committed.lock().take();
        let appended = tokio::task::spawn_blocking(move || db.append(&entries, committed)).await;
        let failed = match appended {
            Ok(Ok(())) => {
                // The transaction is committed and synced: the entries are on disk.
                callback.log_io_completed(Ok(()));
                return Ok(());
            }
            Ok(Err(e)) => std::io::Error::other(e.to_string()),
            Err(e) => std::io::Error::other(format!("cluster log append task failed: {e}")),
        };
        let reported = std::io::Error::other(failed.to_string());
        callback.log_io_completed(Err(failed));
        Err(StorageIOError::write_logs(&reported).into())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "cluster log: truncating from");
        let db = Arc::clone(&self.db);
        blocking(move || db.truncate(log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "cluster log: purging up to");
        // Deleting segment files can take a while: off the cluster runtime's workers.
        let db = Arc::clone(&self.db);
        blocking(move || db.purge(&log_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    #[tokio::test]
    async fn the_committed_id_is_written_with_the_next_append() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(RaftDb::open(dir.path()).expect("open"));
        let mut log = LogStore::new(Arc::clone(&db));
        let id = LogId::new(CommittedLeaderId::new(2, 1), 7);
        log.save_committed(Some(id)).await.expect("save");
        assert_eq!(log.read_committed().await.expect("read"), Some(id));
        // No write of its own: a node starting now would not see it.
        let mut fresh = LogStore::new(Arc::clone(&db));
        assert_eq!(fresh.read_committed().await.expect("read"), None);
        // The next append carries it.
        let pending = log.committed.lock().take();
        db.append(&[], pending).expect("append");
        let mut fresh = LogStore::new(db);
        assert_eq!(fresh.read_committed().await.expect("read"), Some(id));
    }
}
