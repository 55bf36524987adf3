//! Health checks: `/api/health/checks/*` and `/api/aliveness-test/{vhost}`. 200
//! `{"status":"ok"}` when healthy, 503 `{"status":"failed","reason":...}` otherwise, as
//! RabbitMQ answers; load balancers and probes look only at the status code.

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

fn ok() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// `{"status":"ok"}` with one more field (the port or protocol checked).
fn ok_with(key: &str, value: serde_json::Value) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("status".into(), json!("ok"));
    body.insert(key.into(), value);
    (StatusCode::OK, Json(serde_json::Value::Object(body))).into_response()
}

fn failed(reason: String, extra: serde_json::Value) -> Response {
    let mut body = json!({"status": "failed", "reason": reason});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            body.insert(k.clone(), v.clone());
        }
    }
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `/api/health/checks/alarms` and `/local-alarms` (one node: the same).
pub(super) async fn alarms(State(state): State<AppState>) -> Response {
    alarms_of(&state.broker.alarms)
}

/// The alarms check over `alarms` (re-checked first): a cluster follower answers
/// `local-alarms` with its own.
pub fn alarms_of(alarms: &crate::broker::alarms::Alarms) -> Response {
    alarms.check();
    match alarms.current() {
        None => ok(),
        Some(alarm) => {
            let resource = match alarm {
                crate::broker::alarms::Alarm::Memory => "memory",
                crate::broker::alarms::Alarm::Disk => "disk",
            };
            failed(
                "resource alarm(s) in effect in the cluster".to_string(),
                json!({"alarms": [{"node": crate::broker::node_name(), "resource": resource}]}),
            )
        }
    }
}

/// `/api/health/checks/virtual-hosts`: every vhost is running (always, in one process).
pub(super) async fn virtual_hosts() -> Response {
    ok()
}

/// `/api/health/checks/port-listener/{port}`.
pub(super) async fn port_listener(
    State(state): State<AppState>,
    Path(port): Path<String>,
) -> ApiResult<Response> {
    let port: u16 = port
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid port {port:?}")))?;
    if state.listeners.iter().any(|l| l.addr.port() == port) {
        return Ok(ok_with("port", json!(port)));
    }
    let mut ports: Vec<u16> = state.listeners.iter().map(|l| l.addr.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    Ok(failed(
        "No active listener".to_string(),
        json!({"missing": port, "ports": ports}),
    ))
}

/// `/api/health/checks/protocol-listener/{protocol}`.
pub(super) async fn protocol_listener(
    State(state): State<AppState>,
    Path(protocol): Path<String>,
) -> Response {
    let wanted = normalise_protocol(&protocol);
    if state.listeners.iter().any(|l| l.protocol == wanted) {
        return ok_with("protocol", json!(wanted));
    }
    let mut protocols: Vec<&str> = state.listeners.iter().map(|l| l.protocol).collect();
    protocols.dedup();
    failed(
        "No active listener".to_string(),
        json!({"missing": protocol, "protocols": protocols}),
    )
}

/// RabbitMQ accepts aliases: `amqp091`, `amqp0.9.1`, `http`, `prometheus`.
fn normalise_protocol(p: &str) -> &str {
    match p.to_ascii_lowercase().as_str() {
        "amqp" | "amqp091" | "amqp0-9-1" | "amqp0.9.1" | "amqp0_9_1" => "amqp",
        "http" | "management" => "http",
        "prometheus" | "http/prometheus" => "http/prometheus",
        _ => "",
    }
}

/// `/api/aliveness-test/{vhost}`: 404 for an unknown vhost; otherwise a declare, publish
/// and get through the vhost's own queue, as RabbitMQ does.
pub(super) async fn aliveness(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
) -> ApiResult<Response> {
    let v = super::find_vhost(&state, &principal, &vhost)?;
    match super::queues::round_trip(&v, "aliveness-test") {
        Ok(()) => Ok(ok()),
        Err(reason) => Ok(failed(reason, json!({}))),
    }
}
