//! The cluster's own LMDB environment (`<data_dir>/cluster/`), beside the message store and
//! never inside it: the Raft log (`log`: index, big-endian → postcard entry) and small
//! records (`meta`: vote, committed and purged log ids, the current snapshot; the applied
//! log id and membership of earlier builds, read once: they now live in the message store,
//! committed with the entries' effects, see [`super::apply`]). Every write transaction is synced before it
//! returns, so a vote or an appended entry is on disk when openraft is told so.
#![allow(unsafe_code)]

use std::ops::Bound;
use std::path::{Path, PathBuf};

use heed::types::Bytes as Raw;
use heed::{CommitOrAbort, Env, EnvOpenOptions, WithoutTls};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::types::{Entry, LogId};

type Db = heed::Database<'static, Raw, Raw>;

/// Name of the environment's directory inside the data directory.
pub const DIR_NAME: &str = "cluster";

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
    /// The directory could not be created.
    #[error("cannot create {}: {source}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The open environment and its two databases.
#[derive(Debug)]
pub struct RaftDb {
    dir: PathBuf,
    env: Env<WithoutTls>,
    log: Db,
    meta: Db,
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
        Ok(RaftDb {
            dir: dir.to_path_buf(),
            env,
            log,
            meta,
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
    pub(crate) fn append(
        &self,
        entries: &[Entry],
        committed: Option<Option<LogId>>,
    ) -> Result<(), DbError> {
        let committed = match committed {
            Some(id) => Some(encode("committed log id", &id)?),
            None => None,
        };
        let mut txn = self.env.write_txn().map_err(|e| self.lmdb(e))?;
        for entry in entries {
            let value = encode("log entry", entry)?;
            self.log
                .put(&mut txn, &entry.log_id.index.to_be_bytes(), &value)
                .map_err(|e| self.lmdb(e))?;
        }
        if let Some(committed) = committed {
            self.meta
                .put(&mut txn, keys::COMMITTED, &committed)
                .map_err(|e| self.lmdb(e))?;
        }
        txn.commit().map_err(|e| self.lmdb(e))
    }

    /// Deletes the entries with index >= `from`.
    pub(crate) fn truncate(&self, from: u64) -> Result<(), DbError> {
        let mut txn = self.env.write_txn().map_err(|e| self.lmdb(e))?;
        let start = from.to_be_bytes();
        let range = (Bound::Included(&start[..]), Bound::Unbounded);
        self.log
            .delete_range(&mut txn, &range)
            .map_err(|e| self.lmdb(e))?;
        txn.commit().map_err(|e| self.lmdb(e))
    }

    /// Records `log_id` as purged and deletes the entries up to it, in one transaction.
    pub(crate) fn purge(&self, log_id: &LogId) -> Result<(), DbError> {
        let purged = encode("purged log id", log_id)?;
        let mut txn = self.env.write_txn().map_err(|e| self.lmdb(e))?;
        self.meta
            .put(&mut txn, keys::PURGED, &purged)
            .map_err(|e| self.lmdb(e))?;
        let end = log_id.index.to_be_bytes();
        let range = (Bound::Unbounded, Bound::Included(&end[..]));
        self.log
            .delete_range(&mut txn, &range)
            .map_err(|e| self.lmdb(e))?;
        txn.commit().map_err(|e| self.lmdb(e))
    }

    /// The last entry's log id, if the log holds any.
    pub(crate) fn last_log_id(&self) -> Result<Option<LogId>, DbError> {
        let txn = self.env.read_txn().map_err(|e| self.lmdb(e))?;
        let Some((_, raw)) = self.log.last(&txn).map_err(|e| self.lmdb(e))? else {
            return Ok(None);
        };
        let entry: Entry = decode_entry(raw)?;
        Ok(Some(entry.log_id))
    }

    /// Entries with `start <= index <= end`, in order.
    pub(crate) fn entries(&self, start: u64, end: u64) -> Result<Vec<Entry>, DbError> {
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        let txn = self.env.read_txn().map_err(|e| self.lmdb(e))?;
        let (from, to) = (start.to_be_bytes(), end.to_be_bytes());
        let range = (Bound::Included(&from[..]), Bound::Included(&to[..]));
        for item in self.log.range(&txn, &range).map_err(|e| self.lmdb(e))? {
            let (_, raw) = item.map_err(|e| self.lmdb(e))?;
            out.push(decode_entry(raw)?);
        }
        Ok(out)
    }

    /// Number of entries in the log (for tests and status).
    pub fn log_len(&self) -> Result<u64, DbError> {
        let txn = self.env.read_txn().map_err(|e| self.lmdb(e))?;
        self.log.len(&txn).map_err(|e| self.lmdb(e))
    }
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
