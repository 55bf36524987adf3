//! `/metrics/per-object`: one series per queue, exchange, connection and channel, labelled
//! as rabbitmq_prometheus 3.10 labels them.

use super::counters::{channel as c, connection as sock, exchange as x, queue as q};
use super::exposition::{Family, Kind, Scrape, labels};
use super::families::{identity, node, queues_of};
use super::queue_series::{LabelledQueue, QueueFamily, labelled};
use crate::broker::Broker;
use crate::broker::connections::ConnectionEntry;
use crate::broker::queue::Queue;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use Kind::{Counter, Gauge};

/// Adds one family with a value per queue.
pub(super) fn per_queue(
    scrape: &mut Scrape,
    queues: &Arc<[LabelledQueue]>,
    name: &'static str,
    help: &'static str,
    kind: Kind,
    value: fn(&Queue) -> u64,
) {
    scrape.add_queues(QueueFamily::new(
        name,
        help,
        kind,
        Arc::clone(queues),
        value,
    ));
}

/// `/metrics/per-object`: the same families with one series per object.
pub fn per_object(broker: &Broker, scrape: &mut Scrape) {
    identity(scrape);
    let vhosts = broker.vhosts();
    let queues = labelled(queues_of(&vhosts));
    per_queue(
        scrape,
        &queues,
        "rabbitmq_queue_messages_ready",
        "Messages ready to be delivered to consumers",
        Gauge,
        |q| q.stats.gauges.get(q::READY),
    );
    per_queue(
        scrape,
        &queues,
        "rabbitmq_queue_messages_unacked",
        "Messages delivered to consumers but not yet acknowledged",
        Gauge,
        |q| q.stats.gauges.get(q::UNACKED),
    );
    per_queue(
        scrape,
        &queues,
        "rabbitmq_queue_messages",
        "Sum of ready and unacknowledged messages - total queue depth",
        Gauge,
        |q| q.stats.gauges.get(q::MESSAGES),
    );
    per_queue(
        scrape,
        &queues,
        "rabbitmq_queue_messages_bytes",
        "Size in bytes of ready and unacknowledged messages",
        Gauge,
        |q| q.stats.gauges.get(q::READY_BYTES) + q.stats.gauges.get(q::UNACKED_BYTES),
    );
    per_queue(
        scrape,
        &queues,
        "rabbitmq_queue_consumers",
        "Consumers on a queue",
        Gauge,
        |q| q.stats.gauges.get(q::CONSUMERS),
    );
    per_queue(
        scrape,
        &queues,
        "rabbitmq_queue_messages_published",
        "Total number of messages published to queues",
        Counter,
        |q| q.stats.counters.get(q::PUBLISH),
    );
    let mut published_in = Family::new(
        "rabbitmq_exchange_messages_published_in",
        "Total number of messages published into an exchange",
        Counter,
    );
    let mut published_out = Family::new(
        "rabbitmq_exchange_messages_published_out",
        "Total number of messages an exchange routed to at least one queue",
        Counter,
    );
    for v in &vhosts {
        for ex in v.exchanges() {
            let l = vec![
                ("vhost".to_string(), v.name.to_string()),
                (
                    "exchange".to_string(),
                    ex.name.to_string_lossy().into_owned(),
                ),
            ];
            published_in.push_u64(l.clone(), ex.stats.counters.get(x::PUBLISH_IN));
            published_out.push_u64(l, ex.stats.counters.get(x::PUBLISH_OUT));
        }
    }
    scrape.add(published_in);
    scrape.add(published_out);
    for (name, _, help, value) in STORAGE_GAUGES {
        per_queue(scrape, &queues, name, help, Gauge, value);
    }
    let conns = broker.connections.list();
    per_connection(scrape, &conns);
    per_connection_io(scrape, &conns);
    node(broker, scrape);
}

/// Per-connection and per-channel series, labelled as RabbitMQ labels them (by
/// `connection` and `channel`; Warren's channel label is the channel's API name).
fn per_connection(scrape: &mut Scrape, conns: &[Arc<ConnectionEntry>]) {
    let mut channels = Family::new(
        "rabbitmq_connection_channels",
        "Channels on a connection",
        Gauge,
    );
    let mut consumers = Family::new(
        "rabbitmq_channel_consumers",
        "Consumers on a channel",
        Gauge,
    );
    let mut unacked = Family::new(
        "rabbitmq_channel_messages_unacked",
        "Delivered but not yet acknowledged messages",
        Gauge,
    );
    let mut published = Family::new(
        "rabbitmq_channel_messages_published",
        "Total number of messages published into an exchange on a channel",
        Counter,
    );
    let mut delivered_ack = Family::new(
        "rabbitmq_channel_messages_delivered_ack",
        "Total number of messages delivered to consumers in manual acknowledgement mode",
        Counter,
    );
    let mut acked = Family::new(
        "rabbitmq_channel_messages_acked",
        "Total number of messages acknowledged by consumers",
        Counter,
    );
    for conn in conns {
        channels.push_u64(
            labels(&[("connection", &conn.name)]),
            conn.channel_count() as u64,
        );
        for ch in conn.channels() {
            let l = vec![(
                "channel".to_string(),
                format!("{} ({})", conn.name, ch.number),
            )];
            consumers.push_u64(l.clone(), u64::from(ch.consumer_count.load(Relaxed)));
            unacked.push_u64(l.clone(), ch.messages_unacknowledged.load(Relaxed));
            published.push_u64(l.clone(), ch.counters.get(c::PUBLISH));
            delivered_ack.push_u64(l.clone(), ch.counters.get(c::DELIVER));
            acked.push_u64(l, ch.counters.get(c::ACK));
        }
    }
    for f in [
        channels,
        consumers,
        unacked,
        published,
        delivered_ack,
        acked,
    ] {
        scrape.add(f);
    }
}

/// A queue's storage gauges beyond the counts: (name, its `/metrics/detailed` name, help,
/// value).
type StorageGauge = (&'static str, &'static str, &'static str, fn(&Queue) -> u64);

/// The storage gauges RabbitMQ reports per queue (`queue_metrics`): messages and bytes in
/// memory, persistent, and paged out to disk.
pub(super) const STORAGE_GAUGES: [StorageGauge; 6] = [
    (
        "rabbitmq_queue_messages_ram",
        "rabbitmq_detailed_queue_messages_ram",
        "Ready and unacknowledged messages stored in memory",
        |q| {
            let g = &q.stats.gauges;
            g.get(q::MESSAGES).saturating_sub(g.get(q::PAGED_OUT))
        },
    ),
    (
        "rabbitmq_queue_messages_ram_bytes",
        "rabbitmq_detailed_queue_messages_ram_bytes",
        "Size of ready and unacknowledged messages stored in memory",
        |q| {
            let g = &q.stats.gauges;
            (g.get(q::READY_BYTES) + g.get(q::UNACKED_BYTES))
                .saturating_sub(g.get(q::PAGED_OUT_BYTES))
        },
    ),
    (
        "rabbitmq_queue_messages_persistent",
        "rabbitmq_detailed_queue_messages_persistent",
        "Persistent messages",
        |q| q.stats.gauges.get(q::PERSISTENT),
    ),
    (
        "rabbitmq_queue_messages_persistent_bytes",
        "rabbitmq_detailed_queue_messages_persistent_bytes",
        "Size in bytes of persistent messages",
        |q| q.stats.gauges.get(q::PERSISTENT_BYTES),
    ),
    (
        "rabbitmq_queue_messages_paged_out",
        "rabbitmq_detailed_queue_messages_paged_out",
        "Messages paged out to disk",
        |q| q.stats.gauges.get(q::PAGED_OUT),
    ),
    (
        "rabbitmq_queue_messages_paged_out_bytes",
        "rabbitmq_detailed_queue_messages_paged_out_bytes",
        "Size in bytes of messages paged out to disk",
        |q| q.stats.gauges.get(q::PAGED_OUT_BYTES),
    ),
];

/// A connection's socket counters: (name without `_total`, help, counter index).
pub(super) const CONNECTION_IO: [(&str, &str, usize); 4] = [
    (
        "rabbitmq_connection_incoming_bytes",
        "Total number of bytes received on a connection",
        sock::RECV_OCT,
    ),
    (
        "rabbitmq_connection_outgoing_bytes",
        "Total number of bytes sent on a connection",
        sock::SEND_OCT,
    ),
    (
        "rabbitmq_connection_incoming_packets",
        "Total number of packets received on a connection",
        sock::RECV_CNT,
    ),
    (
        "rabbitmq_connection_outgoing_packets",
        "Total number of packets sent on a connection",
        sock::SEND_CNT,
    ),
];

/// The socket counters of every connection, one series each (`connection` label).
fn per_connection_io(scrape: &mut Scrape, conns: &[Arc<ConnectionEntry>]) {
    for (name, help, i) in CONNECTION_IO {
        let mut f = Family::new(name, help, Counter);
        for conn in conns {
            f.push_u64(
                labels(&[("connection", &conn.name)]),
                conn.details.io.get(i),
            );
        }
        scrape.add(f);
    }
}
