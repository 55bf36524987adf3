//! Policy endpoints: `GET /api/policies[/{vhost}[/{name}]]`, `PUT`/`DELETE
//! /api/policies/{vhost}/{name}`, and the same under `/api/operator-policies`, in RabbitMQ's
//! shapes (`{"vhost","name","pattern","apply-to","definition","priority"}`); plus the
//! `policy`, `operator_policy` and `effective_policy_definition` fields queues and
//! exchanges show.
//!
//! A PUT takes `pattern`, `definition`, and optionally `priority` (0) and `apply-to`
//! (`all`); 201 when it creates, 204 when it replaces; a policy RabbitMQ would refuse is 400
//! with its "Validation failed" reason. DELETE of a missing policy is 404.

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::{AppState, find_vhost, listed_vhosts};
use crate::policy::effective::effective_definition;
use crate::policy::model::erlang_term;
use crate::policy::{Applied, Policy, PolicyError, PolicyKind};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/policies", get(list_all::<false>))
        .route("/policies/{vhost}", get(list_vhost::<false>))
        .route(
            "/policies/{vhost}/{name}",
            get(show::<false>).put(put::<false>).delete(remove::<false>),
        )
        .route("/operator-policies", get(list_all::<true>))
        .route("/operator-policies/{vhost}", get(list_vhost::<true>))
        .route(
            "/operator-policies/{vhost}/{name}",
            get(show::<true>).put(put::<true>).delete(remove::<true>),
        )
}

fn kind(operator: bool) -> PolicyKind {
    if operator {
        PolicyKind::Operator
    } else {
        PolicyKind::Policy
    }
}

/// The `policy`, `operator_policy` and `effective_policy_definition` fields of a queue or
/// exchange listing.
pub(crate) fn policy_fields(out: &mut Map<String, Value>, applied: &Applied) {
    let name = |n: Option<&str>| n.map_or(Value::Null, |n| Value::String(n.to_string()));
    out.insert("policy".into(), name(applied.policy_name()));
    out.insert(
        "operator_policy".into(),
        name(applied.operator_policy_name()),
    );
    let effective = effective_definition(applied).unwrap_or_default();
    out.insert("effective_policy_definition".into(), json!(effective));
}

fn listing(policies: Vec<Arc<Policy>>) -> Json<Value> {
    Json(Value::Array(policies.iter().map(|p| p.to_json()).collect()))
}

async fn list_all<const OP: bool>(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let vhosts = listed_vhosts(&state, &principal, None)?;
    Ok(listing(
        vhosts
            .iter()
            .flat_map(|v| v.list_policies(kind(OP)))
            .collect(),
    ))
}

async fn list_vhost<const OP: bool>(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(vhost): Path<String>,
) -> ApiResult<Json<Value>> {
    let v = find_vhost(&state, &principal, &vhost)?;
    Ok(listing(v.list_policies(kind(OP))))
}

/// The vhost of one policy a user reads or writes: RabbitMQ lets policymakers (with
/// access to the vhost) at policies, and only administrators at operator policies.
fn policy_vhost<const OP: bool>(
    state: &AppState,
    principal: &Principal,
    vhost: &str,
) -> ApiResult<Arc<crate::broker::vhost::VHost>> {
    let v = state.broker.vhost(vhost).ok_or(ApiError::NotFound)?;
    if OP {
        principal.require_administrator()?;
    } else {
        principal.require_policymaker(vhost)?;
    }
    Ok(v)
}

async fn show<const OP: bool>(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let v = policy_vhost::<OP>(&state, &principal, &vhost)?;
    let p = v.policy(kind(OP), &name).ok_or(ApiError::NotFound)?;
    Ok(Json(p.to_json()))
}

/// The fields of a PUT body, checked in RabbitMQ's order (priority, pattern, apply-to,
/// definition); the texts are RabbitMQ's.
fn parse_body(body: &Map<String, Value>) -> Result<(String, Option<String>, i64, Value), String> {
    let priority = match body.get("priority") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_i64() {
            Some(n) => n,
            None => {
                return Err(format!(
                    "priority should be a number, actually was {}",
                    erlang_term(v)
                ));
            }
        },
    };
    let pattern = match body.get("pattern") {
        Some(Value::String(s)) => s.clone(),
        other => {
            let shown = other.map_or_else(|| "undefined".to_string(), erlang_term);
            return Err(format!("pattern should be a binary but was {shown}"));
        }
    };
    let apply_to = match body.get("apply-to") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "apply-to '{}' unrecognised; should be 'queues', 'exchanges' or 'all'",
                erlang_term(other)
            ));
        }
    };
    let definition = body.get("definition").cloned().unwrap_or(Value::Null);
    Ok((pattern, apply_to, priority, definition))
}

async fn put<const OP: bool>(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    let v = policy_vhost::<OP>(&state, &principal, &vhost)?;
    // RabbitMQ names the missing keys before it validates anything.
    let missing: Vec<String> = ["pattern", "definition"]
        .iter()
        .filter(|k| !body.contains_key(**k))
        .map(|k| format!("{{key_missing,{k}}}"))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::BadRequest(format!("[{}]", missing.join(","))));
    }
    let invalid = |text: String| ApiError::BadRequest(PolicyError::Invalid(text).reason());
    let (pattern, apply_to, priority, definition) = parse_body(&body).map_err(invalid)?;
    let existed = v.policy(kind(OP), &name).is_some();
    let policy = Policy::new(
        kind(OP),
        &vhost,
        &name,
        &pattern,
        apply_to.as_deref(),
        priority,
        &definition,
    )
    .map_err(|e| ApiError::BadRequest(e.reason()))?;
    v.set_policy(policy);
    Ok(if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    })
}

async fn remove<const OP: bool>(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let v = policy_vhost::<OP>(&state, &principal, &vhost)?;
    if v.clear_policy(kind(OP), &name) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
