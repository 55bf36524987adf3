//! `QueueState`: the pure core of a queue. Ready messages in order, messages returned by
//! consumers (served first, in their original order, as RabbitMQ does), the consumer ring
//! for round-robin delivery, and counters. No locks, no async, no I/O: the `Queue` handle
//! wraps it in a mutex and does the sending.

use crate::broker::message::{Message, QueuedMessage};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The state of one queue, generic over the consumer record so it can be tested alone.
#[derive(Debug)]
pub struct QueueState<C> {
    ready: VecDeque<QueuedMessage>,
    returned: BTreeMap<u64, QueuedMessage>,
    next_seq: u64,
    ready_bytes: u64,
    consumers: Vec<C>,
    cursor: usize,
    unacked: usize,
}

impl<C> Default for QueueState<C> {
    fn default() -> Self {
        QueueState {
            ready: VecDeque::new(),
            returned: BTreeMap::new(),
            next_seq: 1,
            ready_bytes: 0,
            consumers: Vec::new(),
            cursor: 0,
            unacked: 0,
        }
    }
}

impl<C> QueueState<C> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a message at the tail and returns its position.
    pub fn push(&mut self, message: Arc<Message>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ready_bytes += message.body_size;
        self.ready.push_back(QueuedMessage {
            seq,
            message,
            redelivered: false,
        });
        seq
    }

    /// Takes the next message to deliver: returned ones first, in position order.
    pub fn pop(&mut self) -> Option<QueuedMessage> {
        let qm = match self.returned.pop_first() {
            Some((_, qm)) => qm,
            None => self.ready.pop_front()?,
        };
        self.ready_bytes = self.ready_bytes.saturating_sub(qm.message.body_size);
        Some(qm)
    }

    /// Puts back a message that was popped but could not be handed out, unchanged.
    pub fn unpop(&mut self, qm: QueuedMessage) {
        self.ready_bytes += qm.message.body_size;
        self.returned.insert(qm.seq, qm);
    }

    /// Puts a delivered message back at its original position, marked redelivered.
    pub fn requeue(&mut self, mut qm: QueuedMessage) {
        qm.redelivered = true;
        self.ready_bytes += qm.message.body_size;
        // Returned messages always precede everything still in `ready` (they were taken
        // from its front), so a sorted side set keeps queue order without shifting.
        self.returned.insert(qm.seq, qm);
    }

    /// Messages ready for delivery (not counting unacknowledged ones).
    pub fn message_count(&self) -> usize {
        self.ready.len() + self.returned.len()
    }

    /// Body bytes of the ready messages.
    pub fn ready_bytes(&self) -> u64 {
        self.ready_bytes
    }

    /// True when nothing is ready.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.returned.is_empty()
    }

    /// Drops every ready message; returns how many there were.
    pub fn purge(&mut self) -> usize {
        let n = self.message_count();
        self.ready.clear();
        self.returned.clear();
        self.ready_bytes = 0;
        n
    }

    /// Counts a delivery that awaits an ack.
    pub fn record_unacked(&mut self) {
        self.unacked += 1;
    }

    /// Counts `n` acks (or requeues) of earlier deliveries.
    pub fn settle(&mut self, n: usize) {
        self.unacked = self.unacked.saturating_sub(n);
    }

    /// Deliveries still awaiting an ack.
    pub fn unacked_count(&self) -> usize {
        self.unacked
    }

    /// Adds a consumer at the end of the round-robin ring.
    pub fn add_consumer(&mut self, consumer: C) {
        self.consumers.push(consumer);
    }

    /// Removes the first consumer matching `pred`.
    pub fn remove_consumer(&mut self, pred: impl Fn(&C) -> bool) -> Option<C> {
        let idx = self.consumers.iter().position(pred)?;
        if idx < self.cursor {
            self.cursor -= 1;
        }
        let c = self.consumers.remove(idx);
        if self.cursor >= self.consumers.len() {
            self.cursor = 0;
        }
        Some(c)
    }

    /// Removes every consumer matching `pred`, returning them.
    pub fn remove_consumers_where(&mut self, pred: impl Fn(&C) -> bool) -> Vec<C> {
        let mut removed = Vec::new();
        while let Some(c) = self.remove_consumer(&pred) {
            removed.push(c);
        }
        removed
    }

    /// Removes all consumers.
    pub fn take_consumers(&mut self) -> Vec<C> {
        self.cursor = 0;
        std::mem::take(&mut self.consumers)
    }

    /// The consumers, in ring order from index 0.
    pub fn consumers(&self) -> &[C] {
        &self.consumers
    }

    /// Number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// Like [`QueueState::next_consumer`], returning the consumer's index.
    pub fn next_consumer_index(&mut self, mut ready: impl FnMut(&C) -> bool) -> Option<usize> {
        let n = self.consumers.len();
        for step in 0..n {
            let idx = (self.cursor + step) % n;
            if ready(self.consumers.get(idx)?) {
                self.cursor = (idx + 1) % n;
                return Some(idx);
            }
        }
        None
    }

    /// Picks the next consumer in round-robin order for which `ready` says yes (it may take
    /// credit as a side effect), and moves the ring past it, as RabbitMQ does.
    pub fn next_consumer(&mut self, ready: impl FnMut(&C) -> bool) -> Option<&C> {
        let idx = self.next_consumer_index(ready)?;
        self.consumers.get(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ShortStr;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn msg(n: u8) -> Arc<Message> {
        Arc::new(Message {
            exchange: ShortStr::default(),
            routing_key: ShortStr::default(),
            raw_properties: Bytes::new(),
            body: vec![Bytes::from(vec![n])],
            body_size: 1,
            persistent: false,
            priority: None,
        })
    }

    fn body(qm: &QueuedMessage) -> u8 {
        qm.message.body[0][0]
    }

    #[test]
    fn requeued_messages_return_to_their_place_before_later_ones() {
        let mut q: QueueState<()> = QueueState::new();
        for i in 0..5 {
            q.push(msg(i));
        }
        let a = q.pop().unwrap();
        let b = q.pop().unwrap();
        let c = q.pop().unwrap();
        q.requeue(c);
        q.requeue(a);
        let order: Vec<(u8, bool)> = std::iter::from_fn(|| q.pop())
            .map(|m| (body(&m), m.redelivered))
            .collect();
        assert_eq!(order, vec![(0, true), (2, true), (3, false), (4, false)]);
        drop(b);
    }

    #[test]
    fn round_robin_skips_consumers_without_credit() {
        let mut q: QueueState<u32> = QueueState::new();
        q.add_consumer(1);
        q.add_consumer(2);
        q.add_consumer(3);
        let mut picks = Vec::new();
        for _ in 0..4 {
            picks.push(*q.next_consumer(|c| *c != 2).unwrap());
        }
        assert_eq!(picks, vec![1, 3, 1, 3]);
        assert!(q.next_consumer(|_| false).is_none());
    }

    #[test]
    fn removing_a_consumer_keeps_the_ring_position() {
        let mut q: QueueState<u32> = QueueState::new();
        for c in 1..=3 {
            q.add_consumer(c);
        }
        assert_eq!(*q.next_consumer(|_| true).unwrap(), 1);
        assert_eq!(q.remove_consumer(|c| *c == 1), Some(1));
        assert_eq!(*q.next_consumer(|_| true).unwrap(), 2);
        assert_eq!(*q.next_consumer(|_| true).unwrap(), 3);
        assert_eq!(*q.next_consumer(|_| true).unwrap(), 2);
    }

    proptest! {
        /// Against a model: a sorted set of positions. Whatever is popped and returned,
        /// pops always come out in position order.
        #[test]
        fn pops_follow_position_order(ops in proptest::collection::vec(0u8..3, 1..200)) {
            let mut q: QueueState<()> = QueueState::new();
            let mut model = std::collections::BTreeSet::new();
            let mut held: Vec<QueuedMessage> = Vec::new();
            for op in ops {
                match op {
                    0 => { let s = q.push(msg(0)); model.insert(s); }
                    1 => {
                        let got = q.pop().map(|m| m.seq);
                        let want = model.pop_first();
                        prop_assert_eq!(got, want);
                        if let Some(s) = got { held.push(QueuedMessage { seq: s, message: msg(0), redelivered: false }); }
                    }
                    _ => if let Some(m) = held.pop() { model.insert(m.seq); q.requeue(m); },
                }
                prop_assert_eq!(q.message_count(), model.len());
            }
        }
    }
}
