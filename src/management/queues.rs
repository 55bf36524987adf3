//! Queue endpoints: `GET /api/queues[/{vhost}[/{name}]]`, `PUT`/`DELETE
//! /api/queues/{vhost}/{name}`, `DELETE .../contents` (purge), `POST .../get`,
//! `GET .../bindings`.
//!
//! Listings read each queue's atomics ([`crate::metrics::counters::QueueStats`]); no
//! queue lock is taken to list or render.

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::{JsonBody, put_counter, table};
use super::offload::Work;
use super::paging::ListQuery;
use super::ranges::Ranges;
use super::{AppState, find_vhost, listed_vhosts, short_name};
use crate::broker::queue::Queue;
use crate::broker::queue::args::QueueType;
use crate::broker::vhost::{QueueDeclareRequest, VHost, is_reply_address};
use crate::metrics::counters::queue as q;
use crate::metrics::sampler::Sampler;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/queues", get(list_all))
        .route("/queues/{vhost}", get(list_vhost))
        .route(
            "/queues/{vhost}/{name}",
            get(show).put(declare).delete(remove),
        )
        .route("/queues/{vhost}/{name}/contents", delete(purge))
        .route("/queues/{vhost}/{name}/get", post(super::messages::get))
        .route("/queues/{vhost}/{name}/bindings", get(bindings))
        .route("/queues/{vhost}/{name}/actions", post(actions))
}

fn queue_type(t: QueueType) -> &'static str {
    match t {
        QueueType::Classic => "classic",
        QueueType::Quorum => "quorum",
        QueueType::Stream => "stream",
    }
}

/// A queue's `message_stats`, or `None` before anything happened to it (RabbitMQ leaves
/// the key out then).
fn message_stats(queue: &Queue) -> Option<Value> {
    let c = &queue.stats.counters;
    let values = c.snapshot();
    if values.iter().all(|&v| v == 0) {
        return None;
    }
    let mut out = Map::new();
    for (key, i) in [
        ("publish", q::PUBLISH),
        ("deliver", q::DELIVER),
        ("deliver_no_ack", q::DELIVER_NO_ACK),
        ("get", q::GET),
        ("get_no_ack", q::GET_NO_ACK),
        ("ack", q::ACK),
        ("redeliver", q::REDELIVER),
    ] {
        put_counter(&mut out, key, c.get(i), c.rate(i));
    }
    let dg = [q::DELIVER, q::DELIVER_NO_ACK, q::GET, q::GET_NO_ACK];
    put_counter(
        &mut out,
        "deliver_get",
        dg.iter().map(|&i| c.get(i)).sum(),
        dg.iter().map(|&i| c.rate(i)).sum(),
    );
    put_counter(&mut out, "get_empty", 0, 0.0);
    Some(Value::Object(out))
}

/// A quorum queue's membership as RabbitMQ shows it (`leader`, `members`, `online`): on a
/// single node, this node is all three.
fn quorum_fields(out: &mut Map<String, Value>, queue: &Queue) {
    if queue.args.queue_type == QueueType::Quorum {
        let node = crate::broker::node_name();
        out.insert("leader".into(), json!(node));
        out.insert("members".into(), json!([node]));
        out.insert("online".into(), json!([node]));
    }
}

/// The message and byte counts a queue shows, by field name.
const COUNTS: [&str; 17] = [
    "consumers",
    "active_consumers",
    "memory",
    "messages",
    "messages_ready",
    "messages_unacknowledged",
    "messages_ram",
    "messages_ready_ram",
    "messages_unacknowledged_ram",
    "messages_persistent",
    "messages_paged_out",
    "message_bytes",
    "message_bytes_ready",
    "message_bytes_unacknowledged",
    "message_bytes_ram",
    "message_bytes_persistent",
    "message_bytes_paged_out",
];

/// A queue's count named `field` (one of [`COUNTS`]), read from its atomics.
fn count(queue: &Queue, field: &str) -> Option<u64> {
    let g = &queue.stats.gauges;
    let bytes = || g.get(q::READY_BYTES) + g.get(q::UNACKED_BYTES);
    let ready_ram = || g.get(q::READY).saturating_sub(g.get(q::PAGED_OUT));
    Some(match field {
        "consumers" | "active_consumers" => g.get(q::CONSUMERS),
        "memory" | "message_bytes" => bytes(),
        "messages" => g.get(q::READY) + g.get(q::UNACKED),
        "messages_ready" => g.get(q::READY),
        "messages_unacknowledged" | "messages_unacknowledged_ram" => g.get(q::UNACKED),
        "messages_ram" => ready_ram() + g.get(q::UNACKED),
        "messages_ready_ram" => ready_ram(),
        "messages_persistent" => g.get(q::PERSISTENT),
        "messages_paged_out" => g.get(q::PAGED_OUT),
        "message_bytes_ready" => g.get(q::READY_BYTES),
        "message_bytes_unacknowledged" => g.get(q::UNACKED_BYTES),
        "message_bytes_ram" => bytes().saturating_sub(g.get(q::PAGED_OUT_BYTES)),
        "message_bytes_persistent" => g.get(q::PERSISTENT_BYTES),
        "message_bytes_paged_out" => g.get(q::PAGED_OUT_BYTES),
        _ => return None,
    })
}

/// A queue's value at `path` as [`render`] shows it, without rendering the queue when the
/// path is a name, a count or inside `message_stats` (what listings sort by).
fn sort_value(queue: &Queue, path: &[String]) -> Option<Value> {
    match path {
        [field] if field == "name" => Some(json!(queue.decl.name.to_string_lossy())),
        [field] if field == "vhost" => Some(json!(&*queue.vhost_name)),
        [field] if COUNTS.contains(&field.as_str()) => count(queue, field).map(|n| json!(n)),
        [first, rest @ ..] if first == "message_stats" => {
            super::paging::lookup(&message_stats(queue)?, rest).cloned()
        }
        _ => super::paging::lookup(&render(queue), path).cloned(),
    }
}

/// One queue as RabbitMQ's API shows it.
pub(super) fn render(queue: &Queue) -> Value {
    let g = &queue.stats.gauges;
    let consumers = g.get(q::CONSUMERS);
    let mut out = Map::new();
    out.insert("name".into(), json!(queue.decl.name.to_string_lossy()));
    out.insert("vhost".into(), json!(&*queue.vhost_name));
    out.insert("type".into(), json!(queue_type(queue.args.queue_type)));
    out.insert("durable".into(), json!(queue.decl.durable));
    out.insert("auto_delete".into(), json!(queue.decl.auto_delete));
    out.insert(
        "exclusive".into(),
        json!(queue.decl.exclusive_owner.is_some()),
    );
    out.insert("arguments".into(), table(&queue.decl.arguments));
    out.insert("node".into(), json!(crate::broker::node_name()));
    out.insert("state".into(), json!("running"));
    quorum_fields(&mut out, queue);
    super::policies::policy_fields(&mut out, &queue.applied_policies());
    out.insert("exclusive_consumer_tag".into(), Value::Null);
    out.insert("single_active_consumer_tag".into(), Value::Null);
    out.insert("head_message_timestamp".into(), Value::Null);
    // RabbitMQ shows the integer 0 without consumers and a float with them.
    let utilisation = if consumers > 0 { json!(1.0) } else { json!(0) };
    out.insert("consumer_utilisation".into(), utilisation.clone());
    out.insert("consumer_capacity".into(), utilisation);
    out.insert("recoverable_slaves".into(), Value::Null);
    super::json::put_counter(&mut out, "reductions", 0, 0.0);
    for field in COUNTS {
        let n = count(queue, field).unwrap_or(0);
        match field {
            "messages" => put_counter(&mut out, field, n, g.rate(q::MESSAGES)),
            "messages_ready" => put_counter(&mut out, field, n, g.rate(q::READY)),
            "messages_unacknowledged" => put_counter(&mut out, field, n, g.rate(q::UNACKED)),
            _ => {
                out.insert(field.into(), json!(n));
            }
        }
    }
    let idle = queue
        .stats
        .idle_since_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    if idle > 0 {
        out.insert("idle_since".into(), json!(super::json::timestamp(idle)));
    }
    if let Some(stats) = message_stats(queue) {
        out.insert("message_stats".into(), stats);
    }
    if queue.args.queue_type == QueueType::Quorum {
        quorum_stats(&mut out);
    }
    Value::Object(out)
}

/// The statistics fields as RabbitMQ 3.10.8 shows them for a quorum queue: every message
/// counts as persistent and none as in RAM, dead-letter counters (`messages_dlx`) and
/// `open_files` appear, `single_active_consumer_tag` is `single_active_consumer_ctag`, and
/// the classic queue's paging, exclusive-consumer and mirroring fields are absent.
fn quorum_stats(out: &mut Map<String, Value>) {
    for key in [
        "active_consumers",
        "exclusive_consumer_tag",
        "head_message_timestamp",
        "message_bytes_paged_out",
        "messages_paged_out",
        "messages_ready_ram",
        "messages_unacknowledged_ram",
        "recoverable_slaves",
    ] {
        out.remove(key);
    }
    let tag = out
        .remove("single_active_consumer_tag")
        .unwrap_or(Value::Null);
    out.insert("single_active_consumer_ctag".into(), tag);
    for (persistent, total, ram) in [
        ("messages_persistent", "messages", "messages_ram"),
        (
            "message_bytes_persistent",
            "message_bytes",
            "message_bytes_ram",
        ),
    ] {
        let all = out.get(total).cloned().unwrap_or(json!(0));
        out.insert(persistent.into(), all);
        out.insert(ram.into(), json!(0));
    }
    out.insert("messages_dlx".into(), json!(0));
    out.insert("message_bytes_dlx".into(), json!(0));
    let node = crate::broker::node_name();
    out.insert("open_files".into(), json!({ node: 0 }));
}

/// One queue with the samples `ranges` ask for (none: just [`render`]).
fn render_ranged(queue: &Queue, ranges: &Ranges, sampler: &Sampler) -> Value {
    let mut out = render(queue);
    if !ranges.is_empty() {
        super::sampled::queue(&mut out, queue, ranges, sampler);
    }
    out
}

/// A queue without statistics (`disable_stats=true`, RabbitMQ's UI on big brokers), with
/// the message counts when `totals` (`enable_queue_totals=true`).
fn render_light(queue: &Queue, totals: bool) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(queue.decl.name.to_string_lossy()));
    out.insert("vhost".into(), json!(&*queue.vhost_name));
    out.insert("type".into(), json!(queue_type(queue.args.queue_type)));
    out.insert("durable".into(), json!(queue.decl.durable));
    out.insert("auto_delete".into(), json!(queue.decl.auto_delete));
    out.insert(
        "exclusive".into(),
        json!(queue.decl.exclusive_owner.is_some()),
    );
    out.insert("arguments".into(), table(&queue.decl.arguments));
    out.insert("node".into(), json!(crate::broker::node_name()));
    out.insert("state".into(), json!("running"));
    quorum_fields(&mut out, queue);
    if let Some(policy) = queue.applied_policies().policy_name() {
        out.insert("policy".into(), json!(policy));
    }
    if totals {
        let g = &queue.stats.gauges;
        let (ready, unacked) = (g.get(q::READY), g.get(q::UNACKED));
        out.insert("messages".into(), json!(ready + unacked));
        out.insert("messages_ready".into(), json!(ready));
        out.insert("messages_unacknowledged".into(), json!(unacked));
    }
    Value::Object(out)
}

/// The queues of `vhosts` a client can see (direct reply-to addresses are not queues).
fn visible(vhosts: &[Arc<VHost>]) -> Vec<Arc<Queue>> {
    vhosts
        .iter()
        .flat_map(|v| v.queues())
        .filter(|q| !is_reply_address(q.name()))
        .collect()
}

/// A listed queue's (vhost, name).
fn key((queue, name): &(Arc<Queue>, String)) -> (&str, &str) {
    (&queue.vhost_name, name.as_str())
}

/// A listing's JSON body.
fn respond(
    sampler: &Sampler,
    params: &HashMap<String, String>,
    vhosts: &[Arc<VHost>],
) -> ApiResult<Vec<u8>> {
    let query = ListQuery::parse(params)?;
    let ranges = Ranges::parse(params, sampler)?;
    let flag = |k: &str| params.get(k).is_some_and(|v| v == "true");
    let (stats, totals) = (!flag("disable_stats"), flag("enable_queue_totals"));
    let queues = visible(vhosts);
    // Names are copied out once so the sort borrows plain strings.
    let keyed: Vec<(Arc<Queue>, String)> = queues
        .into_iter()
        .map(|q| {
            let name = q.decl.name.to_string_lossy().into_owned();
            (q, name)
        })
        .collect();
    let body = if stats {
        query.respond_sorted(
            keyed,
            key,
            |(q, _), path| sort_value(q, path),
            |(q, _)| render_ranged(q, &ranges, sampler),
        )
    } else {
        query.respond(keyed, key, |(q, _)| render_light(q, totals))
    }?;
    serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Lists on the blocking pool, one listing at a time (see [`super::offload`]).
async fn listing(
    state: &AppState,
    params: HashMap<String, String>,
    vhosts: Vec<Arc<VHost>>,
) -> ApiResult<Response> {
    let broker = Arc::clone(&state.broker);
    let work = move || respond(&broker.sampler, &params, &vhosts);
    let body = state
        .offload
        .run(Work::QueueListing, work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn list_all(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let vhosts = listed_vhosts(&state, &principal, None)?;
    listing(&state, params, vhosts).await
}

async fn list_vhost(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let vhosts = listed_vhosts(&state, &principal, Some(&vhost))?;
    listing(&state, params, vhosts).await
}

/// The queue `name` of `vhost`, or 404.
pub(super) fn find_queue(
    state: &AppState,
    principal: &Principal,
    vhost: &str,
    name: &str,
) -> ApiResult<(Arc<VHost>, Arc<Queue>)> {
    let v = find_vhost(state, principal, vhost)?;
    let name = short_name(name)?;
    let queue = v.queue_or_404(&name).map_err(|_| ApiError::NotFound)?;
    Ok((v, queue))
}

async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let (_, queue) = find_queue(&state, &principal, &vhost, &name)?;
    let query = ListQuery::parse(&params)?;
    let ranges = Ranges::parse(&params, &state.broker.sampler)?;
    let mut out = render_ranged(&queue, &ranges, &state.broker.sampler);
    if let Some(map) = out.as_object_mut() {
        let consumers = super::connections::queue_consumers(&state, &vhost, &name);
        map.insert("consumer_details".into(), Value::Array(consumers));
        // Per-channel and per-exchange rates: empty with `rates_mode` basic, as in RabbitMQ.
        map.insert("deliveries".into(), json!([]));
        map.insert("incoming".into(), json!([]));
    }
    Ok(Json(query.select_columns(out)))
}

/// Reads an optional boolean field; any other type is 400.
pub(super) fn bool_field(body: &Map<String, Value>, key: &str, default: bool) -> ApiResult<bool> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{key} must be true or false, got {other}"
        ))),
    }
}

/// Reads the optional `arguments` object as a field table.
pub(super) fn arguments_field(body: &Map<String, Value>) -> ApiResult<crate::protocol::FieldTable> {
    match body.get("arguments") {
        None | Some(Value::Null) => Ok(crate::protocol::FieldTable::new()),
        Some(Value::Object(map)) => Ok(super::json::to_table(map)),
        // RabbitMQ's own UI sends an empty list for "no arguments".
        Some(Value::Array(a)) if a.is_empty() => Ok(crate::protocol::FieldTable::new()),
        Some(other) => Err(ApiError::BadRequest(format!(
            "arguments must be an object, got {other}"
        ))),
    }
}

/// `PUT /api/queues/{vhost}/{name}`: 201 when created, 204 when an equivalent queue
/// existed; an inequivalent one is 400 with the 406 reply text.
async fn declare(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    let v = find_vhost(&state, &principal, &vhost)?;
    let short =
        crate::protocol::ShortStr::from_bytes(bytes::Bytes::copy_from_slice(name.as_bytes()))
            .ok_or_else(|| ApiError::BadRequest("queue name longer than 255 bytes".to_string()))?;
    if name.starts_with("amq.") {
        return Err(ApiError::NotAuthorised(format!(
            "ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'"
        )));
    }
    if name.is_empty() {
        return Err(ApiError::NotFound);
    }
    let mut arguments = arguments_field(&body)?;
    if let Some(t) = body.get("queue_type").and_then(Value::as_str) {
        arguments.insert(
            "x-queue-type",
            crate::protocol::FieldValue::LongStr(bytes::Bytes::copy_from_slice(t.as_bytes())),
        );
    }
    let existed = v.queue(&short).is_some();
    let req = QueueDeclareRequest {
        name: short,
        passive: false,
        durable: bool_field(&body, "durable", true)?,
        exclusive: false,
        auto_delete: bool_field(&body, "auto_delete", false)?,
        arguments,
        connection_id: 0,
        max_queues: state.broker.access.vhost_limits(&v.name).max_queues,
    };
    v.declare_queue(req)?;
    Ok(if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    })
}

/// `DELETE /api/queues/{vhost}/{name}` with `if-empty` / `if-unused`.
async fn remove(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let (v, queue) = find_queue(&state, &principal, &vhost, &name)?;
    let flag = |k: &str| params.get(k).is_some_and(|v| v == "true");
    v.delete_queue(queue.name(), flag("if-unused"), flag("if-empty"), 0)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/queues/{vhost}/{name}/contents`.
async fn purge(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, queue) = find_queue(&state, &principal, &vhost, &name)?;
    queue.purge();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/queues/{vhost}/{name}/actions` with `{"action": "sync" | "cancel_sync"}`:
/// RabbitMQ's synchronisation of classic mirrors. Warren has no mirrors to synchronise,
/// so both are done at once (204); another action is 400.
async fn actions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    find_queue(&state, &principal, &vhost, &name)?;
    match body.get("action") {
        None => Err(ApiError::BadRequest("[{key_missing,action}]".to_string())),
        Some(Value::String(a)) if a == "sync" || a == "cancel_sync" => Ok(StatusCode::NO_CONTENT),
        Some(other) => Err(ApiError::BadRequest(format!(
            "unknown action {other}: sync or cancel_sync"
        ))),
    }
}

/// `GET /api/queues/{vhost}/{name}/bindings`: the default exchange's implicit binding
/// first, then every exchange binding to the queue.
async fn bindings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (v, queue) = find_queue(&state, &principal, &vhost, &name)?;
    let dest = crate::broker::exchange::Destination::Queue(queue.name().clone());
    let mut all = vec![super::bindings::default_binding(&v, queue.name())];
    all.extend(
        super::bindings::all_bindings(&v)
            .into_iter()
            .filter(|b| b.binding.destination == dest)
            .map(|b| b.render(&v)),
    );
    Ok(Json(Value::Array(all)))
}

/// Declares the vhost's `name` queue, publishes a message to it and gets it back
/// (the aliveness test).
pub(super) fn round_trip(vhost: &Arc<VHost>, name: &str) -> Result<(), String> {
    let short = crate::protocol::ShortStr::truncated(name);
    let declared = vhost
        .declare_queue(QueueDeclareRequest {
            name: short.clone(),
            passive: false,
            durable: false,
            exclusive: false,
            auto_delete: false,
            arguments: crate::protocol::FieldTable::new(),
            connection_id: 0,
            max_queues: None,
        })
        .map_err(|e| e.reply_text())?;
    let body = bytes::Bytes::from_static(b"test_message");
    let message = super::messages::build_message(
        crate::protocol::ShortStr::from_static(""),
        short,
        bytes::Bytes::new(),
        body.clone(),
        false,
    );
    declared.queue.purge();
    declared.queue.publish(message);
    match declared.queue.get(true) {
        Some((qm, _)) if qm.message.body.concat() == body => Ok(()),
        _ => Err("aliveness test failed".to_string()),
    }
}
