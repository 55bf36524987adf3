//! Virtual hosts, read-only: `GET /api/vhosts` and `GET /api/vhosts/{name}` with their
//! message counts (creating and deleting vhosts belongs to access control).

use super::auth::Principal;
use super::error::ApiResult;
use super::json::put_counter;
use super::paging::ListQuery;
use super::ranges::Ranges;
use super::{AppState, find_vhost};
use crate::broker::vhost::VHost;
use crate::metrics::counters::{channel as ch, connection as sock, queue as q};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/vhosts", get(list))
        .route(
            "/vhosts/{name}",
            get(show)
                .put(super::vhost_admin::put_vhost)
                .delete(super::vhost_admin::delete_vhost),
        )
        .route(
            "/vhosts/{name}/start/{node}",
            axum::routing::post(super::vhost_admin::start_vhost),
        )
}

/// Traffic of the vhost's open connections: socket byte counters with their rates, and the
/// sum of their channels' message counters.
#[derive(Default)]
struct Traffic {
    recv: (u64, f64),
    send: (u64, f64),
    messages: [(u64, f64); ch::COUNT],
}

fn traffic(state: &AppState, vhost: &str) -> Traffic {
    let mut t = Traffic::default();
    for conn in state.broker.connections.list() {
        if conn.details.vhost != vhost {
            continue;
        }
        let io = &conn.details.io;
        t.recv.0 += io.get(sock::RECV_OCT);
        t.recv.1 += io.rate(sock::RECV_OCT);
        t.send.0 += io.get(sock::SEND_OCT);
        t.send.1 += io.rate(sock::SEND_OCT);
        for channel in conn.channels() {
            for (i, slot) in t.messages.iter_mut().enumerate() {
                slot.0 += channel.counters.get(i);
                slot.1 += channel.counters.rate(i);
            }
        }
    }
    t
}

fn render(state: &AppState, v: &VHost) -> Value {
    let (mut ready, mut unacked) = (0u64, 0u64);
    for queue in v.queues() {
        ready += queue.stats.gauges.get(q::READY);
        unacked += queue.stats.gauges.get(q::UNACKED);
    }
    let record = state.broker.access.vhost(&v.name);
    let description = record.as_ref().map_or("", |r| r.description.as_str());
    let description = if description.is_empty() && &*v.name == "/" {
        "Default virtual host"
    } else {
        description
    };
    let tags = record.as_ref().map(|r| r.tags.clone()).unwrap_or_default();
    let mut out = json!({
        "name": &*v.name,
        "description": description,
        "tags": tags,
        "metadata": {"description": description, "tags": tags},
        "default_queue_type": "classic",
        "tracing": false,
        "cluster_state": {crate::broker::node_name(): "running"},
    });
    if let Some(map) = out.as_object_mut() {
        put_counter(map, "messages", ready + unacked, 0.0);
        put_counter(map, "messages_ready", ready, 0.0);
        put_counter(map, "messages_unacknowledged", unacked, 0.0);
        let t = traffic(state, &v.name);
        put_counter(map, "recv_oct", t.recv.0, t.recv.1);
        put_counter(map, "send_oct", t.send.0, t.send.1);
        if t.messages.iter().any(|m| m.0 > 0) {
            let mut stats = serde_json::Map::new();
            for (key, i) in super::connections::MESSAGE_STATS {
                put_counter(&mut stats, key, t.messages[i].0, t.messages[i].1);
            }
            let dg = [ch::DELIVER, ch::DELIVER_NO_ACK, ch::GET, ch::GET_NO_ACK];
            put_counter(
                &mut stats,
                "deliver_get",
                dg.iter().map(|&i| t.messages[i].0).sum(),
                dg.iter().map(|&i| t.messages[i].1).sum(),
            );
            map.insert("message_stats".into(), Value::Object(stats));
        }
    }
    out
}

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    // Monitors see every vhost here (but only their own vhosts' objects elsewhere).
    let vhosts: Vec<Arc<VHost>> = state
        .broker
        .vhosts()
        .into_iter()
        .filter(|v| principal.lists_vhost(&v.name))
        .collect();
    let ranges = Ranges::parse(&params, &state.broker.sampler)?;
    ListQuery::parse(&params)?
        .respond(
            vhosts,
            |v| ("", &*v.name),
            |v| render_ranged(&state, v, &ranges),
        )
        .map(Json)
}

async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    // RabbitMQ 3.10 shows one vhost to administrators only (checked live).
    principal.require_administrator()?;
    let vhost = find_vhost(&state, &principal, &name)?;
    let ranges = Ranges::parse(&params, &state.broker.sampler)?;
    Ok(Json(render_ranged(&state, &vhost, &ranges)))
}

/// One vhost with the samples `ranges` ask for.
fn render_ranged(state: &AppState, v: &VHost, ranges: &Ranges) -> Value {
    let mut out = render(state, v);
    if !ranges.is_empty() {
        super::sampled::vhost(&mut out, v, ranges, &state.broker.sampler);
    }
    out
}
