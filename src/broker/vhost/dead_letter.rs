//! Dead-lettering: a message leaving a queue (rejected, expired, dropped by a length limit)
//! is republished, with RabbitMQ's x-death headers, to the queue's dead-letter exchange.
//! Cycles are broken as RabbitMQ breaks them (a fully automatic cycle drops the message).

use super::{RouteScratch, VHost};
use crate::broker::message::Message;
use crate::broker::queue::dead_letter::{
    DeathContext, DeathReason, cc_bcc, dead_letter_properties, dead_letter_routing_keys, is_cycle,
};
use crate::broker::queue::{PublishOutcome, Queue};
use crate::protocol::{BasicProperties, ShortStr};
use bytes::Bytes;
use std::sync::Arc;

/// The keys a message was routed with: its routing key, then its CC header's keys.
pub(crate) fn original_routing_keys(message: &Message) -> Vec<Bytes> {
    let mut keys = vec![message.routing_key.as_raw().clone()];
    if let Ok(props) = BasicProperties::decode(&message.raw_properties)
        && let Some(headers) = props.headers
    {
        keys.extend(cc_bcc(&headers).map(|(cc, _)| cc).unwrap_or_default());
    }
    keys
}

/// What became of a message sent to its queue's dead-letter exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterOutcome {
    /// The dead-letter exchange does not exist: the message was dropped.
    NoExchange,
    /// Published to the exchange, but routed to no queue (or only into a cycle), or a
    /// queue refused it (full, with reject-publish).
    Unconfirmed,
    /// Every queue the copy was routed to (at least one) took it.
    Confirmed,
}

impl DeadLetterOutcome {
    /// Whether the dead-letter exchange existed.
    pub fn exchange_found(self) -> bool {
        self != DeadLetterOutcome::NoExchange
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl VHost {
    /// Publishes a copy of `message`, which left `from` for `reason`, to exchange `dlx`
    /// with routing key `dlrk` (the message's own keys when `None`).
    /// A missing dead-letter exchange drops it, as in RabbitMQ. Says whether the exchange
    /// existed and whether the queues it routed to took the copy.
    pub fn dead_letter(
        &self,
        message: &Message,
        from: &Queue,
        dlx: &ShortStr,
        dlrk: Option<&ShortStr>,
        reason: DeathReason,
    ) -> DeadLetterOutcome {
        let original = original_routing_keys(message);
        let queue_name = from.name().to_string_lossy();
        let ctx = DeathContext {
            dead_letter_routing_key: dlrk,
            queue: &queue_name,
            reason,
            exchange: message.exchange.as_bytes(),
            routing_keys: original.clone(),
            now_secs: now_secs(),
        };
        let Ok(props) = dead_letter_properties(&message.raw_properties, &ctx) else {
            tracing::warn!(queue = %queue_name, "cannot dead-letter a message with bad properties");
            return if dlx.is_empty() || self.exchange(dlx).is_some() {
                DeadLetterOutcome::Unconfirmed
            } else {
                DeadLetterOutcome::NoExchange
            };
        };
        // x-death lists the routing key and CC keys; routing also uses the BCC keys.
        let mut all_keys = original;
        all_keys.extend(message.bcc.iter().cloned());
        let keys = dead_letter_routing_keys(dlrk, &all_keys);
        let mut scratch = RouteScratch::default();
        let mut first_key = None;
        for key in keys {
            let Some(key) = ShortStr::from_bytes(key) else {
                continue;
            };
            if self
                .route_more(dlx, &key, &props, &mut scratch, false)
                .is_err()
            {
                // The only error without the internal check: no such exchange.
                return DeadLetterOutcome::NoExchange;
            }
            first_key.get_or_insert(key);
        }
        let copy = Arc::new(Message {
            id: Message::next_id(),
            exchange: dlx.clone(),
            routing_key: first_key.unwrap_or_default(),
            raw_properties: props,
            body: message.body.clone(),
            body_size: message.body_size,
            persistent: message.persistent,
            priority: message.priority,
            expiration: None,
            published_at_ms: crate::broker::message::unix_millis_now(),
            bcc: if dlrk.is_some() {
                Vec::new()
            } else {
                message.bcc.clone()
            },
            store_gate: Default::default(),
        });
        let mut entries = Vec::new();
        let (mut taken, mut refused) = (0usize, false);
        for target in scratch.queues.drain(..) {
            let name = target.name().to_string_lossy();
            if is_cycle(&copy.raw_properties, &name, reason) {
                tracing::debug!(queue = %name, "dead-letter cycle, message dropped");
                continue;
            }
            match target.publish(Arc::clone(&copy)) {
                PublishOutcome::Accepted(entry) => {
                    taken += 1;
                    if let Some(entry) = entry {
                        entries.push((Arc::clone(&target), entry));
                    }
                }
                PublishOutcome::Rejected => refused = true,
            }
        }
        super::persist::store_publish(&self.alarms, &self.store, &copy, entries, None);
        if taken > 0 && !refused {
            DeadLetterOutcome::Confirmed
        } else {
            DeadLetterOutcome::Unconfirmed
        }
    }
}
