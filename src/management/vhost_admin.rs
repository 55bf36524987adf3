//! The vhost administration endpoints: `PUT`/`DELETE /api/vhosts/{name}` (routed with the
//! read-only listing in `vhosts.rs`) (creating a vhost over HTTP
//! grants the creating user configure/write/read `.*` on it, as RabbitMQ does; deleting one
//! closes its connections and removes its objects) and `/api/vhost-limits`.

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::users::{LimitOf, bad_request, limit_value, tags_of};
use crate::access::{AccessError, PermissionSpec, VHostRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/vhost-limits", get(limits_list))
        .route("/vhost-limits/{vhost}", get(limits_of))
        .route(
            "/vhost-limits/{vhost}/{name}",
            put(limit_put).delete(limit_delete),
        )
}

/// `POST /api/vhosts/{name}/start/{node}`: RabbitMQ restarts a vhost that failed on a
/// node. A Warren vhost runs while it exists, so starting it is done at once (204); another
/// node is 400 and an unknown vhost 400, with RabbitMQ's texts.
pub(super) async fn start_vhost(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((name, node)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    if node != crate::broker::node_name() {
        return Err(ApiError::BadRequest(format!(
            "Request to node {node} failed with nodedown"
        )));
    }
    if state.broker.vhost(&name).is_none() {
        return Err(ApiError::BadRequest(format!(
            "Request to node {node} failed with {{no_such_vhost,<<\"{name}\">>}}"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn put_vhost(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    if name.is_empty() || name.len() > 255 {
        return Err(ApiError::BadRequest(format!("invalid vhost name '{name}'")));
    }
    let access = &state.broker.access;
    let existing = access.vhost(&name);
    let description = match body.get("description") {
        Some(Value::String(s)) => s.clone(),
        _ => existing
            .as_ref()
            .map(|v| v.description.clone())
            .unwrap_or_default(),
    };
    let tags = if body.contains_key("tags") {
        tags_of(&body)?
    } else {
        existing
            .as_ref()
            .map(|v| v.tags.clone())
            .unwrap_or_default()
    };
    let record = VHostRecord {
        name: name.clone(),
        description,
        tags,
        limits: existing.map(|v| v.limits).unwrap_or_default(),
    };
    if !state.broker.add_vhost(record) {
        return Ok(StatusCode::NO_CONTENT);
    }
    access
        .set_permissions(&p.name, &name, PermissionSpec::all())
        .map_err(bad_request)?;
    Ok(StatusCode::CREATED)
}

pub(super) async fn delete_vhost(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    if state.broker.delete_vhost(&name) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

fn limits_entry(record: &VHostRecord) -> Option<Value> {
    (!record.limits.is_empty()).then(|| json!({"vhost": record.name, "value": record.limits}))
}

async fn limits_list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let items = state
        .broker
        .access
        .vhosts()
        .iter()
        .filter(|v| p.may_access_vhost(&v.name) || p.has_tag("monitoring"))
        .filter_map(limits_entry)
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn limits_of(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(vhost): Path<String>,
) -> ApiResult<Json<Value>> {
    let record = state
        .broker
        .access
        .vhost(&vhost)
        .ok_or(ApiError::NotFound)?;
    p.require_vhost(&vhost)?;
    Ok(Json(Value::Array(
        limits_entry(&record).into_iter().collect(),
    )))
}

async fn limit_put(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    let value = limit_value(&body, &name, LimitOf::VHost)?;
    match state
        .broker
        .access
        .set_vhost_limit(&vhost, &name, Some(value))
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(AccessError::VHostNotFound { .. }) => Err(ApiError::NotFound),
        Err(e) => Err(bad_request(e)),
    }
}

async fn limit_delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    match state.broker.access.set_vhost_limit(&vhost, &name, None) {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(AccessError::VHostNotFound { .. }) => Err(ApiError::NotFound),
        Err(e) => Err(bad_request(e)),
    }
}
