//! Writing durable definitions through to the store as the topology changes. Only durable
//! entities (and bindings whose source and destination are both durable) are kept, as in
//! RabbitMQ. Writes are queued to the store's writer thread; a later confirmed publish is
//! committed after them (the writer is FIFO), so a confirmed message never outlives its
//! queue's definition.

use super::VHost;
use crate::broker::definitions::{BindingDef, ExchangeDef, QueueDef};
use crate::broker::exchange::{Binding, Destination, Exchange};
use crate::broker::queue::Queue;
use crate::protocol::ShortStr;
use crate::store::{DefinitionKind, StoreOp};

impl VHost {
    fn vhost_name(&self) -> ShortStr {
        ShortStr::from(&*self.name)
    }

    fn put(&self, kind: DefinitionKind, key: Vec<u8>, value: Vec<u8>) {
        self.store
            .submit(StoreOp::PutDefinition { kind, key, value }, None);
    }

    fn delete(&self, kind: DefinitionKind, key: Vec<u8>) {
        self.store
            .submit(StoreOp::DeleteDefinition { kind, key }, None);
    }

    fn exchange_def(&self, x: &Exchange) -> ExchangeDef {
        ExchangeDef {
            vhost: self.vhost_name(),
            name: x.name.clone(),
            kind: ShortStr::from_static(x.kind.as_str()),
            auto_delete: x.auto_delete,
            internal: x.internal,
            arguments: x.arguments.clone(),
        }
    }

    /// Records a newly declared durable exchange.
    pub(super) fn persist_exchange(&self, x: &Exchange) {
        if x.durable {
            let def = self.exchange_def(x);
            self.put(DefinitionKind::Exchange, def.key(), def.encode());
        }
    }

    /// Forgets a deleted exchange and the durable bindings from it.
    pub(super) fn forget_exchange(&self, x: &Exchange) {
        if !x.durable {
            return;
        }
        for binding in x.router.read().bindings() {
            self.forget_binding(x, &binding);
        }
        self.delete(DefinitionKind::Exchange, self.exchange_def(x).key());
    }

    fn destination_is_durable(&self, dest: &Destination) -> bool {
        match dest {
            Destination::Queue(q) => self.queue(q).is_some_and(|q| q.decl.durable),
            Destination::Exchange(x) => self.exchange(x).is_some_and(|x| x.durable),
        }
    }

    fn binding_def(&self, source: &Exchange, binding: &Binding) -> BindingDef {
        BindingDef {
            vhost: self.vhost_name(),
            source: source.name.clone(),
            destination: binding.destination.clone(),
            routing_key: binding.routing_key.clone(),
            arguments: binding.arguments.clone(),
        }
    }

    /// Records a binding between durable entities.
    pub(super) fn persist_binding(&self, source: &Exchange, binding: &Binding) {
        if source.durable && self.destination_is_durable(&binding.destination) {
            let value = self.binding_def(source, binding).encode();
            self.put(DefinitionKind::Binding, value.clone(), value);
        }
    }

    /// Forgets a binding (a no-op in the store when it was never durable).
    pub(super) fn forget_binding(&self, source: &Exchange, binding: &Binding) {
        if source.durable {
            let key = self.binding_def(source, binding).encode();
            self.delete(DefinitionKind::Binding, key);
        }
    }

    /// Records a durable queue (it has a store id).
    pub(super) fn persist_queue(&self, q: &Queue) {
        if let (true, Some(queue_id)) = (q.decl.durable, q.store_id()) {
            let def = QueueDef {
                vhost: self.vhost_name(),
                name: q.name().clone(),
                queue_id,
                auto_delete: q.decl.auto_delete,
                arguments: q.decl.arguments.clone(),
            };
            self.put(DefinitionKind::Queue, def.key(), def.encode());
        }
    }

    /// Forgets a deleted queue and its stored messages.
    pub(super) fn forget_queue(&self, q: &Queue) {
        if q.decl.durable {
            let key = crate::broker::definitions::entity_key(&self.vhost_name(), q.name());
            self.delete(DefinitionKind::Queue, key);
        }
        if let Some(queue) = q.store_id() {
            self.store.submit(
                StoreOp::Purge {
                    queue,
                    forget: true,
                },
                None,
            );
        }
    }
}

/// Writes a message to the store once for every queue entry it got, then runs `after` with
/// the outcome once it cannot be lost (publisher confirms, publisher backpressure; on the
/// writer thread after the commit, or in cluster mode once the log has committed it) and
/// lets paged queues read it back once this node's store holds it. Entries whose message already left
/// the queue (see [`crate::broker::store_gate`]) are not written.
pub(crate) fn store_publish(
    alarms: &std::sync::Arc<crate::broker::alarms::Alarms>,
    store: &crate::store::Store,
    message: &crate::broker::message::Message,
    entries: Vec<(std::sync::Arc<Queue>, crate::broker::queue::StoreEntry)>,
    after: Option<Box<dyn FnOnce(bool) + Send>>,
) {
    if entries.is_empty() {
        if let Some(after) = after {
            after(true);
        }
        return;
    }
    let paged: Vec<(std::sync::Arc<Queue>, u64)> = entries
        .iter()
        .filter(|(_, e)| e.paged)
        .map(|(q, e)| (std::sync::Arc::clone(q), e.seq))
        .collect();
    let mut stored_message = message.to_stored();
    // Quorum queues keep every message, whatever its delivery mode: stored as persistent,
    // the store keeps it when it reopens. (A paged copy of the same transient message in a
    // classic queue then survives a restart too.)
    stored_message.persistent |= entries
        .iter()
        .any(|(q, _)| q.args.queue_type == crate::broker::queue::args::QueueType::Quorum);
    let alarms = std::sync::Arc::clone(alarms);
    let read_back = move || {
        for (q, seq) in &paged {
            q.paged_committed(*seq);
        }
    };
    let entries = entries.iter().map(|(_, e)| (e.queue, e.seq)).collect();
    message.store_gate.write(entries, |entries| {
        if entries.is_empty() {
            // Every entry left its queue before the write was queued: nothing to store.
            read_back();
            if let Some(after) = after {
                after(true);
            }
            return;
        }
        // The confirm needs only durability (in cluster mode: the log's commit); a paged
        // queue reads the message back from this node's store, so that waits for the store.
        let durable: crate::store::Completion = Box::new(move |result| {
            if let Err(err) = &result {
                // Never silent: the publisher is nacked (confirm mode) and publishers are
                // blocked until the store can write again.
                tracing::error!(%err, "storing a message failed");
            }
            alarms.store_failed(result.is_err());
            if let Some(after) = after {
                after(result.is_ok());
            }
        });
        let stored: crate::store::Completion = Box::new(move |_| read_back());
        let op = StoreOp::Publish {
            msg_id: message.id,
            message: stored_message,
            entries,
        };
        store.submit_durable(op, durable, Some(stored));
    });
}
