//! `Queue`: the shared handle of one queue — its declaration and parsed arguments, and its
//! `QueueState` behind a short-held mutex.
//!
//! Delivery is done inline by whoever changes what can be delivered: a publisher after
//! enqueueing, a channel after acking (credit returned) or consuming, a requeue, the expiry
//! timer. Each takes the lock, pops messages for consumers with credit and pushes each
//! `Delivery` into the consumer connection's inbox. Messages that leave by expiry, by a
//! length limit or by rejection are collected under the lock and dead-lettered after it is
//! released (dead-lettering publishes into other queues, so it must not nest locks). Two
//! optional timer tasks per queue: message expiry (sleeps until the head's expiry; RabbitMQ
//! expires at the head only, so nothing is scanned) and x-expires (deletes an unused queue).

pub mod args;
mod consumers;
pub mod dead_letter;
pub mod delivery_count;
pub mod expiration;
mod paging;
pub mod quorum;
pub mod state;
mod storage;
mod timers;

use crate::broker::consumer::{ConnectionEvent, Consumer, Delivery};
use crate::broker::message::{Message, QueuedMessage};
use crate::broker::vhost::VHost;
use crate::error::{AmqpError, AmqpResult};
use crate::policy::Applied;
use crate::protocol::{FieldTable, ReplyCode, ShortStr};
use crate::store::{QueueId, Store, StoreOp};
use args::{Overflow, QueueArgs, QueueLimits, QueueType};
use dead_letter::DeathReason;
use parking_lot::Mutex;
use state::QueueState;
use std::sync::{Arc, Weak};
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

/// How a queue was declared.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDeclaration {
    /// Queue name.
    pub name: ShortStr,
    /// Survives a restart.
    pub durable: bool,
    /// Owning connection id for exclusive queues.
    pub exclusive_owner: Option<u64>,
    /// Deleted when its last consumer goes.
    pub auto_delete: bool,
    /// x-arguments, as declared.
    pub arguments: FieldTable,
}

/// A queue entry the publisher must write to the store (with the message, once for all the
/// queues it went to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreEntry {
    /// The queue's store id.
    pub queue: QueueId,
    /// The message's position in the queue.
    pub seq: u64,
    /// Kept only in the store (paged out): the queue reads it back once committed, so the
    /// commit must call [`Queue::paged_committed`].
    pub paged: bool,
}

/// What became of a message offered to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Enqueued (or delivered at once); with the entry to write to the store, if any.
    Accepted(Option<StoreEntry>),
    /// Refused by `x-overflow: reject-publish(-dlx)`: the publisher gets basic.nack.
    Rejected,
}

#[derive(Debug)]
struct Inner {
    state: QueueState<Consumer>,
    deleted: bool,
    had_consumers: bool,
    expiry_timer_running: bool,
    last_used: Instant,
    paged: paging::Paged,
    accounted_bytes: u64,
    /// The effective limits (declared arguments merged with policies).
    limits: QueueLimits,
    unused_timer_running: bool,
    /// Quorum queues with reject-publish: refusing publishes since the queue went over its
    /// limit, until it is back under the low mark (see [`quorum::RejectPublish`]).
    publish_blocked: bool,
}

/// What a delivery counts against its connection's outbound budget: its body plus an
/// allowance for framing.
pub(crate) fn delivery_cost(qm: &QueuedMessage) -> u64 {
    qm.message.body_size + 128
}

/// Messages leaving a queue for its dead-letter exchange.
type DeadLetters = Vec<(QueuedMessage, DeathReason)>;

/// A queue shared by the vhost registry, the channels that publish to it and consume from it.
#[derive(Debug)]
pub struct Queue {
    /// Declaration (immutable).
    pub decl: QueueDeclaration,
    /// Parsed x-arguments, as declared (what equivalence and queue type use; the limits
    /// the queue acts on are its effective ones, see [`Queue::limits`]).
    pub args: QueueArgs,
    /// Name of the vhost, for reply texts.
    pub vhost_name: Arc<str>,
    vhost: Weak<VHost>,
    store: Store,
    page_id: std::sync::OnceLock<QueueId>,
    inner: Mutex<Inner>,
    wake_expiry: Notify,
    wake_unused: Notify,
    /// The policies its limits came from (outside the state lock: listings read it).
    applied: parking_lot::RwLock<Applied>,
    /// Message counters and gauges, read by the management API and metrics without the lock.
    pub stats: crate::metrics::counters::QueueStats,
}

/// Result of removing a consumer.
#[derive(Debug)]
pub struct ConsumerRemoval {
    /// The removed consumers.
    pub removed: Vec<Consumer>,
    /// True when this was an auto-delete queue and its last consumer just left.
    pub now_unused: bool,
}

impl Queue {
    /// A new, empty queue of `vhost`, acting on `limits` (its arguments merged with the
    /// policies `applied`).
    pub fn new(
        decl: QueueDeclaration,
        args: QueueArgs,
        policies: (QueueLimits, Applied),
        vhost: &Arc<VHost>,
        store_id: Option<QueueId>,
    ) -> Arc<Queue> {
        let (limits, applied) = policies;
        let expires = limits.expires;
        let state = QueueState::with_max_priority(args.max_priority.unwrap_or(0));
        let queue = Arc::new(Queue {
            decl,
            args,
            vhost_name: Arc::clone(&vhost.name),
            vhost: Arc::downgrade(vhost),
            store: vhost.store.clone(),
            page_id: store_id.map(std::sync::OnceLock::from).unwrap_or_default(),
            inner: Mutex::new(Inner {
                state,
                deleted: false,
                had_consumers: false,
                expiry_timer_running: false,
                last_used: Instant::now(),
                paged: paging::Paged::default(),
                accounted_bytes: 0,
                limits,
                unused_timer_running: expires.is_some(),
                publish_blocked: false,
            }),
            wake_expiry: Notify::new(),
            wake_unused: Notify::new(),
            applied: parking_lot::RwLock::new(applied),
            stats: crate::metrics::counters::QueueStats::default(),
        });
        if expires.is_some() {
            timers::spawn_unused_expiry(&queue);
        }
        queue
    }

    /// The effective limits (a copy).
    pub fn limits(&self) -> QueueLimits {
        self.inner.lock().limits.clone()
    }

    /// The policy and operator policy applying to the queue.
    pub fn applied_policies(&self) -> Applied {
        self.applied.read().clone()
    }

    /// Applies new effective limits (a policy changed) as RabbitMQ's queue process does: a
    /// smaller length limit drops from the head at once when the old or new overflow is
    /// drop-head, messages already past their expiry go, and an expiry restarts its timer.
    /// A new TTL applies to messages published from now on (queued ones keep theirs).
    pub fn apply_policies(self: &Arc<Self>, limits: QueueLimits, applied: Applied) {
        let mut dead = DeadLetters::new();
        {
            let mut inner = self.inner.lock();
            if inner.deleted {
                return;
            }
            let old_overflow = inner.limits.overflow;
            let expires_changed = inner.limits.expires != limits.expires;
            inner.limits = limits;
            *self.applied.write() = applied;
            if old_overflow == Overflow::DropHead || inner.limits.overflow == Overflow::DropHead {
                self.drop_head_over_limit(&mut inner, &mut dead);
            }
            let now = Instant::now();
            while let Some(qm) = inner.state.pop_expired(now) {
                dead.push((qm, DeathReason::Expired));
            }
            if expires_changed {
                // RabbitMQ restarts the expiry timer with the new value.
                inner.last_used = now;
                if inner.limits.expires.is_some() && !inner.unused_timer_running {
                    inner.unused_timer_running = true;
                    timers::spawn_unused_expiry(self);
                } else {
                    self.wake_unused.notify_one();
                }
            }
            self.account(&mut inner);
        }
        self.dead_letter(dead);
    }

    /// The queue's name.
    pub fn name(&self) -> &ShortStr {
        &self.decl.name
    }

    /// The store's id for this queue's messages (durable queues, and any queue that paged).
    pub fn store_id(&self) -> Option<QueueId> {
        self.page_id.get().copied()
    }

    /// 405 unless the queue is not exclusive or belongs to `connection_id`.
    pub fn check_access(&self, connection_id: u64) -> AmqpResult<()> {
        match self.decl.exclusive_owner {
            Some(owner) if owner != connection_id => Err(self.locked()),
            _ => Ok(()),
        }
    }

    /// RabbitMQ's 405 RESOURCE_LOCKED for a queue someone else holds exclusively, or one
    /// redeclared with the other exclusivity.
    pub fn locked(&self) -> AmqpError {
        AmqpError::new(
            ReplyCode::ResourceLocked,
            format!(
                "cannot obtain exclusive access to locked {}. It could be originally declared \
                 on another connection or the exclusive property value does not match that of \
                 the original declaration.",
                self.describe()
            ),
        )
    }

    /// Marks the queue used now (declare, get, consumers), for x-expires.
    pub fn touch(&self) {
        self.inner.lock().last_used = Instant::now();
    }

    fn is_full_for(inner: &Inner, message: &Message) -> bool {
        let count = inner.state.message_count() as u64;
        inner.limits.max_length.is_some_and(|max| count >= max)
            || inner
                .limits
                .max_length_bytes
                .is_some_and(|max| inner.state.ready_bytes() + message.body_size > max)
    }

    fn is_over_limit(inner: &Inner) -> bool {
        inner
            .limits
            .max_length
            .is_some_and(|max| inner.state.message_count() as u64 > max)
            || inner
                .limits
                .max_length_bytes
                .is_some_and(|max| inner.state.ready_bytes() > max)
    }

    /// Enqueues a message and delivers what can be delivered.
    pub fn publish(self: &Arc<Self>, message: Arc<Message>) -> PublishOutcome {
        let mut dead = DeadLetters::new();
        let outcome = {
            let mut inner = self.inner.lock();
            if inner.deleted {
                return PublishOutcome::Accepted(None);
            }
            let overflow = inner.limits.overflow;
            let refused = if self.args.queue_type == QueueType::Quorum {
                self.quorum_refuses(&mut inner)
            } else {
                overflow != Overflow::DropHead && Self::is_full_for(&inner, &message)
            };
            if refused {
                if overflow == Overflow::RejectPublishDlx {
                    let qm = QueuedMessage {
                        seq: 0,
                        message,
                        redelivered: false,
                        delivery_count: 0,
                        expires_at: None,
                        stored: false,
                    };
                    dead.push((qm, DeathReason::MaxLen));
                }
                PublishOutcome::Rejected
            } else if self.should_page(&inner) {
                match self.page_out(&mut inner, &message) {
                    Some(entry) => PublishOutcome::Accepted(Some(entry)),
                    None => self.push_in_memory(&mut inner, message, &mut dead),
                }
            } else {
                self.push_in_memory(&mut inner, message, &mut dead)
            }
        };
        self.dead_letter(dead);
        if matches!(outcome, PublishOutcome::Accepted(_)) {
            self.stats
                .counters
                .add(crate::metrics::counters::queue::PUBLISH, 1);
        }
        outcome
    }

    fn push_in_memory(
        self: &Arc<Self>,
        inner: &mut Inner,
        message: Arc<Message>,
        dead: &mut DeadLetters,
    ) -> PublishOutcome {
        let now = Instant::now();
        let ttl = expiration::effective_ttl(inner.limits.message_ttl, message.expiration);
        let expires_at = ttl.map(|ms| now + Duration::from_millis(ms));
        let store_id = self
            .store_id()
            .filter(|_| quorum::keeps(self.args.queue_type, message.persistent, self.decl.durable));
        let seq = inner.state.push(message, expires_at, store_id.is_some());
        // A message that expires on arrival (TTL 0) still goes to a consumer waiting for
        // it, as in RabbitMQ: expire what is strictly older than now, then deliver, then
        // drop what nobody took.
        let just_before = now.checked_sub(Duration::from_nanos(1)).unwrap_or(now);
        self.dispatch_locked(inner, just_before, dead);
        let dead_before = dead.len();
        while let Some(qm) = inner.state.pop_expired(now) {
            dead.push((qm, DeathReason::Expired));
        }
        if self.args.queue_type == QueueType::Quorum && inner.limits.overflow != Overflow::DropHead
        {
            // Accepted even past the limit; refusing starts now.
            inner.publish_blocked |= Self::is_over_limit(inner);
        } else {
            self.drop_head_over_limit(inner, dead);
        }
        if dead.len() != dead_before {
            // What expired or was dropped after the dispatch left: counts and the memory
            // total must not keep it (the management API showed max-length + 1).
            self.account(inner);
        }
        if expires_at.is_some() {
            self.arm_expiry(inner);
        }
        PublishOutcome::Accepted(store_id.map(|queue| StoreEntry {
            queue,
            seq,
            paged: false,
        }))
    }

    /// Whether a quorum queue with reject-publish refuses the next publish: from when it
    /// went over its limit until it is back at or under the low mark.
    fn quorum_refuses(&self, inner: &mut Inner) -> bool {
        if inner.limits.overflow == Overflow::DropHead {
            return false;
        }
        let mark = quorum::RejectPublish::of(&inner.limits);
        let (count, bytes) = (
            inner.state.message_count() as u64,
            inner.state.ready_bytes(),
        );
        if inner.publish_blocked && mark.is_low(count, bytes) {
            inner.publish_blocked = false;
        }
        inner.publish_blocked
    }

    /// x-overflow drop-head: dead-letters from the head until the queue is within its limits.
    fn drop_head_over_limit(&self, inner: &mut Inner, dead: &mut DeadLetters) {
        while Self::is_over_limit(inner) {
            match inner.state.pop() {
                Some(qm) => dead.push((qm, DeathReason::MaxLen)),
                None => break,
            }
        }
    }

    /// Delivers whatever the consumers' credit allows.
    pub fn dispatch(self: &Arc<Self>) {
        let mut dead = DeadLetters::new();
        {
            let mut inner = self.inner.lock();
            self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
        }
        self.dead_letter(dead);
    }

    fn dispatch_locked(self: &Arc<Self>, inner: &mut Inner, now: Instant, dead: &mut DeadLetters) {
        self.dispatch_loop(inner, now, dead);
        self.account(inner);
    }

    fn dispatch_loop(self: &Arc<Self>, inner: &mut Inner, now: Instant, dead: &mut DeadLetters) {
        loop {
            self.refill(inner, false);
            while let Some(qm) = inner.state.pop_expired(now) {
                dead.push((qm, DeathReason::Expired));
            }
            if inner.state.is_empty() {
                return;
            }
            let idx = if self.args.single_active_consumer {
                // Only the first consumer (the active one) receives; the others wait.
                match inner.state.consumers().first() {
                    Some(c) if c.has_credit() => 0,
                    Some(c) => {
                        if !c.flow.has_room() {
                            c.flow.wait(self);
                        }
                        return;
                    }
                    None => return,
                }
            } else {
                let Some(idx) = inner
                    .state
                    .next_consumer_index(|c| c.has_credit(), |c| c.priority)
                else {
                    // Consumers whose connection is backed up get a wake-up when it drains.
                    for c in inner.state.consumers() {
                        if !c.flow.has_room() {
                            c.flow.wait(self);
                        }
                    }
                    return;
                };
                idx
            };
            if !inner
                .state
                .consumers()
                .get(idx)
                .is_some_and(|c| c.try_take_credit())
            {
                // Another queue took the channel's last credit meanwhile.
                return;
            }
            let Some(qm) = inner.state.pop() else { return };
            let Some(consumer) = inner.state.consumers().get(idx) else {
                return;
            };
            let no_ack = consumer.no_ack;
            consumer.flow.sent(delivery_cost(&qm));
            let (bytes, persistent) = (qm.message.body_size, qm.message.persistent);
            let event = ConnectionEvent::Deliver(Delivery {
                channel: consumer.channel,
                consumer_tag: consumer.tag.clone(),
                queue: Arc::clone(self),
                message: qm,
                no_ack,
            });
            match consumer.inbox.send(event) {
                Ok(()) => {
                    if !no_ack {
                        inner.state.record_unacked(bytes, persistent);
                    }
                }
                Err(err) => {
                    // The connection is gone: put the message back untouched and drop the
                    // consumer; its connection's cleanup will find nothing left to do.
                    consumer.release_credit();
                    let (conn, ch, tag) = (
                        consumer.connection_id,
                        consumer.channel,
                        consumer.tag.clone(),
                    );
                    if let ConnectionEvent::Deliver(d) = err.0 {
                        inner.state.unpop(d.message);
                    }
                    inner.state.remove_consumer(|c| c.is(conn, ch, &tag));
                }
            }
        }
    }

    /// Expires what has expired at the head, delivers, and re-arms the expiry timer.
    fn expire_now(self: &Arc<Self>) -> Option<Instant> {
        let mut dead = DeadLetters::new();
        let next = {
            let mut inner = self.inner.lock();
            self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
            let next = if inner.deleted {
                None
            } else {
                inner.state.head_expiry()
            };
            if next.is_none() {
                inner.expiry_timer_running = false;
            }
            next
        };
        self.dead_letter(dead);
        next
    }

    fn arm_expiry(self: &Arc<Self>, inner: &mut Inner) {
        if inner.expiry_timer_running {
            self.wake_expiry.notify_one();
        } else if inner.state.head_expiry().is_some() {
            inner.expiry_timer_running = true;
            timers::spawn_message_expiry(self);
        }
    }

    /// basic.get: takes the next message and the count left behind.
    pub fn get(self: &Arc<Self>, no_ack: bool) -> Option<(QueuedMessage, u32)> {
        let mut dead = DeadLetters::new();
        let got = {
            let mut inner = self.inner.lock();
            let now = Instant::now();
            inner.last_used = now;
            self.refill(&mut inner, true);
            while let Some(qm) = inner.state.pop_expired(now) {
                dead.push((qm, DeathReason::Expired));
            }
            let got = inner.state.pop().map(|qm| {
                if !no_ack {
                    inner
                        .state
                        .record_unacked(qm.message.body_size, qm.message.persistent);
                }
                // As in RabbitMQ, what expired behind the taken message goes now that it is
                // at the head, so the count left behind does not include it.
                while let Some(qm) = inner.state.pop_expired(now) {
                    dead.push((qm, DeathReason::Expired));
                }
                let left = inner.state.message_count() as u64 + inner.paged.count;
                (qm, u32::try_from(left).unwrap_or(u32::MAX))
            });
            self.account(&mut inner);
            got
        };
        self.dead_letter(dead);
        got
    }

    /// Returns delivered messages to their places (marked redelivered) and redelivers.
    pub fn requeue(self: &Arc<Self>, messages: impl IntoIterator<Item = QueuedMessage>) {
        let mut dead = DeadLetters::new();
        {
            let mut inner = self.inner.lock();
            let has_expiry = self.put_back(&mut inner, messages, Vec::new(), &mut dead);
            self.redeliver_locked(&mut inner, has_expiry, &mut dead);
        }
        self.dead_letter(dead);
    }

    /// Puts messages back in their places, all before anything is handed out again:
    /// `delivered` ones (settled, marked redelivered) and `in_flight` ones that never
    /// reached their consumer (unchanged; the flag says whether they were counted as
    /// unacked). A delivered message counts one more delivery; past the queue's delivery
    /// limit it goes to `dead` instead. Returns whether any of them has an expiry.
    fn put_back(
        &self,
        inner: &mut Inner,
        delivered: impl IntoIterator<Item = QueuedMessage>,
        in_flight: Vec<(QueuedMessage, bool)>,
        dead: &mut DeadLetters,
    ) -> bool {
        let mut has_expiry = false;
        for mut qm in delivered {
            inner
                .state
                .settle(qm.message.body_size, qm.message.persistent);
            if !inner.deleted {
                qm.delivery_count = qm.delivery_count.saturating_add(1);
                if delivery_count::exceeds(inner.limits.delivery_limit, qm.delivery_count) {
                    dead.push((qm, DeathReason::DeliveryLimit));
                    continue;
                }
                has_expiry |= qm.expires_at.is_some();
                inner.state.requeue(qm);
            }
        }
        for (qm, counted_unacked) in in_flight {
            if counted_unacked {
                inner
                    .state
                    .settle(qm.message.body_size, qm.message.persistent);
            }
            if !inner.deleted {
                has_expiry |= qm.expires_at.is_some();
                inner.state.unpop(qm);
            }
        }
        has_expiry
    }

    /// After messages went back: applies drop-head, delivers, and arms the expiry timer.
    fn redeliver_locked(
        self: &Arc<Self>,
        inner: &mut Inner,
        has_expiry: bool,
        dead: &mut DeadLetters,
    ) {
        if inner.limits.overflow == Overflow::DropHead {
            // Requeued messages count against the limit again: RabbitMQ drops from the
            // head (where they went back to) before anything is redelivered.
            self.drop_head_over_limit(inner, dead);
        }
        self.dispatch_locked(inner, Instant::now(), dead);
        if has_expiry {
            self.arm_expiry(inner);
        }
    }

    /// Takes back a message that was handed to a consumer that had gone by the time it
    /// arrived: it returns to its place unchanged (not marked redelivered). With
    /// `hand_over` false nothing is delivered now (a single-active-consumer queue waiting
    /// for its cancelled consumer's deliveries to come back first).
    pub fn return_undelivered(
        self: &Arc<Self>,
        qm: QueuedMessage,
        counted_unacked: bool,
        hand_over: bool,
    ) {
        let mut dead = DeadLetters::new();
        {
            let mut inner = self.inner.lock();
            let has_expiry = self.put_back(&mut inner, [], vec![(qm, counted_unacked)], &mut dead);
            if hand_over {
                self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
            } else {
                self.account(&mut inner);
            }
            if has_expiry {
                self.arm_expiry(&mut inner);
            }
        }
        self.dead_letter(dead);
    }

    /// Publishes the message counts for readers that must not take the lock (the
    /// management API, metrics): a few relaxed stores, under the lock already held.
    fn refresh_gauges(&self, inner: &Inner) {
        use crate::metrics::counters::queue as g;
        let ready = inner.state.message_count() as u64 + inner.paged.count;
        let unacked = inner.state.unacked_count() as u64;
        let gauges = &self.stats.gauges;
        gauges.set(g::READY, ready);
        gauges.set(g::UNACKED, unacked);
        gauges.set(g::MESSAGES, ready + unacked);
        gauges.set(g::CONSUMERS, inner.state.consumer_count() as u64);
        gauges.set(
            g::READY_BYTES,
            inner.state.ready_bytes() + inner.paged.bytes,
        );
        gauges.set(g::UNACKED_BYTES, inner.state.unacked_bytes());
        // RabbitMQ counts persistent messages only in durable queues (where they persist).
        let persistent = if self.decl.durable {
            inner.state.persistent()
        } else {
            state::Tally::default()
        };
        gauges.set(g::PERSISTENT, persistent.count);
        gauges.set(g::PERSISTENT_BYTES, persistent.bytes);
        gauges.set(g::PAGED_OUT, inner.paged.count);
        gauges.set(g::PAGED_OUT_BYTES, inner.paged.bytes);
    }

    /// basic.ack: the messages are settled and leave the store.
    pub fn ack(&self, messages: &[QueuedMessage]) {
        {
            let mut inner = self.inner.lock();
            for qm in messages.iter() {
                inner
                    .state
                    .settle(qm.message.body_size, qm.message.persistent);
            }
            self.refresh_gauges(&inner);
        }
        self.stats
            .counters
            .add(crate::metrics::counters::queue::ACK, messages.len() as u64);
        for qm in messages {
            self.forget_stored(qm);
        }
    }

    /// basic.reject / nack without requeue: the messages are settled and dead-lettered.
    pub fn reject(self: &Arc<Self>, messages: Vec<QueuedMessage>) {
        {
            let mut inner = self.inner.lock();
            for qm in messages.iter() {
                inner
                    .state
                    .settle(qm.message.body_size, qm.message.persistent);
            }
            self.refresh_gauges(&inner);
        }
        let dead = messages
            .into_iter()
            .map(|qm| (qm, DeathReason::Rejected))
            .collect();
        self.dead_letter(dead);
    }

    /// (ready messages, consumers), for declare-ok.
    pub fn counts(&self) -> (u32, u32) {
        let inner = self.inner.lock();
        let messages = inner.state.message_count() as u64 + inner.paged.count;
        (
            u32::try_from(messages).unwrap_or(u32::MAX),
            u32::try_from(inner.state.consumer_count()).unwrap_or(u32::MAX),
        )
    }

    /// Drops all ready messages; returns how many.
    pub fn purge(&self) -> u32 {
        let (dropped, paged) = {
            let mut inner = self.inner.lock();
            let dropped = inner.state.drain();
            let paged = std::mem::take(&mut inner.paged);
            self.account(&mut inner);
            (dropped, paged.count)
        };
        for qm in &dropped {
            self.forget_stored(qm);
        }
        if paged > 0
            && let Some(queue) = self.store_id()
        {
            // The paged region lives only in the store: drop it there. (Unacked deliveries
            // of this queue leave the store too; they are settled in memory as usual.)
            self.store.submit(
                StoreOp::Purge {
                    queue,
                    forget: false,
                },
                None,
            );
        }
        u32::try_from(dropped.len() as u64 + paged).unwrap_or(u32::MAX)
    }

    /// Marks the queue deleted, drops its messages and returns (message count, consumers) so
    /// the caller can notify them.
    pub fn delete(&self) -> (u32, Vec<Consumer>) {
        let mut inner = self.inner.lock();
        inner.deleted = true;
        let paged = std::mem::take(&mut inner.paged).count;
        let n = u32::try_from(inner.state.drain().len() as u64 + paged).unwrap_or(u32::MAX);
        self.account(&mut inner);
        self.wake_expiry.notify_one();
        self.wake_unused.notify_one();
        (n, inner.state.take_consumers())
    }

    /// True once deleted.
    pub fn is_deleted(&self) -> bool {
        self.inner.lock().deleted
    }

    /// Sends messages to the queue's dead-letter exchange (dropped when it has none).
    fn dead_letter(&self, dead: DeadLetters) {
        if dead.is_empty() {
            return;
        }
        let forget = |dead: &DeadLetters| {
            for (qm, _) in dead {
                self.forget_stored(qm);
            }
        };
        let (dlx, dlrk) = {
            let inner = self.inner.lock();
            (
                inner.limits.dead_letter_exchange.clone(),
                inner.limits.dead_letter_routing_key.clone(),
            )
        };
        let (Some(dlx), Some(vhost)) = (dlx, self.vhost.upgrade()) else {
            forget(&dead);
            return;
        };
        // One group per message: in cluster mode its copies and its removal are one log
        // entry, so after a failover it is in exactly one place. (On one node the copies
        // are queued to the store first, so a crash never loses both.)
        for (qm, reason) in &dead {
            self.store.atomically(|| {
                vhost.dead_letter(&qm.message, self, &dlx, dlrk.as_ref(), *reason);
                self.forget_stored(qm);
            });
        }
    }
}
