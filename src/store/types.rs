//! The store's public value types: options, errors, messages, operations.

use std::path::PathBuf;

use bytes::Bytes;

/// Identifies a queue in the store; assigned by the store ([`super::Store::allocate_queue_id`]).
pub type QueueId = u64;

/// Called once on the writer thread after the op's transaction committed (`Ok`) or failed
/// (`Err`). Must be cheap and non-blocking (e.g. an unbounded channel send).
pub type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send + 'static>;

/// Settings for opening a [`super::Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Memory map size at first open (grows automatically on demand). Default 64 MiB.
    pub initial_map_size: usize,
    /// The map never grows past this; writes then fail with [`StoreError::MapFull`].
    /// Default 1 TiB on 64-bit targets (address space only: the file grows with the data).
    pub max_map_size: usize,
    /// Commit durably (fsync per write transaction). Default `true`. With `false` a process
    /// crash loses nothing but an OS crash or power cut can lose the last commits.
    pub sync: bool,
    /// With `sync`, also sync LMDB's meta page at each commit. Default `true`. With `false`
    /// (LMDB's `NOMETASYNC`: one disk flush per commit instead of two) a system crash can
    /// undo the last commit but never corrupts the file; cluster mode uses it because its
    /// Raft log holds every change durably and re-applies an undone one (see
    /// `cluster::apply`).
    pub meta_sync: bool,
    /// Most operations applied in one write transaction. Default 4096.
    pub max_batch: usize,
    /// Compact the data file when opening it if at least this percent of it is free pages
    /// (see [`super::compact`]); 0 (the default) never does.
    pub compact_free_percent: u8,
    /// Bytes of submitted writes (bodies plus [`super::PENDING_OP_BYTES`] per request) not
    /// yet committed, beyond which [`super::Store::is_backed_up`] says so and publishing
    /// connections stop reading. Default 8 MiB.
    pub max_pending_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        #[cfg(target_pointer_width = "64")]
        let max_map_size = 1 << 40;
        #[cfg(not(target_pointer_width = "64"))]
        let max_map_size = 1 << 30;
        StoreOptions {
            initial_map_size: 64 << 20,
            max_map_size,
            sync: true,
            meta_sync: true,
            max_batch: 4096,
            compact_free_percent: 0,
            max_pending_bytes: 8 << 20,
        }
    }
}

/// Everything that can go wrong in the store. Messages say what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another open `Store` in this one) holds the data directory.
    #[error(
        "data directory {} is in use by another Warren process (warren.lock is held); \
         stop that process or choose another data directory",
        dir.display()
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// The data directory was written by a different (usually newer) Warren.
    #[error(
        "data directory format version {found} is not supported (this Warren reads versions up to \
         {expected}); run the Warren release that wrote it, or move the directory away. \
         Nothing was changed"
    )]
    UnknownFormat {
        /// Version found in the directory.
        found: u32,
        /// Version this build reads and writes.
        expected: u32,
    },
    /// The data directory is damaged or is not a Warren store.
    #[error(
        "data directory is corrupt or not a Warren store: {0}. It was left untouched; \
         restore it from a backup or move it away"
    )]
    Corrupt(String),
    /// The memory map reached `max_map_size`.
    #[error(
        "the store reached its maximum size (max_map_size); raise it, or drain or purge queues"
    )]
    MapFull,
    /// The file system holding the data directory is full.
    #[error("the disk holding the data directory is full; free some space and retry")]
    DiskFull,
    /// An operating-system I/O error.
    #[error("storage I/O error: {0}; check the data directory's disk and permissions")]
    Io(#[from] std::io::Error),
    /// Any other LMDB error.
    #[error("storage engine (LMDB) error: {0}")]
    Lmdb(String),
    /// There is no store in the directory (for commands that need one).
    #[error("{} holds no Warren store (no data.mdb); check the data directory", dir.display())]
    NoData {
        /// The data directory.
        dir: PathBuf,
    },
    /// The store was closed; nothing more can be written or read.
    #[error("the store is closed")]
    Closed,
    /// The operation itself was refused (nothing of it was applied).
    #[error("storage operation refused: {0}")]
    Rejected(String),
    /// Cluster mode: the write was not committed through the cluster's log (this node is
    /// not, or no longer, the leader, or cannot reach a majority); it may be lost.
    #[error("not replicated: {0}")]
    NotReplicated(String),
}

impl StoreError {
    /// A copy to hand to each operation of a failed batch (`io::Error` is not `Clone`).
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Locked { dir } => StoreError::Locked { dir: dir.clone() },
            StoreError::UnknownFormat { found, expected } => StoreError::UnknownFormat {
                found: *found,
                expected: *expected,
            },
            StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
            StoreError::MapFull => StoreError::MapFull,
            StoreError::DiskFull => StoreError::DiskFull,
            StoreError::Io(e) => StoreError::Io(std::io::Error::new(e.kind(), e.to_string())),
            StoreError::Lmdb(s) => StoreError::Lmdb(s.clone()),
            StoreError::NoData { dir } => StoreError::NoData { dir: dir.clone() },
            StoreError::Closed => StoreError::Closed,
            StoreError::Rejected(s) => StoreError::Rejected(s.clone()),
            StoreError::NotReplicated(s) => StoreError::NotReplicated(s.clone()),
        }
    }
}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> Self {
        use heed::MdbError as M;
        match e {
            heed::Error::Mdb(M::MapFull) => StoreError::MapFull,
            heed::Error::Mdb(
                m @ (M::Corrupted | M::PageNotFound | M::Invalid | M::VersionMismatch | M::Panic),
            ) => StoreError::Corrupt(m.to_string()),
            heed::Error::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => StoreError::DiskFull,
            heed::Error::Io(io) => StoreError::Io(io),
            other => StoreError::Lmdb(other.to_string()),
        }
    }
}

/// A message as stored: everything needed to rebuild a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Exchange it was published to.
    pub exchange: Bytes,
    /// Routing key it was published with.
    pub routing_key: Bytes,
    /// The content header's property bytes, as received.
    pub raw_properties: Bytes,
    /// The body.
    pub body: Bytes,
    /// Delivery mode 2. Transient entries are dropped when the store is reopened.
    pub persistent: bool,
    /// When it was published (Unix milliseconds), so TTLs keep counting from then after a
    /// read-back; `None` for messages stored by format 1, which did not keep it.
    pub published_at_ms: Option<u64>,
}

/// A queue's entry as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    /// Position in the queue (the key order).
    pub seq: u64,
    /// The message's id.
    pub msg_id: u64,
    /// Delivered at least once before (from [`StoreOp::MarkDelivered`]).
    pub redelivered: bool,
    /// Times the message was returned to its queue (from [`StoreOp::DeliveryCount`]; 0
    /// when never recorded).
    pub delivery_count: u32,
    /// The message.
    pub message: StoredMessage,
}

/// Count, size and highest sequence number of a queue's stored entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Entries stored.
    pub count: u64,
    /// Total body bytes of those entries.
    pub bytes: u64,
    /// Highest seq ever published to the queue (kept across removes and purges, so new
    /// entries continue above it and delivered-watermarks stay meaningful).
    pub max_seq: u64,
}

/// Kinds of definitions; the broker encodes keys and values, the store keeps them opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefinitionKind {
    /// Virtual hosts.
    VHost,
    /// Exchanges.
    Exchange,
    /// Queues.
    Queue,
    /// Bindings.
    Binding,
    /// Users.
    User,
    /// Permissions of a user on a vhost.
    Permission,
    /// Topic permissions of a user on a vhost's topic exchange.
    TopicPermission,
    /// Bookkeeping of the access store (the seeded-from-config marker).
    AccessMeta,
    /// Policies.
    Policy,
    /// Operator policies.
    OperatorPolicy,
}

impl DefinitionKind {
    /// The key prefix byte (part of the on-disk format: never renumber).
    pub(crate) fn tag(self) -> u8 {
        match self {
            DefinitionKind::VHost => 1,
            DefinitionKind::Exchange => 2,
            DefinitionKind::Queue => 3,
            DefinitionKind::Binding => 4,
            DefinitionKind::User => 5,
            DefinitionKind::Permission => 6,
            DefinitionKind::TopicPermission => 7,
            DefinitionKind::AccessMeta => 8,
            // 6..=8 are taken by the access work (permissions); policies start at 9.
            DefinitionKind::Policy => 9,
            DefinitionKind::OperatorPolicy => 10,
        }
    }
}

/// One write operation, applied by the writer thread in a group-committed transaction.
#[derive(Debug)]
pub enum StoreOp {
    /// Store a message once, referenced by each `(queue, seq)`. `msg_id` is unique (the broker
    /// assigns it, starting above [`super::Store::max_msg_id`]). With no entries nothing is
    /// stored.
    Publish {
        /// Unique message id.
        msg_id: u64,
        /// The message.
        message: StoredMessage,
        /// Queue entries referencing it, as `(queue, seq)`.
        entries: Vec<(QueueId, u64)>,
    },
    /// Remove one queue entry (ack, delivered no-ack, or dropped); the message goes when its
    /// last entry goes. Removing a missing entry is not an error.
    Remove {
        /// The queue.
        queue: QueueId,
        /// The entry's seq.
        seq: u64,
    },
    /// Everything in `queue` with seq <= `up_to` has been delivered at least once (recovery
    /// sets `redelivered` on those). The watermark only moves up.
    MarkDelivered {
        /// The queue.
        queue: QueueId,
        /// Highest delivered seq.
        up_to: u64,
    },
    /// Delete a queue's entries (purge or delete); with `forget` also its stats and watermark
    /// (queue deleted: its id is never reused).
    Purge {
        /// The queue.
        queue: QueueId,
        /// Also forget the queue's max seq and delivered watermark.
        forget: bool,
    },
    /// A quorum queue's entry was returned `count` times (its `x-delivery-count`): kept
    /// with the entry, so it goes when the entry goes. Recording it for a missing entry
    /// (already removed, or whose publish is not stored yet) does nothing.
    DeliveryCount {
        /// The queue.
        queue: QueueId,
        /// The entry's seq.
        seq: u64,
        /// How many times it was returned.
        count: u32,
    },
    /// Insert or replace a definition.
    PutDefinition {
        /// Kind.
        kind: DefinitionKind,
        /// Key (any length).
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Delete a definition (missing is not an error).
    DeleteDefinition {
        /// Kind.
        kind: DefinitionKind,
        /// Key.
        key: Vec<u8>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lmdb_errors_map_to_actionable_store_errors() {
        let full = StoreError::from(heed::Error::Mdb(heed::MdbError::MapFull));
        assert!(matches!(full, StoreError::MapFull));
        let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(matches!(
            StoreError::from(heed::Error::Io(enospc)),
            StoreError::DiskFull
        ));
        let bad = StoreError::from(heed::Error::Mdb(heed::MdbError::Corrupted));
        assert!(matches!(bad, StoreError::Corrupt(_)));
        let io = StoreError::from(heed::Error::Io(std::io::Error::from_raw_os_error(
            libc::EIO,
        )));
        assert!(matches!(io.duplicate(), StoreError::Io(ref e) if e.kind() == io_kind(&io)));
    }

    fn io_kind(e: &StoreError) -> std::io::ErrorKind {
        match e {
            StoreError::Io(e) => e.kind(),
            _ => std::io::ErrorKind::Other,
        }
    }
}
