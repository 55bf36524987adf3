//! `/metrics/detailed`: per-object families chosen by `family` (RabbitMQ's family names,
//! `queue_coarse_metrics`, `queue_metrics`, `channel_metrics`, `connection_churn_metrics`,
//! `node_metrics`, `exchange_bindings`, …) and `vhost` parameters, as rabbitmq_prometheus
//! 3.10 serves them.

use super::exposition::{Family, Kind, Scrape, labels};
use super::families::{identity, queues_of};
use super::node_wide::NODE;
use super::object_tables::{CHANNELS, CONNECTIONS, QUEUES};
use super::per_object::{channel_family, connection_family, named_channels, per_queue};
use super::queue_series::labelled;
use crate::broker::Broker;
use crate::broker::vhost::VHost;
use std::sync::Arc;

use Kind::Gauge;

/// `/metrics/detailed?family=...&vhost=...`: only the named families, only the named
/// vhosts (all when none is named). Unknown families are ignored, as in RabbitMQ.
pub fn detailed(broker: &Broker, families: &[String], vhosts: &[String], scrape: &mut Scrape) {
    identity(scrape, &broker.cluster_name());
    let selected: Vec<Arc<VHost>> = broker
        .vhosts()
        .into_iter()
        .filter(|v| vhosts.is_empty() || vhosts.iter().any(|n| *n == *v.name))
        .collect();
    let has = |f: &str| families.iter().any(|n| n == f);
    let queue_rows: Vec<_> = QUEUES.iter().filter(|r| r.selected_by(families)).collect();
    if !queue_rows.is_empty() {
        let queues = labelled(queues_of(&selected));
        for row in queue_rows {
            per_queue(scrape, &queues, row.detailed, row.help, row.kind, row.value);
        }
    }
    if has("queue_coarse_metrics") {
        let queues = labelled(queues_of(&selected));
        per_queue(
            scrape,
            &queues,
            "rabbitmq_detailed_queue_process_reductions",
            "Total number of queue process reductions",
            Kind::Counter,
            |_| 0,
        );
    }
    let in_vhosts = |vhost: &str| vhosts.is_empty() || vhosts.iter().any(|n| n == vhost);
    let conns: Vec<_> = broker
        .connections
        .list()
        .into_iter()
        .filter(|c| in_vhosts(&c.details.vhost))
        .collect();
    let channel_rows: Vec<_> = CHANNELS
        .iter()
        .filter(|r| r.selected_by(families))
        .collect();
    if !channel_rows.is_empty() {
        let channels = named_channels(&conns);
        for row in channel_rows {
            scrape.add(channel_family(row.detailed, row, &channels));
        }
    }
    for row in CONNECTIONS.iter().filter(|r| r.selected_by(families)) {
        scrape.add(connection_family(row.detailed, row, &conns));
    }
    for row in NODE.iter().filter(|r| r.selected_by(families)) {
        scrape.single(row.detailed, row.help, row.kind, (row.value)(broker));
    }
    if has("exchange_names") || has("exchange_bindings") {
        exchanges(
            scrape,
            &selected,
            has("exchange_names"),
            has("exchange_bindings"),
        );
    }
    if has("vhost_status") {
        let mut f = Family::new(
            "rabbitmq_cluster_vhost_status",
            "Whether a given vhost is running",
            Gauge,
        );
        for v in &selected {
            f.push(labels(&[("vhost", &v.name)]), 1);
        }
        scrape.add(f);
    }
}

/// `rabbitmq_cluster_exchange_name` and `rabbitmq_cluster_exchange_bindings`: the
/// exchanges a client can use (not the default exchange, not `amq.rabbitmq.*`), labelled
/// by vhost, name and type.
fn exchanges(scrape: &mut Scrape, vhosts: &[Arc<VHost>], names: bool, bindings: bool) {
    let mut name_family = Family::new(
        "rabbitmq_cluster_exchange_name",
        "Enumerates exchanges without any additional info. This value is cluster-wide. A cheaper alternative to `exchange_bindings`",
        Gauge,
    );
    let mut binding_family = Family::new(
        "rabbitmq_cluster_exchange_bindings",
        "Number of bindings for an exchange. This value is cluster-wide.",
        Gauge,
    );
    for v in vhosts {
        for ex in v.exchanges() {
            let name = ex.name.to_string_lossy();
            if name.is_empty() || name.starts_with("amq.rabbitmq.") {
                continue;
            }
            let l = labels(&[
                ("vhost", &v.name),
                ("exchange", &name),
                ("type", ex.kind.as_str()),
            ]);
            if bindings {
                binding_family.push_u64(l.clone(), ex.router.read().len() as u64);
            }
            name_family.push(l, 1);
        }
    }
    if bindings {
        scrape.add(binding_family);
    }
    if names {
        scrape.add(name_family);
    }
}
