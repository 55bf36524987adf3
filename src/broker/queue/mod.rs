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
mod dispatch;
pub mod expiration;
mod paging;
pub mod quorum;
mod settle;
pub mod state;
mod storage;
mod timers;

use crate::broker::consumer::Consumer;
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
}
