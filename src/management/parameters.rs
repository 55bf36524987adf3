//! Runtime parameters: `/api/parameters[/{component}[/{vhost}[/{name}]]]` and
//! `/api/global-parameters[/{name}]`. Warren has none of the plugins that keep runtime
//! parameters (federation, shovel, MQTT), so every list is empty, as RabbitMQ's is without
//! them, and a parameter to set is refused with RabbitMQ's reason for a component no
//! plugin provides. Tools that read the lists (definitions exporters, the Terraform
//! provider's refresh) get the shapes they expect.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};

/// The routes of this module.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/parameters", get(list))
        .route("/parameters/{component}", get(list))
        .route("/parameters/{component}/{vhost}", get(list_in_vhost))
        .route(
            "/parameters/{component}/{vhost}/{name}",
            get(show).put(set).delete(show),
        )
        .route("/global-parameters", get(list_global))
        .route("/global-parameters/{name}", get(show_global))
}

/// Every parameter (of one component): none. Policymakers only, as in RabbitMQ.
async fn list(Extension(principal): Extension<Principal>) -> ApiResult<Json<Value>> {
    if !principal.has_tag("policymaker") {
        return Err(super::auth::not_authorised_object());
    }
    Ok(Json(json!([])))
}

/// The parameters of one component in one vhost: none; 404 for an unknown vhost.
async fn list_in_vhost(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((_component, vhost)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    super::find_vhost(&state, &principal, &vhost)?;
    principal.require_policymaker(&vhost)?;
    Ok(Json(json!([])))
}

/// One parameter (GET, DELETE): never there.
async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((_component, vhost, _name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    super::find_vhost(&state, &principal, &vhost)?;
    principal.require_policymaker(&vhost)?;
    Err(ApiError::NotFound)
}

/// Setting a parameter: 400 with RabbitMQ's validation text, since no component is
/// provided here.
async fn set(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((component, vhost, _name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    super::find_vhost(&state, &principal, &vhost)?;
    principal.require_policymaker(&vhost)?;
    Err(ApiError::BadRequest(format!(
        "Validation failed\n\ncomponent {component} not found\n"
    )))
}

/// Every global parameter: none (a single node's name is its own, not a parameter).
async fn list_global(Extension(principal): Extension<Principal>) -> ApiResult<Json<Value>> {
    principal.require_administrator()?;
    Ok(Json(json!([])))
}

/// One global parameter: never there.
async fn show_global(
    Extension(principal): Extension<Principal>,
    Path(_name): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require_administrator()?;
    Err(ApiError::NotFound)
}
