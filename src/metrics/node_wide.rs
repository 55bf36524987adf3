//! The node-wide families `/metrics` and `/metrics/per-object` both carry (object counts,
//! churn, authentication attempts, the `rabbitmq_global_*` message totals, process and
//! resource gauges, alarms), and the table of those `/metrics/detailed` can select.

use super::counters::channel as c;
use super::exposition::{Family, Kind, Scrape, labels};
use super::families::{max_fds, open_fds};
use super::object_tables::Row;
use crate::broker::Broker;
use crate::broker::alarms::{Alarm, resident_memory};
use crate::broker::connections::ChannelInfo;
use crate::broker::queue::Queue;
use crate::broker::vhost::VHost;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use Kind::{Counter, Gauge};

/// What one scrape read of the node's objects.
pub(super) struct Objects<'a> {
    /// Every queue.
    pub(super) queues: &'a [Arc<Queue>],
    /// How many connections are open.
    pub(super) connections: usize,
    /// Every open channel.
    pub(super) channels: &'a [Arc<ChannelInfo>],
    /// The channel counters summed over open and closed channels.
    pub(super) totals: &'a [u64],
}

/// A node-wide family that `/metrics/detailed` can select.
pub(super) type NodeRow = Row<fn(&Broker) -> u64>;

const CHURN: &[&str] = &["connection_churn_metrics"];
const NODE_COARSE: &[&str] = &["node_coarse_metrics"];
const NODE_METRICS: &[&str] = &["node_metrics"];

/// A queue churn counter summed over the vhosts.
fn queue_churn(broker: &Broker, count: fn(&VHost) -> u64) -> u64 {
    broker.vhosts().iter().map(|v| count(v)).sum()
}

/// The churn counters and resource gauges, in rabbitmq_prometheus 3.10's groups.
pub(super) const NODE: [NodeRow; 16] = [
    Row::new(
        "rabbitmq_connections_opened",
        "rabbitmq_detailed_connections_opened",
        "Total number of connections opened",
        Counter,
        CHURN,
        |b| b.connections.totals.connections_opened.load(Relaxed),
    ),
    Row::new(
        "rabbitmq_connections_closed",
        "rabbitmq_detailed_connections_closed",
        "Total number of connections closed or terminated",
        Counter,
        CHURN,
        |b| b.connections.totals.connections_closed.load(Relaxed),
    ),
    Row::new(
        "rabbitmq_channels_opened",
        "rabbitmq_detailed_channels_opened",
        "Total number of channels opened",
        Counter,
        CHURN,
        |b| b.connections.totals.channels_opened.load(Relaxed),
    ),
    Row::new(
        "rabbitmq_channels_closed",
        "rabbitmq_detailed_channels_closed",
        "Total number of channels closed",
        Counter,
        CHURN,
        |b| b.connections.totals.channels_closed.load(Relaxed),
    ),
    Row::new(
        "rabbitmq_queues_declared",
        "rabbitmq_detailed_queues_declared",
        "Total number of queues declared",
        Counter,
        CHURN,
        |b| queue_churn(b, |v| v.churn.declared.load(Relaxed)),
    ),
    Row::new(
        "rabbitmq_queues_created",
        "rabbitmq_detailed_queues_created",
        "Total number of queues created",
        Counter,
        CHURN,
        |b| queue_churn(b, |v| v.churn.created.load(Relaxed)),
    ),
    Row::new(
        "rabbitmq_queues_deleted",
        "rabbitmq_detailed_queues_deleted",
        "Total number of queues deleted",
        Counter,
        CHURN,
        |b| queue_churn(b, |v| v.churn.deleted.load(Relaxed)),
    ),
    Row::new(
        "rabbitmq_process_open_fds",
        "rabbitmq_detailed_process_open_fds",
        "Open file descriptors",
        Gauge,
        NODE_COARSE,
        |_| open_fds(),
    ),
    Row::new(
        "rabbitmq_process_open_tcp_sockets",
        "rabbitmq_detailed_process_open_tcp_sockets",
        "Open TCP sockets",
        Gauge,
        NODE_COARSE,
        |b| b.connections.len() as u64,
    ),
    Row::new(
        "rabbitmq_process_resident_memory_bytes",
        "rabbitmq_detailed_process_resident_memory_bytes",
        "Memory used in bytes",
        Gauge,
        NODE_COARSE,
        |_| resident_memory(),
    ),
    Row::new(
        "rabbitmq_disk_space_available_bytes",
        "rabbitmq_detailed_disk_space_available_bytes",
        "Disk space available in bytes",
        Gauge,
        NODE_COARSE,
        |b| b.alarms.disk_free(),
    ),
    Row::new(
        "rabbitmq_process_max_fds",
        "rabbitmq_detailed_process_max_fds",
        "Open file descriptors limit",
        Gauge,
        NODE_METRICS,
        |_| max_fds(),
    ),
    Row::new(
        "rabbitmq_process_max_tcp_sockets",
        "rabbitmq_detailed_process_max_tcp_sockets",
        "Open TCP sockets limit",
        Gauge,
        NODE_METRICS,
        |_| max_fds(),
    ),
    Row::new(
        "rabbitmq_resident_memory_limit_bytes",
        "rabbitmq_detailed_resident_memory_limit_bytes",
        "Memory high watermark in bytes",
        Gauge,
        NODE_METRICS,
        |b| b.alarms.memory_limit(),
    ),
    Row::new(
        "rabbitmq_disk_space_available_limit_bytes",
        "rabbitmq_detailed_disk_space_available_limit_bytes",
        "Free disk space low watermark in bytes",
        Gauge,
        NODE_METRICS,
        |b| b.alarms.disk_free_limit(),
    ),
    Row::new(
        "rabbitmq_erlang_uptime_seconds",
        "rabbitmq_detailed_erlang_uptime_seconds",
        "Node uptime",
        Gauge,
        NODE_METRICS,
        |b| b.started_at.elapsed().as_secs(),
    ),
];

/// Every node-wide family, from what the scrape read in `objects`.
pub(super) fn node_wide(broker: &Broker, objects: &Objects<'_>, scrape: &mut Scrape) {
    let consumers: u64 = objects
        .queues
        .iter()
        .map(|q| q.stats.gauges.get(super::counters::queue::CONSUMERS))
        .sum();
    for (name, help, value) in [
        ("rabbitmq_queues", "Queues available", objects.queues.len()),
        (
            "rabbitmq_connections",
            "Connections currently open",
            objects.connections,
        ),
        (
            "rabbitmq_channels",
            "Channels currently open",
            objects.channels.len(),
        ),
    ] {
        scrape.single(name, help, Gauge, value as u64);
    }
    scrape.single(
        "rabbitmq_consumers",
        "Consumers currently connected",
        Gauge,
        consumers,
    );
    for row in &NODE {
        scrape.single(row.name, row.help, row.kind, (row.value)(broker));
    }
    auth_attempts(broker, scrape);
    global_messages(objects, consumers, scrape);
    super::dead_letter::dead_lettered(broker, scrape);
    alarms_and_start(broker, scrape);
}

/// `rabbitmq_auth_attempts_*` by protocol.
fn auth_attempts(broker: &Broker, scrape: &mut Scrape) {
    let auth = &broker.connections.totals.auth;
    for (name, help, http, amqp) in [
        (
            "rabbitmq_auth_attempts",
            "Total number of authorization attempts",
            auth.http_succeeded.load(Relaxed) + auth.http_failed.load(Relaxed),
            auth.amqp_succeeded.load(Relaxed) + auth.amqp_failed.load(Relaxed),
        ),
        (
            "rabbitmq_auth_attempts_succeeded",
            "Total number of successful authentication attempts",
            auth.http_succeeded.load(Relaxed),
            auth.amqp_succeeded.load(Relaxed),
        ),
        (
            "rabbitmq_auth_attempts_failed",
            "Total number of failed authentication attempts",
            auth.http_failed.load(Relaxed),
            auth.amqp_failed.load(Relaxed),
        ),
    ] {
        let mut f = Family::new(name, help, Counter);
        f.push_u64(labels(&[("protocol", "http")]), http);
        f.push_u64(labels(&[("protocol", "amqp091")]), amqp);
        scrape.add(f);
    }
}

/// The `rabbitmq_global_*` families (label `protocol="amqp091"`).
fn global_messages(objects: &Objects<'_>, consumers: u64, scrape: &mut Scrape) {
    let get = |i: usize| objects.totals.get(i).copied().unwrap_or(0);
    let amqp = || labels(&[("protocol", "amqp091")]);
    for (name, help, value) in [
        (
            "rabbitmq_global_messages_received",
            "Total number of messages received from publishers",
            get(c::PUBLISH),
        ),
        (
            "rabbitmq_global_messages_received_confirm",
            "Total number of messages received from publishers expecting confirmations",
            get(c::PUBLISH_CONFIRM),
        ),
        (
            "rabbitmq_global_messages_routed",
            "Total number of messages routed to queues or streams",
            get(c::ROUTED),
        ),
        (
            "rabbitmq_global_messages_unroutable_dropped",
            "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
            get(c::DROP_UNROUTABLE),
        ),
        (
            "rabbitmq_global_messages_unroutable_returned",
            "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
            get(c::RETURN_UNROUTABLE),
        ),
        (
            "rabbitmq_global_messages_confirmed",
            "Total number of messages confirmed to publishers",
            get(c::CONFIRM),
        ),
        (
            "rabbitmq_global_messages_delivered",
            "Total number of messages delivered to consumers",
            get(c::DELIVER) + get(c::DELIVER_NO_ACK) + get(c::GET) + get(c::GET_NO_ACK),
        ),
        (
            "rabbitmq_global_messages_delivered_consume_manual_ack",
            "Total number of messages delivered to consumers using basic.consume with manual acknowledgment",
            get(c::DELIVER),
        ),
        (
            "rabbitmq_global_messages_delivered_consume_auto_ack",
            "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment",
            get(c::DELIVER_NO_ACK),
        ),
        (
            "rabbitmq_global_messages_delivered_get_manual_ack",
            "Total number of messages delivered to consumers using basic.get with manual acknowledgment",
            get(c::GET),
        ),
        (
            "rabbitmq_global_messages_delivered_get_auto_ack",
            "Total number of messages delivered to consumers using basic.get with automatic acknowledgment",
            get(c::GET_NO_ACK),
        ),
        (
            "rabbitmq_global_messages_get_empty",
            "Total number of times basic.get operations fetched no message",
            get(c::GET_EMPTY),
        ),
        (
            "rabbitmq_global_messages_redelivered",
            "Total number of messages redelivered to consumers",
            get(c::REDELIVER),
        ),
        (
            "rabbitmq_global_messages_acknowledged",
            "Total number of messages acknowledged by consumers",
            get(c::ACK),
        ),
    ] {
        let mut f = Family::new(name, help, Counter);
        f.push_u64(amqp(), value);
        scrape.add(f);
    }
    let publishers = objects
        .channels
        .iter()
        .filter(|ch| ch.counters.get(c::PUBLISH) > 0)
        .count();
    for (name, help, value) in [
        (
            "rabbitmq_global_publishers",
            "Current number of publishers",
            publishers as u64,
        ),
        (
            "rabbitmq_global_consumers",
            "Current number of consumers",
            consumers,
        ),
    ] {
        let mut f = Family::new(name, help, Gauge);
        f.push_u64(amqp(), value);
        scrape.add(f);
    }
}

/// The alarm gauges and the process's start time.
fn alarms_and_start(broker: &Broker, scrape: &mut Scrape) {
    let alarm = broker.alarms.current();
    let fds = max_fds();
    scrape.single(
        "rabbitmq_alarms_memory_used_watermark",
        "is 1 if VM memory watermark alarm is in effect",
        Gauge,
        u64::from(alarm == Some(Alarm::Memory)),
    );
    scrape.single(
        "rabbitmq_alarms_free_disk_space_watermark",
        "is 1 if free disk space watermark alarm is in effect",
        Gauge,
        u64::from(alarm == Some(Alarm::Disk)),
    );
    scrape.single(
        "rabbitmq_alarms_file_descriptor_limit",
        "is 1 if file descriptor limit alarm is in effect",
        Gauge,
        u64::from(fds > 0 && open_fds() >= fds),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    scrape.single(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        Gauge,
        now.saturating_sub(broker.started_at.elapsed().as_secs()),
    );
}
