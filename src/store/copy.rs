//! Whole-store copies, for the cluster's snapshots: a compacted single-file copy of the
//! LMDB environment taken from one read transaction ([`Store::copy_consistent`]), the
//! cluster mark such a copy carries ([`inspect_copy`]), and replacing this store's content
//! with a copy's in one write transaction ([`Store::replace_from_copy`]).
//!
//! Why a write transaction and not a rename over `data.mdb`: every handle on the store (the
//! state machine, the proposer, the promotion loop that starts a broker) shares one open
//! environment, so swapping the file would mean closing it under them. Copying the records
//! in one transaction keeps the environment open, is atomic (the commit is the switch: a
//! crash before it leaves the old content, after it the new), and costs one more write of
//! the data, which LMDB spills to disk as it goes rather than holding in memory.

use std::path::Path;

use heed::{CommitOrAbort, Env, PutFlags, WithoutTls};

use super::env::{self, DB_NAMES, Db};
use super::group::{AppliedMark, META_CLUSTER_APPLIED};
use super::writer::Request;
use super::{Store, StoreError, compact};

/// The copy's databases, in [`DB_NAMES`] order (`None`: not in the copy).
type CopyDbs = [Option<Db>; 6];

impl Store {
    /// Writes a compacted copy of the whole store to `dest` (replacing any file there) and
    /// syncs it; returns its size in bytes. LMDB takes the copy in one read transaction, so
    /// it holds exactly the data of one commit and that commit's cluster mark. Blocking and
    /// as long as the live data takes to write: call from a blocking thread. Readers and the
    /// writer go on meanwhile; only a map resize waits for the copy to end.
    pub fn copy_consistent(&self, dest: &Path) -> Result<u64, StoreError> {
        let guard = self.inner.shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        compact::copy_synced(env, dest)?;
        Ok(std::fs::metadata(dest)?.len())
    }

    /// Replaces every record of this store with those of the copy at `src` (written by
    /// [`Store::copy_consistent`], here or on another node) in one write transaction, then
    /// reloads the counters and drops transient entries as at open. Returns the copy's
    /// cluster mark. A file that is not a store copy this build reads is refused with the
    /// store untouched. Blocking: call from a blocking thread, with no other writer busy.
    pub fn replace_from_copy(&self, src: &Path) -> Result<Option<AppliedMark>, StoreError> {
        let copy = env::open_copy(src)?;
        let replaced = open_dbs(&copy).and_then(|dbs| {
            let mark = read_mark(&copy, &dbs)?;
            self.replace_with(&copy, &dbs)?;
            Ok(mark)
        });
        copy.prepare_for_closing().wait();
        let mark = replaced?;
        let max_msg_id = self.reload()?;
        // Publishes of ids at or below the copy's highest must not append.
        self.send(Request::MsgIdFloor(max_msg_id))
            .map_err(|_| StoreError::Closed)?;
        Ok(mark)
    }

    fn replace_with(&self, copy: &Env<WithoutTls>, from: &CopyDbs) -> Result<(), StoreError> {
        loop {
            match self.try_replace(copy, from) {
                Err(StoreError::MapFull) => {
                    env::grow(&self.inner.shared)?;
                }
                r => return r,
            }
        }
    }

    fn try_replace(&self, copy: &Env<WithoutTls>, from: &CopyDbs) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        let guard = shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        let d = shared.dbs;
        let to = [d.meta, d.messages, d.index, d.marks, d.stats, d.defs];
        let rtxn = copy.read_txn()?;
        let mut wtxn = env.write_txn()?;
        for (src, dst) in from.iter().zip(to) {
            dst.clear(&mut wtxn)?;
            let Some(src) = src else { continue };
            for item in src.iter(&rtxn)? {
                let (k, v) = item?;
                // The copy iterates in key order, the order LMDB's append mode wants.
                dst.put_with_flags(&mut wtxn, PutFlags::APPEND, k, v)?;
            }
        }
        wtxn.commit()?;
        Ok(())
    }
}

/// The cluster mark in the store copy at `path` (`None`: the copy has none), after checking
/// that the file is a store of a format this build reads. Blocking.
pub fn inspect_copy(path: &Path) -> Result<Option<AppliedMark>, StoreError> {
    let copy = env::open_copy(path)?;
    let mark = open_dbs(&copy).and_then(|dbs| read_mark(&copy, &dbs));
    copy.prepare_for_closing().wait();
    mark
}

fn open_dbs(copy: &Env<WithoutTls>) -> Result<CopyDbs, StoreError> {
    let rtxn = copy.read_txn()?;
    let opened = copy.open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_, heed::Error> {
        let [a, b, c, d, e, f] = DB_NAMES;
        Ok(CommitOrAbort::<_, ()>::Commit([
            dbo.open_database(rtxn, Some(a))?,
            dbo.open_database(rtxn, Some(b))?,
            dbo.open_database(rtxn, Some(c))?,
            dbo.open_database(rtxn, Some(d))?,
            dbo.open_database(rtxn, Some(e))?,
            dbo.open_database(rtxn, Some(f))?,
        ]))
    })?;
    match opened {
        CommitOrAbort::Commit(dbs) => Ok(dbs),
        CommitOrAbort::Abort(()) => Err(StoreError::Corrupt(
            "cannot open the databases of the store copy".into(),
        )),
    }
}

fn read_mark(copy: &Env<WithoutTls>, dbs: &CopyDbs) -> Result<Option<AppliedMark>, StoreError> {
    let [Some(meta), ..] = dbs else {
        return Err(StoreError::Corrupt(
            "the store copy has no meta database".into(),
        ));
    };
    let rtxn = copy.read_txn()?;
    Ok(meta
        .get(&rtxn, META_CLUSTER_APPLIED)?
        .and_then(AppliedMark::decode))
}
