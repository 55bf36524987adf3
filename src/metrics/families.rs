//! The metric families of each endpoint, in RabbitMQ's names: `/metrics` (aggregated),
//! `/metrics/per-object` (per queue, exchange, connection and channel) and the
//! `rabbitmq_detailed_*` families of `/metrics/detailed`.

use super::counters::{channel as c, queue as q};
use super::exposition::{Family, Kind, Scrape, labels};
use crate::broker::Broker;
use crate::broker::alarms::{Alarm, resident_memory};
use crate::broker::queue::Queue;
use crate::broker::vhost::{VHost, is_reply_address};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use Kind::{Counter, Gauge};

pub use super::detailed::detailed;
pub use super::per_object::per_object;

/// The families every endpoint carries: who this node is.
pub fn identity(scrape: &mut Scrape) {
    let node = crate::broker::node_name();
    let mut f = Family::new(
        "rabbitmq_identity_info",
        "RabbitMQ node & cluster identity info",
        Gauge,
    );
    f.push(
        labels(&[
            ("rabbitmq_node", node),
            ("rabbitmq_cluster", crate::broker::cluster_name()),
            (
                "rabbitmq_cluster_permanent_id",
                crate::broker::cluster_name(),
            ),
        ]),
        1,
    );
    scrape.add(f);
    let mut f = Family::new(
        "rabbitmq_build_info",
        "RabbitMQ & Erlang/OTP version info",
        Gauge,
    );
    f.push(
        labels(&[
            ("rabbitmq_version", crate::management::RABBITMQ_VERSION),
            (
                "prometheus_plugin_version",
                crate::management::RABBITMQ_VERSION,
            ),
            ("prometheus_client_version", "0.26.0"),
            ("erlang_version", "none"),
            ("warren_version", env!("CARGO_PKG_VERSION")),
        ]),
        1,
    );
    scrape.add(f);
}

pub(super) fn queues_of(vhosts: &[Arc<VHost>]) -> Vec<Arc<Queue>> {
    vhosts
        .iter()
        .flat_map(|v| v.queues())
        .filter(|q| !is_reply_address(q.name()))
        .collect()
}

pub(super) fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

pub(super) fn max_fds() -> u64 {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `/metrics`: one series per metric, summed over every object.
pub fn aggregated(broker: &Broker, scrape: &mut Scrape) {
    identity(scrape);
    let vhosts = broker.vhosts();
    let queues = queues_of(&vhosts);
    let conns = broker.connections.list();
    let gauge_sum = |i: usize| queues.iter().map(|q| q.stats.gauges.get(i)).sum::<u64>();
    let counter_sum = |i: usize| queues.iter().map(|q| q.stats.counters.get(i)).sum::<u64>();
    let channels: Vec<_> = conns.iter().flat_map(|c| c.channels()).collect();
    let consumers = gauge_sum(q::CONSUMERS);

    scrape.single(
        "rabbitmq_queue_messages_ready",
        "Messages ready to be delivered to consumers",
        Gauge,
        gauge_sum(q::READY),
    );
    scrape.single(
        "rabbitmq_queue_messages_unacked",
        "Messages delivered to consumers but not yet acknowledged",
        Gauge,
        gauge_sum(q::UNACKED),
    );
    scrape.single(
        "rabbitmq_queue_messages",
        "Sum of ready and unacknowledged messages - total queue depth",
        Gauge,
        gauge_sum(q::MESSAGES),
    );
    scrape.single(
        "rabbitmq_queue_messages_bytes",
        "Size in bytes of ready and unacknowledged messages",
        Gauge,
        gauge_sum(q::READY_BYTES) + gauge_sum(q::UNACKED_BYTES),
    );
    scrape.single(
        "rabbitmq_queue_consumers",
        "Consumers on a queue",
        Gauge,
        consumers,
    );
    scrape.single(
        "rabbitmq_queue_messages_published",
        "Total number of messages published to queues",
        Counter,
        counter_sum(q::PUBLISH),
    );
    for (name, _, help, value) in super::per_object::STORAGE_GAUGES {
        let sum = queues.iter().map(|q| value(q)).sum::<u64>();
        scrape.single(name, help, Gauge, sum);
    }
    for (name, help, i) in super::per_object::CONNECTION_IO {
        let sum = conns.iter().map(|c| c.details.io.get(i)).sum::<u64>();
        scrape.single(name, help, Counter, sum);
    }
    scrape.single(
        "rabbitmq_queues",
        "Queues available",
        Gauge,
        queues.len() as u64,
    );
    scrape.single(
        "rabbitmq_connections",
        "Connections currently open",
        Gauge,
        conns.len() as u64,
    );
    scrape.single(
        "rabbitmq_channels",
        "Channels currently open",
        Gauge,
        channels.len() as u64,
    );
    scrape.single(
        "rabbitmq_consumers",
        "Consumers currently connected",
        Gauge,
        consumers,
    );
    scrape.single(
        "rabbitmq_channel_consumers",
        "Consumers on a channel",
        Gauge,
        channels
            .iter()
            .map(|ch| u64::from(ch.consumer_count.load(Relaxed)))
            .sum(),
    );
    scrape.single(
        "rabbitmq_channel_messages_unacked",
        "Delivered but not yet acknowledged messages",
        Gauge,
        channels
            .iter()
            .map(|ch| ch.messages_unacknowledged.load(Relaxed))
            .sum(),
    );
    scrape.single(
        "rabbitmq_channel_messages_unconfirmed",
        "Published but not yet confirmed messages",
        Gauge,
        channels
            .iter()
            .map(|ch| ch.messages_unconfirmed.load(Relaxed))
            .sum(),
    );
    let totals = &broker.connections.totals;
    scrape.single(
        "rabbitmq_connections_opened",
        "Total number of connections opened",
        Counter,
        totals.connections_opened.load(Relaxed),
    );
    scrape.single(
        "rabbitmq_connections_closed",
        "Total number of connections closed or terminated",
        Counter,
        totals.connections_closed.load(Relaxed),
    );
    scrape.single(
        "rabbitmq_channels_opened",
        "Total number of channels opened",
        Counter,
        totals.channels_opened.load(Relaxed),
    );
    scrape.single(
        "rabbitmq_channels_closed",
        "Total number of channels closed",
        Counter,
        totals.channels_closed.load(Relaxed),
    );
    let auth = &totals.auth;
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
    let churn = |f: fn(&VHost) -> u64| vhosts.iter().map(|v| f(v)).sum::<u64>();
    scrape.single(
        "rabbitmq_queues_declared",
        "Total number of queues declared",
        Counter,
        churn(|v| v.churn.declared.load(Relaxed)),
    );
    scrape.single(
        "rabbitmq_queues_created",
        "Total number of queues created",
        Counter,
        churn(|v| v.churn.created.load(Relaxed)),
    );
    scrape.single(
        "rabbitmq_queues_deleted",
        "Total number of queues deleted",
        Counter,
        churn(|v| v.churn.deleted.load(Relaxed)),
    );

    let m = broker.connections.message_totals();
    let get = |i: usize| m.get(i).copied().unwrap_or(0);
    channel_counters(scrape, &m);
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
    let publishers = channels
        .iter()
        .filter(|ch| ch.counters.get(c::PUBLISH) > 0)
        .count();
    let mut f = Family::new(
        "rabbitmq_global_publishers",
        "Current number of publishers",
        Gauge,
    );
    f.push_u64(amqp(), publishers as u64);
    scrape.add(f);
    let mut f = Family::new(
        "rabbitmq_global_consumers",
        "Current number of consumers",
        Gauge,
    );
    f.push_u64(amqp(), consumers);
    scrape.add(f);
    node(broker, scrape);
}

/// The `rabbitmq_channel_*_total` counters from channel counter values.
fn channel_counters(scrape: &mut Scrape, m: &[u64]) {
    let get = |i: usize| m.get(i).copied().unwrap_or(0);
    for (name, help, value) in [
        (
            "rabbitmq_channel_messages_published",
            "Total number of messages published into an exchange on a channel",
            get(c::PUBLISH),
        ),
        (
            "rabbitmq_channel_messages_confirmed",
            "Total number of messages published into an exchange and confirmed on the channel",
            get(c::CONFIRM),
        ),
        (
            "rabbitmq_channel_messages_unroutable_dropped",
            "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
            get(c::DROP_UNROUTABLE),
        ),
        (
            "rabbitmq_channel_messages_unroutable_returned",
            "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
            get(c::RETURN_UNROUTABLE),
        ),
        (
            "rabbitmq_channel_messages_delivered_ack",
            "Total number of messages delivered to consumers in manual acknowledgement mode",
            get(c::DELIVER),
        ),
        (
            "rabbitmq_channel_messages_delivered",
            "Total number of messages delivered to consumers in automatic acknowledgement mode",
            get(c::DELIVER_NO_ACK),
        ),
        (
            "rabbitmq_channel_get_ack",
            "Total number of messages fetched with basic.get in manual acknowledgement mode",
            get(c::GET),
        ),
        (
            "rabbitmq_channel_get",
            "Total number of messages fetched with basic.get in automatic acknowledgement mode",
            get(c::GET_NO_ACK),
        ),
        (
            "rabbitmq_channel_get_empty",
            "Total number of times basic.get operations fetched no message",
            get(c::GET_EMPTY),
        ),
        (
            "rabbitmq_channel_messages_redelivered",
            "Total number of messages redelivered to consumers",
            get(c::REDELIVER),
        ),
        (
            "rabbitmq_channel_messages_acked",
            "Total number of messages acknowledged by consumers",
            get(c::ACK),
        ),
    ] {
        scrape.single(name, help, Counter, value);
    }
}

/// Process and resource gauges.
pub(super) fn node(broker: &Broker, scrape: &mut Scrape) {
    let alarm = broker.alarms.current();
    let fds = max_fds();
    let open = open_fds();
    scrape.single(
        "rabbitmq_process_open_fds",
        "Open file descriptors",
        Gauge,
        open,
    );
    scrape.single(
        "rabbitmq_process_max_fds",
        "Open file descriptors limit",
        Gauge,
        fds,
    );
    scrape.single(
        "rabbitmq_process_open_tcp_sockets",
        "Open TCP sockets",
        Gauge,
        broker.connections.len() as u64,
    );
    scrape.single(
        "rabbitmq_process_max_tcp_sockets",
        "Open TCP sockets limit",
        Gauge,
        fds,
    );
    scrape.single(
        "rabbitmq_process_resident_memory_bytes",
        "Memory used in bytes",
        Gauge,
        resident_memory(),
    );
    scrape.single(
        "rabbitmq_resident_memory_limit_bytes",
        "Memory high watermark in bytes",
        Gauge,
        broker.alarms.memory_limit(),
    );
    scrape.single(
        "rabbitmq_disk_space_available_bytes",
        "Disk space available in bytes",
        Gauge,
        broker.alarms.disk_free(),
    );
    scrape.single(
        "rabbitmq_disk_space_available_limit_bytes",
        "Free disk space low watermark in bytes",
        Gauge,
        broker.alarms.disk_free_limit(),
    );
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
        u64::from(fds > 0 && open >= fds),
    );
    scrape.single(
        "rabbitmq_erlang_uptime_seconds",
        "Node uptime",
        Gauge,
        broker.started_at.elapsed().as_secs(),
    );
}
