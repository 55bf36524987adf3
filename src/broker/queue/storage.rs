//! A queue's side of the store: removing settled messages, recording deliveries, loading
//! recovered messages at start-up.

use super::{Queue, expiration};
use crate::broker::message::{Message, QueuedMessage};
use crate::store::StoreOp;
use std::sync::Arc;
use tokio::time::{Duration, Instant};

impl Queue {
    /// Removes a settled message from the store, if it is there. Queued behind the
    /// message's own store write (see [`crate::broker::store_gate`]), so a message that
    /// leaves while it is still being published is never written back.
    pub fn forget_stored(&self, qm: &QueuedMessage) {
        if let (true, Some(queue)) = (qm.stored, self.store_id()) {
            let seq = qm.seq;
            qm.message.store_gate.remove((queue, seq), || {
                self.store.submit(StoreOp::Remove { queue, seq }, None);
            });
        }
    }

    /// Records in the store that a stored message was delivered (so it comes back
    /// redelivered after a crash).
    pub fn mark_delivered(&self, qm: &QueuedMessage) {
        // Only what survives a restart needs the mark: persistent messages in durable queues
        // and every message of a quorum queue (paged transient messages of other queues are
        // dropped when the store reopens).
        let survives = qm.stored
            && super::quorum::keeps(
                self.args.queue_type,
                qm.message.persistent,
                self.decl.durable,
            );
        if let (true, Some(queue)) = (survives, self.store_id()) {
            self.store.submit(
                StoreOp::MarkDelivered {
                    queue,
                    up_to: qm.seq,
                },
                None,
            );
        }
    }

    /// Records in the store how many times a quorum queue's stored message was returned, so
    /// its `x-delivery-count` and delivery limit carry on after a restart or a failover.
    /// Queued with the other writes of the queue (no fsync of its own); other queue types
    /// write nothing. Called under the queue's lock, so it lands before the entry's removal.
    pub(super) fn store_delivery_count(&self, qm: &QueuedMessage) {
        if self.args.queue_type != super::args::QueueType::Quorum || !qm.stored {
            return;
        }
        if let Some(queue) = self.store_id() {
            let (seq, count) = (qm.seq, qm.delivery_count);
            self.store
                .submit(StoreOp::DeliveryCount { queue, seq, count }, None);
        }
    }

    /// Loads recovered messages (in position order) at start-up.
    pub fn restore(
        self: &Arc<Self>,
        entries: impl IntoIterator<Item = QueuedMessage>,
        max_seq: u64,
    ) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        for mut qm in entries {
            qm.expires_at = Self::expiry_from(inner.limits.message_ttl, now, &qm.message);
            inner.state.push_at(qm);
        }
        inner.state.reserve_seqs_through(max_seq);
        self.arm_expiry(&mut inner);
    }

    /// When a message read back from the store expires: its TTL (the queue's or its own
    /// expiration, whichever is shorter) counted from when it was published, mapped onto
    /// the monotonic clock at `now` (already past: it expires at once).
    pub(super) fn expiry_from(
        queue_ttl: Option<u64>,
        now: Instant,
        message: &Message,
    ) -> Option<Instant> {
        let ttl = expiration::effective_ttl(queue_ttl, message.expiration)?;
        let deadline_ms = message.published_at_ms.saturating_add(ttl);
        let left = deadline_ms.saturating_sub(crate::broker::message::unix_millis_now());
        Some(now + Duration::from_millis(left))
    }

    /// `queue 'name' in vhost 'v'`, as RabbitMQ names resources in reply texts.
    pub fn describe(&self) -> String {
        format!("queue '{}' in vhost '{}'", self.decl.name, self.vhost_name)
    }
}
