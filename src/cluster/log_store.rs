//! openraft's log storage (v2 API) over [`RaftDb`]: vote, committed id, entries, purge.
//! Each call syncs before it returns; `append` reports the flush to openraft
//! only after its transaction is on disk. The newest entries are also kept in memory
//! until applied ([`RecentEntries`]), and reads take them from there.
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
use super::recent_entries::RecentEntries;
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// The Raft log of one node. Cheap to clone (readers share the environment).
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<RaftDb>,
    /// The committed log id openraft last reported and no append has written yet.
    committed: Arc<parking_lot::Mutex<Option<Option<LogId>>>>,
    /// Where this node's proposals landed and how far the log is committed.
    progress: Arc<CommitProgress>,
    /// The newest entries, which replication reads without going to disk.
    recent: Arc<RecentEntries>,
}

impl LogStore {
    /// A log store over `db`.
    pub fn new(db: Arc<RaftDb>) -> LogStore {
        LogStore {
            db,
            committed: Arc::default(),
            progress: Arc::default(),
            recent: Arc::default(),
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
        // The newest entries come from memory, anything before or after them from disk.
        let Some(cached) = self.recent.get(start, end) else {
            return self.db.entries(start, end).map_err(read_err);
        };
        let mut entries = if start < cached.first {
            self.db.entries(start, cached.first - 1).map_err(read_err)?
        } else {
            Vec::new()
        };
        let next = cached.first.saturating_add(cached.entries.len() as u64);
        entries.extend(cached.entries);
        if next <= end {
            entries.extend(self.db.entries(next, end).map_err(read_err)?);
        }
        Ok(entries)
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
        if let Some(id) = committed {
            self.recent.committed(id.index);
        }
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
        let appended = tokio::task::spawn_blocking(move || {
            let written = db.append(&entries, committed);
            (written, entries)
        })
        .await;
        let failed = match appended {
            Ok((Ok(()), entries)) => {
                // Synced: the entries are on disk. Kept for replication before openraft
                // learns of them, so its first read of them finds them in memory.
                self.recent.appended(entries);
                callback.log_io_completed(Ok(()));
                return Ok(());
            }
            Ok((Err(e), _)) => std::io::Error::other(e.to_string()),
            Err(e) => std::io::Error::other(format!("cluster log append task failed: {e}")),
        };
        let reported = std::io::Error::other(failed.to_string());
        callback.log_io_completed(Err(failed));
        Err(StorageIOError::write_logs(&reported).into())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "cluster log: truncating from");
        self.recent.truncated(log_id.index);
        let db = Arc::clone(&self.db);
        blocking(move || db.truncate(log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "cluster log: purging up to");
        // Deleting segment files can take a while: off the cluster runtime's workers.
        self.recent.forget_through(log_id.index);
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

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Normal(crate::cluster::entry::Request::new(vec![
                crate::cluster::entry::ClusterOp::QueueCounter { next: index },
            ])),
        }
    }

    fn indexes(entries: &[Entry]) -> Vec<u64> {
        entries.iter().map(|e| e.log_id.index).collect()
    }

    #[tokio::test]
    async fn reads_join_the_window_and_the_disk_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(RaftDb::open(dir.path()).expect("open"));
        let all: Vec<Entry> = (1..=8).map(entry).collect();
        db.append(&all, None).expect("append");
        let mut log = LogStore::new(Arc::clone(&db));
        // The window holds the middle: before and after it come from disk.
        log.recent.appended(all[3..5].to_vec());
        let read = log.try_get_log_entries(2..=7).await.expect("read");
        assert_eq!(indexes(&read), vec![2, 3, 4, 5, 6, 7]);
        assert_eq!(read, all[1..7].to_vec());
        assert_eq!(
            indexes(&log.try_get_log_entries(..).await.expect("read")),
            (1..=8).collect::<Vec<_>>()
        );
        assert_eq!(
            indexes(&log.try_get_log_entries(5..6).await.expect("read")),
            vec![5]
        );
        assert!(log.try_get_log_entries(9..).await.expect("read").is_empty());
        // A committed prefix leaves the window; reads are unchanged.
        log.save_committed(Some(all[4].log_id)).await.expect("save");
        assert_eq!(
            indexes(&log.try_get_log_entries(3..=6).await.expect("read")),
            vec![3, 4, 5, 6]
        );
    }

    #[tokio::test]
    async fn a_truncate_leaves_no_stale_entry_in_the_window() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(RaftDb::open(dir.path()).expect("open"));
        let all: Vec<Entry> = (1..=6).map(entry).collect();
        db.append(&all, None).expect("append");
        let mut log = LogStore::new(Arc::clone(&db));
        log.recent.appended(all[2..].to_vec());
        log.truncate(all[3].log_id).await.expect("truncate");
        assert_eq!(
            indexes(&log.try_get_log_entries(..).await.expect("read")),
            vec![1, 2, 3]
        );
        log.purge(all[1].log_id).await.expect("purge");
        assert_eq!(
            indexes(&log.try_get_log_entries(..).await.expect("read")),
            vec![3]
        );
    }
}
