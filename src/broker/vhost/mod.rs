//! `VHost`: one virtual host's exchanges and queues (sharded maps, read-mostly) and message
//! routing through them. Topology changes (declare, delete, bind) live in `topology.rs` and
//! are serialised by a per-vhost lock; publishing takes no vhost-wide lock.

mod dead_letter;
mod equivalence;
mod persist;
mod policies;
mod topology;

pub use dead_letter::DeadLetterOutcome;
pub(crate) use persist::store_publish;
pub use topology::{QueueDeclareRequest, QueueDeclared};

use crate::broker::alarms::Alarms;
use crate::broker::dead_letter_totals::DeadLetterTotals;
use crate::broker::exchange::{Destination, Exchange, ExchangeKind};
use crate::broker::queue::Queue;
use crate::error::{AmqpError, AmqpResult};
use crate::protocol::{BasicProperties, FieldTable, ShortStr};
use crate::store::Store;
use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::sync::Arc;

/// The exchanges every vhost starts with, besides the default one: (name, type, internal).
/// `amq.rabbitmq.trace` is RabbitMQ's firehose exchange; it stays empty (no tracing).
const PREDECLARED: [(&str, ExchangeKind, bool); 6] = [
    ("amq.direct", ExchangeKind::Direct, false),
    ("amq.fanout", ExchangeKind::Fanout, false),
    ("amq.topic", ExchangeKind::Topic, false),
    ("amq.headers", ExchangeKind::Headers, false),
    ("amq.match", ExchangeKind::Headers, false),
    ("amq.rabbitmq.trace", ExchangeKind::Topic, true),
];

/// Prefix of the addresses direct reply-to hands out (`amq.rabbitmq.reply-to.<suffix>`).
pub const REPLY_ADDRESS_PREFIX: &str = "amq.rabbitmq.reply-to.";

/// Whether `name` is a direct reply-to address (the hidden queue behind a reply consumer).
pub fn is_reply_address(name: &ShortStr) -> bool {
    name.starts_with(REPLY_ADDRESS_PREFIX)
}

/// A virtual host.
#[derive(Debug)]
pub struct VHost {
    /// Its name.
    pub name: Arc<str>,
    exchanges: DashMap<ShortStr, Arc<Exchange>>,
    queues: DashMap<ShortStr, Arc<Queue>>,
    topology: Mutex<()>,
    /// Where durable definitions and persistent messages go.
    pub store: Store,
    /// Resource alarms (a failed store write raises the disk alarm).
    pub alarms: Arc<Alarms>,
    /// The node's dead-letter totals (its queues count what they dead-letter there).
    pub dead_letters: Arc<DeadLetterTotals>,
    /// Policies and operator policies (changed under the topology lock).
    policies: parking_lot::RwLock<crate::policy::Policies>,
    /// Queues declared, created and deleted in this vhost.
    pub churn: QueueChurn,
    /// Its totals at each recent sample ([`crate::metrics::sampler::vhost`] indices).
    pub history: crate::metrics::history::History<{ crate::metrics::sampler::vhost::COUNT }>,
}

/// Lifetime counts of queue declarations, creations and deletions (RabbitMQ's churn
/// rates and `rabbitmq_queues_{declared,created,deleted}_total`).
#[derive(Debug, Default)]
pub struct QueueChurn {
    /// queue.declare calls (and API declares).
    pub declared: std::sync::atomic::AtomicU64,
    /// Queues created.
    pub created: std::sync::atomic::AtomicU64,
    /// Queues deleted.
    pub deleted: std::sync::atomic::AtomicU64,
}

/// Reusable buffers for routing, kept by each channel so publishing does not allocate.
#[derive(Debug, Default)]
pub struct RouteScratch {
    destinations: Vec<Destination>,
    pending: Vec<Arc<Exchange>>,
    seen: Vec<ShortStr>,
    /// The queues the last `route` call matched, deduplicated.
    pub queues: Vec<Arc<Queue>>,
    /// The exchange the last `route` call started at (None for the default exchange), for
    /// its publish_in / publish_out counters.
    pub first: Option<Arc<Exchange>>,
}

impl VHost {
    /// A vhost with the predeclared `amq.*` exchanges, counting what its queues dead-letter
    /// in `dead_letters`.
    pub fn new(
        name: &str,
        store: Store,
        alarms: Arc<Alarms>,
        dead_letters: Arc<DeadLetterTotals>,
    ) -> VHost {
        let exchanges = DashMap::new();
        for (xname, kind, internal) in PREDECLARED {
            let name = ShortStr::from_static(xname);
            let x = Exchange::new(name.clone(), kind, true, false, internal, FieldTable::new());
            exchanges.insert(name, Arc::new(x));
        }
        VHost {
            name: Arc::from(name),
            exchanges,
            queues: DashMap::new(),
            topology: Mutex::new(()),
            store,
            alarms,
            dead_letters,
            policies: parking_lot::RwLock::default(),
            churn: QueueChurn::default(),
            history: Default::default(),
        }
    }

    /// The queue called `name`.
    pub fn queue(&self, name: &ShortStr) -> Option<Arc<Queue>> {
        self.queues.get(name).map(|q| Arc::clone(q.value()))
    }

    /// The queue called `name`, or 404 worded as RabbitMQ does. A direct reply-to address
    /// is not a queue to clients (only publishing to it and declaring it work), so it is 404
    /// too.
    pub fn queue_or_404(&self, name: &ShortStr) -> AmqpResult<Arc<Queue>> {
        self.queue(name)
            .filter(|_| !is_reply_address(name))
            .ok_or_else(|| AmqpError::not_found("queue", &name.to_string_lossy(), &self.name))
    }

    /// The exchange called `name` (not the default exchange).
    pub fn exchange(&self, name: &ShortStr) -> Option<Arc<Exchange>> {
        self.exchanges.get(name).map(|x| Arc::clone(x.value()))
    }

    /// The exchange called `name`, or 404.
    pub fn exchange_or_404(&self, name: &ShortStr) -> AmqpResult<Arc<Exchange>> {
        self.exchange(name)
            .ok_or_else(|| AmqpError::not_found("exchange", &name.to_string_lossy(), &self.name))
    }

    /// Adds a recovered durable exchange (start-up only).
    pub fn restore_exchange(&self, exchange: Exchange) {
        self.apply_exchange_policies(&exchange);
        self.exchanges
            .insert(exchange.name.clone(), Arc::new(exchange));
    }

    /// Adds a recovered durable queue (start-up only).
    pub fn restore_queue(&self, queue: Arc<Queue>) {
        self.queues.insert(queue.name().clone(), queue);
    }

    /// Adds a recovered binding (start-up only); skipped when its source is gone.
    pub fn restore_binding(&self, source: &ShortStr, binding: crate::broker::exchange::Binding) {
        if let Some(x) = self.exchange(source) {
            x.router.write().bind(binding);
        }
    }

    /// Every queue (for connection cleanup of exclusive queues).
    pub fn queues(&self) -> Vec<Arc<Queue>> {
        self.queues.iter().map(|e| Arc::clone(e.value())).collect()
    }

    /// Every exchange (the default one is not stored; see [`VHost::exchange`]).
    pub fn exchanges(&self) -> Vec<Arc<Exchange>> {
        self.exchanges
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect()
    }

    /// How many queues the vhost has.
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// How many exchanges the vhost has (the default exchange included).
    pub fn exchange_count(&self) -> usize {
        self.exchanges.len() + 1
    }

    /// Routes a message published to `exchange` with `routing_key`, leaving the matched
    /// queues in `scratch.queues`. Follows exchange-to-exchange bindings (each exchange
    /// visited once) and alternate exchanges, as RabbitMQ does. Errors: 404 for a missing
    /// exchange, 403 for an internal one.
    pub fn route(
        &self,
        exchange: &ShortStr,
        routing_key: &ShortStr,
        raw_properties: &Bytes,
        scratch: &mut RouteScratch,
    ) -> AmqpResult<()> {
        scratch.queues.clear();
        scratch.first = None;
        self.route_more(exchange, routing_key, raw_properties, scratch, true)
    }

    /// Like [`VHost::route`], but adds to the queues already in `scratch.queues` (routing
    /// one message with several keys, e.g. CC); `check_internal` false lets the broker
    /// itself publish to internal exchanges (dead-lettering).
    pub fn route_more(
        &self,
        exchange: &ShortStr,
        routing_key: &ShortStr,
        raw_properties: &Bytes,
        scratch: &mut RouteScratch,
        check_internal: bool,
    ) -> AmqpResult<()> {
        if exchange.is_empty() {
            if let Some(q) = self.queue(routing_key)
                && !scratch.queues.iter().any(|e| Arc::ptr_eq(e, &q))
            {
                scratch.queues.push(q);
            }
            return Ok(());
        }
        let first = self.exchange_or_404(exchange)?;
        if check_internal && first.internal {
            return Err(AmqpError::access_refused(format!(
                "cannot publish to internal exchange '{}' in vhost '{}'",
                exchange, self.name
            )));
        }
        if scratch.first.is_none() {
            scratch.first = Some(Arc::clone(&first));
        }
        scratch.pending.clear();
        scratch.seen.clear();
        scratch.seen.push(first.name.clone());
        scratch.pending.push(first);
        let mut headers: Option<Option<FieldTable>> = None;
        while let Some(x) = scratch.pending.pop() {
            scratch.destinations.clear();
            {
                let hdrs = if x.kind == ExchangeKind::Headers {
                    headers
                        .get_or_insert_with(|| {
                            BasicProperties::decode(raw_properties)
                                .ok()
                                .and_then(|p| p.headers)
                        })
                        .as_ref()
                } else {
                    None
                };
                x.router
                    .read()
                    .route(routing_key.as_bytes(), hdrs, &mut scratch.destinations);
            }
            if scratch.destinations.is_empty()
                && let Some(ae) = x.alternate()
            {
                scratch.destinations.push(Destination::Exchange(ae));
            }
            for dest in scratch.destinations.drain(..) {
                match dest {
                    Destination::Queue(name) => {
                        if let Some(q) = self.queues.get(&name)
                            && !scratch.queues.iter().any(|e| Arc::ptr_eq(e, q.value()))
                        {
                            scratch.queues.push(Arc::clone(q.value()));
                        }
                    }
                    Destination::Exchange(name) => {
                        if !scratch.seen.contains(&name)
                            && let Some(next) = self.exchange(&name)
                        {
                            scratch.seen.push(name);
                            scratch.pending.push(next);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
