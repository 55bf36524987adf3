//! The delivery-tag ledger of one channel: what was delivered and not yet settled, so
//! basic.ack / nack / reject (with `multiple`) and channel close can find it.

use crate::broker::consumer::Credit;
use crate::broker::message::QueuedMessage;
use crate::broker::queue::Queue;
use crate::protocol::ShortStr;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One delivery awaiting settlement.
#[derive(Debug)]
pub struct UnackedEntry {
    /// The queue it came from.
    pub queue: Arc<Queue>,
    /// The message and its position there.
    pub message: QueuedMessage,
    /// The consumer's prefetch window (None for basic.get).
    pub credit: Option<Arc<Credit>>,
    /// The consumer it went to (None for basic.get).
    pub consumer_tag: Option<ShortStr>,
    /// When it was sent (for the consumer timeout).
    pub delivered_at: tokio::time::Instant,
}

/// Delivery tags in flight on a channel, in tag order.
#[derive(Debug, Default)]
pub struct Unacked {
    entries: BTreeMap<u64, UnackedEntry>,
}

/// The client named a delivery tag that is not outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownTag(pub u64);

impl Unacked {
    /// Records a delivery.
    pub fn insert(&mut self, tag: u64, entry: UnackedEntry) {
        self.entries.insert(tag, entry);
    }

    /// Takes the entries a basic.ack/nack/reject names: `tag` alone, or with `multiple`
    /// every tag up to it (`tag` 0 with `multiple` means all). Unknown tag: error, nothing
    /// taken.
    pub fn take(
        &mut self,
        tag: u64,
        multiple: bool,
    ) -> Result<Vec<(u64, UnackedEntry)>, UnknownTag> {
        if multiple {
            if tag == 0 {
                return Ok(self.take_all());
            }
            if !self.entries.contains_key(&tag) {
                return Err(UnknownTag(tag));
            }
            let rest = self.entries.split_off(&(tag + 1));
            let taken = std::mem::replace(&mut self.entries, rest);
            Ok(taken.into_iter().collect())
        } else {
            self.entries
                .remove(&tag)
                .map(|e| vec![(tag, e)])
                .ok_or(UnknownTag(tag))
        }
    }

    /// Takes everything, in tag order.
    pub fn take_all(&mut self) -> Vec<(u64, UnackedEntry)> {
        std::mem::take(&mut self.entries).into_iter().collect()
    }

    /// Puts back entries taken earlier (a rolled-back transaction's acks).
    pub fn restore(&mut self, entries: Vec<(u64, UnackedEntry)>) {
        self.entries.extend(entries);
    }

    /// When the oldest outstanding consumer delivery (not basic.get) was sent.
    pub fn oldest_consumer_delivery(&self) -> Option<tokio::time::Instant> {
        self.entries
            .values()
            .filter(|e| e.credit.is_some())
            .map(|e| e.delivered_at)
            .min()
    }

    /// True when a delivery to consumer `tag` is outstanding.
    pub fn holds_for(&self, tag: &ShortStr) -> bool {
        self.entries
            .values()
            .any(|e| e.consumer_tag.as_ref() == Some(tag))
    }

    /// True when a consumer delivery from `queue` whose consumer tag `pick` accepts is
    /// outstanding.
    pub fn holds_from(&self, queue: &Arc<Queue>, pick: impl Fn(&ShortStr) -> bool) -> bool {
        self.entries
            .values()
            .any(|e| Arc::ptr_eq(&e.queue, queue) && e.consumer_tag.as_ref().is_some_and(&pick))
    }

    /// Number outstanding.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
