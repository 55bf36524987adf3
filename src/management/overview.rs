//! `GET /api/overview` and `GET /api/cluster-name`.

use super::error::ApiResult;
use super::json::put_counter;
use super::ranges::Ranges;
use super::{AppState, RABBITMQ_VERSION};
use crate::metrics::counters::channel as ch;
use crate::metrics::sampler::totals;
use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The exchange types and RabbitMQ's descriptions of them.
pub(super) fn exchange_types() -> Value {
    let kinds = [
        (
            "direct",
            "AMQP direct exchange, as per the AMQP specification",
        ),
        (
            "fanout",
            "AMQP fanout exchange, as per the AMQP specification",
        ),
        (
            "headers",
            "AMQP headers exchange, as per the AMQP specification",
        ),
        (
            "topic",
            "AMQP topic exchange, as per the AMQP specification",
        ),
    ];
    Value::Array(
        kinds
            .iter()
            .map(|(name, description)| {
                json!({"name": name, "description": description, "enabled": true})
            })
            .collect(),
    )
}

/// The broker-wide `message_stats`: empty until anything was published or consumed, as on
/// a fresh RabbitMQ node.
pub(super) fn global_message_stats(state: &AppState) -> Value {
    let totals = state.broker.connections.message_totals();
    let rates = &state.broker.sampler.messages;
    if totals.iter().all(|&v| v == 0) {
        return json!({});
    }
    let rate = |i: usize| rates.rate(i);
    let mut out = Map::new();
    let get = |i: usize| totals.get(i).copied().unwrap_or(0);
    put_counter(&mut out, "ack", get(ch::ACK), rate(ch::ACK));
    put_counter(&mut out, "confirm", get(ch::CONFIRM), rate(ch::CONFIRM));
    put_counter(&mut out, "deliver", get(ch::DELIVER), rate(ch::DELIVER));
    put_counter(
        &mut out,
        "deliver_no_ack",
        get(ch::DELIVER_NO_ACK),
        rate(ch::DELIVER_NO_ACK),
    );
    put_counter(&mut out, "get", get(ch::GET), rate(ch::GET));
    put_counter(
        &mut out,
        "get_no_ack",
        get(ch::GET_NO_ACK),
        rate(ch::GET_NO_ACK),
    );
    put_counter(
        &mut out,
        "get_empty",
        get(ch::GET_EMPTY),
        rate(ch::GET_EMPTY),
    );
    let dg = [ch::DELIVER, ch::DELIVER_NO_ACK, ch::GET, ch::GET_NO_ACK];
    put_counter(
        &mut out,
        "deliver_get",
        dg.iter().map(|&i| get(i)).sum(),
        dg.iter().map(|&i| rate(i)).sum(),
    );
    put_counter(&mut out, "publish", get(ch::PUBLISH), rate(ch::PUBLISH));
    put_counter(
        &mut out,
        "redeliver",
        get(ch::REDELIVER),
        rate(ch::REDELIVER),
    );
    put_counter(
        &mut out,
        "return_unroutable",
        get(ch::RETURN_UNROUTABLE),
        rate(ch::RETURN_UNROUTABLE),
    );
    put_counter(
        &mut out,
        "drop_unroutable",
        get(ch::DROP_UNROUTABLE),
        rate(ch::DROP_UNROUTABLE),
    );
    put_counter(&mut out, "disk_reads", 0, 0.0);
    put_counter(&mut out, "disk_writes", 0, 0.0);
    Value::Object(out)
}

/// Object counts across every vhost.
pub(super) struct ObjectTotals {
    pub(super) queues: usize,
    pub(super) exchanges: usize,
    pub(super) consumers: u64,
    pub(super) ready: u64,
    pub(super) unacked: u64,
}

pub(super) fn object_totals(state: &AppState) -> ObjectTotals {
    use crate::metrics::counters::queue as g;
    let mut t = ObjectTotals {
        queues: 0,
        exchanges: 0,
        consumers: 0,
        ready: 0,
        unacked: 0,
    };
    for vhost in state.broker.vhosts() {
        t.exchanges += vhost.exchange_count();
        for q in vhost.queues() {
            t.queues += 1;
            t.consumers += q.stats.gauges.get(g::CONSUMERS);
            t.ready += q.stats.gauges.get(g::READY);
            t.unacked += q.stats.gauges.get(g::UNACKED);
        }
    }
    t
}

/// `GET /api/overview`.
pub(super) async fn overview(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let broker = &state.broker;
    let ranges = Ranges::parse(&params, &broker.sampler)?;
    let totals_now = object_totals(&state);
    let channels: usize = broker
        .connections
        .list()
        .iter()
        .map(|c| c.channel_count())
        .sum();
    let mut queue_totals = if totals_now.queues == 0 {
        json!({})
    } else {
        let rates = &broker.sampler.queue_totals;
        let mut out = Map::new();
        put_counter(
            &mut out,
            "messages",
            totals_now.ready + totals_now.unacked,
            rates.rate(totals::MESSAGES),
        );
        put_counter(
            &mut out,
            "messages_ready",
            totals_now.ready,
            rates.rate(totals::READY),
        );
        put_counter(
            &mut out,
            "messages_unacknowledged",
            totals_now.unacked,
            rates.rate(totals::UNACKED),
        );
        Value::Object(out)
    };
    let c = &broker.connections.totals;
    let churn = {
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = Map::new();
        put_counter(
            &mut out,
            "channel_closed",
            c.channels_closed.load(Relaxed),
            0.0,
        );
        put_counter(
            &mut out,
            "channel_created",
            c.channels_opened.load(Relaxed),
            0.0,
        );
        put_counter(
            &mut out,
            "connection_closed",
            c.connections_closed.load(Relaxed),
            0.0,
        );
        put_counter(
            &mut out,
            "connection_created",
            c.connections_opened.load(Relaxed),
            0.0,
        );
        let (declared, created, deleted) = state.queue_churn();
        put_counter(&mut out, "queue_created", created, 0.0);
        put_counter(&mut out, "queue_declared", declared, 0.0);
        put_counter(&mut out, "queue_deleted", deleted, 0.0);
        Value::Object(out)
    };
    let mut message_stats = global_message_stats(&state);
    if !ranges.is_empty() {
        super::sampled::overview(
            &mut message_stats,
            &mut queue_totals,
            &ranges,
            &broker.sampler,
        );
    }
    let node = super::node_name();
    let overview = json!({
        "management_version": RABBITMQ_VERSION,
        "rates_mode": "basic",
        "sample_retention_policies": {
            "global": [600, 3600, 28800, 86400],
            "basic": [600, 3600],
            "detailed": [600]
        },
        "exchange_types": exchange_types(),
        "product_version": env!("CARGO_PKG_VERSION"),
        "product_name": "Warren",
        "rabbitmq_version": RABBITMQ_VERSION,
        "cluster_name": broker.cluster_name(),
        "erlang_version": "none (Warren is written in Rust)",
        "erlang_full_version": "none (Warren is written in Rust)",
        "release_series_support_status": "supported",
        "disable_stats": false,
        "enable_queue_totals": false,
        "message_stats": message_stats,
        "churn_rates": churn,
        "queue_totals": queue_totals,
        "object_totals": {
            "channels": channels,
            "connections": broker.connections.len(),
            "consumers": totals_now.consumers,
            "exchanges": totals_now.exchanges,
            "queues": totals_now.queues,
        },
        "statistics_db_event_queue": 0,
        "node": node,
        "listeners": state.listeners_json(),
        "contexts": state.contexts_json(),
    });
    Ok(Json(super::paging::columns_of(&params, overview)))
}

/// `GET /api/cluster-name`.
pub(super) async fn cluster_name(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "name": state.broker.cluster_name() }))
}
