//! Connections, channels and consumers: `GET /api/connections[/{name}]`,
//! `DELETE /api/connections/{name}` (`X-Reason` → 320 CONNECTION_FORCED with that text),
//! `GET /api/connections/{name}/channels`, `GET /api/vhosts/{vhost}/connections` and
//! `/channels`, `GET /api/channels[/{name}]`, `GET /api/consumers[/{vhost}]`.
//!
//! Everything comes from the broker's connection registry; channel counters are the
//! channels' own atomics.

use super::auth::{Principal, not_authorised_object};
use super::error::{ApiError, ApiResult};
use super::json::{put_counter, table};
use super::paging::ListQuery;
use super::ranges::Ranges;
use super::{AppState, find_vhost};
use crate::broker::connections::{ChannelInfo, ConnectionEntry};
use crate::metrics::counters::channel as c;
use crate::metrics::counters::connection as sock;
use crate::protocol::FieldValue;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// The reason given to a client closed through the API without `X-Reason`.
pub const DEFAULT_CLOSE_REASON: &str = "Closed via management plugin";

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections", get(list_connections))
        .route("/connections/{name}", get(show_connection).delete(close))
        .route("/connections/{name}/channels", get(connection_channels))
        .route(
            "/connections/username/{user}",
            get(user_connections).delete(close_user_connections),
        )
        .route("/vhosts/{vhost}/connections", get(vhost_connections))
        .route("/vhosts/{vhost}/channels", get(vhost_channels))
        .route("/channels", get(list_channels))
        .route("/channels/{name}", get(show_channel))
        .route("/consumers", get(list_consumers))
        .route("/consumers/{vhost}", get(vhost_consumers))
}

fn render_connection(c: &ConnectionEntry) -> Value {
    let d = &c.details;
    let user_provided = match d.client_properties.get("connection_name") {
        Some(FieldValue::LongStr(b)) => json!(String::from_utf8_lossy(b)),
        _ => Value::Null,
    };
    let mut out = json!({
        "name": c.name,
        "node": crate::broker::node_name(),
        "type": "network",
        "protocol": "AMQP 0-9-1",
        "state": "running",
        "user": d.user,
        "user_who_performed_action": d.user,
        "vhost": d.vhost,
        "auth_mechanism": d.auth_mechanism,
        "host": d.local.ip().to_string(),
        "port": d.local.port(),
        "peer_host": d.peer.ip().to_string(),
        "peer_port": d.peer.port(),
        "ssl": false,
        "peer_cert_issuer": Value::Null,
        "peer_cert_subject": Value::Null,
        "peer_cert_validity": Value::Null,
        "ssl_cipher": Value::Null,
        "ssl_hash": Value::Null,
        "ssl_key_exchange": Value::Null,
        "ssl_protocol": Value::Null,
        "channels": c.channel_count(),
        "channel_max": d.channel_max,
        "frame_max": d.frame_max,
        "timeout": d.heartbeat,
        "connected_at": d.connected_at,
        "client_properties": table(&d.client_properties),
        "user_provided_name": user_provided,
        "send_pend": 0,
    });
    if let Some(map) = out.as_object_mut() {
        let io = &d.io;
        // Bytes come with their rates; the read and write counts without, as in RabbitMQ.
        put_counter(
            map,
            "recv_oct",
            io.get(sock::RECV_OCT),
            io.rate(sock::RECV_OCT),
        );
        put_counter(
            map,
            "send_oct",
            io.get(sock::SEND_OCT),
            io.rate(sock::SEND_OCT),
        );
        map.insert("recv_cnt".into(), json!(io.get(sock::RECV_CNT)));
        map.insert("send_cnt".into(), json!(io.get(sock::SEND_CNT)));
        // The Erlang process's reductions have no counterpart.
        put_counter(map, "reductions", 0, 0.0);
    }
    out
}

fn channel_name(conn: &ConnectionEntry, ch: &ChannelInfo) -> String {
    format!("{} ({})", conn.name, ch.number)
}

/// The `message_stats` keys of channels (and vhosts) with their counter indices.
pub(super) const MESSAGE_STATS: [(&str, usize); 11] = [
    ("publish", c::PUBLISH),
    ("confirm", c::CONFIRM),
    ("return_unroutable", c::RETURN_UNROUTABLE),
    ("drop_unroutable", c::DROP_UNROUTABLE),
    ("deliver", c::DELIVER),
    ("deliver_no_ack", c::DELIVER_NO_ACK),
    ("get", c::GET),
    ("get_no_ack", c::GET_NO_ACK),
    ("get_empty", c::GET_EMPTY),
    ("ack", c::ACK),
    ("redeliver", c::REDELIVER),
];

fn channel_message_stats(ch: &ChannelInfo) -> Option<Value> {
    let k = &ch.counters;
    if k.snapshot().iter().all(|&v| v == 0) {
        return None;
    }
    let mut out = Map::new();
    for (key, i) in MESSAGE_STATS {
        put_counter(&mut out, key, k.get(i), k.rate(i));
    }
    let dg = [c::DELIVER, c::DELIVER_NO_ACK, c::GET, c::GET_NO_ACK];
    put_counter(
        &mut out,
        "deliver_get",
        dg.iter().map(|&i| k.get(i)).sum(),
        dg.iter().map(|&i| k.rate(i)).sum(),
    );
    Some(Value::Object(out))
}

fn render_channel(conn: &ConnectionEntry, ch: &ChannelInfo) -> Value {
    let d = &conn.details;
    let mut out = json!({
        "name": channel_name(conn, ch),
        "number": ch.number,
        "node": crate::broker::node_name(),
        "state": "running",
        "user": d.user,
        "user_who_performed_action": d.user,
        "vhost": d.vhost,
        "connection_details": {
            "name": conn.name,
            "peer_host": d.peer.ip().to_string(),
            "peer_port": d.peer.port(),
        },
        "consumer_count": ch.consumer_count.load(Relaxed),
        "messages_unacknowledged": ch.messages_unacknowledged.load(Relaxed),
        "messages_unconfirmed": ch.messages_unconfirmed.load(Relaxed),
        "messages_uncommitted": 0,
        "acks_uncommitted": 0,
        "pending_raft_commands": 0,
        "prefetch_count": ch.prefetch_count.load(Relaxed),
        "global_prefetch_count": ch.global_prefetch_count.load(Relaxed),
        "confirm": ch.confirm.load(Relaxed),
        "transactional": ch.transactional.load(Relaxed),
    });
    if let Some(map) = out.as_object_mut() {
        // The Erlang process's reductions have no counterpart.
        put_counter(map, "reductions", 0, 0.0);
        let idle = ch.idle_since_ms.load(Relaxed);
        if idle > 0 {
            map.insert("idle_since".into(), json!(super::json::timestamp(idle)));
        }
        if let Some(stats) = channel_message_stats(ch) {
            map.insert("message_stats".into(), stats);
        }
    }
    out
}

fn connections_of(
    state: &AppState,
    principal: &Principal,
    vhost: Option<&str>,
) -> Vec<Arc<ConnectionEntry>> {
    state
        .broker
        .connections
        .list()
        .into_iter()
        .filter(|c| vhost.is_none_or(|v| c.details.vhost == v))
        .filter(|c| principal.may_see_connection(&c.details.user))
        .collect()
}

fn respond_connections(
    state: &AppState,
    params: &HashMap<String, String>,
    conns: Vec<Arc<ConnectionEntry>>,
) -> ApiResult<Json<Value>> {
    let sampler = &state.broker.sampler;
    let ranges = Ranges::parse(params, sampler)?;
    ListQuery::parse(params)?
        .respond(
            conns,
            |c| (c.details.vhost.as_str(), c.name.as_str()),
            |c| {
                let mut out = render_connection(c);
                if !ranges.is_empty() {
                    super::sampled::connection(&mut out, c, &ranges, sampler);
                }
                out
            },
        )
        .map(Json)
}

async fn list_connections(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    respond_connections(&state, &params, connections_of(&state, &principal, None))
}

async fn vhost_connections(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    find_vhost(&state, &principal, &vhost)?;
    respond_connections(
        &state,
        &params,
        connections_of(&state, &principal, Some(&vhost)),
    )
}

fn find_connection(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> ApiResult<Arc<ConnectionEntry>> {
    let conn = state
        .broker
        .connections
        .by_name(name)
        .ok_or(ApiError::NotFound)?;
    if !principal.may_see_connection(&conn.details.user) {
        return Err(not_authorised_object());
    }
    Ok(conn)
}

async fn show_connection(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let conn = find_connection(&state, &principal, &name)?;
    let mut out = render_connection(&conn);
    let ranges = Ranges::parse(&params, &state.broker.sampler)?;
    super::sampled::connection(&mut out, &conn, &ranges, &state.broker.sampler);
    Ok(Json(out))
}

/// `DELETE /api/connections/{name}`: the client gets connection.close 320 with the
/// `X-Reason` header's text (RabbitMQ's default text without it).
async fn close(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let conn = find_connection(&state, &principal, &name)?;
    if !principal.may_close_connection(&conn.details.user) {
        return Err(not_authorised_object());
    }
    close_with_reason(&conn, &principal, &headers);
    Ok(StatusCode::NO_CONTENT)
}

/// Closes `conn` with 320 and the `X-Reason` header's text (RabbitMQ's default text
/// without it), logging who closed it.
fn close_with_reason(conn: &ConnectionEntry, principal: &Principal, headers: &HeaderMap) {
    let reason = headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(DEFAULT_CLOSE_REASON);
    tracing::info!(connection = %conn.name, user = %principal.name, %reason, "closing connection via the management API");
    conn.close(reason);
}

/// A user's connections, if the caller may see that user's (the user itself, or a monitor).
fn connections_of_user(
    state: &AppState,
    principal: &Principal,
    user: &str,
) -> ApiResult<Vec<Arc<ConnectionEntry>>> {
    if !principal.may_see_connection(user) {
        return Err(not_authorised_object());
    }
    Ok(state
        .broker
        .connections
        .list()
        .into_iter()
        .filter(|c| c.details.user == user)
        .collect())
}

/// `GET /api/connections/username/{user}`: the user's connections, named as RabbitMQ
/// lists them (`name`, `vhost`, `user`, `node`).
async fn user_connections(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = connections_of_user(&state, &principal, &user)?
        .iter()
        .map(|c| {
            json!({
                "name": &c.name,
                "vhost": &c.details.vhost,
                "user": &c.details.user,
                "node": crate::broker::node_name(),
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

/// `DELETE /api/connections/username/{user}`: closes every connection of the user with
/// 320 and the `X-Reason` text, as [`close`] closes one.
async fn close_user_connections(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if !principal.may_close_connection(&user) {
        return Err(not_authorised_object());
    }
    for conn in connections_of_user(&state, &principal, &user)? {
        close_with_reason(&conn, &principal, &headers);
    }
    Ok(StatusCode::NO_CONTENT)
}

type ChannelItem = (Arc<ConnectionEntry>, Arc<ChannelInfo>, String);

fn channels_of(conns: Vec<Arc<ConnectionEntry>>) -> Vec<ChannelItem> {
    conns
        .into_iter()
        .flat_map(|conn| {
            conn.channels()
                .into_iter()
                .map(move |ch| {
                    let name = channel_name(&conn, &ch);
                    (Arc::clone(&conn), ch, name)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn respond_channels(
    state: &AppState,
    params: &HashMap<String, String>,
    items: Vec<ChannelItem>,
) -> ApiResult<Json<Value>> {
    let sampler = &state.broker.sampler;
    let ranges = Ranges::parse(params, sampler)?;
    ListQuery::parse(params)?
        .respond(
            items,
            |(conn, _, name)| (conn.details.vhost.as_str(), name.as_str()),
            |(conn, ch, _)| {
                let mut out = render_channel(conn, ch);
                if !ranges.is_empty() {
                    super::sampled::channel(&mut out, ch, &ranges, sampler);
                }
                out
            },
        )
        .map(Json)
}

async fn list_channels(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    respond_channels(
        &state,
        &params,
        channels_of(connections_of(&state, &principal, None)),
    )
}

async fn vhost_channels(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    find_vhost(&state, &principal, &vhost)?;
    respond_channels(
        &state,
        &params,
        channels_of(connections_of(&state, &principal, Some(&vhost))),
    )
}

async fn connection_channels(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let conn = find_connection(&state, &principal, &name)?;
    respond_channels(&state, &params, channels_of(vec![conn]))
}

/// `GET /api/channels/{name}`, the name being `"<connection name> (<number>)"`.
async fn show_channel(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let ranges = Ranges::parse(&params, &state.broker.sampler)?;
    let (conn_name, number) = name
        .strip_suffix(')')
        .and_then(|s| s.rsplit_once(" ("))
        .ok_or(ApiError::NotFound)?;
    let number: u16 = number.parse().map_err(|_| ApiError::NotFound)?;
    let conn = find_connection(&state, &principal, conn_name)?;
    let ch = conn
        .channels()
        .into_iter()
        .find(|c| c.number == number)
        .ok_or(ApiError::NotFound)?;
    let mut out = render_channel(&conn, &ch);
    super::sampled::channel(&mut out, &ch, &ranges, &state.broker.sampler);
    if let Some(map) = out.as_object_mut() {
        let consumers: Vec<Value> = consumers_of(vec![Arc::clone(&conn)], None)
            .into_iter()
            .filter(|c| c["channel_details"]["number"] == number)
            .collect();
        map.insert("consumer_details".into(), Value::Array(consumers));
        // Per-exchange and per-queue rates: empty with `rates_mode` basic, as in RabbitMQ.
        map.insert("publishes".into(), json!([]));
        map.insert("deliveries".into(), json!([]));
    }
    Ok(Json(out))
}

fn consumers_of(conns: Vec<Arc<ConnectionEntry>>, vhost: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    for (conn, ch, name) in channels_of(conns) {
        let d = &conn.details;
        for consumer in ch.consumers.lock().iter() {
            if vhost.is_some_and(|v| *consumer.vhost != *v) {
                continue;
            }
            out.push(json!({
                "consumer_tag": consumer.tag,
                "queue": {"name": consumer.queue, "vhost": &*consumer.vhost},
                "channel_details": {
                    "name": name,
                    "number": ch.number,
                    "connection_name": conn.name,
                    "peer_host": d.peer.ip().to_string(),
                    "peer_port": d.peer.port(),
                    "node": crate::broker::node_name(),
                    "user": d.user,
                },
                "ack_required": consumer.ack_required,
                "exclusive": consumer.exclusive,
                "prefetch_count": consumer.prefetch_count,
                "arguments": table(&consumer.arguments),
                "active": true,
                "activity_status": "up",
            }));
        }
    }
    out
}

/// The consumers on queue `queue` of `vhost` (a single queue's `consumer_details`).
pub(super) fn queue_consumers(state: &AppState, vhost: &str, queue: &str) -> Vec<Value> {
    consumers_of(state.broker.connections.list(), Some(vhost))
        .into_iter()
        .filter(|c| c["queue"]["name"] == queue)
        .collect()
}

fn respond_consumers(
    params: &HashMap<String, String>,
    items: Vec<Value>,
) -> ApiResult<Json<Value>> {
    let keyed: Vec<(String, String, Value)> = items
        .into_iter()
        .map(|v| {
            let vhost = v["queue"]["vhost"].as_str().unwrap_or_default().to_string();
            let tag = v["consumer_tag"].as_str().unwrap_or_default().to_string();
            (vhost, tag, v)
        })
        .collect();
    ListQuery::parse(params)?
        .respond(
            keyed,
            |(v, t, _)| (v.as_str(), t.as_str()),
            |(_, _, v)| v.clone(),
        )
        .map(Json)
}

async fn list_consumers(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let all = consumers_of(connections_of(&state, &principal, None), None);
    respond_consumers(&params, all)
}

async fn vhost_consumers(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    find_vhost(&state, &principal, &vhost)?;
    let all = consumers_of(connections_of(&state, &principal, None), Some(&vhost));
    respond_consumers(&params, all)
}
