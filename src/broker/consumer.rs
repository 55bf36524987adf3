//! Consumers as queues see them: where to send deliveries (the owning connection's inbox)
//! and the prefetch credit that limits them (rabbit_limiter's protocol done with atomics:
//! the queue takes credit when it delivers, the channel gives it back on ack and pokes the
//! queue).

use crate::broker::message::QueuedMessage;
use crate::broker::queue::Queue;
use crate::protocol::ShortStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use tokio::sync::mpsc::UnboundedSender;

/// A prefetch window: at most `limit` unacknowledged deliveries (0 = unlimited).
#[derive(Debug, Default)]
pub struct Credit {
    limit: AtomicU32,
    in_flight: AtomicU32,
}

impl Credit {
    /// A window of `limit` deliveries (0 = unlimited).
    pub fn new(limit: u32) -> Self {
        Credit {
            limit: AtomicU32::new(limit),
            in_flight: AtomicU32::new(0),
        }
    }

    /// Takes one unit if the window has room.
    pub fn try_take(&self) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (limit == 0 || n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back `n` units (acks, rejects, requeues).
    pub fn release(&self, n: u32) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// True if one more delivery fits (without taking it).
    pub fn has_room(&self) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        limit == 0 || self.in_flight.load(Ordering::Acquire) < limit
    }

    /// Changes the limit; lowering it below what is in flight only stops new deliveries.
    pub fn set_limit(&self, limit: u32) {
        self.limit.store(limit, Ordering::Release);
    }

    /// The current limit (0 = unlimited).
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Acquire)
    }
}

/// A message on its way to a consumer, sent to the consumer's connection, which assigns
/// the delivery tag.
#[derive(Debug)]
pub struct Delivery {
    /// Channel the consumer is on.
    pub channel: u16,
    /// The consumer's tag.
    pub consumer_tag: ShortStr,
    /// The queue it came from (for acks and requeues).
    pub queue: Arc<Queue>,
    /// The message and its position.
    pub message: QueuedMessage,
    /// True when the consumer does not ack (the message is settled on sending).
    pub no_ack: bool,
}

/// What queues and the broker tell a connection task.
#[derive(Debug)]
pub enum ConnectionEvent {
    /// Deliver a message to a consumer.
    Deliver(Delivery),
    /// The store committed (or failed) a confirming channel's publish.
    Persisted {
        /// Channel of the publisher.
        channel: u16,
        /// Its confirm sequence number.
        seq: u64,
        /// False: the publisher gets basic.nack.
        ok: bool,
    },
    /// The store committed a transaction's publishes: send tx.commit-ok (or, when one of
    /// them could not be stored, close the channel instead).
    TxCommitted {
        /// Channel of the transaction.
        channel: u16,
        /// False: a publish of the transaction was not stored; no commit-ok.
        ok: bool,
    },
    /// The consumer's queue went away: send basic.cancel to the client.
    ConsumerCancelled {
        /// Channel of the consumer.
        channel: u16,
        /// The consumer's tag.
        consumer_tag: ShortStr,
    },
}

/// A consumer registered on a queue.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Tag, unique on its channel.
    pub tag: ShortStr,
    /// Connection id of the owner.
    pub connection_id: u64,
    /// Channel number on that connection.
    pub channel: u16,
    /// Deliveries need no ack.
    pub no_ack: bool,
    /// Exclusive consumer (no other consumers allowed on the queue).
    pub exclusive: bool,
    /// Consumer priority (`x-priority`); higher ones are served first.
    pub priority: i32,
    /// Per-consumer prefetch window.
    pub credit: Arc<Credit>,
    /// Per-channel (global) prefetch window shared by the channel's consumers.
    pub channel_credit: Arc<Credit>,
    /// The owning connection's inbox.
    pub inbox: UnboundedSender<ConnectionEvent>,
    /// The owning connection's bytes on their way to its socket.
    pub flow: Arc<OutboundFlow>,
}

impl Consumer {
    /// True when a delivery would fit both windows (no side effect).
    pub fn has_credit(&self) -> bool {
        if !self.flow.has_room() {
            return false;
        }
        if self.no_ack {
            // As RabbitMQ's limiter: a channel at its global prefetch stops its no-ack
            // consumers too (their deliveries never count against it).
            return !self.inbox.is_closed() && self.channel_credit.has_room();
        }
        self.credit.has_room() && self.channel_credit.has_room()
    }

    /// Takes credit for one delivery from both windows, or none.
    pub fn try_take_credit(&self) -> bool {
        if self.no_ack {
            return !self.inbox.is_closed() && self.channel_credit.has_room();
        }
        if !self.credit.try_take() {
            return false;
        }
        if !self.channel_credit.try_take() {
            self.credit.release(1);
            return false;
        }
        true
    }

    /// Gives back the credit taken for one delivery.
    pub fn release_credit(&self) {
        if !self.no_ack {
            self.credit.release(1);
            self.channel_credit.release(1);
        }
    }

    /// True when this is the consumer `tag` on channel `channel` of connection `conn`.
    pub fn is(&self, conn: u64, channel: u16, tag: &ShortStr) -> bool {
        self.connection_id == conn && self.channel == channel && self.tag == *tag
    }
}

/// Bytes a connection has handed to the store and that are not committed yet. Over the limit
/// the connection stops reading (TCP pushes back on the publisher) until commits catch up,
/// so a slow disk cannot make unwritten messages pile up in memory.
#[derive(Debug, Default)]
pub struct StoreBacklog {
    bytes: AtomicU64,
    drained: tokio::sync::Notify,
}

impl StoreBacklog {
    /// Unpersisted bytes a connection may have before it is paused.
    pub const LIMIT: u64 = 32 * 1024 * 1024;

    /// Counts bytes handed to the store.
    pub fn add(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::AcqRel);
    }

    /// Counts bytes committed (or failed); wakes the connection when it drops below the limit.
    pub fn sub(&self, n: u64) {
        let before = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            })
            .unwrap_or(0);
        if before >= Self::LIMIT && before.saturating_sub(n) < Self::LIMIT {
            self.drained.notify_one();
        }
    }

    /// True while the connection must not read.
    pub fn is_over(&self) -> bool {
        self.bytes.load(Ordering::Acquire) >= Self::LIMIT
    }

    /// Resolves when the backlog drops below the limit.
    pub async fn drained(&self) {
        self.drained.notified().await;
    }
}

/// Bytes of deliveries a connection has been handed and not yet written to its socket:
/// those still in its inbox (counted by the queue when it sends, uncounted by the
/// connection when it encodes them) plus those encoded and waiting for the writer (counted
/// when handed to the writer, uncounted when written). Over the budget its consumers get
/// nothing more (they are skipped, the queue remembers to come back); once below half, the
/// waiting queues are woken. This bounds what a slow client with a no-ack or
/// unlimited-prefetch consumer can make the broker hold in memory.
#[derive(Debug, Default)]
pub struct OutboundFlow {
    in_inbox: AtomicU64,
    in_outbox: AtomicU64,
    waiting: parking_lot::Mutex<Vec<std::sync::Weak<Queue>>>,
}

impl OutboundFlow {
    /// Delivery bytes a connection may have in flight towards its socket.
    pub const BUDGET: u64 = 8 * 1024 * 1024;

    fn total(&self) -> u64 {
        self.in_inbox.load(Ordering::Acquire) + self.in_outbox.load(Ordering::Acquire)
    }

    /// True while more deliveries fit.
    pub fn has_room(&self) -> bool {
        self.total() < Self::BUDGET
    }

    /// A queue sent a delivery of `n` (estimated) bytes to the connection's inbox.
    pub fn sent(&self, n: u64) {
        self.in_inbox.fetch_add(n, Ordering::AcqRel);
    }

    /// The connection took a delivery of `n` bytes (as counted by `sent`) out of its inbox.
    pub fn taken(&self, n: u64) {
        sub(&self.in_inbox, n);
        self.wake_if_drained();
    }

    /// `n` encoded bytes were handed to the writer.
    pub fn queued(&self, n: u64) {
        self.in_outbox.fetch_add(n, Ordering::AcqRel);
    }

    /// The writer wrote `n` bytes to the socket.
    pub fn written(&self, n: u64) {
        sub(&self.in_outbox, n);
        self.wake_if_drained();
    }

    /// Remembers a queue that skipped this connection's consumers for lack of room.
    pub fn wait(&self, queue: &Arc<Queue>) {
        let mut waiting = self.waiting.lock();
        if !waiting
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(queue)))
        {
            waiting.push(Arc::downgrade(queue));
        }
    }

    fn wake_if_drained(&self) {
        if self.total() >= Self::BUDGET / 2 {
            return;
        }
        let waiting = {
            let mut w = self.waiting.lock();
            if w.is_empty() {
                return;
            }
            std::mem::take(&mut *w)
        };
        for queue in waiting.iter().filter_map(std::sync::Weak::upgrade) {
            queue.dispatch();
        }
    }
}

fn sub(counter: &AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        Some(v.saturating_sub(n))
    });
}
