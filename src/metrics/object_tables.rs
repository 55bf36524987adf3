//! The per-object metric families, one table per kind of object (queue, channel,
//! connection): each row names the family as `/metrics` and `/metrics/per-object` call it,
//! as `/metrics/detailed` calls it, the `family=` groups that select it there, and how its
//! value is read. `/metrics` sums a row over the objects, `/metrics/per-object` gives one
//! series per object, `/metrics/detailed` the selected rows per object; the rows and
//! groups are rabbitmq_prometheus 3.10's.

use super::counters::{channel as c, connection as sock, queue as q};
use super::exposition::Kind;
use crate::broker::connections::{ChannelInfo, ConnectionEntry};
use crate::broker::queue::Queue;
use std::sync::atomic::Ordering::Relaxed;

use Kind::{Counter, Gauge};

/// One family of a table: its names, help, kind, the `/metrics/detailed` groups that
/// select it, whether `/metrics` carries its sum, and how an object's value is read.
#[derive(Debug)]
pub(super) struct Row<V> {
    /// The name on `/metrics` and `/metrics/per-object` (without `_total`).
    pub(super) name: &'static str,
    /// The name on `/metrics/detailed`.
    pub(super) detailed: &'static str,
    /// The HELP text.
    pub(super) help: &'static str,
    /// Counter or gauge.
    pub(super) kind: Kind,
    /// The `family=` values of `/metrics/detailed` that select it.
    pub(super) groups: &'static [&'static str],
    /// Whether `/metrics` carries the sum over every object.
    pub(super) aggregated: bool,
    /// How one object's value is read.
    pub(super) value: V,
}

impl<V> Row<V> {
    /// A row that `/metrics` sums.
    pub(super) const fn new(
        name: &'static str,
        detailed: &'static str,
        help: &'static str,
        kind: Kind,
        groups: &'static [&'static str],
        value: V,
    ) -> Row<V> {
        Row {
            name,
            detailed,
            help,
            kind,
            groups,
            aggregated: true,
            value,
        }
    }

    /// True when one of `families` (a `/metrics/detailed` request's) selects this row.
    pub(super) fn selected_by(&self, families: &[String]) -> bool {
        self.groups.iter().any(|g| families.iter().any(|f| f == g))
    }
}

/// A queue family's row.
pub(super) type QueueRow = Row<fn(&Queue) -> u64>;

const COARSE: &[&str] = &["queue_coarse_metrics"];
const QUEUE_METRICS: &[&str] = &["queue_metrics"];

/// Ready messages still in memory (not paged out).
fn ready_ram(queue: &Queue) -> u64 {
    let g = &queue.stats.gauges;
    g.get(q::READY).saturating_sub(g.get(q::PAGED_OUT))
}

/// Bytes of ready and unacknowledged messages.
fn message_bytes(queue: &Queue) -> u64 {
    let g = &queue.stats.gauges;
    g.get(q::READY_BYTES) + g.get(q::UNACKED_BYTES)
}

/// Whether consumers can take the queue's messages as they come: 1 with a consumer, 0
/// without (Warren never holds a message back from a consumer with credit).
fn consumer_capacity(queue: &Queue) -> u64 {
    u64::from(queue.stats.gauges.get(q::CONSUMERS) > 0)
}

/// Every queue family, in rabbitmq_prometheus 3.10's order.
pub(super) const QUEUES: [QueueRow; 19] = [
    Row::new(
        "rabbitmq_queue_messages_ready",
        "rabbitmq_detailed_queue_messages_ready",
        "Messages ready to be delivered to consumers",
        Gauge,
        COARSE,
        |q| q.stats.gauges.get(q::READY),
    ),
    Row::new(
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_detailed_queue_messages_unacked",
        "Messages delivered to consumers but not yet acknowledged",
        Gauge,
        COARSE,
        |q| q.stats.gauges.get(q::UNACKED),
    ),
    Row::new(
        "rabbitmq_queue_messages",
        "rabbitmq_detailed_queue_messages",
        "Sum of ready and unacknowledged messages - total queue depth",
        Gauge,
        COARSE,
        |q| q.stats.gauges.get(q::MESSAGES),
    ),
    Row::new(
        "rabbitmq_queue_consumers",
        "rabbitmq_detailed_queue_consumers",
        "Consumers on a queue",
        Gauge,
        &["queue_consumer_count", "queue_metrics"],
        |q| q.stats.gauges.get(q::CONSUMERS),
    ),
    Row {
        aggregated: false,
        ..Row::new(
            "rabbitmq_queue_consumer_capacity",
            "rabbitmq_detailed_queue_consumer_capacity",
            "Consumer capacity",
            Gauge,
            QUEUE_METRICS,
            consumer_capacity,
        )
    },
    Row::new(
        "rabbitmq_queue_consumer_utilisation",
        "rabbitmq_detailed_queue_consumer_utilisation",
        "Same as consumer capacity",
        Gauge,
        QUEUE_METRICS,
        consumer_capacity,
    ),
    Row::new(
        "rabbitmq_queue_process_memory_bytes",
        "rabbitmq_detailed_queue_process_memory_bytes",
        "Memory in bytes used by the queue's messages",
        Gauge,
        QUEUE_METRICS,
        message_bytes,
    ),
    Row::new(
        "rabbitmq_queue_messages_ram",
        "rabbitmq_detailed_queue_messages_ram",
        "Ready and unacknowledged messages stored in memory",
        Gauge,
        QUEUE_METRICS,
        |q| {
            let g = &q.stats.gauges;
            g.get(q::MESSAGES).saturating_sub(g.get(q::PAGED_OUT))
        },
    ),
    Row::new(
        "rabbitmq_queue_messages_ram_bytes",
        "rabbitmq_detailed_queue_messages_ram_bytes",
        "Size of ready and unacknowledged messages stored in memory",
        Gauge,
        QUEUE_METRICS,
        |q| message_bytes(q).saturating_sub(q.stats.gauges.get(q::PAGED_OUT_BYTES)),
    ),
    Row::new(
        "rabbitmq_queue_messages_ready_ram",
        "rabbitmq_detailed_queue_messages_ready_ram",
        "Ready messages stored in memory",
        Gauge,
        QUEUE_METRICS,
        ready_ram,
    ),
    Row::new(
        "rabbitmq_queue_messages_unacked_ram",
        "rabbitmq_detailed_queue_messages_unacked_ram",
        "Unacknowledged messages stored in memory",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::UNACKED),
    ),
    Row::new(
        "rabbitmq_queue_messages_persistent",
        "rabbitmq_detailed_queue_messages_persistent",
        "Persistent messages",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::PERSISTENT),
    ),
    Row::new(
        "rabbitmq_queue_messages_persistent_bytes",
        "rabbitmq_detailed_queue_messages_persistent_bytes",
        "Size in bytes of persistent messages",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::PERSISTENT_BYTES),
    ),
    Row::new(
        "rabbitmq_queue_messages_bytes",
        "rabbitmq_detailed_queue_messages_bytes",
        "Size in bytes of ready and unacknowledged messages",
        Gauge,
        QUEUE_METRICS,
        message_bytes,
    ),
    Row::new(
        "rabbitmq_queue_messages_ready_bytes",
        "rabbitmq_detailed_queue_messages_ready_bytes",
        "Size in bytes of ready messages",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::READY_BYTES),
    ),
    Row::new(
        "rabbitmq_queue_messages_unacked_bytes",
        "rabbitmq_detailed_queue_messages_unacked_bytes",
        "Size in bytes of all unacknowledged messages",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::UNACKED_BYTES),
    ),
    Row::new(
        "rabbitmq_queue_messages_paged_out",
        "rabbitmq_detailed_queue_messages_paged_out",
        "Messages paged out to disk",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::PAGED_OUT),
    ),
    Row::new(
        "rabbitmq_queue_messages_paged_out_bytes",
        "rabbitmq_detailed_queue_messages_paged_out_bytes",
        "Size in bytes of messages paged out to disk",
        Gauge,
        QUEUE_METRICS,
        |q| q.stats.gauges.get(q::PAGED_OUT_BYTES),
    ),
    Row::new(
        "rabbitmq_queue_messages_published",
        "rabbitmq_detailed_queue_messages_published",
        "Total number of messages published to queues",
        Counter,
        &["channel_queue_exchange_metrics"],
        |q| q.stats.counters.get(q::PUBLISH),
    ),
];

/// How a channel family's value is read: one of the channel's counters (whose `/metrics`
/// sum includes closed channels', as the global totals do), or a gauge of the open channel.
#[derive(Debug, Clone, Copy)]
pub(super) enum ChannelValue {
    /// The channel counter at this index.
    Counter(usize),
    /// A gauge read from the channel.
    Gauge(fn(&ChannelInfo) -> u64),
}

/// A channel family's row.
pub(super) type ChannelRow = Row<ChannelValue>;

const CHANNEL_METRICS: &[&str] = &["channel_metrics"];
const CHANNEL_EXCHANGE: &[&str] = &["channel_exchange_metrics"];
const CHANNEL_QUEUE: &[&str] = &["channel_queue_metrics"];

const fn channel_row(
    name: &'static str,
    detailed: &'static str,
    help: &'static str,
    groups: &'static [&'static str],
    value: ChannelValue,
) -> ChannelRow {
    let kind = match value {
        ChannelValue::Counter(_) => Counter,
        ChannelValue::Gauge(_) => Gauge,
    };
    Row::new(name, detailed, help, kind, groups, value)
}

/// Every channel family, in rabbitmq_prometheus 3.10's order.
pub(super) const CHANNELS: [ChannelRow; 16] = [
    channel_row(
        "rabbitmq_channel_consumers",
        "rabbitmq_detailed_channel_consumers",
        "Consumers on a channel",
        CHANNEL_METRICS,
        ChannelValue::Gauge(|ch| u64::from(ch.consumer_count.load(Relaxed))),
    ),
    channel_row(
        "rabbitmq_channel_messages_unacked",
        "rabbitmq_detailed_channel_messages_unacked",
        "Delivered but not yet acknowledged messages",
        CHANNEL_METRICS,
        ChannelValue::Gauge(|ch| ch.messages_unacknowledged.load(Relaxed)),
    ),
    channel_row(
        "rabbitmq_channel_messages_unconfirmed",
        "rabbitmq_detailed_channel_messages_unconfirmed",
        "Published but not yet confirmed messages",
        CHANNEL_METRICS,
        ChannelValue::Gauge(|ch| ch.messages_unconfirmed.load(Relaxed)),
    ),
    channel_row(
        "rabbitmq_consumer_prefetch",
        "rabbitmq_detailed_consumer_prefetch",
        "Limit of unacknowledged messages for each consumer",
        CHANNEL_METRICS,
        ChannelValue::Gauge(|ch| u64::from(ch.prefetch_count.load(Relaxed))),
    ),
    channel_row(
        "rabbitmq_channel_prefetch",
        "rabbitmq_detailed_channel_prefetch",
        "Total limit of unacknowledged messages for all consumers on a channel",
        CHANNEL_METRICS,
        ChannelValue::Gauge(|ch| u64::from(ch.global_prefetch_count.load(Relaxed))),
    ),
    channel_row(
        "rabbitmq_channel_messages_published",
        "rabbitmq_detailed_channel_messages_published",
        "Total number of messages published into an exchange on a channel",
        CHANNEL_EXCHANGE,
        ChannelValue::Counter(c::PUBLISH),
    ),
    channel_row(
        "rabbitmq_channel_messages_confirmed",
        "rabbitmq_detailed_channel_messages_confirmed",
        "Total number of messages published into an exchange and confirmed on the channel",
        CHANNEL_EXCHANGE,
        ChannelValue::Counter(c::CONFIRM),
    ),
    channel_row(
        "rabbitmq_channel_messages_unroutable_returned",
        "rabbitmq_detailed_channel_messages_unroutable_returned",
        "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
        CHANNEL_EXCHANGE,
        ChannelValue::Counter(c::RETURN_UNROUTABLE),
    ),
    channel_row(
        "rabbitmq_channel_messages_unroutable_dropped",
        "rabbitmq_detailed_channel_messages_unroutable_dropped",
        "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
        CHANNEL_EXCHANGE,
        ChannelValue::Counter(c::DROP_UNROUTABLE),
    ),
    channel_row(
        "rabbitmq_channel_get_ack",
        "rabbitmq_detailed_channel_get_ack",
        "Total number of messages fetched with basic.get in manual acknowledgement mode",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::GET),
    ),
    channel_row(
        "rabbitmq_channel_get",
        "rabbitmq_detailed_channel_get",
        "Total number of messages fetched with basic.get in automatic acknowledgement mode",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::GET_NO_ACK),
    ),
    channel_row(
        "rabbitmq_channel_messages_delivered_ack",
        "rabbitmq_detailed_channel_messages_delivered_ack",
        "Total number of messages delivered to consumers in manual acknowledgement mode",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::DELIVER),
    ),
    channel_row(
        "rabbitmq_channel_messages_delivered",
        "rabbitmq_detailed_channel_messages_delivered",
        "Total number of messages delivered to consumers in automatic acknowledgement mode",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::DELIVER_NO_ACK),
    ),
    channel_row(
        "rabbitmq_channel_messages_redelivered",
        "rabbitmq_detailed_channel_messages_redelivered",
        "Total number of messages redelivered to consumers",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::REDELIVER),
    ),
    channel_row(
        "rabbitmq_channel_messages_acked",
        "rabbitmq_detailed_channel_messages_acked",
        "Total number of messages acknowledged by consumers",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::ACK),
    ),
    channel_row(
        "rabbitmq_channel_get_empty",
        "rabbitmq_detailed_channel_get_empty",
        "Total number of times basic.get operations fetched no message",
        CHANNEL_QUEUE,
        ChannelValue::Counter(c::GET_EMPTY),
    ),
];

/// A connection family's row.
pub(super) type ConnectionRow = Row<fn(&ConnectionEntry) -> u64>;

/// Every connection family, in rabbitmq_prometheus 3.10's order.
pub(super) const CONNECTIONS: [ConnectionRow; 5] = [
    Row::new(
        "rabbitmq_connection_incoming_bytes",
        "rabbitmq_detailed_connection_incoming_bytes",
        "Total number of bytes received on a connection",
        Counter,
        &["connection_coarse_metrics"],
        |conn| conn.details.io.get(sock::RECV_OCT),
    ),
    Row::new(
        "rabbitmq_connection_outgoing_bytes",
        "rabbitmq_detailed_connection_outgoing_bytes",
        "Total number of bytes sent on a connection",
        Counter,
        &["connection_coarse_metrics"],
        |conn| conn.details.io.get(sock::SEND_OCT),
    ),
    Row::new(
        "rabbitmq_connection_incoming_packets",
        "rabbitmq_detailed_connection_incoming_packets",
        "Total number of packets received on a connection",
        Counter,
        &["connection_metrics"],
        |conn| conn.details.io.get(sock::RECV_CNT),
    ),
    Row::new(
        "rabbitmq_connection_outgoing_packets",
        "rabbitmq_detailed_connection_outgoing_packets",
        "Total number of packets sent on a connection",
        Counter,
        &["connection_metrics"],
        |conn| conn.details.io.get(sock::SEND_CNT),
    ),
    Row::new(
        "rabbitmq_connection_channels",
        "rabbitmq_detailed_connection_channels",
        "Channels on a connection",
        Gauge,
        &["connection_metrics"],
        |conn| conn.channel_count() as u64,
    ),
];
