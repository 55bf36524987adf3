//! Snapshots: the whole message store (definitions, durable messages, queue indexes and the
//! applied mark) as a compacted LMDB copy at one applied log id, kept as a file in
//! `<data_dir>/cluster/snapshots/` and streamed to followers by openraft in chunks
//! (`snapshot_max_chunk_size`, far below the transport's frame cap).
//!
//! - **Build** ([`Snapshots::build`]): [`Store::copy_consistent`] writes the copy from one
//!   LMDB read transaction, so it carries its own applied mark (the state machine writes the
//!   mark in the same transaction as the entries' effects); the snapshot's metadata is read
//!   back from the copy, never assumed. The copy runs on a blocking thread while entries go
//!   on being applied.
//! - **Identity**: the snapshot id names the log id, the build time and the SHA-256 of the
//!   file, so a follower checks what it received before LMDB opens it: a torn or garbled
//!   transfer is refused with the store untouched.
//! - **Install** ([`Snapshots::install`]): the received file is checked (hash, opens as a
//!   store of a readable format, its mark at or past the snapshot's log id), its records
//!   replace the store's in one write transaction ([`Store::replace_from_copy`]: the commit
//!   is the switch), then it becomes this node's current snapshot.
//!
//! The format is the store's own (its format version is checked on install). Snapshots of
//! earlier builds (a postcard list of definitions kept in the cluster database) are dropped
//! at start-up; the next one is built from the store.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::db::{DbError, RaftDb, keys};
use super::types::{LogId, SnapshotMeta, StoredMembership};
use crate::store::{AppliedMark, Store, StoreError, inspect_copy};

/// The snapshots' directory inside the cluster directory.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// The current snapshot.
const CURRENT: &str = "current.mdb";
/// A snapshot being received.
const RECEIVING: &str = "receiving.mdb";
/// Prefix of a snapshot being built.
const BUILDING: &str = "building-";

/// Why a snapshot could not be built, read or installed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A snapshot file could not be read or written.
    #[error("snapshot file {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store failed to copy, or refused the file as a store.
    #[error("snapshot store copy: {0}")]
    Store(#[from] StoreError),
    /// The cluster database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The applied mark in the copy does not decode.
    #[error("the snapshot's applied mark does not decode: {0}")]
    Mark(#[from] postcard::Error),
    /// The received file is not the snapshot announced.
    #[error("snapshot {id} refused: {reason}")]
    Refused {
        /// The snapshot id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A node's snapshot files and the metadata of the current one.
#[derive(Debug)]
pub struct Snapshots {
    dir: PathBuf,
    db: Arc<RaftDb>,
    /// The current snapshot's metadata; held while its file is replaced or opened, so a
    /// reader always gets a file and the metadata that describes it.
    current: Mutex<Option<SnapshotMeta>>,
    seq: AtomicU64,
}

impl Snapshots {
    /// Opens the snapshot directory beside `db`'s files: removes leftovers of interrupted
    /// builds and transfers, checks the current snapshot against its recorded metadata
    /// (rebuilding the metadata from the file after a crash between the two) and drops a
    /// snapshot of an earlier format. Blocking.
    pub fn open(db: Arc<RaftDb>) -> Result<Snapshots, SnapshotError> {
        let dir = db.dir().join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(BUILDING) || name == RECEIVING {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let snapshots = Snapshots {
            dir,
            db,
            current: Mutex::new(None),
            seq: AtomicU64::new(0),
        };
        let current = snapshots.recover()?;
        *snapshots.current.lock() = current;
        Ok(snapshots)
    }

    fn recover(&self) -> Result<Option<SnapshotMeta>, SnapshotError> {
        let recorded: Option<SnapshotMeta> = self.db.get(keys::SNAPSHOT_META)?;
        let path = self.dir.join(CURRENT);
        if !path.exists() {
            if recorded.is_some() {
                tracing::info!(
                    "cluster: dropping a snapshot of an earlier format (definitions only); \
                     the next one is built from the store"
                );
                self.db
                    .delete_all(&[keys::SNAPSHOT_META, keys::SNAPSHOT_DATA])?;
            }
            return Ok(None);
        }
        let (last_log_id, last_membership) = mark_state(inspect_copy(&path)?)?;
        if let Some(meta) = recorded
            && meta.last_log_id == last_log_id
        {
            return Ok(Some(meta));
        }
        // Renamed into place but its metadata not recorded (a crash in between).
        let meta = new_meta(last_log_id, last_membership, &path)?;
        self.db.put(keys::SNAPSHOT_META, &meta)?;
        Ok(Some(meta))
    }

    /// The current snapshot's metadata and an open handle on its file.
    pub fn current(&self) -> Result<Option<(SnapshotMeta, File)>, SnapshotError> {
        let current = self.current.lock();
        let Some(meta) = current.as_ref() else {
            return Ok(None);
        };
        let path = self.dir.join(CURRENT);
        let file = File::open(&path).map_err(io(&path))?;
        Ok(Some((meta.clone(), file)))
    }

    /// The current snapshot's metadata.
    pub fn current_meta(&self) -> Option<SnapshotMeta> {
        self.current.lock().clone()
    }

    /// Builds a snapshot of `store` as it is now and makes it the current one (unless a
    /// newer one was installed meanwhile); returns its metadata and an open handle on it.
    /// Blocking, for as long as the copy takes.
    pub fn build(&self, store: &Store) -> Result<(SnapshotMeta, File), SnapshotError> {
        let start = Instant::now();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{BUILDING}{seq}.mdb"));
        let built = (|| {
            let bytes = store.copy_consistent(&path)?;
            let (last_log_id, last_membership) = mark_state(inspect_copy(&path)?)?;
            let meta = new_meta(last_log_id, last_membership, &path)?;
            Ok::<_, SnapshotError>((meta, bytes))
        })();
        let (meta, bytes) = match built {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let file = self.make_current(&meta, &path)?;
        tracing::info!(
            last = ?meta.last_log_id,
            bytes,
            ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            "cluster: snapshot built"
        );
        Ok((meta, file))
    }

    /// Renames the file at `path` (of the snapshot `meta`) over the current snapshot and
    /// records `meta`, unless the current one is newer (then `path` is only removed).
    /// Returns a handle on the file.
    fn make_current(&self, meta: &SnapshotMeta, path: &Path) -> Result<File, SnapshotError> {
        let mut current = self.current.lock();
        let file = File::open(path).map_err(io(path))?;
        if current
            .as_ref()
            .is_some_and(|c| c.last_log_id > meta.last_log_id)
        {
            // The handle stays readable after the name goes.
            let _ = std::fs::remove_file(path);
            return Ok(file);
        }
        let target = self.dir.join(CURRENT);
        std::fs::rename(path, &target).map_err(io(&target))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        self.db.put(keys::SNAPSHOT_META, meta)?;
        *current = Some(meta.clone());
        Ok(file)
    }

    /// A new, empty file to receive a snapshot into (any earlier one is removed: a
    /// transfer that restarts writes to a fresh file).
    pub fn begin_receiving(&self) -> Result<File, SnapshotError> {
        let path = self.dir.join(RECEIVING);
        let _ = std::fs::remove_file(&path);
        File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(&path))
    }

    /// Checks the received snapshot `file` against `meta` and replaces `store`'s content
    /// with it; returns the applied log id and membership the store now holds. Anything
    /// wrong with the file refuses it with the store untouched. Blocking.
    pub fn install(
        &self,
        store: &Store,
        meta: &SnapshotMeta,
        file: File,
    ) -> Result<(Option<LogId>, StoredMembership), SnapshotError> {
        let start = Instant::now();
        let path = self.dir.join(RECEIVING);
        let refused = |reason: String| SnapshotError::Refused {
            id: meta.snapshot_id.clone(),
            reason,
        };
        if !same_file(&file, &path) {
            return Err(refused("not the file of the latest transfer".into()));
        }
        file.sync_all().map_err(io(&path))?;
        drop(file);
        let expected = meta
            .snapshot_id
            .rsplit('-')
            .next()
            .filter(|h| h.len() == 64)
            .ok_or_else(|| refused("the id carries no checksum".into()))?;
        let found = sha256_file(&path)?;
        if found != expected {
            return Err(refused(format!(
                "checksum {found} of the received file differs from the id's (torn transfer?)"
            )));
        }
        let (in_file, _) = mark_state(inspect_copy(&path)?)?;
        if in_file < meta.last_log_id {
            return Err(refused(format!(
                "the file's applied id {in_file:?} is behind the snapshot's {:?}",
                meta.last_log_id
            )));
        }
        let state = mark_state(store.replace_from_copy(&path)?)?;
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.make_current(meta, &path)?;
        tracing::info!(
            last = ?state.0,
            bytes,
            ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            "cluster: snapshot installed"
        );
        Ok(state)
    }
}

/// The applied log id and membership a store mark records (none: nothing applied yet).
fn mark_state(
    mark: Option<AppliedMark>,
) -> Result<(Option<LogId>, StoredMembership), SnapshotError> {
    match mark {
        None => Ok((None, StoredMembership::default())),
        Some(m) => Ok(postcard::from_bytes(&m.state)?),
    }
}

/// Metadata for the snapshot file at `path`, with a fresh id carrying its checksum.
fn new_meta(
    last_log_id: Option<LogId>,
    last_membership: StoredMembership,
    path: &Path,
) -> Result<SnapshotMeta, SnapshotError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let (term, index) = last_log_id.map_or((0, 0), |id| (id.leader_id.term, id.index));
    Ok(SnapshotMeta {
        last_log_id,
        last_membership,
        snapshot_id: format!("{term}-{index}-{nanos}-{}", sha256_file(path)?),
    })
}

/// The SHA-256 of the file at `path`, in lowercase hex (read in 1 MiB slices).
fn sha256_file(path: &Path) -> Result<String, SnapshotError> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Whether `file` is the file now at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
