//! Paging: a queue keeps a bounded window of ready messages in memory; beyond it, new
//! messages (transient ones too) live only in the store and are read back in position order
//! as the window drains. So a backlog far larger than RAM is buffered on disk, not in memory.
//!
//! Invariant: every message in memory has a lower position than every paged one (once a
//! queue pages, all later publishes are paged until the paged region is empty), so reading
//! the store from `first_seq` upwards continues the queue exactly. Reads only see committed
//! entries; the commit's completion pokes the queue to read again.

use super::{Inner, Queue, StoreEntry};
use crate::broker::message::{Message, QueuedMessage};
use crate::broker::recovery::queued_message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::time::Instant;

/// Heap a ready message costs in memory besides its body: the shared `Message` (routing
/// fields, property and body handles), its body chunk list and its queue slot. Counted with
/// the body so that small messages are bounded too (512k 16-byte messages are ~150 MiB).
const MESSAGE_OVERHEAD: u64 = 320;
/// Memory (bodies plus [`MESSAGE_OVERHEAD`] each) one queue keeps for ready messages before
/// it pages the rest to the store.
const WINDOW_BYTES: u64 = 16 * 1024 * 1024;
/// The same for all queues together: over it, queues page early (issue #11: a broker with
/// any backlog stays within tens of MiB of resident memory).
const GLOBAL_BUDGET: u64 = 24 * 1024 * 1024;
/// Every queue may keep this many in memory whatever the global budget says.
const MIN_WINDOW: usize = 32;
/// Messages read back from the store at a time.
const REFILL_BATCH: usize = 2048;
/// Refill once fewer than this many are in memory.
const REFILL_BELOW: usize = 4096;

/// What a queue's ready messages cost in memory: bodies plus [`MESSAGE_OVERHEAD`] each.
fn in_memory_cost(inner: &Inner) -> u64 {
    let count = u64::try_from(inner.state.message_count()).unwrap_or(u64::MAX);
    inner
        .state
        .ready_bytes()
        .saturating_add(count.saturating_mul(MESSAGE_OVERHEAD))
}

/// Memory held by the ready messages of all queues ([`in_memory_cost`], for the global budget).
static IN_MEMORY_BYTES: AtomicU64 = AtomicU64::new(0);

/// The paged-out region of a queue.
#[derive(Debug, Default)]
pub(super) struct Paged {
    /// Messages in the store only.
    pub(super) count: u64,
    /// Their body bytes.
    pub(super) bytes: u64,
    /// Lowest position among them.
    pub(super) first_seq: u64,
    /// Highest paged position known to be committed (readable).
    pub(super) committed: u64,
}

impl Queue {
    /// True when a new message must be paged out rather than kept in memory.
    pub(super) fn should_page(&self, inner: &Inner) -> bool {
        if inner.paged.count > 0 {
            return true;
        }
        if self.args.max_priority.is_some()
            || inner.limits.max_length.is_some()
            || inner.limits.max_length_bytes.is_some()
            || inner.limits.message_ttl.is_some()
        {
            // Paging would break priority order, length limits and TTL as RabbitMQ applies
            // them (they act on the whole queue in memory); such queues stay in memory.
            return false;
        }
        let count = inner.state.message_count();
        in_memory_cost(inner) >= WINDOW_BYTES
            || (count >= MIN_WINDOW && IN_MEMORY_BYTES.load(Ordering::Relaxed) >= GLOBAL_BUDGET)
    }

    /// Gives `message` a position in the paged region; the caller writes it to the store.
    pub(super) fn page_out(&self, inner: &mut Inner, message: &Message) -> Option<StoreEntry> {
        let queue = match self.store_id() {
            Some(id) => id,
            None => {
                let id = self.store.allocate_queue_id().ok()?;
                *self.page_id.get_or_init(|| id)
            }
        };
        let seq = inner.state.allocate_seq();
        if inner.paged.count == 0 {
            inner.paged.first_seq = seq;
        }
        inner.paged.count += 1;
        inner.paged.bytes += message.body_size;
        Some(StoreEntry {
            queue,
            seq,
            paged: true,
        })
    }

    /// Reads paged messages back into memory when the window runs low.
    /// Only on demand: a consumer is attached, or `on_demand` (basic.get). Reading back for
    /// a queue nobody consumes from would just move the backlog into memory. While all
    /// queues together are over the memory budget, only a small batch is read.
    pub(super) fn refill(&self, inner: &mut Inner, on_demand: bool) {
        if inner.paged.count == 0
            || inner.paged.first_seq > inner.paged.committed
            || (!on_demand && inner.state.consumer_count() == 0)
        {
            return;
        }
        let over_budget = IN_MEMORY_BYTES.load(Ordering::Relaxed) >= GLOBAL_BUDGET;
        let (below, want) = if over_budget {
            (MIN_WINDOW, MIN_WINDOW * 2)
        } else {
            (REFILL_BELOW, REFILL_BATCH)
        };
        if inner.state.message_count() >= below {
            return;
        }
        let Some(id) = self.store_id() else { return };
        let entries = match self.store.read_queue(id, inner.paged.first_seq, want) {
            Ok(entries) => entries,
            Err(err) => {
                tracing::error!(queue = %self.name(), %err, "cannot read paged messages");
                return;
            }
        };
        let now = Instant::now();
        for entry in entries {
            let mut qm: QueuedMessage = queued_message(entry);
            qm.expires_at = Self::expiry_from(inner.limits.message_ttl, now, &qm.message);
            inner.paged.count = inner.paged.count.saturating_sub(1);
            inner.paged.bytes = inner.paged.bytes.saturating_sub(qm.message.body_size);
            inner.paged.first_seq = qm.seq + 1;
            inner.state.push_at(qm);
        }
        if inner.paged.count == 0 {
            let committed = inner.paged.committed;
            inner.paged = Paged {
                committed,
                ..Paged::default()
            };
        }
    }

    /// Marks a recovered queue's stored tail as paged: `count` messages of `bytes` from
    /// position `first_seq` on, all committed up to `committed`.
    pub fn restore_paged(&self, count: u64, bytes: u64, first_seq: u64, committed: u64) {
        let mut inner = self.inner.lock();
        inner.paged = Paged {
            count,
            bytes,
            first_seq,
            committed,
        };
    }

    /// The store committed this queue's paged message at `seq`: it can be read back now.
    pub fn paged_committed(self: &Arc<Self>, seq: u64) {
        {
            let mut inner = self.inner.lock();
            inner.paged.committed = inner.paged.committed.max(seq);
        }
        self.dispatch();
    }

    /// Brings the global in-memory byte count up to date with this queue's state.
    pub(super) fn account(&self, inner: &mut Inner) {
        let now = in_memory_cost(inner);
        let before = inner.accounted_bytes;
        if now > before {
            IN_MEMORY_BYTES.fetch_add(now - before, Ordering::Relaxed);
        } else if before > now {
            IN_MEMORY_BYTES.fetch_sub(before - now, Ordering::Relaxed);
        }
        inner.accounted_bytes = now;
        self.refresh_gauges(inner);
    }
}
