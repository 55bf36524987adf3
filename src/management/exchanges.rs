//! Exchange endpoints: `GET /api/exchanges[/{vhost}[/{name}]]`, `PUT`/`DELETE
//! /api/exchanges/{vhost}/{name}`, `POST .../publish`, `GET .../bindings/{source|destination}`.
//! The default exchange is listed with the name `""` and addressed as `amq.default`.

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::{JsonBody, put_counter, table};
use super::paging::ListQuery;
use super::ranges::Ranges;
use super::{AppState, find_vhost, listed_vhosts, short_name};
use crate::broker::exchange::Exchange;
use crate::broker::vhost::VHost;
use crate::metrics::counters::exchange as x;
use crate::metrics::sampler::Sampler;
use crate::protocol::ShortStr;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/exchanges", get(list_all))
        .route("/exchanges/{vhost}", get(list_vhost))
        .route(
            "/exchanges/{vhost}/{name}",
            get(show).put(declare).delete(remove),
        )
        .route(
            "/exchanges/{vhost}/{name}/publish",
            post(super::messages::publish),
        )
        .route(
            "/exchanges/{vhost}/{name}/bindings/source",
            get(bindings_source),
        )
        .route(
            "/exchanges/{vhost}/{name}/bindings/destination",
            get(bindings_destination),
        )
}

/// An exchange's `message_stats`, or `None` before any message went through it (RabbitMQ
/// leaves the key out then).
fn message_stats(x: &Exchange) -> Option<Value> {
    let c = &x.stats.counters;
    if c.snapshot().iter().all(|&v| v == 0) {
        return None;
    }
    let mut out = Map::new();
    put_counter(
        &mut out,
        "publish_in",
        c.get(x::PUBLISH_IN),
        c.rate(x::PUBLISH_IN),
    );
    put_counter(
        &mut out,
        "publish_out",
        c.get(x::PUBLISH_OUT),
        c.rate(x::PUBLISH_OUT),
    );
    Some(Value::Object(out))
}

/// One exchange (`None`: the default exchange) as the API shows it.
fn render(v: &VHost, x: Option<&Exchange>) -> Value {
    match x {
        Some(x) => {
            let user = if x.name.starts_with("amq.") {
                "rmq-internal"
            } else {
                "guest"
            };
            let mut out = json!({
                "name": x.name.to_string_lossy(),
                "vhost": &*v.name,
                "type": x.kind.as_str(),
                "durable": x.durable,
                "auto_delete": x.auto_delete,
                "internal": x.internal,
                "arguments": table(&x.arguments),
                "user_who_performed_action": user,
            });
            // RabbitMQ shows `policy` only when one applies, `message_stats` only once
            // messages went through.
            if let Some(map) = out.as_object_mut() {
                if let Some(policy) = x.applied_policies().policy_name() {
                    map.insert("policy".into(), json!(policy));
                }
                if let Some(stats) = message_stats(x) {
                    map.insert("message_stats".into(), stats);
                }
            }
            out
        }
        None => json!({
            "name": "",
            "vhost": &*v.name,
            "type": "direct",
            "durable": true,
            "auto_delete": false,
            "internal": false,
            "arguments": {},
            "user_who_performed_action": "rmq-internal",
        }),
    }
}

type Item = (Arc<VHost>, Option<Arc<Exchange>>, String);

fn items(vhosts: &[Arc<VHost>]) -> Vec<Item> {
    let mut out = Vec::new();
    for v in vhosts {
        out.push((Arc::clone(v), None, String::new()));
        for x in v.exchanges() {
            let name = x.name.to_string_lossy().into_owned();
            out.push((Arc::clone(v), Some(x), name));
        }
    }
    out
}

/// One exchange with the samples `ranges` ask for.
fn render_ranged(v: &VHost, x: Option<&Exchange>, ranges: &Ranges, sampler: &Sampler) -> Value {
    let mut out = render(v, x);
    if let Some(x) = x
        && !ranges.is_empty()
    {
        super::sampled::exchange(&mut out, x, ranges, sampler);
    }
    out
}

fn respond(
    state: &AppState,
    params: &HashMap<String, String>,
    vhosts: &[Arc<VHost>],
) -> ApiResult<Json<Value>> {
    let query = ListQuery::parse(params)?;
    let sampler = &state.broker.sampler;
    let ranges = Ranges::parse(params, sampler)?;
    query
        .respond(
            items(vhosts),
            |(v, _, name)| (&*v.name, name.as_str()),
            |(v, x, _)| render_ranged(v, x.as_deref(), &ranges, sampler),
        )
        .map(Json)
}

async fn list_all(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    respond(&state, &params, &listed_vhosts(&state, &principal, None)?)
}

async fn list_vhost(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    respond(
        &state,
        &params,
        &listed_vhosts(&state, &principal, Some(&vhost))?,
    )
}

/// The exchange `name` of `vhost` (`amq.default` is the default exchange, `None`).
fn find(
    state: &AppState,
    principal: &Principal,
    vhost: &str,
    name: &str,
) -> ApiResult<(Arc<VHost>, Option<Arc<Exchange>>)> {
    let v = find_vhost(state, principal, vhost)?;
    if name == "amq.default" {
        return Ok((v, None));
    }
    let x = v.exchange(&short_name(name)?).ok_or(ApiError::NotFound)?;
    Ok((v, Some(x)))
}

async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let (v, x) = find(&state, &principal, &vhost, &name)?;
    let query = ListQuery::parse(&params)?;
    let ranges = Ranges::parse(&params, &state.broker.sampler)?;
    let mut out = render_ranged(&v, x.as_deref(), &ranges, &state.broker.sampler);
    // One exchange also lists its publishers and destinations with their rates; with
    // `rates_mode` basic RabbitMQ leaves both empty.
    if let Some(map) = out.as_object_mut() {
        map.insert("incoming".into(), json!([]));
        map.insert("outgoing".into(), json!([]));
    }
    Ok(Json(query.select_columns(out)))
}

/// `PUT /api/exchanges/{vhost}/{name}` with `type`, `durable`, `auto_delete`, `internal`,
/// `arguments`: 201 created, 204 when an equivalent one existed.
async fn declare(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    let v = find_vhost(&state, &principal, &vhost)?;
    if name.is_empty() || name == "amq.default" {
        return Err(ApiError::NotAuthorised("Access refused.".to_string()));
    }
    let short = ShortStr::from_bytes(bytes::Bytes::copy_from_slice(name.as_bytes()))
        .ok_or_else(|| ApiError::BadRequest("exchange name longer than 255 bytes".into()))?;
    let kind = match body.get("type") {
        Some(Value::String(t)) => t.clone(),
        None => return Err(ApiError::BadRequest("type is missing".to_string())),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "type must be a string, got {other}"
            )));
        }
    };
    let kind = ShortStr::from_bytes(bytes::Bytes::copy_from_slice(kind.as_bytes()))
        .ok_or_else(|| ApiError::BadRequest("type is too long".into()))?;
    let existed = v.exchange(&short).is_some();
    v.declare_exchange(
        &short,
        &kind,
        false,
        super::queues::bool_field(&body, "durable", true)?,
        super::queues::bool_field(&body, "auto_delete", false)?,
        super::queues::bool_field(&body, "internal", false)?,
        &super::queues::arguments_field(&body)?,
    )
    .map_err(|e| match ApiError::from(e) {
        // The API words AMQP's "unknown exchange type" as RabbitMQ's HTTP layer does.
        ApiError::BadRequest(r) if r.starts_with("unknown exchange type") => {
            ApiError::BadRequest(r.replacen("unknown", "invalid", 1))
        }
        other => other,
    })?;
    Ok(if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    })
}

/// `DELETE /api/exchanges/{vhost}/{name}[?if-unused=true]`.
async fn remove(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let (v, x) = find(&state, &principal, &vhost, &name)?;
    let Some(x) = x else {
        return Err(ApiError::NotAuthorised("Access refused.".to_string()));
    };
    let if_unused = params.get("if-unused").is_some_and(|v| v == "true");
    v.delete_exchange(&x.name, if_unused)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn bindings_source(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (v, x) = find(&state, &principal, &vhost, &name)?;
    let Some(x) = x else {
        return Ok(Json(json!([])));
    };
    Ok(Json(super::bindings::exchange_bindings(&v, &x.name, true)))
}

async fn bindings_destination(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (v, x) = find(&state, &principal, &vhost, &name)?;
    let Some(x) = x else {
        return Ok(Json(json!([])));
    };
    Ok(Json(super::bindings::exchange_bindings(&v, &x.name, false)))
}
