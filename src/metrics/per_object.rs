//! `/metrics/per-object`: one series per queue, exchange, connection and channel, labelled
//! as rabbitmq_prometheus 3.10 labels them.

use super::counters::exchange as x;
use super::exposition::{Family, Kind, Scrape, labels};
use super::families::{identity, queues_of};
use super::node_wide::{Objects, node_wide};
use super::object_tables::{
    CHANNELS, CONNECTIONS, ChannelRow, ChannelValue, ConnectionRow, QUEUES,
};
use super::queue_series::{LabelledQueue, QueueFamily, labelled};
use crate::broker::Broker;
use crate::broker::connections::{ChannelInfo, ConnectionEntry};
use crate::broker::queue::Queue;
use crate::broker::vhost::VHost;
use std::sync::Arc;

use Kind::Counter;

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
    identity(scrape, &broker.cluster_name());
    let vhosts = broker.vhosts();
    let queues = queues_of(&vhosts);
    let labelled_queues = labelled(queues.clone());
    for row in &QUEUES {
        per_queue(
            scrape,
            &labelled_queues,
            row.name,
            row.help,
            row.kind,
            row.value,
        );
    }
    per_exchange(scrape, &vhosts);
    let conns = broker.connections.list();
    let channels = named_channels(&conns);
    for row in &CHANNELS {
        scrape.add(channel_family(row.name, row, &channels));
    }
    for row in &CONNECTIONS {
        scrape.add(connection_family(row.name, row, &conns));
    }
    let totals = broker.connections.message_totals();
    let open: Vec<_> = channels.into_iter().map(|(_, ch)| ch).collect();
    let objects = Objects {
        queues: &queues,
        connections: conns.len(),
        channels: &open,
        totals: &totals,
    };
    node_wide(broker, &objects, scrape);
}

/// Every open channel with its `channel` label (RabbitMQ labels a channel by its
/// process; Warren by the channel's API name, `"<connection> (<number>)"`).
pub(super) fn named_channels(conns: &[Arc<ConnectionEntry>]) -> Vec<(String, Arc<ChannelInfo>)> {
    conns
        .iter()
        .flat_map(|conn| {
            conn.channels()
                .into_iter()
                .map(|ch| (format!("{} ({})", conn.name, ch.number), ch))
        })
        .collect()
}

/// One channel family named `name`, a series per channel.
pub(super) fn channel_family(
    name: &'static str,
    row: &ChannelRow,
    channels: &[(String, Arc<ChannelInfo>)],
) -> Family {
    let mut f = Family::new(name, row.help, row.kind);
    for (label, ch) in channels {
        let value = match row.value {
            ChannelValue::Counter(i) => ch.counters.get(i),
            ChannelValue::Gauge(value) => value(ch),
        };
        f.push_u64(labels(&[("channel", label)]), value);
    }
    f
}

/// One connection family named `name`, a series per connection (`connection` label).
pub(super) fn connection_family(
    name: &'static str,
    row: &ConnectionRow,
    conns: &[Arc<ConnectionEntry>],
) -> Family {
    let mut f = Family::new(name, row.help, row.kind);
    for conn in conns {
        f.push_u64(labels(&[("connection", &conn.name)]), (row.value)(conn));
    }
    f
}

/// Messages into and out of each exchange (`vhost`, `exchange` labels).
fn per_exchange(scrape: &mut Scrape, vhosts: &[Arc<VHost>]) {
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
    for v in vhosts {
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
}
