//! `StoreGate`: keeps a message's store removals behind its store write.
//!
//! A queue hands a message to consumers (or expires it, or drops it over a length limit)
//! while it is being published, before the publisher has queued the message's write to
//! the store. A removal queued first would find nothing to remove, and the write queued
//! after it would keep the message in the store for good: it would come back after any
//! restart. The store's writer is FIFO, so it is enough that a removal is queued after the
//! write. Each [`Message`](super::message::Message) carries a gate: until the write is
//! queued, removals are held in the gate and the write leaves their entries out; after it,
//! removals go straight to the store (one atomic load on the ack path).

use crate::store::QueueId;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A queue entry: (queue's store id, position).
pub type Entry = (QueueId, u64);

/// Whether a message's store write is queued yet, and the removals that came before it.
#[derive(Debug, Default)]
pub struct StoreGate {
    /// True once the write is queued (or the message was read from the store).
    open: AtomicBool,
    /// Entries removed before the write was queued.
    held: Mutex<Vec<Entry>>,
}

impl StoreGate {
    /// The gate of a message read back from the store: its write is long done.
    pub fn opened() -> StoreGate {
        StoreGate {
            open: AtomicBool::new(true),
            held: Mutex::new(Vec::new()),
        }
    }

    /// Queues the message's write: `submit` gets the entries not removed meanwhile (it
    /// must queue the write at once, without blocking, even when none are left). Later
    /// removals go straight to the store.
    pub fn write(&self, mut entries: Vec<Entry>, submit: impl FnOnce(Vec<Entry>)) {
        let mut held = self.held.lock();
        if !held.is_empty() {
            entries.retain(|e| !held.contains(e));
        }
        submit(entries);
        self.open.store(true, Ordering::Release);
        held.clear();
    }

    /// Removes `entry`: runs `submit` (which queues the removal) now if the write is
    /// queued, or holds the entry so the write leaves it out.
    pub fn remove(&self, entry: Entry, submit: impl FnOnce()) {
        if !self.open.load(Ordering::Acquire) {
            let mut held = self.held.lock();
            if !self.open.load(Ordering::Acquire) {
                held.push(entry);
                return;
            }
        }
        submit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_before_the_write_leaves_its_entry_out() {
        let gate = StoreGate::default();
        let mut removed = 0;
        gate.remove((1, 7), || removed += 1);
        assert_eq!(removed, 0, "held until the write is queued");
        let mut written = None;
        gate.write(vec![(1, 7), (2, 3)], |e| written = Some(e));
        assert_eq!(written, Some(vec![(2, 3)]));
        gate.remove((2, 3), || removed += 1);
        assert_eq!(removed, 1, "after the write, removals go to the store");
    }

    #[test]
    fn a_read_back_message_is_removed_at_once() {
        let gate = StoreGate::opened();
        let mut removed = false;
        gate.remove((1, 1), || removed = true);
        assert!(removed);
    }
}
