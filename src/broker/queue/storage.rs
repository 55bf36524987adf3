//! A queue's side of the store: removing settled messages, recording deliveries, loading
//! recovered messages at start-up.

use super::Queue;
use crate::broker::message::QueuedMessage;
use crate::store::StoreOp;

impl Queue {
    /// Removes a settled message from the store, if it is there.
    pub fn forget_stored(&self, qm: &QueuedMessage) {
        if let (true, Some(queue)) = (qm.stored, self.store_id()) {
            self.store
                .submit(StoreOp::Remove { queue, seq: qm.seq }, None);
        }
    }

    /// Records in the store that a stored message was delivered (so it comes back
    /// redelivered after a crash).
    pub fn mark_delivered(&self, qm: &QueuedMessage) {
        // Only what survives a restart needs the mark: persistent messages in durable queues
        // (paged transient messages are dropped when the store reopens).
        let survives = qm.stored && qm.message.persistent && self.decl.durable;
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

    /// Loads recovered messages (in position order) at start-up.
    pub fn restore(&self, entries: impl IntoIterator<Item = QueuedMessage>, max_seq: u64) {
        let mut inner = self.inner.lock();
        for qm in entries {
            inner.state.push_at(qm);
        }
        inner.state.reserve_seqs_through(max_seq);
    }

    /// `queue 'name' in vhost 'v'`, as RabbitMQ names resources in reply texts.
    pub fn describe(&self) -> String {
        format!("queue '{}' in vhost '{}'", self.decl.name, self.vhost_name)
    }
}
