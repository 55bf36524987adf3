//! Permission endpoints: `/api/permissions[/{vhost}/{user}]` and
//! `/api/topic-permissions[/{vhost}/{user}]`. Changes take effect for the next AMQP
//! operation at once; every endpoint needs an administrator.

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::users::bad_request;
use crate::access::{AccessError, PermissionSpec, TopicPermissionSpec};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/permissions", get(list))
        .route(
            "/permissions/{vhost}/{user}",
            get(show).put(put).delete(delete),
        )
        .route("/vhosts/{vhost}/permissions", get(vhost_list))
        .route("/vhosts/{vhost}/topic-permissions", get(vhost_topic_list))
        .route("/topic-permissions", get(topic_list))
        .route(
            "/topic-permissions/{vhost}/{user}",
            get(topic_show).put(topic_put).delete(topic_delete),
        )
}

/// A permission as RabbitMQ shows it.
pub(super) fn permission_json(user: &str, vhost: &str, spec: &PermissionSpec) -> Value {
    json!({
        "user": user,
        "vhost": vhost,
        "configure": spec.configure,
        "write": spec.write,
        "read": spec.read,
    })
}

/// A topic permission as RabbitMQ shows it.
pub(super) fn topic_permission_json(user: &str, vhost: &str, spec: &TopicPermissionSpec) -> Value {
    json!({
        "user": user,
        "vhost": vhost,
        "exchange": spec.exchange,
        "write": spec.write,
        "read": spec.read,
    })
}

/// A required string field (absent is 400).
fn field(body: &Map<String, Value>, key: &str) -> ApiResult<String> {
    match body.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ApiError::BadRequest(format!("{key} must be a string"))),
    }
}

fn refused_change(e: AccessError) -> ApiError {
    bad_request(e)
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let items = state
        .broker
        .access
        .all_permissions()
        .into_iter()
        .map(|(u, v, s)| permission_json(&u, &v, &s))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn show(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let spec = state
        .broker
        .access
        .permissions(&user, &vhost)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(permission_json(&user, &vhost, &spec)))
}

async fn put(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, user)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    let spec = PermissionSpec {
        configure: field(&body, "configure")?,
        write: field(&body, "write")?,
        read: field(&body, "read")?,
    };
    let access = &state.broker.access;
    let existed = access.permissions(&user, &vhost).is_some();
    access
        .set_permissions(&user, &vhost, spec)
        .map_err(refused_change)?;
    Ok(if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    })
}

async fn delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    if state.broker.access.clear_permissions(&user, &vhost) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /api/vhosts/{vhost}/permissions`: every user's permissions on one vhost.
async fn vhost_list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(vhost): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    state
        .broker
        .access
        .vhost(&vhost)
        .ok_or(ApiError::NotFound)?;
    let items = state
        .broker
        .access
        .all_permissions()
        .into_iter()
        .filter(|(_, v, _)| *v == vhost)
        .map(|(u, v, s)| permission_json(&u, &v, &s))
        .collect();
    Ok(Json(Value::Array(items)))
}

/// `GET /api/vhosts/{vhost}/topic-permissions`: every user's topic permissions on one
/// vhost.
async fn vhost_topic_list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(vhost): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    state
        .broker
        .access
        .vhost(&vhost)
        .ok_or(ApiError::NotFound)?;
    let items = state
        .broker
        .access
        .all_topic_permissions()
        .into_iter()
        .filter(|(_, v, _)| *v == vhost)
        .map(|(u, v, s)| topic_permission_json(&u, &v, &s))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn topic_list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let items = state
        .broker
        .access
        .all_topic_permissions()
        .into_iter()
        .map(|(u, v, s)| topic_permission_json(&u, &v, &s))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn topic_show(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let items: Vec<Value> = state
        .broker
        .access
        .all_topic_permissions()
        .into_iter()
        .filter(|(u, v, _)| *u == user && *v == vhost)
        .map(|(u, v, s)| topic_permission_json(&u, &v, &s))
        .collect();
    if items.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Value::Array(items)))
}

async fn topic_put(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, user)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    let spec = TopicPermissionSpec {
        exchange: field(&body, "exchange")?,
        write: field(&body, "write")?,
        read: field(&body, "read")?,
    };
    state
        .broker
        .access
        .set_topic_permission(&user, &vhost, spec)
        .map_err(refused_change)?;
    Ok(StatusCode::CREATED)
}

async fn topic_delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vhost, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    if state
        .broker
        .access
        .clear_topic_permissions(&user, &vhost, None)
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
