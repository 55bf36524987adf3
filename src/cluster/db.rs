//! The cluster's own storage (`<data_dir>/cluster/`), beside the message store and never
//! inside it: the Raft log's entries in segment files under `log/` ([`SegmentLog`]) and an
//! LMDB environment of small records (`meta`: vote, committed and purged log ids, the
//! current snapshot; the applied log id and membership of earlier builds, read once: they
//! now live in the message store, committed with the entries' effects, see
//! [`super::apply`]). Every write is synced before it returns, so a vote or an appended
//! entry is on disk when openraft is told so. Earlier builds kept the entries in LMDB's
//! `log` database (index, big-endian → postcard entry); [`RaftDb::open`] moves them into
//! segments once.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

use heed::types::Bytes as Raw;
use heed::{CommitOrAbort, Env, EnvOpenOptions, WithoutTls};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::segment_log::{SegmentLog, SegmentLogError};
use super::types::{Entry, LogId};

type Db = heed::Database<'static, Raw, Raw>;

/// Name of the environment's directory inside the data directory.
pub const DIR_NAME: &str = "cluster";

/// Name of the segment log's directory inside the cluster directory.
pub const LOG_DIR_NAME: &str = "log";

/// Bytes of entries moved from an earlier build's LMDB log per synced append.
const MIGRATION_BATCH_BYTES: usize = 64 << 20;

/// Address space reserved for the map (the file only grows with the data; the log is
/// purged after each snapshot).
#[cfg(target_pointer_width = "64")]
const MAP_SIZE: usize = 64 << 30;
#[cfg(not(target_pointer_width = "64"))]
const MAP_SIZE: usize = 1 << 30;

/// Keys of the `meta` database.
pub(crate) mod keys {
    pub(crate) const VOTE: &[u8] = b"vote";
    pub(crate) const COMMITTED: &[u8] = b"committed";
    pub(crate) const PURGED: &[u8] = b"purged";
    pub(crate) const APPLIED: &[u8] = b"applied";
    pub(crate) const MEMBERSHIP: &[u8] = b"membership";
    pub(crate) const SNAPSHOT_META: &[u8] = b"snapshot.meta";
    pub(crate) const SNAPSHOT_DATA: &[u8] = b"snapshot.data";
}

/// Why the cluster database failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// LMDB reported an error.
    #[error("cluster database (LMDB) error in {}: {source}", dir.display())]
    Lmdb {
        /// The environment's directory.
        dir: PathBuf,
        /// What LMDB said.
        source: heed::Error,
    },
    /// A record did not decode: the file is damaged or from another format.
    #[error("cluster database record {what} is damaged: {source}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What the decoder said.
        source: postcard::Error,
    },
    /// A record could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// Which record.
        what: &'static str,
        /// What the encoder said.
        source: postcard::Error,
    },
    /// The segment log failed.
    #[error(transparent)]
    Log(#[from] SegmentLogError),
    /// The directory could not be created.
    #[error("cannot create {}: {source}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The open environment, its `meta` database and the segment log.
#[derive(Debug)]
pub struct RaftDb {
    dir: PathBuf,
    env: Env<WithoutTls>,
    meta: Db,
    segments: SegmentLog,
}

impl RaftDb {
    /// Opens (creating if needed) the environment in `dir`. Open the message store of the
    /// same data directory first: it holds `warren.lock`, which keeps other processes out of
    /// this directory too.
    pub fn open(dir: &Path) -> Result<RaftDb, DbError> {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
            dir: dir.to_path_buf(),
            source,
        })?;
        let lmdb = |source| DbError::Lmdb {
            dir: dir.to_path_buf(),
            source,
        };
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        opts.map_size(MAP_SIZE).max_dbs(4);
        // SAFETY: the environment's files are only modified through this handle: the data
        // directory's warren.lock (held by the store, opened first) keeps other Warren
        // processes out, and one node opens its cluster directory once.
        let env = unsafe { opts.open(dir) }.map_err(lmdb)?;
        let wtxn = env.write_txn().map_err(lmdb)?;
        let made = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, heed::Error> {
                let log = dbo.create_database::<Raw, Raw>(wtxn, Some("log"))?;
                let meta = dbo.create_database::<Raw, Raw>(wtxn, Some("meta"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((log, meta)))
            })
            .map_err(lmdb)?;
        let CommitOrAbort::Commit((log, meta)) = made else {
            return Err(lmdb(heed::Error::Mdb(heed::MdbError::Invalid)));
        };
        let log_dir = dir.join(LOG_DIR_NAME);
        let legacy = {
            let txn = env.read_txn().map_err(lmdb)?;
            log.len(&txn).map_err(lmdb)?
        };
        if legacy > 0 {
            // Segments next to a non-empty LMDB log can only be from a move a crash
            // interrupted: the LMDB log is cleared only once every entry is in segments.
            SegmentLog::remove_all(&log_dir)?;
        }
        let purged: Option<LogId> = read_meta(&env, meta, keys::PURGED).map_err(|e| match e {
            ReadError::Lmdb(source) => lmdb(source),
            ReadError::Corrupt(source) => DbError::Corrupt {
                what: "purged".into(),
                source,
            },
        })?;
        let segments = SegmentLog::open(&log_dir, purged.as_ref())?;
        if legacy > 0 {
            move_legacy_log(&env, log, &segments, dir)?;
        }
        Ok(RaftDb {
            dir: dir.to_path_buf(),
            env,
            meta,
            segments,
        })
    }

    fn lmdb(&self, source: heed::Error) -> DbError {
        DbError::Lmdb {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Reads a `meta` record.
    pub(crate) fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, DbError> {
        let txn = self.env.read_txn().map_err(|e| self.lmdb(e))?;
        match self.meta.get(&txn, key).map_err(|e| self.lmdb(e))? {
            None => Ok(None),
            Some(raw) => postcard::from_bytes(raw)
                .map(Some)
                .map_err(|source| DbError::Corrupt {
                    what: String::from_utf8_lossy(key).into_owned(),
                    source,
                }),
        }
    }

    /// Writes `meta` records in one synced transaction.
    pub(crate) fn put_all(&self, records: &[(&[u8], Vec<u8>)]) -> Result<(), DbError> {
        let mut txn = self.env.write_txn().map_err(|e| self.lmdb(e))?;
        for (key, value) in records {
            self.meta
                .put(&mut txn, key, value)
                .map_err(|e| self.lmdb(e))?;
        }
        txn.commit().map_err(|e| self.lmdb(e))
    }

    /// Deletes `meta` records (synced).
    pub(crate) fn delete_all(&self, keys: &[&[u8]]) -> Result<(), DbError> {
        let mut txn = self.env.write_txn().map_err(|e| self.lmdb(e))?;
        for key in keys {
            self.meta.delete(&mut txn, key).map_err(|e| self.lmdb(e))?;
        }
        txn.commit().map_err(|e| self.lmdb(e))
    }

    /// The environment's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one `meta` record (synced).
    pub(crate) fn put<T: Serialize>(&self, key: &'static [u8], value: &T) -> Result<(), DbError> {
        self.put_all(&[(key, encode(key_name(key), value)?)])
    }

    /// Appends entries in one synced transaction, with the committed log id when one is
    /// given (see [`super::log_store`]: it rides along instead of costing a sync of its own).
    pub fn append(
        &self,
        entries: &[Entry],
        committed: Option<Option<LogId>>,
    ) -> Result<(), DbError> {
        Ok(self.segments.append(entries, committed)?)
    }

    /// The committed log id last written: with an append, or by an earlier build in `meta`.
    pub fn committed(&self) -> Result<Option<LogId>, DbError> {
        if let Some(id) = self.segments.committed() {
            return Ok(id);
        }
        Ok(self.get::<Option<LogId>>(keys::COMMITTED)?.flatten())
    }

    /// Deletes the entries with index >= `from` (synced).
    pub fn truncate(&self, from: u64) -> Result<(), DbError> {
        Ok(self.segments.truncate(from)?)
    }

    /// Records `log_id` as purged (synced), then deletes the entries up to it.
    pub fn purge(&self, log_id: &LogId) -> Result<(), DbError> {
        self.put(keys::PURGED, log_id)?;
        Ok(self.segments.purge(log_id.index)?)
    }

    /// The last entry's log id, if the log holds any.
    pub fn last_log_id(&self) -> Result<Option<LogId>, DbError> {
        Ok(self.segments.last_log_id())
    }

    /// Entries with `start <= index <= end`, in order.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Entry>, DbError> {
        Ok(self.segments.entries(start, end)?)
    }

    /// Number of entries in the log (for tests and status).
    pub fn log_len(&self) -> Result<u64, DbError> {
        Ok(self.segments.len())
    }
}

/// Why reading a `meta` record during open failed.
enum ReadError {
    Lmdb(heed::Error),
    Corrupt(postcard::Error),
}

fn read_meta<T: DeserializeOwned>(
    env: &Env<WithoutTls>,
    meta: Db,
    key: &[u8],
) -> Result<Option<T>, ReadError> {
    let txn = env.read_txn().map_err(ReadError::Lmdb)?;
    match meta.get(&txn, key).map_err(ReadError::Lmdb)? {
        None => Ok(None),
        Some(raw) => postcard::from_bytes(raw)
            .map(Some)
            .map_err(ReadError::Corrupt),
    }
}

/// Moves an earlier build's entries from LMDB's `log` database into `segments` (synced
/// batches), then empties the LMDB database.
fn move_legacy_log(
    env: &Env<WithoutTls>,
    log: Db,
    segments: &SegmentLog,
    dir: &Path,
) -> Result<(), DbError> {
    let lmdb = |source| DbError::Lmdb {
        dir: dir.to_path_buf(),
        source,
    };
    let mut moved = 0u64;
    {
        let txn = env.read_txn().map_err(lmdb)?;
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        for item in log.iter(&txn).map_err(lmdb)? {
            let (_, raw) = item.map_err(lmdb)?;
            bytes += raw.len();
            batch.push(decode_entry(raw)?);
            if bytes >= MIGRATION_BATCH_BYTES {
                moved += batch.len() as u64;
                segments.append(&std::mem::take(&mut batch), None)?;
                bytes = 0;
            }
        }
        moved += batch.len() as u64;
        segments.append(&batch, None)?;
    }
    let mut txn = env.write_txn().map_err(lmdb)?;
    log.clear(&mut txn).map_err(lmdb)?;
    txn.commit().map_err(lmdb)?;
    tracing::info!(entries = moved, dir = %dir.display(), "cluster log: moved from LMDB to segment files");
    Ok(())
}

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, DbError> {
    postcard::to_allocvec(value).map_err(|source| DbError::Encode { what, source })
}

fn decode_entry(raw: &[u8]) -> Result<Entry, DbError> {
    postcard::from_bytes(raw).map_err(|source| DbError::Corrupt {
        what: "log entry".into(),
        source,
    })
}

fn key_name(key: &'static [u8]) -> &'static str {
    match key {
        keys::VOTE => "vote",
        keys::COMMITTED => "committed log id",
        keys::PURGED => "purged log id",
        keys::APPLIED => "applied log id",
        keys::MEMBERSHIP => "membership",
        keys::SNAPSHOT_META => "snapshot meta",
        _ => "record",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(2, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    #[test]
    fn an_earlier_builds_lmdb_log_moves_into_segments_once() {
        let dir = tempfile::tempdir().expect("dir");
        drop(RaftDb::open(dir.path()).expect("create"));
        // Entries as an earlier build wrote them: LMDB's `log` database.
        {
            let mut opts = EnvOpenOptions::new().read_txn_without_tls();
            opts.map_size(MAP_SIZE).max_dbs(4);
            // SAFETY: nothing else has this temporary environment open.
            let env = unsafe { opts.open(dir.path()) }.expect("env");
            let wtxn = env.write_txn().expect("txn");
            let made = env
                .create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, heed::Error> {
                    let log = dbo.create_database::<Raw, Raw>(wtxn, Some("log"))?;
                    Ok(CommitOrAbort::<_, ()>::Commit(log))
                })
                .expect("open log");
            let CommitOrAbort::Commit(log) = made else {
                panic!("log database not opened");
            };
            let mut txn = env.write_txn().expect("txn");
            for index in 4..=6 {
                let value = encode("entry", &entry(index)).expect("encode");
                log.put(&mut txn, &index.to_be_bytes(), &value)
                    .expect("put");
            }
            txn.commit().expect("commit");
        }
        // A move a crash interrupted left a segment behind: it is replaced.
        std::fs::write(
            dir.path().join(LOG_DIR_NAME).join(format!("{:020}.seg", 9)),
            b"partial",
        )
        .expect("leftover");
        let db = RaftDb::open(dir.path()).expect("reopen");
        let got: Vec<u64> = db
            .entries(0, 10)
            .expect("entries")
            .iter()
            .map(|e| e.log_id.index)
            .collect();
        assert_eq!(got, vec![4, 5, 6]);
        assert_eq!(db.log_len().expect("len"), 3);
        drop(db);
        // The LMDB log is empty now, so a second open reads the segments alone.
        let db = RaftDb::open(dir.path()).expect("reopen again");
        assert_eq!(db.last_log_id().expect("last"), Some(entry(6).log_id));
        assert_eq!(db.log_len().expect("len"), 3);
    }
}
