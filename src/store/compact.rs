//! Compaction: LMDB never shrinks its data file (freed pages are reused inside it), so after
//! a large backlog drains the file keeps its peak size. Compacting copies the live pages
//! into a new file (`mdb_env_copy2` with `MDB_CP_COMPACT`), syncs it and renames it over
//! `data.mdb`. It needs the directory to itself: it runs at start-up before the store opens
//! ([`StoreOptions::compact_free_percent`]) or offline (`warren compact`), with
//! `warren.lock` held throughout. A crash mid-way leaves the old file intact (the copy is
//! a separate file until the atomic rename); a failed copy is removed.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use heed::CompactionOption;

use super::env::{self, DATA_FILE, LMDB_LOCK_FILE};
use super::types::{StoreError, StoreOptions};

/// The copy being written, beside the data file.
const COPY_FILE: &str = "data.mdb.compact";

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Bytes of the data file before.
    pub before: u64,
    /// Bytes of the data file after.
    pub after: u64,
    /// How long it took (copy, sync and rename).
    pub elapsed: Duration,
}

/// Compacts the store in `dir` now. Fails with [`StoreError::Locked`] while a broker (or
/// anything else) has the directory open, and with [`StoreError::NoData`] where there is
/// no store.
pub fn compact(dir: &Path) -> Result<Compaction, StoreError> {
    if data_len(dir) == 0 {
        return Err(StoreError::NoData {
            dir: dir.to_path_buf(),
        });
    }
    let lock = env::lock_dir(dir)?;
    let (_lock, done) = compact_locked(dir, &StoreOptions::default(), lock, 0)?;
    done?.ok_or_else(|| StoreError::Lmdb("compaction was not needed".into()))
}

/// At start-up, with `lock` held: compacts when at least `options.compact_free_percent` of
/// the data file is free. A failed copy (a full disk, say) is logged and start-up goes on
/// with the file as it is. Gives the lock back.
pub(crate) fn at_start(dir: &Path, options: &StoreOptions, lock: File) -> Result<File, StoreError> {
    let percent = options.compact_free_percent;
    if percent == 0 || data_len(dir) == 0 {
        return Ok(lock);
    }
    let (lock, done) = compact_locked(dir, options, lock, percent)?;
    match done {
        Ok(Some(c)) => tracing::info!(
            before = c.before,
            after = c.after,
            ms = u64::try_from(c.elapsed.as_millis()).unwrap_or(u64::MAX),
            "store: data file compacted at start-up"
        ),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "store: compaction failed; the data file is unchanged")
        }
    }
    Ok(lock)
}

fn data_len(dir: &Path) -> u64 {
    std::fs::metadata(env::data_path(dir)).map_or(0, |m| m.len())
}

/// What [`compact_locked`] gives back: the lock, and the compaction's outcome (`None`: not
/// needed; `Err`: the copy failed and the data file is unchanged).
type Outcome = (File, Result<Option<Compaction>, StoreError>);

/// Opens the environment, copies it compacted when at least `min_free_percent` of the file
/// is free (always when 0), closes it and puts the copy in place. Opening errors are the
/// outer `Err`.
fn compact_locked(
    dir: &Path,
    options: &StoreOptions,
    lock: File,
    min_free_percent: u8,
) -> Result<Outcome, StoreError> {
    let start = Instant::now();
    let before = data_len(dir);
    let shared = env::open_env(dir, options, lock)?;
    let copy = dir.join(COPY_FILE);
    let copied = {
        let guard = shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        let free = super::space::reusable(env, &shared.dbs, dir)?;
        if free.saturating_mul(100) < before.saturating_mul(u64::from(min_free_percent)) {
            None
        } else {
            Some(copy_synced(env, &copy))
        }
    };
    if let Some(env) = shared.env.write().take() {
        env.prepare_for_closing().wait();
    }
    let lock = shared
        .lock
        .lock()
        .take()
        .ok_or_else(|| StoreError::Lmdb("the directory lock was lost".into()))?;
    let done = match copied {
        None => Ok(None),
        Some(Err(e)) => {
            let _ = std::fs::remove_file(&copy);
            Err(e)
        }
        Some(Ok(())) => put_in_place(dir, &copy).map(|()| {
            Some(Compaction {
                before,
                after: data_len(dir),
                elapsed: start.elapsed(),
            })
        }),
    };
    Ok((lock, done))
}

/// Writes a compacted copy of `env` (its live pages, from one read transaction LMDB opens
/// for the copy) to `dest`, replacing any file there, and syncs it. Blocking.
pub(crate) fn copy_synced(
    env: &heed::Env<heed::WithoutTls>,
    dest: &Path,
) -> Result<(), StoreError> {
    let _ = std::fs::remove_file(dest);
    env.copy_to_path(dest, CompactionOption::Enabled)
        .map_err(StoreError::from)
        .and_then(|f| f.sync_all().map_err(StoreError::from))
}

/// Renames the synced copy over the data file and makes the rename durable.
fn put_in_place(dir: &Path, copy: &Path) -> Result<(), StoreError> {
    std::fs::rename(copy, dir.join(DATA_FILE))?;
    File::open(dir)?.sync_all()?;
    // LMDB's reader table is rebuilt at the next open; nothing may carry over.
    let _ = std::fs::remove_file(dir.join(LMDB_LOCK_FILE));
    Ok(())
}
