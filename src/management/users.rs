//! User endpoints: `/api/users[/{name}]`, `/api/users/{name}/permissions`,
//! `/api/users/{name}/topic-permissions`, `/api/whoami` and `/api/user-limits`. Reads show
//! the password hash and algorithm as RabbitMQ does (never a password); writes need an
//! administrator.

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::permissions::{permission_json, topic_permission_json};
use crate::access::password::{HashingAlgorithm, PasswordHash};
use crate::access::users::{User, parse_tags};
use crate::access::{AccessError, NewPassword};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/", get(list))
        .route("/users/without-permissions", get(without_permissions))
        .route("/users/bulk-delete", axum::routing::post(bulk_delete))
        .route("/users/{name}", get(show).put(put).delete(delete))
        .route("/users/{name}/permissions", get(permissions))
        .route("/users/{name}/topic-permissions", get(topic_permissions))
        .route("/whoami", get(whoami))
        .route("/user-limits", get(limits_list))
        .route("/user-limits/{user}", get(limits_of))
        .route(
            "/user-limits/{user}/{name}",
            axum::routing::put(limit_put).delete(limit_delete),
        )
}

/// A user as `/api/users` shows it.
pub(super) fn user_json(u: &User) -> Value {
    json!({
        "name": u.name,
        "password_hash": u.password.to_base64(),
        "hashing_algorithm": u.password.algorithm().name(),
        "tags": u.tags,
        "limits": u.limits,
    })
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let users: Vec<Value> = state
        .broker
        .access
        .users()
        .iter()
        .map(|u| user_json(u))
        .collect();
    Ok(Json(Value::Array(users)))
}

/// `GET /api/users/without-permissions`: users with no permissions on any vhost.
async fn without_permissions(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let access = &state.broker.access;
    let users: Vec<Value> = access
        .users()
        .iter()
        .filter(|u| access.vhosts_of(&u.name).is_empty())
        .map(|u| user_json(u))
        .collect();
    Ok(Json(Value::Array(users)))
}

async fn show(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    let user = state.broker.access.user(&name).ok_or(ApiError::NotFound)?;
    Ok(Json(user_json(&user)))
}

/// Reads `tags` as a list or a comma-separated string (older exports, rabbitmqadmin).
pub(super) fn tags_of(body: &Map<String, Value>) -> ApiResult<Vec<String>> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(parse_tags(s)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.trim().to_string()),
                _ => Err(ApiError::BadRequest("tags must be strings".to_string())),
            })
            .filter(|t| !matches!(t, Ok(s) if s.is_empty()))
            .collect(),
        Some(_) => Err(ApiError::BadRequest(
            "tags must be a list or a comma-separated string".to_string(),
        )),
    }
}

/// Reads `password`, or `password_hash` with `hashing_algorithm` (SHA-256 by default).
pub(super) fn password_of(body: &Map<String, Value>) -> ApiResult<NewPassword> {
    let text = |key: &str| match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::BadRequest(format!("{key} must be a string"))),
    };
    if let Some(password) = text("password")? {
        return Ok(NewPassword::Clear(password.into_bytes()));
    }
    let Some(hash) = text("password_hash")? else {
        return Ok(NewPassword::None);
    };
    let algorithm = match text("hashing_algorithm")? {
        Some(name) => {
            HashingAlgorithm::from_name(&name).map_err(|e| ApiError::BadRequest(e.to_string()))?
        }
        None => HashingAlgorithm::Sha256,
    };
    let hash = PasswordHash::from_base64(algorithm, &hash)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(NewPassword::Hashed(hash))
}

/// Maps a refused change to 400 with the reason, as RabbitMQ answers bad input.
pub(super) fn bad_request(e: AccessError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

async fn put(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    // RabbitMQ's checks, by key presence, before anything else is read.
    if body.contains_key("password") && body.contains_key("password_hash") {
        return Err(ApiError::BadRequest(
            "both_password_and_password_hash_are_provided".to_string(),
        ));
    }
    if !body.contains_key("tags") {
        return Err(ApiError::BadRequest("tags_not_present".to_string()));
    }
    let password = password_of(&body)?;
    let tags = tags_of(&body)?;
    let created = state
        .broker
        .access
        .put_user(&name, password, tags)
        .map_err(bad_request)?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    })
}

async fn delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    if state.broker.delete_user(&name) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /api/users/bulk-delete` with `{"users": [names]}`: the users are deleted in order
/// (their connections closed); a name that does not exist stops there with 400, the ones
/// before it staying deleted, as in RabbitMQ.
async fn bulk_delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    let names = match body.get("users") {
        None => return Err(ApiError::BadRequest("[{key_missing,users}]".to_string())),
        Some(Value::Array(names)) => names,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "users must be a list of names, got {other}"
            )));
        }
    };
    for name in names {
        let Some(name) = name.as_str() else {
            return Err(ApiError::BadRequest(format!(
                "users must be a list of names, got {name}"
            )));
        };
        if !state.broker.delete_user(name) {
            return Err(ApiError::BadRequest(format!("no_such_user {name}")));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn permissions(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    state.broker.access.user(&name).ok_or(ApiError::NotFound)?;
    let items: Vec<Value> = state
        .broker
        .access
        .all_permissions()
        .into_iter()
        .filter(|(user, _, _)| *user == name)
        .map(|(user, vhost, spec)| permission_json(&user, &vhost, &spec))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn topic_permissions(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require_administrator()?;
    state.broker.access.user(&name).ok_or(ApiError::NotFound)?;
    let items: Vec<Value> = state
        .broker
        .access
        .all_topic_permissions()
        .into_iter()
        .filter(|(user, _, _)| *user == name)
        .map(|(user, vhost, spec)| topic_permission_json(&user, &vhost, &spec))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn whoami(Extension(p): Extension<Principal>) -> Json<Value> {
    Json(json!({"name": p.name, "tags": p.tags}))
}

fn limits_entry(user: &User) -> Option<Value> {
    (!user.limits.is_empty()).then(|| json!({"user": user.name, "value": user.limits}))
}

async fn limits_list(
    State(state): State<AppState>,
    Extension(_p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    // Any management user may read every user's limits (RabbitMQ 3.10, checked live).
    let items: Vec<Value> = state
        .broker
        .access
        .users()
        .iter()
        .filter_map(|u| limits_entry(u))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn limits_of(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let _ = p;
    let user = state.broker.access.user(&user).ok_or(ApiError::NotFound)?;
    Ok(Json(Value::Array(
        limits_entry(&user).into_iter().collect(),
    )))
}

/// Which limits a `PUT /api/{vhost,user}-limits/...` sets, for RabbitMQ's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LimitOf {
    /// `max-connections`, `max-queues` of a vhost.
    VHost,
    /// `max-connections`, `max-channels` of a user.
    User,
}

/// Reads `{"value": N}` of limit `name`, refusing what RabbitMQ refuses with its texts: a
/// missing value, an unknown limit, a value that is not an integer (strings included).
pub(super) fn limit_value(body: &Map<String, Value>, name: &str, of: LimitOf) -> ApiResult<i64> {
    let value = body
        .get("value")
        .ok_or_else(|| ApiError::BadRequest("[{key_missing,value}]".to_string()))?;
    let known: &[&str] = match of {
        LimitOf::VHost => &["max-connections", "max-queues"],
        LimitOf::User => &["max-connections", "max-channels"],
    };
    let term = crate::policy::model::erlang_term(value);
    let reason = if !known.contains(&name) {
        let t = format!("Unrecognised terms [{{<<\"{name}\">>,{term}}}]");
        match of {
            LimitOf::VHost => format!("Validation failed\n\n{t} in limits\n"),
            LimitOf::User => format!("{t} in user-limits"),
        }
    } else if let Some(n) = value.as_i64() {
        return Ok(n);
    } else {
        let t = format!("{name} should be a number, actually was {term}");
        match of {
            LimitOf::VHost => format!("Validation failed\n\n{t}\n"),
            LimitOf::User => t,
        }
    };
    Err(ApiError::BadRequest(reason))
}

async fn limit_put(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((user, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    let value = limit_value(&body, &name, LimitOf::User)?;
    match state
        .broker
        .access
        .set_user_limit(&user, &name, Some(value))
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        // RabbitMQ answers `["no_such_user", user]` with 400 here.
        Err(AccessError::NoSuchUser(_)) => {
            Err(ApiError::BadRequest(format!("no_such_user {user}")))
        }
        Err(e) => Err(bad_request(e)),
    }
}

async fn limit_delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((user, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require_administrator()?;
    match state.broker.access.set_user_limit(&user, &name, None) {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(AccessError::NoSuchUser(_)) => Err(ApiError::NotFound),
        Err(e) => Err(bad_request(e)),
    }
}
