//! Messages coming back from consumers: acks, rejects, requeues (with quorum queues'
//! delivery counting and limit), deliveries that never reached their consumer, and
//! dead-lettering what leaves.

use super::args::Overflow;
use super::dead_letter::DeathReason;
use super::{DeadLetters, Inner, Queue, delivery_count};
use crate::broker::dead_letter_totals::Strategy;
use crate::broker::message::QueuedMessage;
use crate::broker::vhost::DeadLetterOutcome;
use std::sync::Arc;
use tokio::time::Instant;

impl Queue {
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
    pub(super) fn put_back(
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
                self.store_delivery_count(&qm);
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
    pub(super) fn redeliver_locked(
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

    /// Takes settled messages out of the queue's unacked counts and gauges.
    fn settle_counts(&self, messages: &[QueuedMessage]) {
        let mut inner = self.inner.lock();
        for qm in messages {
            inner
                .state
                .settle(qm.message.body_size, qm.message.persistent);
        }
        self.refresh_gauges(&inner);
    }

    /// basic.ack: the messages are settled and leave the store.
    pub fn ack(&self, messages: &[QueuedMessage]) {
        self.settle_counts(messages);
        self.stats
            .counters
            .add(crate::metrics::counters::queue::ACK, messages.len() as u64);
        for qm in messages {
            self.forget_stored(qm);
        }
    }

    /// basic.reject / nack without requeue: the messages are settled and dead-lettered;
    /// a deleted queue's are only forgotten (RabbitMQ drops the unacked messages of a
    /// queue when it is deleted, so a later reject has nothing to dead-letter).
    pub fn reject(self: &Arc<Self>, messages: Vec<QueuedMessage>) {
        self.settle_counts(&messages);
        if self.is_deleted() {
            for qm in &messages {
                self.forget_stored(qm);
            }
            return;
        }
        let dead = messages
            .into_iter()
            .map(|qm| (qm, DeathReason::Rejected))
            .collect();
        self.dead_letter(dead);
    }

    /// Sends messages to the queue's dead-letter exchange (dropped when it has none), and
    /// counts each once in the node's dead-letter totals (by reason, queue type and
    /// strategy; see [`crate::broker::dead_letter_totals`]).
    pub(super) fn dead_letter(&self, dead: DeadLetters) {
        if dead.is_empty() {
            return;
        }
        let (dlx, dlrk, strategy) = {
            let inner = self.inner.lock();
            (
                inner.limits.dead_letter_exchange.clone(),
                inner.limits.dead_letter_routing_key.clone(),
                Strategy::of(self.args.queue_type, &inner.limits),
            )
        };
        let queue_type = self.args.queue_type;
        let Some(vhost) = self.vhost.upgrade() else {
            for (qm, _) in &dead {
                self.forget_stored(qm);
            }
            return;
        };
        let totals = &vhost.dead_letters;
        let Some(dlx) = dlx else {
            for (qm, reason) in &dead {
                totals.record(*reason, queue_type, Strategy::Disabled);
                self.forget_stored(qm);
            }
            return;
        };
        // One group per message: in cluster mode its copies and its removal are one log
        // entry, so after a failover it is in exactly one place. (On one node the copies
        // are queued to the store first, so a crash never loses both.)
        for (qm, reason) in &dead {
            let outcome = self.store.atomically(|| {
                let outcome = vhost.dead_letter(&qm.message, self, &dlx, dlrk.as_ref(), *reason);
                self.forget_stored(qm);
                outcome
            });
            let counted = strategy.counted(*reason, outcome.exchange_found());
            totals.record(*reason, queue_type, counted);
            if counted == Strategy::AtLeastOnce && outcome == DeadLetterOutcome::Confirmed {
                totals.record_confirmed();
            }
        }
    }
}
