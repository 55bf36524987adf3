//! `QueueState`: the pure core of a queue. Ready messages by priority level, each level in
//! position order with the messages consumers returned served first (they go back to their
//! place, as in RabbitMQ); the consumer ring for round-robin delivery (highest consumer
//! priority first); counters. No locks, no async, no I/O: the `Queue` handle wraps it in a
//! mutex and does the sending.

use crate::broker::message::{Message, QueuedMessage};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::time::Instant;

/// Messages of one priority level.
#[derive(Debug, Default)]
struct Level {
    ready: VecDeque<QueuedMessage>,
    returned: BTreeMap<u64, QueuedMessage>,
}

impl Level {
    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.returned.is_empty()
    }

    fn head(&self) -> Option<&QueuedMessage> {
        self.returned.values().next().or_else(|| self.ready.front())
    }

    fn pop(&mut self) -> Option<QueuedMessage> {
        match self.returned.pop_first() {
            Some((_, qm)) => Some(qm),
            None => {
                let qm = self.ready.pop_front();
                // A drained backlog gives its room back (issue #11); a small queue keeps it.
                if self.ready.is_empty() && self.ready.capacity() > KEEP_WHEN_EMPTY {
                    self.ready.shrink_to(KEEP_WHEN_EMPTY);
                }
                qm
            }
        }
    }
}

/// Room for ready messages a level keeps once it is empty (40 bytes each).
const KEEP_WHEN_EMPTY: usize = 256;

/// The state of one queue, generic over the consumer record so it can be tested alone.
#[derive(Debug)]
pub struct QueueState<C> {
    levels: Vec<Level>,
    next_seq: u64,
    ready_count: usize,
    ready_bytes: u64,
    consumers: Vec<C>,
    /// Each consumer's place in the round-robin rotation (parallel to `consumers`).
    turns: Vec<Turn>,
    next_turn: u64,
    unacked: usize,
    unacked_bytes: u64,
    ready_persistent: Tally,
    unacked_persistent: Tally,
}

/// A count of messages and their body bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Messages.
    pub count: u64,
    /// Their body bytes.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }

    fn sub(&mut self, bytes: u64) {
        self.count = self.count.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// A consumer's place in the rotation, as RabbitMQ's classic queues keep it: a consumer that
/// is served, or gets credit back after being passed over for lack of it, goes to the back.
#[derive(Debug, Clone, Copy)]
struct Turn {
    /// Lower goes first (within a priority).
    order: u64,
    /// Passed over for lack of credit; rejoins at the back once it has credit again.
    blocked: bool,
}

impl<C> Default for QueueState<C> {
    fn default() -> Self {
        Self::with_max_priority(0)
    }
}

impl<C> QueueState<C> {
    /// An empty queue without priorities.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty queue with priority levels 0..=`max_priority` (x-max-priority).
    pub fn with_max_priority(max_priority: u8) -> Self {
        QueueState {
            levels: (0..=max_priority).map(|_| Level::default()).collect(),
            next_seq: 1,
            ready_count: 0,
            ready_bytes: 0,
            consumers: Vec::new(),
            turns: Vec::new(),
            next_turn: 0,
            unacked: 0,
            unacked_bytes: 0,
            ready_persistent: Tally::default(),
            unacked_persistent: Tally::default(),
        }
    }

    fn level_of(&self, message: &Message) -> usize {
        let top = self.levels.len().saturating_sub(1);
        usize::from(message.priority.unwrap_or(0)).min(top)
    }

    fn level_mut(&mut self, message: &Message) -> Option<&mut Level> {
        let idx = self.level_of(message);
        self.levels.get_mut(idx)
    }

    /// Appends a message at the tail (of its priority level) and returns its position.
    pub fn push(
        &mut self,
        message: Arc<Message>,
        expires_at: Option<Instant>,
        stored: bool,
    ) -> u64 {
        let seq = self.next_seq;
        self.push_at(QueuedMessage {
            seq,
            message,
            redelivered: false,
            delivery_count: 0,
            expires_at,
            stored,
        });
        seq
    }

    /// Appends a message that already has its position (recovered from the store, or loaded
    /// back from it): `qm.seq` must be above every position used so far.
    pub fn push_at(&mut self, qm: QueuedMessage) {
        self.next_seq = self.next_seq.max(qm.seq + 1);
        self.ready_count += 1;
        self.ready_bytes += qm.message.body_size;
        if qm.message.persistent {
            self.ready_persistent.add(qm.message.body_size);
        }
        if let Some(level) = self.level_mut(&qm.message) {
            level.ready.push_back(qm);
        }
    }

    /// Reserves the next position for a message kept only in the store (paged out).
    pub fn allocate_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Makes later positions start above `seq` (after recovery).
    pub fn reserve_seqs_through(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq + 1);
    }

    /// The message `pop` would return next.
    pub fn head(&self) -> Option<&QueuedMessage> {
        self.levels.iter().rev().find_map(Level::head)
    }

    /// Takes the next message to deliver: highest priority first; within a level, returned
    /// messages first, in position order.
    pub fn pop(&mut self) -> Option<QueuedMessage> {
        let qm = self
            .levels
            .iter_mut()
            .rev()
            .find(|l| !l.is_empty())?
            .pop()?;
        self.ready_count -= 1;
        self.ready_bytes = self.ready_bytes.saturating_sub(qm.message.body_size);
        if qm.message.persistent {
            self.ready_persistent.sub(qm.message.body_size);
        }
        Some(qm)
    }

    /// Takes the head if it has expired by `now` (RabbitMQ expires messages at the head only).
    pub fn pop_expired(&mut self, now: Instant) -> Option<QueuedMessage> {
        match self.head()?.expires_at {
            Some(at) if at <= now => self.pop(),
            _ => None,
        }
    }

    /// When the head expires, if it has a TTL.
    pub fn head_expiry(&self) -> Option<Instant> {
        self.head()?.expires_at
    }

    /// Puts back a message that was popped but could not be handed out, unchanged.
    pub fn unpop(&mut self, qm: QueuedMessage) {
        self.ready_count += 1;
        self.ready_bytes += qm.message.body_size;
        if qm.message.persistent {
            self.ready_persistent.add(qm.message.body_size);
        }
        if let Some(level) = self.level_mut(&qm.message) {
            level.returned.insert(qm.seq, qm);
        }
    }

    /// Puts a delivered message back at its original position, marked redelivered.
    pub fn requeue(&mut self, mut qm: QueuedMessage) {
        qm.redelivered = true;
        // Returned messages always precede everything still in `ready` of their level (they
        // were taken from its front), so a sorted side set keeps queue order cheaply.
        self.unpop(qm);
    }

    /// Messages ready for delivery (not counting unacknowledged ones).
    pub fn message_count(&self) -> usize {
        self.ready_count
    }

    /// Body bytes of the ready messages.
    pub fn ready_bytes(&self) -> u64 {
        self.ready_bytes
    }

    /// True when nothing is ready.
    pub fn is_empty(&self) -> bool {
        self.ready_count == 0
    }

    /// Drops every ready message; returns them.
    pub fn drain(&mut self) -> Vec<QueuedMessage> {
        let mut out = Vec::with_capacity(self.ready_count);
        while let Some(qm) = self.pop() {
            out.push(qm);
        }
        out
    }

    /// Counts a delivery of a message of `bytes` body bytes that awaits an ack.
    pub fn record_unacked(&mut self, bytes: u64, persistent: bool) {
        self.unacked += 1;
        self.unacked_bytes += bytes;
        if persistent {
            self.unacked_persistent.add(bytes);
        }
    }

    /// Counts the ack (or requeue, or reject) of an earlier delivery counted by
    /// [`Self::record_unacked`].
    pub fn settle(&mut self, bytes: u64, persistent: bool) {
        self.unacked = self.unacked.saturating_sub(1);
        self.unacked_bytes = self.unacked_bytes.saturating_sub(bytes);
        if persistent {
            self.unacked_persistent.sub(bytes);
        }
    }

    /// Body bytes of the deliveries awaiting an ack.
    pub fn unacked_bytes(&self) -> u64 {
        self.unacked_bytes
    }

    /// Persistent messages, ready or awaiting an ack, and their body bytes.
    pub fn persistent(&self) -> Tally {
        Tally {
            count: self.ready_persistent.count + self.unacked_persistent.count,
            bytes: self.ready_persistent.bytes + self.unacked_persistent.bytes,
        }
    }

    /// Deliveries still awaiting an ack.
    pub fn unacked_count(&self) -> usize {
        self.unacked
    }

    /// A turn at the back of the rotation.
    fn back_of_rotation(&mut self) -> Turn {
        let order = self.next_turn;
        self.next_turn += 1;
        Turn {
            order,
            blocked: false,
        }
    }

    /// Adds a consumer at the back of the round-robin rotation.
    pub fn add_consumer(&mut self, consumer: C) {
        self.consumers.push(consumer);
        let turn = self.back_of_rotation();
        self.turns.push(turn);
    }

    /// Removes the first consumer matching `pred`.
    pub fn remove_consumer(&mut self, pred: impl Fn(&C) -> bool) -> Option<C> {
        let idx = self.consumers.iter().position(pred)?;
        if idx < self.turns.len() {
            self.turns.remove(idx);
        }
        Some(self.consumers.remove(idx))
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
        self.turns.clear();
        std::mem::take(&mut self.consumers)
    }

    /// The consumers, in registration order.
    pub fn consumers(&self) -> &[C] {
        &self.consumers
    }

    /// Number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// Picks the consumer for the next delivery, as RabbitMQ does: the consumers in line
    /// are ordered by `priority` (highest first), then by their turn; those ahead of the pick
    /// that `ready` refuses are passed over (and rejoin at the back once `ready` accepts them
    /// again), and the pick goes to the back. `ready` must not have side effects.
    pub fn next_consumer_index(
        &mut self,
        ready: impl Fn(&C) -> bool,
        priority: impl Fn(&C) -> i32,
    ) -> Option<usize> {
        // Consumers with credit again rejoin at the back, in registration order.
        for idx in 0..self.consumers.len() {
            let rejoins = match (self.turns.get(idx), self.consumers.get(idx)) {
                (Some(t), Some(c)) => t.blocked && ready(c),
                _ => false,
            };
            if rejoins {
                let turn = self.back_of_rotation();
                if let Some(t) = self.turns.get_mut(idx) {
                    *t = turn;
                }
            }
        }
        // Ahead in line: higher priority, then lower turn order.
        let key = |c: &C, t: &Turn| (std::cmp::Reverse(priority(c)), t.order);
        let pick = self
            .consumers
            .iter()
            .zip(&self.turns)
            .enumerate()
            .filter(|(_, (c, t))| !t.blocked && ready(c))
            .min_by_key(|(_, (c, t))| key(c, t))
            .map(|(idx, (c, t))| (idx, key(c, t)));
        for (c, t) in self.consumers.iter().zip(self.turns.iter_mut()) {
            if !t.blocked && !ready(c) && pick.as_ref().is_none_or(|(_, k)| key(c, t) < *k) {
                t.blocked = true;
            }
        }
        let (idx, _) = pick?;
        let turn = self.back_of_rotation();
        if let Some(t) = self.turns.get_mut(idx) {
            *t = turn;
        }
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ShortStr;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn msg_p(n: u8, priority: Option<u8>) -> Arc<Message> {
        Arc::new(Message {
            id: 0,
            exchange: ShortStr::default(),
            routing_key: ShortStr::default(),
            raw_properties: Bytes::new(),
            body: vec![Bytes::from(vec![n])],
            body_size: 1,
            persistent: false,
            priority,
            expiration: None,
            published_at_ms: 0,
            bcc: Vec::new(),
            store_gate: Default::default(),
        })
    }

    fn msg(n: u8) -> Arc<Message> {
        msg_p(n, None)
    }

    fn body(qm: &QueuedMessage) -> u8 {
        qm.message.body[0][0]
    }

    #[test]
    fn requeued_messages_return_to_their_place_before_later_ones() {
        let mut q: QueueState<()> = QueueState::new();
        for i in 0..5 {
            q.push(msg(i), None, false);
        }
        let a = q.pop().unwrap();
        let _b = q.pop().unwrap();
        let c = q.pop().unwrap();
        q.requeue(c);
        q.requeue(a);
        let order: Vec<(u8, bool)> = std::iter::from_fn(|| q.pop())
            .map(|m| (body(&m), m.redelivered))
            .collect();
        assert_eq!(order, vec![(0, true), (2, true), (3, false), (4, false)]);
    }

    #[test]
    fn a_drained_backlog_gives_its_room_back_and_keeps_the_order() {
        let mut q: QueueState<()> = QueueState::new();
        for round in 0..2u8 {
            for i in 0..5000u32 {
                q.push(msg((i % 251) as u8), None, false);
            }
            let mut popped = 0u32;
            while let Some(m) = q.pop() {
                assert_eq!(body(&m), (popped % 251) as u8, "round {round}");
                popped += 1;
            }
            assert_eq!(popped, 5000);
            assert!(q.is_empty());
            assert!(q.levels[0].ready.capacity() <= KEEP_WHEN_EMPTY);
        }
    }

    #[test]
    fn higher_priority_messages_come_first_and_fifo_within_a_priority() {
        let mut q: QueueState<()> = QueueState::with_max_priority(5);
        q.push(msg_p(1, None), None, false);
        q.push(msg_p(2, Some(3)), None, false);
        q.push(msg_p(3, Some(9)), None, false); // above the maximum: treated as 5
        q.push(msg_p(4, Some(3)), None, false);
        q.push(msg_p(5, Some(5)), None, false);
        let order: Vec<u8> = std::iter::from_fn(|| q.pop()).map(|m| body(&m)).collect();
        assert_eq!(order, vec![3, 5, 2, 4, 1]);
    }

    #[test]
    fn only_an_expired_head_is_taken() {
        let mut q: QueueState<()> = QueueState::new();
        let now = Instant::now();
        q.push(
            msg(1),
            Some(now + std::time::Duration::from_secs(10)),
            false,
        );
        q.push(msg(2), Some(now), false);
        assert!(q.pop_expired(now).is_none());
        assert_eq!(
            q.head_expiry(),
            Some(now + std::time::Duration::from_secs(10))
        );
        assert_eq!(body(&q.pop().unwrap()), 1);
        assert_eq!(body(&q.pop_expired(now).unwrap()), 2);
    }

    #[test]
    fn round_robin_skips_consumers_without_credit() {
        let mut q: QueueState<u32> = QueueState::new();
        for c in 1..=3 {
            q.add_consumer(c);
        }
        let mut picks = Vec::new();
        for _ in 0..4 {
            let idx = q.next_consumer_index(|c| *c != 2, |_| 0).unwrap();
            picks.push(q.consumers()[idx]);
        }
        assert_eq!(picks, vec![1, 3, 1, 3]);
        assert!(q.next_consumer_index(|_| false, |_| 0).is_none());
    }

    #[test]
    fn higher_priority_consumers_are_served_while_they_have_credit() {
        let mut q: QueueState<(u32, i32)> = QueueState::new();
        q.add_consumer((1, 0));
        q.add_consumer((2, 5));
        q.add_consumer((3, 5));
        let mut picks = Vec::new();
        for _ in 0..3 {
            let idx = q.next_consumer_index(|_| true, |c| c.1).unwrap();
            picks.push(q.consumers()[idx].0);
        }
        assert_eq!(picks, vec![2, 3, 2]);
        let idx = q.next_consumer_index(|c| c.1 == 0, |c| c.1).unwrap();
        assert_eq!(q.consumers()[idx].0, 1);
    }

    #[test]
    fn a_consumer_passed_over_for_credit_rejoins_at_the_back() {
        // RabbitMQ 3.10.8 (probed): A (prefetch 1) and no-ack B and C. A is passed over once
        // while full; after its ack the rotation is C, B, A.
        let mut q: QueueState<char> = QueueState::new();
        for c in ['A', 'B', 'C'] {
            q.add_consumer(c);
        }
        let mut a_has_credit = true;
        let mut picks = Vec::new();
        for n in 0..8 {
            if n == 4 {
                a_has_credit = true; // A's delivery is acked
            }
            let idx = q
                .next_consumer_index(|c| *c != 'A' || a_has_credit, |_| 0)
                .unwrap();
            let picked = q.consumers()[idx];
            if picked == 'A' {
                a_has_credit = false;
            }
            picks.push(picked);
        }
        assert_eq!(picks, ['A', 'B', 'C', 'B', 'C', 'B', 'A', 'C']);
    }

    #[test]
    fn removing_a_consumer_keeps_the_ring_position() {
        let mut q: QueueState<u32> = QueueState::new();
        for c in 1..=3 {
            q.add_consumer(c);
        }
        let next = |q: &mut QueueState<u32>| {
            let idx = q.next_consumer_index(|_| true, |_| 0).unwrap();
            q.consumers()[idx]
        };
        assert_eq!(next(&mut q), 1);
        assert_eq!(q.remove_consumer(|c| *c == 1), Some(1));
        assert_eq!(next(&mut q), 2);
        assert_eq!(next(&mut q), 3);
        assert_eq!(next(&mut q), 2);
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
                    0 => { let s = q.push(msg(0), None, false); model.insert(s); }
                    1 => {
                        let got = q.pop().map(|m| m.seq);
                        let want = model.pop_first();
                        prop_assert_eq!(got, want);
                        if let Some(s) = got {
                            held.push(QueuedMessage { seq: s, message: msg(0), redelivered: false, delivery_count: 0, expires_at: None, stored: false });
                        }
                    }
                    _ => if let Some(m) = held.pop() { model.insert(m.seq); q.requeue(m); },
                }
                prop_assert_eq!(q.message_count(), model.len());
            }
        }
    }
}
