//! `GET /api/nodes` and `GET /api/nodes/{name}`: this node, with the integer fields
//! Telegraf and Datadog decode (a float or string where they expect an integer fails them),
//! and in cluster mode (where the leader answers) every other member too, with its name,
//! `type` and whether it is `running` (it answered the leader recently); Warren has no
//! statistics of another node's process, so those entries carry only these fields, as
//! RabbitMQ's entry for a stopped node does.

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::memory::Breakdown;
use crate::broker::alarms::{Alarm, resident_memory};
use axum::extract::{Path, Query, State};
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

/// The node's description.
pub(super) fn node(state: &AppState) -> Value {
    let broker = &state.broker;
    let alarm = broker.alarms.current();
    let fd_total = max_fds();
    let sockets = broker.connections.len() as u64;
    let uptime_ms = u64::try_from(broker.started_at.elapsed().as_millis()).unwrap_or(u64::MAX);
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
        "mem_limit": broker.alarms.memory_limit(),
        "mem_used": resident_memory(),
        "mem_used_details": {"rate": 0.0},
        "mem_alarm": alarm == Some(Alarm::Memory),
        "mem_calculation_strategy": "rss",
        "disk_free_limit": broker.alarms.disk_free_limit(),
        "disk_free": broker.alarms.disk_free(),
        "disk_free_details": {"rate": 0.0},
        "disk_free_alarm": alarm == Some(Alarm::Disk),
        "proc_total": 1_048_576,
        "proc_used": sockets * 2 + 16,
        "proc_used_details": {"rate": 0.0},
        "run_queue": 0,
        "uptime": uptime_ms,
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
        "contexts": state.contexts_json(),
        "applications": [],
        "log_files": [],
        "config_files": [],
        "db_dir": broker.settings.server.data_dir.display().to_string(),
        "cluster_links": [],
        "connection_created": broker.connections.totals.connections_opened.load(std::sync::atomic::Ordering::Relaxed),
        "connection_closed": broker.connections.totals.connections_closed.load(std::sync::atomic::Ordering::Relaxed),
        "channel_created": broker.connections.totals.channels_opened.load(std::sync::atomic::Ordering::Relaxed),
        "channel_closed": broker.connections.totals.channels_closed.load(std::sync::atomic::Ordering::Relaxed),
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

/// Another cluster member, as far as this node knows it.
fn member(m: &crate::cluster::view::MemberView) -> Value {
    json!({
        "name": m.name,
        "type": "disc",
        "running": m.running,
        "being_drained": false,
        "partitions": [],
        "cluster_links": [],
    })
}

/// Every node: this one in full, the other cluster members as [`member`]s, by id.
fn all_nodes(state: &AppState) -> Vec<Value> {
    let Some(view) = &state.cluster else {
        return vec![node(state)];
    };
    let me = view.node().id();
    let mut members = view.members();
    members.sort_by_key(|m| m.id);
    let mut out: Vec<Value> = members
        .iter()
        .map(|m| if m.id == me { node(state) } else { member(m) })
        .collect();
    if !members.iter().any(|m| m.id == me) {
        out.insert(0, node(state));
    }
    out
}

/// `GET /api/nodes`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    principal.require_monitor()?;
    Ok(Json(Value::Array(all_nodes(&state))))
}

/// `GET /api/nodes/{name}`.
pub(super) async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    principal.require_monitor()?;
    if name != crate::broker::node_name() {
        return all_nodes(&state)
            .into_iter()
            .find(|n| n["name"] == name.as_str())
            .map(Json)
            .ok_or(ApiError::NotFound);
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
    Ok(Json(out))
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
