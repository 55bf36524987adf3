//! Topology changes on a vhost: declaring, deleting and binding exchanges and queues, with
//! RabbitMQ's checks and reply texts. Serialised by the vhost's topology lock; the publish
//! path never takes it.

use super::{VHost, equivalence, is_reply_address};
use crate::broker::consumer::{ConnectionEvent, Consumer};
use crate::broker::exchange::{Binding, Destination, Exchange, ExchangeKind};
use crate::broker::queue::args::QueueArgs;
use crate::broker::queue::{Queue, QueueDeclaration};
use crate::error::{AmqpError, AmqpResult};
use crate::protocol::{FieldTable, FieldValue, ReplyCode, ShortStr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A queue.declare, as the channel hands it over.
#[derive(Debug, Clone)]
pub struct QueueDeclareRequest {
    /// Name (already generated if the client sent an empty one).
    pub name: ShortStr,
    /// Only check it exists.
    pub passive: bool,
    /// Survives restart.
    pub durable: bool,
    /// Owned by the declaring connection.
    pub exclusive: bool,
    /// Deleted with its last consumer.
    pub auto_delete: bool,
    /// x-arguments.
    pub arguments: FieldTable,
    /// The declaring connection.
    pub connection_id: u64,
    /// The vhost's `max-queues` limit (a new queue is refused once it is reached).
    pub max_queues: Option<i64>,
}

/// The answer to a queue.declare.
#[derive(Debug)]
pub struct QueueDeclared {
    /// The queue.
    pub queue: Arc<Queue>,
    /// Ready messages.
    pub message_count: u32,
    /// Consumers.
    pub consumer_count: u32,
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn inequivalent(arg: &str, what: &str, received: &str, current: &str) -> AmqpError {
    AmqpError::precondition(format!(
        "inequivalent arg '{arg}' for {what}: received '{received}' but current is '{current}'"
    ))
}

/// RabbitMQ's 503 for an exchange type it has no module for. Its wording depends on whether
/// the name happens to be an atom already known to the Erlang VM ("invalid") or not
/// ("unknown"); the common words below are such atoms in RabbitMQ 3.10.
fn unknown_exchange_type(kind_name: &ShortStr) -> AmqpError {
    const KNOWN_ATOMS: &[&str] = &[
        "",
        "all",
        "any",
        "bad",
        "badtype",
        "bar",
        "default",
        "error",
        "exchange",
        "false",
        "foo",
        "hash",
        "header",
        "invalid",
        "invalid_type",
        "local",
        "match",
        "none",
        "ok",
        "queue",
        "random",
        "stream",
        "system",
        "test",
        "true",
        "undefined",
        "unknown",
        "unsupported",
    ];
    let adjective = if KNOWN_ATOMS
        .iter()
        .any(|a| a.as_bytes() == kind_name.as_bytes())
    {
        "invalid"
    } else {
        "unknown"
    };
    AmqpError::new(
        ReplyCode::CommandInvalid,
        format!("{adjective} exchange type '{kind_name}'"),
    )
}

fn default_exchange_refused() -> AmqpError {
    AmqpError::access_refused("operation not permitted on the default exchange")
}

impl VHost {
    fn describe_exchange(&self, name: &ShortStr) -> String {
        format!("exchange '{}' in vhost '{}'", name, self.name)
    }

    /// exchange.declare.
    #[allow(clippy::too_many_arguments)]
    pub fn declare_exchange(
        &self,
        name: &ShortStr,
        kind_name: &ShortStr,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: &FieldTable,
    ) -> AmqpResult<()> {
        if passive {
            if name.is_empty() {
                return Err(default_exchange_refused());
            }
            self.exchange_or_404(name)?;
            return Ok(());
        }
        // RabbitMQ checks the type before the name.
        let kind = ExchangeKind::parse(kind_name.as_bytes())
            .ok_or_else(|| unknown_exchange_type(kind_name))?;
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        let _guard = self.topology.lock();
        if let Some(x) = self.exchange(name) {
            let what = self.describe_exchange(name);
            if x.kind != kind {
                return Err(inequivalent("type", &what, kind.as_str(), x.kind.as_str()));
            }
            if x.durable != durable {
                return Err(inequivalent(
                    "durable",
                    &what,
                    bool_text(durable),
                    bool_text(x.durable),
                ));
            }
            if x.auto_delete != auto_delete {
                return Err(inequivalent(
                    "auto_delete",
                    &what,
                    bool_text(auto_delete),
                    bool_text(x.auto_delete),
                ));
            }
            if x.internal != internal {
                return Err(inequivalent(
                    "internal",
                    &what,
                    bool_text(internal),
                    bool_text(x.internal),
                ));
            }
            if let Some(difference) = equivalence::mismatch(
                x.arguments.get("alternate-exchange"),
                arguments.get("alternate-exchange"),
            ) {
                return Err(AmqpError::precondition(format!(
                    "inequivalent arg 'alternate-exchange' for {what}: {difference}"
                )));
            }
            return Ok(());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "exchange name '{name}' contains reserved prefix 'amq.*'"
            )));
        }
        if let Some(ae) = arguments.get("alternate-exchange")
            && !matches!(ae, FieldValue::LongStr(_))
        {
            return Err(AmqpError::precondition(format!(
                "invalid type '{}' for arg 'alternate-exchange' in {}",
                ae.rabbit_type_name(),
                self.describe_exchange(name)
            )));
        }
        let x = Exchange::new(
            name.clone(),
            kind,
            durable,
            auto_delete,
            internal,
            arguments.clone(),
        );
        self.apply_exchange_policies(&x);
        self.persist_exchange(&x);
        self.exchanges.insert(name.clone(), Arc::new(x));
        Ok(())
    }

    /// exchange.delete. Deleting a missing exchange succeeds, as in RabbitMQ 3.x.
    pub fn delete_exchange(&self, name: &ShortStr, if_unused: bool) -> AmqpResult<()> {
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "deletion of system exchange '{name}' in vhost '{}' not allowed",
                self.name
            )));
        }
        let _guard = self.topology.lock();
        let Some(x) = self.exchange(name) else {
            return Ok(());
        };
        if if_unused && !x.router.read().is_empty() {
            return Err(AmqpError::precondition(format!(
                "{} in use",
                self.describe_exchange(name)
            )));
        }
        self.remove_exchange_locked(name);
        Ok(())
    }

    /// Removes an exchange and every binding that points at it (topology lock held).
    fn remove_exchange_locked(&self, name: &ShortStr) {
        if let Some((_, x)) = self.exchanges.remove(name) {
            self.forget_exchange(&x);
        }
        self.remove_destination_locked(&Destination::Exchange(name.clone()));
    }

    /// Drops every binding to `dest` and auto-deletes exchanges left without bindings.
    fn remove_destination_locked(&self, dest: &Destination) {
        let mut emptied = Vec::new();
        for entry in self.exchanges.iter() {
            let x = entry.value();
            let mut router = x.router.write();
            if x.durable {
                for binding in router.bindings() {
                    if binding.destination == *dest {
                        self.forget_binding(x, &binding);
                    }
                }
            }
            if router.remove_destination(dest) > 0 && x.auto_delete && router.is_empty() {
                emptied.push(x.name.clone());
            }
        }
        for name in emptied {
            self.remove_exchange_locked(&name);
        }
    }

    /// The default exchange cannot be either end of a binding (403).
    fn refuse_default_exchange(source: &ShortStr, destination: &Destination) -> AmqpResult<()> {
        if source.is_empty() || matches!(destination, Destination::Exchange(x) if x.is_empty()) {
            return Err(default_exchange_refused());
        }
        Ok(())
    }

    /// The source exchange and (for a queue destination) the queue of a binding, or the 404
    /// for the first missing end, the source first as in RabbitMQ.
    fn binding_ends(
        &self,
        source: &ShortStr,
        destination: &Destination,
    ) -> AmqpResult<(Arc<Exchange>, Option<Arc<Queue>>)> {
        let x = self.exchange_or_404(source)?;
        let queue = match destination {
            Destination::Queue(q) => Some(self.queue_or_404(q)?),
            Destination::Exchange(d) => {
                self.exchange_or_404(d)?;
                None
            }
        };
        Ok((x, queue))
    }

    /// queue.bind / exchange.bind: adds a binding from `source` to `destination`. Checks in
    /// RabbitMQ's order: default exchange (403), missing ends (404), binding arguments (406),
    /// another connection's exclusive queue (405).
    pub fn bind(
        &self,
        source: &ShortStr,
        destination: Destination,
        routing_key: &ShortStr,
        arguments: &FieldTable,
        connection_id: u64,
    ) -> AmqpResult<()> {
        Self::refuse_default_exchange(source, &destination)?;
        let _guard = self.topology.lock();
        let (x, queue) = self.binding_ends(source, &destination)?;
        let mut router = x.router.write();
        router
            .validate(arguments)
            .map_err(|e| AmqpError::precondition(e.to_string()))?;
        if let Some(queue) = queue {
            queue.check_access(connection_id)?;
        }
        let binding = Binding {
            destination,
            routing_key: routing_key.clone(),
            arguments: arguments.clone(),
        };
        self.persist_binding(&x, &binding);
        router.bind(binding);
        Ok(())
    }

    /// queue.unbind / exchange.unbind. As in RabbitMQ, removing a binding whose queue,
    /// exchange or binding is missing succeeds, and another connection's exclusive queue is
    /// only refused (405) when a binding would really be removed.
    pub fn unbind(
        &self,
        source: &ShortStr,
        destination: Destination,
        routing_key: &ShortStr,
        arguments: &FieldTable,
        connection_id: u64,
    ) -> AmqpResult<()> {
        Self::refuse_default_exchange(source, &destination)?;
        let _guard = self.topology.lock();
        let Ok((x, queue)) = self.binding_ends(source, &destination) else {
            return Ok(());
        };
        let now_empty = {
            let mut router = x.router.write();
            let binding = Binding {
                destination,
                routing_key: routing_key.clone(),
                arguments: arguments.clone(),
            };
            let removed = router.unbind(&binding);
            if removed && let Some(Err(locked)) = queue.map(|q| q.check_access(connection_id)) {
                // It was there but is not ours to remove: put it back (both locks are held,
                // so nothing saw it gone).
                router.bind(binding);
                return Err(locked);
            }
            if removed {
                self.forget_binding(&x, &binding);
            }
            removed && router.is_empty()
        };
        if now_empty && x.auto_delete {
            self.remove_exchange_locked(&x.name);
        }
        Ok(())
    }

    /// queue.declare.
    pub fn declare_queue(self: &Arc<Self>, req: QueueDeclareRequest) -> AmqpResult<QueueDeclared> {
        let _guard = self.topology.lock();
        self.churn.declared.fetch_add(1, Ordering::Relaxed);
        if let Some(q) = self.queue(&req.name) {
            q.check_access(req.connection_id)?;
            if !req.passive {
                self.check_queue_equivalence(&q, &req)?;
            }
            q.touch();
            let (message_count, consumer_count) = q.counts();
            return Ok(QueueDeclared {
                queue: q,
                message_count,
                consumer_count,
            });
        }
        if req.passive {
            return Err(AmqpError::not_found(
                "queue",
                &req.name.to_string_lossy(),
                &self.name,
            ));
        }
        let queue_name = req.name.to_string_lossy();
        let args = QueueArgs::parse(&req.arguments, &queue_name, &self.name)
            .map_err(AmqpError::precondition)?;
        args.queue_type
            .check_flags(
                req.durable,
                req.exclusive,
                req.auto_delete,
                &queue_name,
                &self.name,
            )
            .map_err(AmqpError::precondition)?;
        if req.max_queues.is_some() {
            let existing = self
                .queues
                .iter()
                .filter(|e| !is_reply_address(e.key()))
                .count();
            if crate::access::limits::reached(req.max_queues, existing) {
                return Err(crate::access::AccessError::QueueLimit {
                    queue: queue_name.into_owned(),
                    vhost: self.name.to_string(),
                    limit: req.max_queues.unwrap_or_default(),
                }
                .to_amqp());
            }
        }
        let decl = QueueDeclaration {
            name: req.name.clone(),
            durable: req.durable,
            exclusive_owner: req.exclusive.then_some(req.connection_id),
            auto_delete: req.auto_delete,
            arguments: req.arguments,
        };
        let store_id = if req.durable {
            Some(self.store.allocate_queue_id().map_err(|e| {
                AmqpError::new(
                    ReplyCode::InternalError,
                    format!("cannot store the queue: {e}"),
                )
            })?)
        } else {
            None
        };
        let policies = self.queue_policies(&req.name, &args);
        let q = Queue::new(decl, args, policies, self, store_id);
        self.persist_queue(&q);
        self.queues.insert(req.name, Arc::clone(&q));
        self.churn.created.fetch_add(1, Ordering::Relaxed);
        Ok(QueueDeclared {
            queue: q,
            message_count: 0,
            consumer_count: 0,
        })
    }

    fn check_queue_equivalence(&self, q: &Queue, req: &QueueDeclareRequest) -> AmqpResult<()> {
        // As RabbitMQ: exclusivity first, and a mismatch is 405, not an inequivalent arg.
        if q.decl.exclusive_owner.is_some() != req.exclusive {
            return Err(q.locked());
        }
        let what = q.describe();
        // RabbitMQ does not compare `durable` for an exclusive queue (which never outlives
        // its connection anyway).
        if !req.exclusive && q.decl.durable != req.durable {
            return Err(inequivalent(
                "durable",
                &what,
                bool_text(req.durable),
                bool_text(q.decl.durable),
            ));
        }
        if q.decl.auto_delete != req.auto_delete {
            return Err(inequivalent(
                "auto_delete",
                &what,
                bool_text(req.auto_delete),
                bool_text(q.decl.auto_delete),
            ));
        }
        for &arg in crate::broker::queue::quorum::equivalence_args(q.args.queue_type) {
            let current = q.decl.arguments.get(arg);
            let received = req.arguments.get(arg);
            if let Some(difference) = equivalence::mismatch(current, received) {
                return Err(AmqpError::precondition(format!(
                    "inequivalent arg '{arg}' for {what}: {difference}"
                )));
            }
        }
        Ok(())
    }

    /// queue.delete: returns the number of messages it held. A missing queue gives 0.
    pub fn delete_queue(
        &self,
        name: &ShortStr,
        if_unused: bool,
        if_empty: bool,
        connection_id: u64,
    ) -> AmqpResult<u32> {
        let _guard = self.topology.lock();
        // A direct reply-to address is no queue to delete (its consumer stays), as in RabbitMQ.
        let Some(q) = self.queue(name).filter(|_| !super::is_reply_address(name)) else {
            return Ok(0);
        };
        q.check_access(connection_id)?;
        let (messages, consumers) = q.counts();
        if if_unused && consumers > 0 {
            return Err(AmqpError::precondition(format!("{} in use", q.describe())));
        }
        if if_empty && messages > 0 {
            return Err(AmqpError::precondition(format!(
                "{} not empty",
                q.describe()
            )));
        }
        Ok(self.remove_queue_locked(&q))
    }

    /// Removes every queue (with its stored messages), exchange and binding: the vhost is
    /// being deleted.
    pub fn remove_everything(&self) {
        let _guard = self.topology.lock();
        let queues: Vec<Arc<Queue>> = self.queues.iter().map(|e| Arc::clone(e.value())).collect();
        for q in &queues {
            self.remove_queue_locked(q);
        }
        let names: Vec<ShortStr> = self.exchanges.iter().map(|e| e.key().clone()).collect();
        for name in names {
            self.remove_exchange_locked(&name);
        }
    }

    /// Deletes a queue (auto-delete, exclusive owner gone, or queue.delete): unbinds it,
    /// tells its consumers, drops its messages.
    pub fn remove_queue(&self, q: &Arc<Queue>) -> u32 {
        let _guard = self.topology.lock();
        self.remove_queue_locked(q)
    }

    fn remove_queue_locked(&self, q: &Arc<Queue>) -> u32 {
        if let Some(entry) = self.queues.get(q.name())
            && !Arc::ptr_eq(entry.value(), q)
        {
            return 0;
        }
        self.remove_destination_locked(&Destination::Queue(q.name().clone()));
        if self.queues.remove(q.name()).is_some() {
            self.churn.deleted.fetch_add(1, Ordering::Relaxed);
        }
        self.forget_queue(q);
        let (count, consumers) = q.delete();
        notify_cancelled(consumers);
        count
    }
}

/// Sends basic.cancel to consumers whose queue went away.
fn notify_cancelled(consumers: Vec<Consumer>) {
    for c in consumers {
        let _ = c.inbox.send(ConnectionEvent::ConsumerCancelled {
            channel: c.channel,
            consumer_tag: c.tag.clone(),
        });
    }
}
