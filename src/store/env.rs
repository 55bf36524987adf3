//! Opening the LMDB environment safely, and growing its map.
//!
//! Start-up order: take `warren.lock` (so no other process can open the directory), then
//! validate an existing `data.mdb` through a read-only, lock-free environment that writes
//! nothing, and only then open it read-write. An unknown format or a damaged file therefore
//! stops start-up with the directory untouched.
//!
//! Resizing the map (`mdb_env_set_mapsize`) is legal only while this process has no
//! transaction open. Every read takes [`Shared::env`] shared for the life of its (short)
//! transaction and the single writer thread takes it shared around each write transaction,
//! so [`grow`], which takes it exclusively, runs with no transaction open.
#![allow(unsafe_code)]

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use heed::types::Bytes as Raw;
use heed::{CommitOrAbort, Env, EnvFlags, EnvOpenOptions, WithoutTls};
use parking_lot::{Mutex, RwLock};

use super::codec::{FORMAT_VERSION, META_VERSION, OLDEST_READABLE_VERSION};
use super::types::{StoreError, StoreOptions};

/// A database of raw bytes.
pub(crate) type Db = heed::Database<'static, Raw, Raw>;

/// Name of the lock file in the data directory.
pub(crate) const LOCK_FILE: &str = "warren.lock";
/// LMDB's data file.
pub(crate) const DATA_FILE: &str = "data.mdb";
/// LMDB's lock file (reader table; recreated at need).
pub(crate) const LMDB_LOCK_FILE: &str = "lock.mdb";
const MIB: usize = 1 << 20;

/// The named databases (see `codec` for their layouts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dbs {
    pub(crate) meta: Db,
    pub(crate) messages: Db,
    pub(crate) index: Db,
    pub(crate) marks: Db,
    pub(crate) stats: Db,
    pub(crate) defs: Db,
}

pub(crate) const DB_NAMES: [&str; 6] = ["meta", "messages", "index", "marks", "stats", "defs"];

/// What readers and the writer share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The environment; `None` once closed. Shared for transactions, exclusive for resize.
    pub(crate) env: RwLock<Option<Env<WithoutTls>>>,
    pub(crate) dbs: Dbs,
    pub(crate) max_map: usize,
    /// The held `warren.lock`; declared after `env` so it is released after the env closes.
    pub(crate) lock: Mutex<Option<File>>,
}

/// Takes the directory's lock file (released when the `File` is dropped).
pub(crate) fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    std::fs::create_dir_all(dir)?;
    let f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(StoreError::Io(e)),
    }
}

fn round_mib(n: usize) -> usize {
    n.div_ceil(MIB).saturating_mul(MIB)
}

/// Checks an existing data file without writing anything. `Ok(Some(version))`: a valid store
/// of that format; `Ok(None)`: an LMDB file with nothing in it (an interrupted first start),
/// safe to set up.
fn validate_existing(dir: &Path, file_len: u64) -> Result<Option<u32>, StoreError> {
    let map = round_mib(usize::try_from(file_len).unwrap_or(usize::MAX).max(MIB));
    let mut opts = EnvOpenOptions::new().read_txn_without_tls();
    opts.map_size(map).max_dbs(16);
    // SAFETY: READ_ONLY | NO_LOCK: we hold warren.lock, so no other Warren process can be
    // writing the file, and this read-only environment is closed before the read-write one
    // opens. NO_LOCK keeps LMDB from creating or touching lock.mdb during validation.
    let env = unsafe {
        opts.flags(EnvFlags::READ_ONLY | EnvFlags::NO_LOCK);
        opts.open(dir)
    }
    .map_err(|e| StoreError::Corrupt(format!("{DATA_FILE} is not a valid LMDB file ({e})")))?;
    let verdict = check_meta(&env);
    env.prepare_for_closing().wait();
    verdict
}

pub(crate) fn check_meta(env: &Env<WithoutTls>) -> Result<Option<u32>, StoreError> {
    let corrupt = |e: heed::Error| StoreError::Corrupt(e.to_string());
    let rtxn = env.read_txn().map_err(corrupt)?;
    let opened = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_, heed::Error> {
            let main = dbo.open_database::<Raw, Raw>(rtxn, None)?;
            let meta = dbo.open_database::<Raw, Raw>(rtxn, Some("meta"))?;
            Ok(CommitOrAbort::<_, ()>::Commit((main, meta)))
        })
        .map_err(corrupt)?;
    let CommitOrAbort::Commit((main, meta)) = opened else {
        return Err(StoreError::Corrupt("cannot open the main database".into()));
    };
    let rtxn = env.read_txn().map_err(corrupt)?;
    let Some(main) = main else {
        return Err(StoreError::Corrupt("no main database".into()));
    };
    if main.is_empty(&rtxn).map_err(corrupt)? {
        return Ok(None);
    }
    let Some(meta) = meta else {
        return Err(StoreError::Corrupt(format!(
            "{DATA_FILE} holds LMDB data but no Warren meta database"
        )));
    };
    let Some(v) = meta.get(&rtxn, META_VERSION).map_err(corrupt)? else {
        return Err(StoreError::Corrupt(
            "the meta database has no format version".into(),
        ));
    };
    let found = <[u8; 4]>::try_from(v)
        .map(u32::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("the format version is not 4 bytes".into()))?;
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&found) {
        return Err(StoreError::UnknownFormat {
            found,
            expected: FORMAT_VERSION,
        });
    }
    Ok(Some(found))
}

/// Opens the single-file store copy at `path` read-only, without a lock file (a snapshot
/// received or built beside the store; see [`super::copy`]), after checking that it holds a
/// store of a format this build reads.
pub(crate) fn open_copy(path: &Path) -> Result<Env<WithoutTls>, StoreError> {
    let len = std::fs::metadata(path)?.len();
    let map = round_mib(usize::try_from(len).unwrap_or(usize::MAX).max(MIB));
    let mut opts = EnvOpenOptions::new().read_txn_without_tls();
    opts.map_size(map).max_dbs(16);
    // SAFETY: READ_ONLY | NO_LOCK | NO_SUB_DIR: the copy is a private file that nothing
    // writes while it is open (the snapshot code writes it before and renames it after),
    // and this environment never writes it or creates a lock file beside it.
    let env = unsafe {
        opts.flags(EnvFlags::READ_ONLY | EnvFlags::NO_LOCK | EnvFlags::NO_SUB_DIR);
        opts.open(path)
    }
    .map_err(|e| {
        StoreError::Corrupt(format!("{} is not a valid LMDB file ({e})", path.display()))
    })?;
    match check_meta(&env) {
        Ok(Some(_)) => Ok(env),
        Ok(None) => {
            env.prepare_for_closing().wait();
            Err(StoreError::Corrupt(format!(
                "{} holds no store",
                path.display()
            )))
        }
        Err(e) => {
            env.prepare_for_closing().wait();
            Err(e)
        }
    }
}

/// Refuses a non-empty directory that does not hold a Warren store.
fn check_fresh_dir(dir: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if ![LOCK_FILE, DATA_FILE, LMDB_LOCK_FILE]
            .iter()
            .any(|n| name == std::ffi::OsStr::new(n))
        {
            return Err(StoreError::Corrupt(format!(
                "{} has files but no {DATA_FILE} (found {:?}); use an empty directory",
                dir.display(),
                name
            )));
        }
    }
    Ok(())
}

/// Opens (creating if new) the environment and its databases. Call with the lock held.
pub(crate) fn open_env(
    dir: &Path,
    options: &StoreOptions,
    lock: File,
) -> Result<Shared, StoreError> {
    let data = dir.join(DATA_FILE);
    let file_len = match std::fs::metadata(&data) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(StoreError::Io(e)),
    };
    let existing = if file_len > 0 {
        validate_existing(dir, file_len)?
    } else {
        None
    };
    if existing.is_none() {
        check_fresh_dir(dir)?;
    }
    let max_map = round_mib(options.max_map_size.max(MIB));
    let file = usize::try_from(file_len).unwrap_or(usize::MAX);
    // Start with room for the existing data plus half again, so a reopened store does not
    // resize on its first batch.
    let map = round_mib(
        options
            .initial_map_size
            .max(file.saturating_add(file / 2))
            .max(MIB),
    )
    .min(max_map.max(round_mib(file)));
    let mut opts = EnvOpenOptions::new().read_txn_without_tls();
    opts.map_size(map).max_dbs(16).max_readers(1024);
    if options.sync && !options.meta_sync {
        // SAFETY: NO_META_SYNC keeps the data sync of every commit and leaves the meta page
        // to the next one: a system crash may undo the last commit, never corrupt the file.
        // The caller asked for it (cluster mode, whose log re-applies it).
        unsafe {
            opts.flags(EnvFlags::NO_META_SYNC);
        }
    }
    if !options.sync {
        // SAFETY: NO_SYNC only drops the fsync at commit: a process crash loses nothing (the
        // OS has the pages), an OS crash may lose the last commits. The caller asked for it.
        unsafe {
            opts.flags(EnvFlags::NO_SYNC);
        }
    }
    // SAFETY: NO_READ_AHEAD only asks the OS not to read ahead on the map (MADV_RANDOM): a
    // backlog read in key order gains little from it, and every page read ahead would stay
    // mapped into the process (RssFile) without need (issue #11).
    unsafe {
        opts.flags(EnvFlags::NO_READ_AHEAD);
    }
    // SAFETY: the data file is only ever modified through this environment: warren.lock
    // (held by the caller) excludes other Warren processes, and within this process the lock
    // file excludes a second `Store` on the same directory.
    let env = unsafe { opts.open(dir) }?;
    // A fresh store, or an older format this build reads: from now on it holds records of
    // this build's format, so the mark moves up (and older builds refuse it cleanly).
    let stamp_version = existing.is_none_or(|v| v < FORMAT_VERSION);
    let dbs = create_dbs(&env, stamp_version)?;
    Ok(Shared {
        env: RwLock::new(Some(env)),
        dbs,
        max_map,
        lock: Mutex::new(Some(lock)),
    })
}

fn create_dbs(env: &Env<WithoutTls>, stamp_version: bool) -> Result<Dbs, StoreError> {
    let wtxn = env.write_txn()?;
    let made = env.create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, heed::Error> {
        let mut dbs = Vec::with_capacity(DB_NAMES.len());
        for name in DB_NAMES {
            dbs.push(dbo.create_database::<Raw, Raw>(wtxn, Some(name))?);
        }
        let Ok([meta, messages, index, marks, stats, defs]) = <[_; 6]>::try_from(dbs) else {
            return Ok(CommitOrAbort::Abort(()));
        };
        if stamp_version {
            meta.put(wtxn, META_VERSION, &FORMAT_VERSION.to_be_bytes())?;
        }
        Ok(CommitOrAbort::Commit((
            meta, messages, index, marks, stats, defs,
        )))
    })?;
    match made {
        CommitOrAbort::Commit((meta, messages, index, marks, stats, defs)) => Ok(Dbs {
            meta,
            messages,
            index,
            marks,
            stats,
            defs,
        }),
        CommitOrAbort::Abort(()) => Err(StoreError::Lmdb("could not create the databases".into())),
    }
}

/// Grows the map (doubling, at least +64 MiB, at most `max_map`). Call with no transaction
/// open on this thread; it waits for readers to finish.
pub(crate) fn grow(shared: &Shared) -> Result<usize, StoreError> {
    let guard = shared.env.write();
    let env = guard.as_ref().ok_or(StoreError::Closed)?;
    let current = env.info().map_size;
    if current >= shared.max_map {
        return Err(StoreError::MapFull);
    }
    let wanted = current
        .saturating_mul(2)
        .max(current.saturating_add(64 * MIB));
    let new = round_mib(wanted).min(shared.max_map);
    // SAFETY: we hold `shared.env` exclusively. Every read transaction in this process is
    // created and dropped while its thread holds the lock shared, and the writer thread (the
    // only one that opens write transactions after start-up) calls this between transactions.
    // So no transaction is active, which is what mdb_env_set_mapsize requires.
    unsafe { env.resize(new) }?;
    tracing::info!(from = current, to = new, "store map grown");
    Ok(new)
}

/// The data file's path.
pub(crate) fn data_path(dir: &Path) -> PathBuf {
    dir.join(DATA_FILE)
}
