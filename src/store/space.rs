//! Space inside the data file, and room on its disk. LMDB never shrinks its file: pages
//! freed by acks and purges are reused by later writes instead. So the free space that
//! matters is the file system's plus the store's own free pages ([`Store::reusable_bytes`]).
//!
//! The writer keeps [`DISK_RESERVE`] of it for removals: LMDB copies every page it changes,
//! so even a delete needs free pages, and a disk filled to the last byte by publishes could
//! never be drained. A batch whose bodies would eat into the reserve has its publishes
//! refused (they are nacked) while its other ops commit.

use std::path::Path;

use heed::{Env, WithoutTls};

use super::env::Dbs;
use super::{Store, StoreError};

/// Meta pages at the start of every LMDB file.
const META_PAGES: u64 = 2;

/// Free space (on the disk or inside the data file) that publishes never take, kept for
/// the removals that drain a full store.
pub(crate) const DISK_RESERVE: u64 = 1 << 20;

/// Bytes of the data file at `dir` that hold no live data. Call with no write transaction
/// open on this thread.
pub(crate) fn reusable(env: &Env<WithoutTls>, dbs: &Dbs, dir: &Path) -> Result<u64, StoreError> {
    let file = std::fs::metadata(super::env::data_path(dir)).map_or(0, |m| m.len());
    let txn = env.read_txn()?;
    let main = env.unnamed_database_stat();
    let page = u64::from(main.page_size);
    let pages = |s: heed::DatabaseStat| (s.branch_pages + s.leaf_pages + s.overflow_pages) as u64;
    let mut used = META_PAGES + pages(main);
    for db in [
        dbs.meta,
        dbs.messages,
        dbs.index,
        dbs.marks,
        dbs.stats,
        dbs.defs,
    ] {
        used += pages(db.stat(&txn)?);
    }
    Ok(file.saturating_sub(used.saturating_mul(page)))
}

/// Whether `bytes` of new bodies fit without eating into [`DISK_RESERVE`] (one `statvfs`
/// when the disk has room; the store's free pages are counted only when it has not).
pub(crate) fn has_room(env: &Env<WithoutTls>, dbs: &Dbs, bytes: u64) -> bool {
    // Bodies plus an allowance for index entries, page splits and LMDB's copy-on-write.
    let need = DISK_RESERVE.saturating_add(bytes).saturating_add(bytes / 4);
    let dir = env.path();
    let Ok(avail) = fs4::available_space(dir) else {
        return true;
    };
    if avail >= need {
        return true;
    }
    reusable(env, dbs, dir).map_or(true, |r| avail.saturating_add(r) >= need)
}

impl Store {
    /// Bytes of the data file that hold no live data (free pages LMDB reuses before it
    /// grows the file). One short read transaction; counts LMDB's own free-list pages as
    /// free, which they nearly are.
    pub fn reusable_bytes(&self) -> Result<u64, StoreError> {
        let guard = self.inner.shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        reusable(env, &self.inner.shared.dbs, &self.inner.dir)
    }
}
