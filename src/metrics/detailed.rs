//! `/metrics/detailed`: per-object families chosen by `family` (RabbitMQ's family names,
//! `queue_coarse_metrics`, `queue_consumer_count`, `queue_metrics`, …) and `vhost`
//! parameters, as rabbitmq_prometheus 3.10 serves them.

use super::counters::queue as q;
use super::exposition::{Kind, Scrape};
use super::families::{identity, queues_of};
use super::per_object::{STORAGE_GAUGES, per_queue};
use super::queue_series::labelled;
use crate::broker::Broker;
use crate::broker::vhost::VHost;
use std::sync::Arc;

use Kind::{Counter, Gauge};

/// `/metrics/detailed?family=...&vhost=...`: only the named families, only the named
/// vhosts (all when none is named). Unknown families are ignored, as in RabbitMQ.
pub fn detailed(broker: &Broker, families: &[String], vhosts: &[String], scrape: &mut Scrape) {
    identity(scrape);
    let selected: Vec<Arc<VHost>> = broker
        .vhosts()
        .into_iter()
        .filter(|v| vhosts.is_empty() || vhosts.iter().any(|n| *n == *v.name))
        .collect();
    let queues = labelled(queues_of(&selected));
    let has = |f: &str| families.iter().any(|n| n == f);
    if has("queue_coarse_metrics") {
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_ready",
            "Messages ready to be delivered to consumers",
            Gauge,
            |q| q.stats.gauges.get(q::READY),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_unacked",
            "Messages delivered to consumers but not yet acknowledged",
            Gauge,
            |q| q.stats.gauges.get(q::UNACKED),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages",
            "Sum of ready and unacknowledged messages - total queue depth",
            Gauge,
            |q| q.stats.gauges.get(q::MESSAGES),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_process_reductions",
            "Total number of queue process reductions",
            Counter,
            |_| 0,
        );
    }
    if has("queue_consumer_count") {
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_consumers",
            "Consumers on a queue",
            Gauge,
            |q| q.stats.gauges.get(q::CONSUMERS),
        );
    }
    if has("queue_metrics") {
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_consumer_capacity",
            "Consumer capacity",
            Gauge,
            |q| u64::from(q.stats.gauges.get(q::CONSUMERS) > 0),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_consumer_utilisation",
            "Same as consumer capacity",
            Gauge,
            |q| u64::from(q.stats.gauges.get(q::CONSUMERS) > 0),
        );
        for (_, name, help, value) in STORAGE_GAUGES {
            per_queue(scrape, &queues, name, help, Gauge, value);
        }
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_ready_ram",
            "Ready messages stored in memory",
            Gauge,
            |q| q.stats.gauges.get(q::READY),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_unacked_ram",
            "Unacknowledged messages stored in memory",
            Gauge,
            |q| q.stats.gauges.get(q::UNACKED),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_bytes",
            "Size in bytes of ready and unacknowledged messages",
            Gauge,
            |q| q.stats.gauges.get(q::READY_BYTES) + q.stats.gauges.get(q::UNACKED_BYTES),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_ready_bytes",
            "Size in bytes of ready messages",
            Gauge,
            |q| q.stats.gauges.get(q::READY_BYTES),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_unacked_bytes",
            "Size in bytes of all unacknowledged messages",
            Gauge,
            |q| q.stats.gauges.get(q::UNACKED_BYTES),
        );
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_messages_published",
            "Total number of messages published to queues",
            Counter,
            |q| q.stats.counters.get(q::PUBLISH),
        );
    }
}
