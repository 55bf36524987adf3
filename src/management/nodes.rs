//! `GET /api/nodes` and `GET /api/nodes/{name}`: this node, with the integer fields
//! Telegraf and Datadog decode (a float or string where they expect an integer fails them),
//! and in cluster mode (where the leader answers) every other member too. A running member
//! describes itself: the leader asks its management API for `/api/nodes/{its name}`
//! (which a follower answers itself, see [`crate::cluster::http_front`]) with the caller's
//! credentials. A member that is not running, or does not answer in time, is listed with
//! its name, `type` and `running` only, as RabbitMQ lists a stopped node.

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::memory::Breakdown;
use crate::broker::alarms::{Alarm, Alarms, resident_memory};
use crate::cluster::view::{ClusterView, MemberView};
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde_json::{Value, json};
use std::collections::HashMap;

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

fn max_fds() -> u64 {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn processors() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// What a node's `/api/nodes` entry is made of, whichever process describes itself (a
/// serving broker, or a cluster follower that runs none).
pub(crate) struct NodeFacts<'a> {
    /// The node's memory and disk alarms.
    pub alarms: &'a Alarms,
    /// The data directory.
    pub data_dir: &'a std::path::Path,
    /// Client connections open on this node.
    pub sockets: u64,
    /// Connections opened and closed, channels opened and closed, since start.
    pub totals: [u64; 4],
    /// Milliseconds since the node started.
    pub uptime_ms: u64,
    /// The HTTP listeners, as `contexts`.
    pub contexts: Value,
}

/// The node's description.
pub(super) fn node(state: &AppState) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let broker = &state.broker;
    let totals = &broker.connections.totals;
    describe(&NodeFacts {
        alarms: &broker.alarms,
        data_dir: &broker.settings.server.data_dir,
        sockets: broker.connections.len() as u64,
        totals: [
            totals.connections_opened.load(Relaxed),
            totals.connections_closed.load(Relaxed),
            totals.channels_opened.load(Relaxed),
            totals.channels_closed.load(Relaxed),
        ],
        uptime_ms: u64::try_from(broker.started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        contexts: state.contexts_json(),
    })
}

/// A node's `/api/nodes` entry from its facts, with the integer fields monitoring tools
/// decode.
pub(crate) fn describe(facts: &NodeFacts<'_>) -> Value {
    let alarms = facts.alarms;
    let alarm = alarms.current();
    let fd_total = max_fds();
    let sockets = facts.sockets;
    let [
        connection_created,
        connection_closed,
        channel_created,
        channel_closed,
    ] = facts.totals;
    let mut node = json!({
        "name": crate::broker::node_name(),
        "type": "disc",
        "running": true,
        "being_drained": false,
        "os_pid": std::process::id().to_string(),
        "fd_total": fd_total,
        "fd_used": open_fds(),
        "fd_used_details": {"rate": 0.0},
        "sockets_total": fd_total,
        "sockets_used": sockets,
        "sockets_used_details": {"rate": 0.0},
        "mem_limit": alarms.memory_limit(),
        "mem_used": resident_memory(),
        "mem_used_details": {"rate": 0.0},
        "mem_alarm": alarm == Some(Alarm::Memory),
        "mem_calculation_strategy": "rss",
        "disk_free_limit": alarms.disk_free_limit(),
        "disk_free": alarms.disk_free(),
        "disk_free_details": {"rate": 0.0},
        "disk_free_alarm": alarm == Some(Alarm::Disk),
        "proc_total": 1_048_576,
        "proc_used": sockets * 2 + 16,
        "proc_used_details": {"rate": 0.0},
        "run_queue": 0,
        "uptime": facts.uptime_ms,
        "processors": processors(),
        "rates_mode": "basic",
        "enabled_plugins": ["rabbitmq_management", "rabbitmq_prometheus"],
        "partitions": [],
        "net_ticktime": 60,
        "exchange_types": super::overview::exchange_types(),
        "auth_mechanisms": [
            {"name": "PLAIN", "description": "SASL PLAIN authentication mechanism", "enabled": true},
            {"name": "AMQPLAIN", "description": "QPid AMQPLAIN mechanism", "enabled": true}
        ],
        "contexts": facts.contexts.clone(),
        "applications": [],
        "log_files": [],
        "config_files": [],
        "db_dir": facts.data_dir.display().to_string(),
        "cluster_links": [],
        "connection_created": connection_created,
        "connection_closed": connection_closed,
        "channel_created": channel_created,
        "channel_closed": channel_closed,
    });
    if let Some(map) = node.as_object_mut() {
        // Erlang VM and storage statistics Warren does not have: integers, as Telegraf
        // decodes them, each with its rate.
        for key in ZERO_COUNTERS {
            super::json::put_counter(map, key, 0, 0.0);
        }
    }
    node
}

/// Node statistics of RabbitMQ's Erlang VM and message store that have no counterpart.
const ZERO_COUNTERS: [&str; 23] = [
    "gc_num",
    "gc_bytes_reclaimed",
    "context_switches",
    "io_read_count",
    "io_read_bytes",
    "io_read_avg_time",
    "io_write_count",
    "io_write_bytes",
    "io_write_avg_time",
    "io_sync_count",
    "io_sync_avg_time",
    "io_seek_count",
    "io_seek_avg_time",
    "io_reopen_count",
    "io_file_handle_open_attempt_count",
    "io_file_handle_open_attempt_avg_time",
    "mnesia_ram_tx_count",
    "mnesia_disk_tx_count",
    "msg_store_read_count",
    "msg_store_write_count",
    "queue_index_write_count",
    "queue_index_read_count",
    "queue_index_journal_write_count",
];

/// Another cluster member as far as this node knows it: its name, `type` and whether it
/// runs, as RabbitMQ's entry for a stopped node.
fn member(m: &MemberView) -> Value {
    json!({
        "name": m.name,
        "type": "disc",
        "running": m.running,
        "being_drained": false,
        "partitions": [],
        "cluster_links": [],
    })
}

/// Another member's entry: its own description, asked of its management API with the
/// caller's credentials, or [`member`] when it is not running or does not answer.
async fn other_member(view: &ClusterView, m: &MemberView, auth: Option<&HeaderValue>) -> Value {
    if m.running
        && let Some(described) = view.member_node(m, auth).await
    {
        return described;
    }
    member(m)
}

/// Every node: this one, then the other cluster members by id, each described by itself
/// where it answers.
async fn all_nodes(state: &AppState, auth: Option<&HeaderValue>) -> Vec<Value> {
    let Some(view) = &state.cluster else {
        return vec![node(state)];
    };
    let me = view.node().id();
    let mut members = view.members();
    members.sort_by_key(|m| m.id);
    let mut out = futures_util::future::join_all(members.iter().map(|m| async move {
        if m.id == me {
            node(state)
        } else {
            other_member(view, m, auth).await
        }
    }))
    .await;
    if !members.iter().any(|m| m.id == me) {
        out.insert(0, node(state));
    }
    out
}

/// `GET /api/nodes`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    principal.require_monitor()?;
    let auth = headers.get(AUTHORIZATION);
    let nodes = all_nodes(&state, auth).await;
    Ok(Json(Value::Array(
        nodes
            .into_iter()
            .map(|n| super::paging::columns_of(&params, n))
            .collect(),
    )))
}

/// `GET /api/nodes/{name}`.
pub(super) async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    principal.require_monitor()?;
    if name != crate::broker::node_name() {
        let view = state.cluster.as_ref().ok_or(ApiError::NotFound)?;
        let m = view
            .members()
            .into_iter()
            .find(|m| m.name == name)
            .ok_or(ApiError::NotFound)?;
        return Ok(Json(
            other_member(view, &m, headers.get(AUTHORIZATION)).await,
        ));
    }
    let mut out = node(&state);
    let flag = |k: &str| params.get(k).is_some_and(|v| v == "true");
    if (flag("memory") || flag("binary"))
        && let Some(map) = out.as_object_mut()
    {
        let breakdown = Breakdown::measure(&state);
        if flag("memory") {
            map.insert("memory".into(), breakdown.to_json());
        }
        if flag("binary") {
            map.insert("binary".into(), breakdown.binary_json());
        }
    }
    Ok(Json(super::paging::columns_of(&params, out)))
}

/// `GET /api/nodes/{name}/memory`: `{"memory": {...}}`.
pub(super) async fn memory(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require_monitor()?;
    if name != crate::broker::node_name() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(
        json!({"memory": Breakdown::measure(&state).to_json()}),
    ))
}

/// `POST /api/rebalance/queues` (administrators): RabbitMQ moves queue leaders so that
/// each node leads a fair share. Warren's queues have one leader, the cluster's (or the
/// single node), so there is nothing to move: accepted at once (204), as RabbitMQ accepts
/// the request before the work starts.
pub(super) async fn rebalance_queues(Extension(p): Extension<Principal>) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    Ok(StatusCode::NO_CONTENT)
}
