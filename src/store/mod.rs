//! Durable storage on LMDB (heed): messages, queue indexes and definitions.
//!
//! # What it owns and who talks to it
//! - One LMDB environment in the data directory, guarded by `warren.lock` (std
//!   `File::try_lock`) so a second process — or a second `Store` in this one — gets
//!   [`StoreError::Locked`].
//! - One writer thread (`writer`): every write goes through [`Store::submit`] as a
//!   [`StoreOp`] on an unbounded channel (the caller never waits for disk), many ops from many
//!   connections share one transaction and one fsync, and each op's [`Completion`] runs on the
//!   writer thread after its commit (publisher confirms, declare-oks). What is submitted and
//!   not yet committed is counted in bytes ([`Store::pending_bytes`]); over the bound
//!   ([`StoreOptions::max_pending_bytes`]) [`Store::is_backed_up`] is true and publishing connections
//!   stop reading until [`Store::drained`], so the writer's queue stays bounded in memory.
//! - Reads ([`Store::read_queue`], [`Store::queue_stats`], …) run on the caller's thread in a
//!   short read transaction that never outlives the call: a long-lived reader would pin freed
//!   pages and make the file grow across fill/drain cycles.
//!
//! # Recovery
//! [`Store::open`] drops transient entries (non-persistent messages paged out before a
//! restart, as RabbitMQ loses them) and reads the highest message id. Per-queue counters are
//! kept in the same transactions as the index, so [`Store::queue_stats`] is one lookup even for
//! millions of entries, and [`Store::read_queue`] pages through a queue in seq order with
//! `redelivered` set from the [`StoreOp::MarkDelivered`] watermark and each entry's
//! `delivery_count` from [`StoreOp::DeliveryCount`].

mod apply;
mod atomic;
mod batch;
mod codec;
mod compact;
mod copy;
mod env;
mod group;
mod mapped;
mod route;
mod space;
mod types;
mod writer;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::{JoinHandle, ThreadId};

use heed::RoTxn;
use parking_lot::{Mutex, RwLock};

pub use compact::{Compaction, compact};
pub use copy::inspect_copy;
pub use types::{
    Completion, DefinitionKind, QueueEntry, QueueId, QueueStats, StoreError, StoreOp, StoreOptions,
    StoredMessage,
};

use codec::Counters;
use env::{Dbs, Shared};
pub use group::{AppliedMark, Group, GroupCompletion, Refusals};
pub use route::Replicator;
pub use writer::PENDING_OP_BYTES;
use writer::{Metrics, Request, Writer};

/// Holds the writer thread while alive ([`Store::pause_writer`]).
#[derive(Debug)]
pub struct WriterPause {
    _resume: mpsc::Sender<()>,
}

/// A definition as stored: (key, value), both encoded by the broker.
pub type Definition = (Vec<u8>, Vec<u8>);

/// A cloneable handle on the store. The writer thread stops after draining when
/// [`Store::close`] is called or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    shared: Arc<Shared>,
    tx: RwLock<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    writer_id: ThreadId,
    max_msg_id: AtomicU64,
    next_queue: AtomicU64,
    /// Cluster mode: where replicated writes go instead of the writer ([`route`]).
    replicator: std::sync::OnceLock<Arc<dyn Replicator>>,
    metrics: Arc<Metrics>,
    sync: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("open", &self.tx.read().is_some())
            .field("max_msg_id", &self.max_msg_id)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        shutdown(self);
    }
}

/// Drops transient entries and reads the start-up counters, in one write transaction.
fn startup(shared: &Shared) -> Result<(u64, u64), StoreError> {
    loop {
        match try_startup(shared) {
            Err(StoreError::MapFull) => {
                env::grow(shared)?;
            }
            r => return r,
        }
    }
}

fn try_startup(shared: &Shared) -> Result<(u64, u64), StoreError> {
    let guard = shared.env.read();
    let env = guard.as_ref().ok_or(StoreError::Closed)?;
    let dbs = shared.dbs;
    let mut txn = env.write_txn()?;
    let mut with_transient = Vec::new();
    for item in dbs.stats.iter(&txn)? {
        let (k, v) = item?;
        if let (Some(q), Some(c)) = (codec::be_u64(k, 0), Counters::decode(v))
            && c.transient > 0
        {
            with_transient.push(q);
        }
    }
    let mut unused = 0;
    let mut ctx = apply::Ctx::new(dbs, &mut unused);
    for &q in &with_transient {
        apply::purge(&mut txn, &mut ctx, q, |persistent| !persistent)?;
    }
    ctx.finish(&mut txn)?;
    let max_msg_id = dbs
        .messages
        .last(&txn)?
        .and_then(|(k, _)| codec::be_u64(k, 0))
        .unwrap_or(0);
    let next_queue = dbs
        .meta
        .get(&txn, codec::META_NEXT_QUEUE)?
        .and_then(|v| codec::be_u64(v, 0))
        .unwrap_or(1)
        .max(1);
    txn.commit()?;
    if !with_transient.is_empty() {
        tracing::info!(
            queues = with_transient.len(),
            "store: dropped transient entries left from before the restart"
        );
    }
    Ok((max_msg_id, next_queue))
}

/// Stops the writer (after it drains), then closes the environment and releases the lock.
fn shutdown(inner: &Inner) {
    drop(inner.tx.write().take());
    if std::thread::current().id() == inner.writer_id {
        // Called from a completion: the writer exits once this batch is done, and the last
        // `Arc<Shared>` (with the env and the lock) goes with it.
        return;
    }
    if let Some(h) = inner.writer.lock().take()
        && h.join().is_err()
    {
        tracing::error!("store writer thread panicked");
    }
    let env = inner.shared.env.write().take();
    if let Some(env) = env {
        if !inner.sync
            && let Err(e) = env.force_sync()
        {
            tracing::error!(error = %e, "store: final sync failed");
        }
        env.prepare_for_closing().wait();
    }
    drop(inner.shared.lock.lock().take());
}

/// One completion that runs `first` (if any), then `then`, with the same outcome.
fn both(first: Option<Completion>, then: Completion) -> Completion {
    match first {
        None => then,
        Some(first) => Box::new(move |result: Result<(), StoreError>| {
            first(result.as_ref().map(|_| ()).map_err(StoreError::duplicate));
            then(result);
        }),
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`. Fails with [`StoreError::Locked`] if another
    /// process has it, [`StoreError::UnknownFormat`] or [`StoreError::Corrupt`] (leaving the
    /// files untouched) if it is not a store this build can read.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let lock = env::lock_dir(dir)?;
        let lock = compact::at_start(dir, &options, lock)?;
        let shared = env::open_env(dir, &options, lock)?;
        let (max_msg_id, next_queue) = startup(&shared)?;
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::channel();
        let metrics = Arc::new(Metrics {
            max_pending_bytes: options.max_pending_bytes.max(1),
            ..Metrics::default()
        });
        let writer = Writer {
            shared: shared.clone(),
            rx,
            max_batch: options.max_batch.max(1),
            last_msg_id: max_msg_id,
            metrics: metrics.clone(),
            retry: Vec::new(),
            data_file: std::fs::canonicalize(env::data_path(dir))
                .unwrap_or_else(|_| env::data_path(dir)),
            touched: false,
            written_since_release: 0,
        };
        let handle = std::thread::Builder::new()
            .name("warren-store".into())
            .spawn(move || writer.run())?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                writer_id: handle.thread().id(),
                shared,
                tx: RwLock::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                max_msg_id: AtomicU64::new(max_msg_id),
                next_queue: AtomicU64::new(next_queue),
                replicator: std::sync::OnceLock::new(),
                metrics,
                sync: options.sync,
            }),
        })
    }

    /// Allocates a new queue id, never handed out again (the counter is stored). Does not
    /// wait: the counter is written before any op submitted after this call, so no op can
    /// durably use the id unless the counter is durable too.
    pub fn allocate_queue_id(&self) -> Result<QueueId, StoreError> {
        let id = self.inner.next_queue.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = self.inner.replicator.get() {
            r.queue_counter(id.saturating_add(1));
            return Ok(id);
        }
        self.send(Request::QueueCounter(id.saturating_add(1)))
            .map_err(|_| StoreError::Closed)?;
        Ok(id)
    }

    /// Highest message id present at open (the broker assigns ids above it).
    pub fn max_msg_id(&self) -> u64 {
        self.inner.max_msg_id.load(Ordering::Acquire)
    }

    /// Queues a write; `done` runs on the writer thread after its batch commits (or fails).
    /// Never blocks on disk. After [`Store::close`], `done` runs at once with
    /// [`StoreError::Closed`].
    pub fn submit(&self, op: StoreOp, done: Option<Completion>) {
        if let Some(r) = self.inner.replicator.get()
            && route::replicated(&op)
        {
            if let Some((op, done)) = self.collect(op, done) {
                self.propose(r.as_ref(), op, None, done);
            }
            return;
        }
        self.submit_local(op, done);
    }

    /// Queues a write whose `durable` completion needs only that the op cannot be lost
    /// (publisher confirms): on a single node it runs after the batch commits, as `stored`
    /// does; in cluster mode once the cluster's log has committed the op (a majority has it
    /// on disk), usually before this node applies it. `stored` runs once this node's store
    /// holds the op. Inside [`Store::atomically`] both wait for the group to be applied.
    pub fn submit_durable(&self, op: StoreOp, durable: Completion, stored: Option<Completion>) {
        if let Some(r) = self.inner.replicator.get()
            && route::replicated(&op)
            && !self.in_group()
        {
            self.propose(r.as_ref(), op, Some(durable), stored);
            return;
        }
        self.submit(op, Some(both(stored, durable)));
    }

    /// Queues a write on this node's own writer, never through the cluster log: for the
    /// state machine applying committed entries, and for writes that stay local.
    pub fn submit_local(&self, op: StoreOp, done: Option<Completion>) {
        if let Err(req) = self.send(Request::Op(op, done))
            && let Request::Op(_, Some(done)) = *req
        {
            done(Err(StoreError::Closed));
        }
    }

    fn send(&self, req: Request) -> Result<(), Box<Request>> {
        match self.inner.tx.read().as_ref() {
            Some(tx) => {
                let m = &self.inner.metrics;
                let cost = writer::cost(&req);
                m.pending.fetch_add(1, Ordering::AcqRel);
                m.pending_bytes.fetch_add(cost, Ordering::AcqRel);
                tx.send(req).map_err(|e| {
                    m.pending.fetch_sub(1, Ordering::AcqRel);
                    m.pending_bytes.fetch_sub(cost, Ordering::AcqRel);
                    Box::new(e.0)
                })
            }
            None => Err(Box::new(req)),
        }
    }

    /// True while the bytes submitted and not yet committed are at or over the bound
    /// ([`StoreOptions::max_pending_bytes`]): connections that publish then stop reading
    /// (consumers' acks, bounded by their prefetch, are still read), so a writer that falls behind slows clients down
    /// instead of growing its queue in memory.
    pub fn is_backed_up(&self) -> bool {
        let m = &self.inner.metrics;
        m.pending_bytes.load(Ordering::Acquire) >= m.max_pending_bytes
    }

    /// Bytes submitted and not yet committed (bodies plus [`PENDING_OP_BYTES`] per request).
    pub fn pending_bytes(&self) -> u64 {
        self.inner.metrics.pending_bytes.load(Ordering::Acquire)
    }

    /// Resolves once the pending bytes are below half the bound (at once if they are).
    pub async fn drained(&self) {
        let m = &self.inner.metrics;
        loop {
            let notified = m.drained.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a wake-up between the two is not lost.
            notified.as_mut().enable();
            if m.pending_bytes.load(Ordering::Acquire) < m.max_pending_bytes / 2 {
                return;
            }
            notified.await;
        }
    }

    /// Test hook: the writer thread stops after committing everything submitted before this
    /// call and stays stopped (later writes queue up, counted in [`Store::pending_bytes`])
    /// until the returned guard is dropped. Drop the guard before closing the store.
    pub fn pause_writer(&self) -> WriterPause {
        let (resume, rx) = mpsc::channel();
        let _ = self.send(Request::Pause(rx));
        WriterPause { _resume: resume }
    }

    /// Waits until everything submitted before has committed; returns the error of the batch
    /// it ended in, if that batch failed. Not callable from a completion.
    pub fn flush(&self) -> Result<(), StoreError> {
        if std::thread::current().id() == self.inner.writer_id {
            return Err(StoreError::Rejected(
                "flush called from a completion would wait for itself".into(),
            ));
        }
        let (tx, rx) = mpsc::channel();
        self.send(Request::Flush(tx))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Stops the writer thread after draining what was submitted, closes the environment and
    /// releases the directory lock. Later calls on any handle fail with [`StoreError::Closed`].
    pub fn close(&self) {
        shutdown(&self.inner);
    }

    /// Runs `f` in a short read transaction (never held past this call).
    fn read<T>(
        &self,
        f: impl FnOnce(&RoTxn<'_>, &Dbs) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let guard = self.inner.shared.env.read();
        let env = guard.as_ref().ok_or(StoreError::Closed)?;
        let txn = env.read_txn()?;
        f(&txn, &self.inner.shared.dbs)
    }

    /// Reads up to `max` entries of `queue` with seq >= `from_seq`, in seq order.
    pub fn read_queue(
        &self,
        queue: QueueId,
        from_seq: u64,
        max: usize,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        self.read(|txn, dbs| {
            let mark = dbs
                .marks
                .get(txn, &queue.to_be_bytes())?
                .and_then(|v| codec::be_u64(v, 0));
            let from = codec::index_key(queue, from_seq);
            let end = codec::index_key(queue, u64::MAX);
            let mut out = Vec::with_capacity(max.min(1024));
            if max == 0 {
                return Ok(out);
            }
            for item in dbs.index.range(
                txn,
                &(Bound::Included(&from[..]), Bound::Included(&end[..])),
            )? {
                let (k, v) = item?;
                let (Some((_, seq)), Some((msg_id, _))) =
                    (codec::split_index_key(k), codec::decode_index_value(v))
                else {
                    return Err(StoreError::Corrupt(format!(
                        "damaged entry in queue {queue}"
                    )));
                };
                let message = read_message(txn, dbs, msg_id)?.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "queue {queue} entry {seq} references missing or damaged message {msg_id}"
                    ))
                })?;
                out.push(QueueEntry {
                    seq,
                    msg_id,
                    redelivered: mark.is_some_and(|m| seq <= m),
                    delivery_count: codec::index_delivery_count(v),
                    message,
                });
                if out.len() >= max {
                    break;
                }
            }
            Ok(out)
        })
    }

    /// Count and total body bytes of a queue's entries, and the highest seq it ever had
    /// (zeros for an unknown queue). One lookup: the counters are kept as entries change.
    pub fn queue_stats(&self, queue: QueueId) -> Result<QueueStats, StoreError> {
        self.read(|txn, dbs| {
            let c = dbs
                .stats
                .get(txn, &queue.to_be_bytes())?
                .and_then(Counters::decode)
                .unwrap_or_default();
            Ok(QueueStats {
                count: c.count,
                bytes: c.bytes,
                max_seq: c.max_seq,
            })
        })
    }

    /// Every definition of a kind, as (key, value), in key order.
    pub fn definitions(&self, kind: DefinitionKind) -> Result<Vec<Definition>, StoreError> {
        self.read(|txn, dbs| {
            let mut out = Vec::new();
            for item in dbs.defs.prefix_iter(txn, &[kind.tag()])? {
                let (_, v) = item?;
                let (k, v) = codec::split_def_value(v)
                    .ok_or_else(|| StoreError::Corrupt("damaged definition record".into()))?;
                out.push((k.to_vec(), v.to_vec()));
            }
            Ok(out)
        })
    }

    /// Drops every entry of the given queues (and their counters), with the messages no
    /// other entry references, and waits for the commit. For non-durable leftovers at boot.
    pub fn drop_queues(&self, queues: &[QueueId]) -> Result<(), StoreError> {
        if std::thread::current().id() == self.inner.writer_id {
            return Err(StoreError::Rejected(
                "drop_queues called from a completion would wait for itself".into(),
            ));
        }
        let (tx, rx) = mpsc::channel();
        for &queue in queues {
            let tx = tx.clone();
            self.submit(
                StoreOp::Purge {
                    queue,
                    forget: true,
                },
                Some(Box::new(move |r| {
                    let _ = tx.send(r);
                })),
            );
        }
        drop(tx);
        rx.iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    /// Ids of every queue that has entries.
    pub fn queues_with_entries(&self) -> Result<Vec<QueueId>, StoreError> {
        self.read(|txn, dbs| {
            let mut out = Vec::new();
            for item in dbs.stats.iter(txn)? {
                let (k, v) = item?;
                if let (Some(q), Some(c)) = (codec::be_u64(k, 0), Counters::decode(v))
                    && c.count > 0
                {
                    out.push(q);
                }
            }
            Ok(out)
        })
    }

    /// Number of stored messages (scans the message keys: for tests and diagnostics).
    pub fn message_count(&self) -> Result<u64, StoreError> {
        self.read(|txn, dbs| {
            let mut n = 0;
            for item in dbs.messages.iter(txn)? {
                let (k, _) = item?;
                if k.get(8..) == Some(&[0, 0, 0, 0][..]) {
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// Write transactions committed and ops they carried since open (group-commit ratio).
    pub fn commit_counts(&self) -> (u64, u64) {
        let m = &self.inner.metrics;
        (
            m.commits.load(Ordering::Relaxed),
            m.ops.load(Ordering::Relaxed),
        )
    }

    /// Bytes of the data file on disk.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(env::data_path(&self.inner.dir)).map_or(0, |m| m.len())
    }
}

/// Reads message `msg_id` (header and chunks); `None` if missing or damaged.
fn read_message(
    txn: &RoTxn<'_>,
    dbs: &Dbs,
    msg_id: u64,
) -> Result<Option<StoredMessage>, StoreError> {
    let Some(raw) = dbs.messages.get(txn, &codec::msg_key(msg_id, 0))? else {
        return Ok(None);
    };
    let Some(h) = codec::decode_header(raw) else {
        return Ok(None);
    };
    if h.parts == 0 {
        return Ok(codec::assemble(&h, std::iter::empty()));
    }
    let from = codec::msg_key(msg_id, 1);
    let to = codec::msg_key(msg_id, h.parts);
    let mut chunks = Vec::with_capacity(usize::try_from(h.parts).unwrap_or(0).min(1 << 16));
    for item in dbs
        .messages
        .range(txn, &(Bound::Included(&from[..]), Bound::Included(&to[..])))?
    {
        chunks.push(item?.1);
    }
    Ok(codec::assemble(&h, chunks.into_iter()))
}
