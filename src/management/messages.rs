//! Messages through the API: `POST /api/exchanges/{vhost}/{name}/publish` and
//! `POST /api/queues/{vhost}/{name}/get`, with RabbitMQ's body fields (`payload`,
//! `payload_encoding`, `properties`; `count`, `ackmode`, `encoding`, `truncate`).

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::{JsonBody, field_value, to_table};
use super::{AppState, find_vhost};
use crate::broker::message::{Message, unix_millis_now};
use crate::broker::queue::PublishOutcome;
use crate::broker::vhost::{RouteScratch, is_reply_address, store_publish};
use crate::metrics::counters::exchange as x;
use crate::protocol::{BasicProperties, ShortStr};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A message published by the broker itself (API publish, aliveness test).
pub(super) fn build_message(
    exchange: ShortStr,
    routing_key: ShortStr,
    raw_properties: Bytes,
    body: Bytes,
    persistent: bool,
) -> Arc<Message> {
    let priority = BasicProperties::decode(&raw_properties)
        .ok()
        .and_then(|p| p.priority);
    let body_size = body.len() as u64;
    Arc::new(Message {
        id: Message::next_id(),
        exchange,
        routing_key,
        raw_properties,
        body: vec![body],
        body_size,
        persistent,
        priority,
        expiration: None,
        published_at_ms: unix_millis_now(),
        bcc: Vec::new(),
        store_gate: Default::default(),
    })
}

/// 400 naming every key of `keys` that `body` lacks, as RabbitMQ prints the list: on one
/// line while it fits in 80 columns (`[{key_missing,properties},{key_missing,payload}]`),
/// otherwise one element a line, as Erlang's `~p` breaks it.
fn require_keys(body: &Map<String, Value>, keys: &[&str]) -> ApiResult<()> {
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !body.contains_key(**k))
        .map(|k| format!("{{key_missing,{k}}}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let one_line = format!("[{}]", missing.join(","));
    if one_line.len() <= 80 {
        return Err(ApiError::BadRequest(one_line));
    }
    Err(ApiError::BadRequest(format!("[{}]", missing.join(",\n "))))
}

fn text_field<'a>(body: &'a Map<String, Value>, key: &str) -> ApiResult<&'a str> {
    match body.get(key) {
        Some(Value::String(s)) => Ok(s),
        None => Err(ApiError::BadRequest(format!("{key} is missing"))),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{key} must be a string, got {other}"
        ))),
    }
}

fn short(value: &str, key: &str) -> ApiResult<ShortStr> {
    ShortStr::from_bytes(Bytes::copy_from_slice(value.as_bytes()))
        .ok_or_else(|| ApiError::BadRequest(format!("{key} is longer than 255 bytes")))
}

/// Properties from the API's JSON object (RabbitMQ's names; `type` is the AMQP type).
fn properties_from_json(v: Option<&Value>) -> ApiResult<BasicProperties> {
    let mut p = BasicProperties::default();
    let map = match v {
        None | Some(Value::Null) => return Ok(p),
        Some(Value::Object(map)) => map,
        Some(Value::Array(a)) if a.is_empty() => return Ok(p),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "properties must be an object, got {other}"
            )));
        }
    };
    let text = |key: &str, v: &Value| -> ApiResult<ShortStr> {
        match v {
            Value::String(s) => short(s, key),
            other => Err(ApiError::BadRequest(format!(
                "property {key} must be a string, got {other}"
            ))),
        }
    };
    let octet = |key: &str, v: &Value| -> ApiResult<u8> {
        v.as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| ApiError::BadRequest(format!("property {key} must be 0..255, got {v}")))
    };
    for (key, v) in map {
        match key.as_str() {
            "content_type" => p.content_type = Some(text(key, v)?),
            "content_encoding" => p.content_encoding = Some(text(key, v)?),
            "correlation_id" => p.correlation_id = Some(text(key, v)?),
            "reply_to" => p.reply_to = Some(text(key, v)?),
            "expiration" => p.expiration = Some(text(key, v)?),
            "message_id" => p.message_id = Some(text(key, v)?),
            "type" => p.kind = Some(text(key, v)?),
            "user_id" => p.user_id = Some(text(key, v)?),
            "app_id" => p.app_id = Some(text(key, v)?),
            "cluster_id" => p.cluster_id = Some(text(key, v)?),
            "delivery_mode" => p.delivery_mode = Some(octet(key, v)?),
            "priority" => p.priority = Some(octet(key, v)?),
            "timestamp" => {
                p.timestamp = Some(v.as_u64().ok_or_else(|| {
                    ApiError::BadRequest(format!("property timestamp must be a number, got {v}"))
                })?)
            }
            "headers" => match v {
                Value::Object(h) => p.headers = Some(to_table(h)),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "property headers must be an object, got {other}"
                    )));
                }
            },
            other => {
                return Err(ApiError::BadRequest(format!("unknown property {other}")));
            }
        }
    }
    Ok(p)
}

/// Properties as the API shows them: an object of the ones set, or `[]` when none are
/// (RabbitMQ's rendering of an empty property list).
fn properties_to_json(raw: &Bytes) -> Value {
    let Ok(p) = BasicProperties::decode(raw) else {
        return json!([]);
    };
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.to_string(), v);
        }
    };
    let s = |v: &Option<ShortStr>| v.as_ref().map(|s| json!(s.to_string_lossy()));
    put("content_type", s(&p.content_type));
    put("content_encoding", s(&p.content_encoding));
    put("priority", p.priority.map(|n| json!(n)));
    put("correlation_id", s(&p.correlation_id));
    put("reply_to", s(&p.reply_to));
    put("expiration", s(&p.expiration));
    put("message_id", s(&p.message_id));
    put("timestamp", p.timestamp.map(|n| json!(n)));
    put("type", s(&p.kind));
    put("user_id", s(&p.user_id));
    put("app_id", s(&p.app_id));
    put("cluster_id", s(&p.cluster_id));
    put("delivery_mode", p.delivery_mode.map(|n| json!(n)));
    put(
        "headers",
        p.headers
            .as_ref()
            .map(|h| field_value(&crate::protocol::FieldValue::Table(h.clone()))),
    );
    if out.is_empty() {
        json!([])
    } else {
        Value::Object(out)
    }
}

/// `POST /api/exchanges/{vhost}/{name}/publish` → `{"routed": bool}`. `amq.default` is
/// the default exchange. An unknown exchange is 400 with the 404 reply text, as in
/// RabbitMQ.
pub(super) async fn publish(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, exchange)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let v = find_vhost(&state, &principal, &vhost)?;
    require_keys(
        &body,
        &["routing_key", "properties", "payload", "payload_encoding"],
    )?;
    let exchange_name = if exchange == "amq.default" {
        ShortStr::from_static("")
    } else {
        short(&exchange, "exchange")?
    };
    let routing_key = short(text_field(&body, "routing_key")?, "routing_key")?;
    let payload = text_field(&body, "payload")?;
    // Present: `require_keys` checked it.
    let encoding = text_field(&body, "payload_encoding")?;
    let payload = match encoding {
        "string" => Bytes::copy_from_slice(payload.as_bytes()),
        "base64" => Bytes::from(
            B64.decode(payload.trim())
                .map_err(|_| ApiError::BadRequest("payload is not valid base64".to_string()))?,
        ),
        other => {
            return Err(ApiError::BadRequest(format!(
                "payload_encoding must be string or base64, got {other:?}"
            )));
        }
    };
    let props = properties_from_json(body.get("properties"))?;
    let raw = props.to_raw();
    let mut scratch = RouteScratch::default();
    v.route(&exchange_name, &routing_key, &raw, &mut scratch)
        .map_err(|e| ApiError::BadRequest(format!("{} {}", e.code.code(), e.reply_text())))?;
    let message = build_message(
        exchange_name,
        routing_key,
        raw,
        payload,
        props.delivery_mode == Some(2),
    );
    let routed = scratch.queues.iter().any(|q| !is_reply_address(q.name()));
    if let Some(first) = &scratch.first {
        first.stats.counters.add(x::PUBLISH_IN, 1);
        if routed {
            first.stats.counters.add(x::PUBLISH_OUT, 1);
        }
    }
    let mut entries = Vec::new();
    for queue in scratch.queues.drain(..) {
        if let PublishOutcome::Accepted(Some(entry)) = queue.publish(Arc::clone(&message)) {
            entries.push((queue, entry));
        }
    }
    if !entries.is_empty() {
        store_publish(
            &state.broker.alarms,
            &state.broker.store,
            &message,
            entries,
            None,
        );
    }
    Ok(Json(json!({ "routed": routed })))
}

/// `count` as a number or a numeric string (rabbitmqadmin sends `"1"`).
fn count_field(body: &Map<String, Value>) -> ApiResult<u64> {
    let bad = || ApiError::BadRequest("count must be a number".to_string());
    match body.get("count") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(-1) => Ok(u64::MAX),
            Some(n) => u64::try_from(n).map_err(|_| bad()),
            None => Err(bad()),
        },
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(-1) => Ok(u64::MAX),
            Ok(n) => u64::try_from(n).map_err(|_| bad()),
            Err(_) => Err(bad()),
        },
        None => Err(ApiError::BadRequest("count is missing".to_string())),
        Some(_) => Err(bad()),
    }
}

/// `POST /api/queues/{vhost}/{name}/get`: takes up to `count` messages and then, by
/// `ackmode`, requeues them (`ack_requeue_true`, `reject_requeue_true`), removes them
/// (`ack_requeue_false`) or dead-letters them (`reject_requeue_false`).
pub(super) async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let (_, queue) = super::queues::find_queue(&state, &principal, &vhost, &name)?;
    let count = count_field(&body)?;
    let ackmode = text_field(&body, "ackmode")?;
    let (requeue, reject) = match ackmode {
        "ack_requeue_true" => (true, false),
        "reject_requeue_true" => (true, true),
        "ack_requeue_false" => (false, false),
        "reject_requeue_false" => (false, true),
        other => {
            return Err(ApiError::BadRequest(format!(
                "ackmode must be ack_requeue_true, ack_requeue_false, reject_requeue_true or \
                 reject_requeue_false, got {other:?}"
            )));
        }
    };
    let encoding = match body.get("encoding") {
        None => "auto",
        Some(Value::String(s)) if s == "auto" || s == "base64" => s.as_str(),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "encoding must be auto or base64, got {other}"
            )));
        }
    };
    let truncate = match body.get("truncate") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| ApiError::BadRequest("truncate must be a number".to_string()))?,
        ),
    };
    let mut taken = Vec::new();
    let mut out = Vec::new();
    use crate::metrics::counters::queue as q;
    while (taken.len() as u64) < count {
        let Some((qm, left)) = queue.get(false) else {
            break;
        };
        queue.stats.counters.add(q::GET, 1);
        if qm.redelivered {
            queue.stats.counters.add(q::REDELIVER, 1);
        }
        let body = qm.message.body.concat();
        let payload_bytes = body.len();
        let shown = match truncate {
            Some(n) => body
                .get(..usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(&body),
            None => &body,
        };
        let (payload, payload_encoding) = match (encoding, std::str::from_utf8(shown)) {
            ("auto", Ok(text)) => (text.to_string(), "string"),
            _ => (B64.encode(shown), "base64"),
        };
        out.push(json!({
            "payload_bytes": payload_bytes,
            "redelivered": qm.redelivered,
            "exchange": qm.message.exchange.to_string_lossy(),
            "routing_key": qm.message.routing_key.to_string_lossy(),
            "message_count": left,
            "properties": properties_to_json(&crate::broker::queue::delivery_count::properties_for(
                &qm.message.raw_properties,
                queue.args.queue_type,
                qm.delivery_count,
                crate::broker::queue::delivery_count::Handout::Get,
            )),
            "payload": payload,
            "payload_encoding": payload_encoding,
        }));
        taken.push(qm);
    }
    if requeue {
        queue.requeue(taken);
    } else if reject {
        queue.reject(taken);
    } else {
        queue.ack(&taken);
    }
    Ok(Json(Value::Array(out)))
}
