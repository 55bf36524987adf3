//! Start-up recovery: rebuilds durable exchanges, queues (with their persistent messages,
//! in order, delivered-but-unacked ones marked redelivered) and bindings from the store, and
//! drops stored entries of queues that did not survive (non-durable or deleted ones).

use super::Broker;
use super::definitions::{BindingDef, ExchangeDef, QueueDef};
use super::exchange::{Binding, Exchange, ExchangeKind};
use super::message::{Message, QueuedMessage};
use super::queue::args::QueueArgs;
use super::queue::expiration::parse_expiration;
use super::queue::{Queue, QueueDeclaration};
use crate::policy::PolicyKind;
use crate::policy::store as policy_store;
use crate::protocol::{ShortStr, summarize_properties};
use crate::store::{DefinitionKind, QueueEntry, QueueId, StoreError};
use std::collections::HashSet;
use std::sync::Arc;

/// Messages of a recovered queue loaded into memory at start-up; the rest is paged.
const RESTORE_BATCH: usize = 1024;

/// Restores everything the store holds into `broker`'s vhosts.
pub(super) fn recover(broker: &Broker) -> Result<(), StoreError> {
    let store = &broker.store;
    // Policies first, so recovered queues and exchanges start with their effective limits.
    for kind in [PolicyKind::Policy, PolicyKind::Operator] {
        for (_, value) in store.definitions(policy_store::definition_kind(kind))? {
            let Some(policy) = policy_store::decode(kind, &value) else {
                tracing::warn!("skipping an unreadable policy");
                continue;
            };
            if let Some(vhost) = broker.vhost(&policy.vhost) {
                vhost.restore_policy(policy);
            }
        }
    }
    for (_, value) in store.definitions(DefinitionKind::Exchange)? {
        let Some(def) = ExchangeDef::decode(&value) else {
            tracing::warn!("skipping an unreadable exchange definition");
            continue;
        };
        let (Some(vhost), Some(kind)) = (
            broker.vhost(&def.vhost.to_string_lossy()),
            ExchangeKind::parse(def.kind.as_bytes()),
        ) else {
            continue;
        };
        let x = Exchange::new(
            def.name,
            kind,
            true,
            def.auto_delete,
            def.internal,
            def.arguments,
        );
        vhost.restore_exchange(x);
    }
    let mut recovered: HashSet<QueueId> = HashSet::new();
    let mut messages = 0u64;
    for (_, value) in store.definitions(DefinitionKind::Queue)? {
        let Some(def) = QueueDef::decode(&value) else {
            tracing::warn!("skipping an unreadable queue definition");
            continue;
        };
        let Some(vhost) = broker.vhost(&def.vhost.to_string_lossy()) else {
            continue;
        };
        let args = QueueArgs::parse(&def.arguments, &def.name.to_string_lossy(), &vhost.name)
            .unwrap_or_default();
        let decl = QueueDeclaration {
            name: def.name,
            durable: true,
            exclusive_owner: None,
            auto_delete: def.auto_delete,
            arguments: def.arguments,
        };
        let policies = vhost.queue_policies(&decl.name, &args);
        let queue = Queue::new(decl, args, policies, &vhost, Some(def.queue_id));
        messages += restore_messages(broker, &queue, def.queue_id)?;
        recovered.insert(def.queue_id);
        vhost.restore_queue(queue);
    }
    for (_, value) in store.definitions(DefinitionKind::Binding)? {
        let Some(def) = BindingDef::decode(&value) else {
            continue;
        };
        if let Some(vhost) = broker.vhost(&def.vhost.to_string_lossy()) {
            vhost.restore_binding(
                &def.source,
                Binding {
                    destination: def.destination,
                    routing_key: def.routing_key,
                    arguments: def.arguments,
                },
            );
        }
    }
    let orphans: Vec<QueueId> = store
        .queues_with_entries()?
        .into_iter()
        .filter(|id| !recovered.contains(id))
        .collect();
    if !orphans.is_empty() {
        store.drop_queues(&orphans)?;
    }
    Message::reserve_ids_through(store.max_msg_id());
    if !recovered.is_empty() {
        tracing::info!(
            queues = recovered.len(),
            messages,
            "recovered durable queues"
        );
    }
    Ok(())
}

/// Loads the head of a queue's stored messages into memory (the rest stays paged in the
/// store and is read back as the queue drains); returns how many the queue holds.
fn restore_messages(broker: &Broker, queue: &Arc<Queue>, id: QueueId) -> Result<u64, StoreError> {
    let stats = broker.store.queue_stats(id)?;
    let head = broker.store.read_queue(id, 0, RESTORE_BATCH)?;
    let loaded = head.len() as u64;
    let loaded_bytes: u64 = head.iter().map(|e| e.message.body.len() as u64).sum();
    let next_seq = head.last().map_or(0, |e| e.seq + 1);
    queue.restore(head.into_iter().map(queued_message), stats.max_seq);
    if stats.count > loaded {
        queue.restore_paged(
            stats.count - loaded,
            stats.bytes.saturating_sub(loaded_bytes),
            next_seq,
            stats.max_seq,
        );
    }
    Ok(stats.count)
}

/// A stored entry as a queued message.
pub(crate) fn queued_message(entry: QueueEntry) -> QueuedMessage {
    let m = entry.message;
    let summary = summarize_properties(&m.raw_properties).unwrap_or_default();
    let body_size = m.body.len() as u64;
    let message = Message {
        id: entry.msg_id,
        exchange: ShortStr::from_bytes(m.exchange).unwrap_or_default(),
        routing_key: ShortStr::from_bytes(m.routing_key).unwrap_or_default(),
        raw_properties: m.raw_properties,
        body: if m.body.is_empty() {
            Vec::new()
        } else {
            vec![m.body]
        },
        body_size,
        persistent: m.persistent,
        priority: summary.priority,
        // Validated when it was published; the queue turns it into a deadline again.
        expiration: summary
            .expiration
            .and_then(|e| parse_expiration(e.as_bytes()).ok()),
        // Format 1 kept no publish time: its TTLs count from the read-back.
        published_at_ms: m
            .published_at_ms
            .unwrap_or_else(crate::broker::message::unix_millis_now),
        bcc: Vec::new(),
        store_gate: crate::broker::store_gate::StoreGate::opened(),
    };
    QueuedMessage {
        seq: entry.seq,
        message: Arc::new(message),
        redelivered: entry.redelivered,
        // Quorum queues' returns, as recorded with the entry (0 for every other queue).
        delivery_count: entry.delivery_count,
        expires_at: None,
        stored: true,
    }
}
