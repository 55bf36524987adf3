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

/// How many seconds `unit` lasts, for the certificate check: `days`, `weeks`, `months` (of
/// 30 days) or `years` (of 365 days); RabbitMQ refuses the singular forms too.
fn unit_seconds(unit: &str) -> Option<i64> {
    match unit {
        "days" => Some(86_400),
        "weeks" => Some(7 * 86_400),
        "months" => Some(30 * 86_400),
        "years" => Some(365 * 86_400),
        _ => None,
    }
}

/// `/api/health/checks/certificate-expiration/{within}/{unit}`: fails (503, the expiring
/// listeners under `expired`) when a certificate in a TLS listener's `certfile` expires
/// within that period; 400 with RabbitMQ's reasons for a bad number or unit.
pub(super) async fn certificate_expiration(
    State(state): State<AppState>,
    Path((within, unit)): Path<(String, String)>,
) -> ApiResult<Response> {
    let within: i64 = within
        .parse()
        .map_err(|_| ApiError::BadRequest("Invalid expiration value.".to_string()))?;
    let unit = unit_seconds(&unit).ok_or_else(|| {
        ApiError::BadRequest(
            "Time unit not recognised. Supported units: days, weeks, months, years.".to_string(),
        )
    })?;
    let horizon = x509_parser::time::ASN1Time::now().timestamp() + within.saturating_mul(unit);
    let mut expiring = Vec::new();
    for listener in state.listeners.iter() {
        let Some(certfile) = listener
            .ssl_opts
            .as_ref()
            .and_then(|o| o.get("certfile"))
            .and_then(serde_json::Value::as_str)
        else {
            continue;
        };
        if let Some(expires_on) = first_expiry_before(std::path::Path::new(certfile), horizon) {
            expiring.push(json!({
                "node": crate::broker::node_name(),
                "protocol": listener.protocol,
                "interface": listener.addr.ip().to_string(),
                "port": listener.addr.port(),
                "certfile": certfile,
                "expires_on": expires_on,
            }));
        }
    }
    if expiring.is_empty() {
        return Ok(ok());
    }
    Ok(failed(
        "Certificates expiring".to_string(),
        json!({"expired": expiring}),
    ))
}

/// When the first certificate of the PEM file at `path` that expires before `horizon`
/// (seconds since the epoch) expires; `None` when none does. An unreadable file counts as
/// expiring now, since the listener could not load it again.
fn first_expiry_before(path: &std::path::Path, horizon: i64) -> Option<String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let Ok(certs) = CertificateDer::pem_file_iter(path) else {
        return Some("unreadable".to_string());
    };
    for cert in certs {
        let Ok(cert) = cert else {
            return Some("unreadable".to_string());
        };
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
            return Some("unreadable".to_string());
        };
        let not_after = parsed.validity().not_after;
        if not_after.timestamp() <= horizon {
            return Some(not_after.to_string());
        }
    }
    None
}

/// `/api/health/checks/node-is-quorum-critical`: whether stopping the node that answers
/// would leave the cluster's voters without a majority. A single node answers ok with
/// RabbitMQ's `single node cluster`; a cluster node (the leader answers: requests are
/// forwarded to it) fails with the quorum queues that would become unavailable.
pub(super) async fn node_is_quorum_critical(State(state): State<AppState>) -> Response {
    let Some(view) = &state.cluster else {
        return ok_with("reason", json!("single node cluster"));
    };
    let members = view.members();
    let voters = members.iter().filter(|m| m.voter).count();
    if voters <= 1 {
        return ok_with("reason", json!("single node cluster"));
    }
    let running_voters = members.iter().filter(|m| m.voter && m.running).count();
    if running_voters.saturating_sub(1) > voters / 2 {
        return ok();
    }
    let queues: Vec<serde_json::Value> = state
        .broker
        .vhosts()
        .iter()
        .flat_map(|v| v.queues())
        .filter(|q| q.args.queue_type == crate::broker::queue::args::QueueType::Quorum)
        .map(|q| json!({"name": q.decl.name.to_string_lossy(), "virtual_host": &*q.vhost_name}))
        .collect();
    failed(
        "There are quorum queues that would lose their quorum if the target node is shut down"
            .to_string(),
        json!({"queues": queues}),
    )
}

/// `/api/health/checks/node-is-mirror-sync-critical`: Warren has no classic mirrored
/// queues, so no node is ever their last synchronised mirror.
pub(super) async fn node_is_mirror_sync_critical(State(state): State<AppState>) -> Response {
    if state.cluster.is_none() {
        return ok_with("reason", json!("single node cluster"));
    }
    ok()
}
