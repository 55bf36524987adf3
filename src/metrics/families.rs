//! The metric families of each endpoint, in RabbitMQ's names: `/metrics` (aggregated),
//! `/metrics/per-object` (per queue, exchange, connection and channel) and the
//! `rabbitmq_detailed_*` families of `/metrics/detailed`.

use super::exposition::{Family, Kind, Scrape, labels};
use super::node_wide::{Objects, node_wide};
use super::object_tables::{CHANNELS, CONNECTIONS, ChannelValue, QUEUES};
use crate::broker::Broker;
use crate::broker::queue::Queue;
use crate::broker::vhost::{VHost, is_reply_address};
use std::sync::Arc;

use Kind::Gauge;

pub use super::detailed::detailed;
pub use super::per_object::per_object;

/// The families every endpoint carries: who this node is, in the cluster named `cluster`.
pub fn identity(scrape: &mut Scrape, cluster: &str) {
    let node = crate::broker::node_name();
    let mut f = Family::new(
        "rabbitmq_identity_info",
        "RabbitMQ node & cluster identity info",
        Gauge,
    );
    f.push(
        labels(&[
            ("rabbitmq_node", node),
            ("rabbitmq_cluster", cluster),
            ("rabbitmq_cluster_permanent_id", cluster),
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
    identity(scrape, &broker.cluster_name());
    let vhosts = broker.vhosts();
    let queues = queues_of(&vhosts);
    let conns = broker.connections.list();
    let channels: Vec<_> = conns.iter().flat_map(|c| c.channels()).collect();
    let totals = broker.connections.message_totals();
    for row in QUEUES.iter().filter(|r| r.aggregated) {
        let sum = queues.iter().map(|q| (row.value)(q)).sum();
        scrape.single(row.name, row.help, row.kind, sum);
    }
    for row in &CHANNELS {
        let sum = match row.value {
            ChannelValue::Counter(i) => totals.get(i).copied().unwrap_or(0),
            ChannelValue::Gauge(value) => channels.iter().map(|ch| value(ch)).sum(),
        };
        scrape.single(row.name, row.help, row.kind, sum);
    }
    for row in &CONNECTIONS {
        let sum = conns.iter().map(|conn| (row.value)(conn)).sum();
        scrape.single(row.name, row.help, row.kind, sum);
    }
    let objects = Objects {
        queues: &queues,
        connections: conns.len(),
        channels: &channels,
        totals: &totals,
    };
    node_wide(broker, &objects, scrape);
}
