//! Health checks: `/api/health/checks/*` and `/api/aliveness-test/{vhost}`. 200
//! `{"status":"ok"}` when healthy, 503 `{"status":"failed","reason":...}` otherwise, as
//! RabbitMQ answers; load balancers and probes look only at the status code.

use super::AppState;
use super::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn ok() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
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
    state.broker.alarms.check();
    match state.broker.alarms.current() {
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
        return Ok(ok());
    }
    let ports: Vec<u16> = state.listeners.iter().map(|l| l.addr.port()).collect();
    Ok(failed(
        format!("No active listener on port {port}"),
        json!({"port": port, "missing": port, "ports": ports}),
    ))
}

/// `/api/health/checks/protocol-listener/{protocol}`.
pub(super) async fn protocol_listener(
    State(state): State<AppState>,
    Path(protocol): Path<String>,
) -> Response {
    let wanted = normalise_protocol(&protocol);
    if state.listeners.iter().any(|l| l.protocol == wanted) {
        return ok();
    }
    let protocols: Vec<&str> = state.listeners.iter().map(|l| l.protocol).collect();
    failed(
        format!("No active listener for protocol {protocol}"),
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
    Path(vhost): Path<String>,
) -> ApiResult<Response> {
    let Some(v) = state.broker.vhost(&vhost) else {
        return Err(ApiError::NotFound);
    };
    match super::queues::round_trip(&v, "aliveness-test") {
        Ok(()) => Ok(ok()),
        Err(reason) => Ok(failed(reason, json!({}))),
    }
}
