//! Definitions endpoints: `GET`/`POST /api/definitions` and `/api/definitions/{vhost}`,
//! administrators only, as in RabbitMQ. `?download=NAME` adds RabbitMQ's
//! `Content-Disposition: attachment; filename=NAME`. A POST takes the document as an
//! `application/json` body (rabbitmqadmin, warrenctl) or as the `file` part of a
//! `multipart/form-data` upload (RabbitMQ's web UI, which may add a `redirect` part: 303 to
//! it on success); 204 when applied. The work is in [`crate::definitions`].

use super::AppState;
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use crate::definitions::{self, DefinitionsError, Scope};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use serde_json::json;
use std::collections::HashMap;

/// The largest definitions upload read (RabbitMQ's default `max_body_size` is 20 MB; a
/// broker with many queues exports more than the rest of the API's limit).
pub const DEFINITIONS_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The routes of this family.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/definitions", get(export_all).post(import_all))
        .route("/definitions/{vhost}", get(export_vhost).post(import_vhost))
        .layer(DefaultBodyLimit::max(DEFINITIONS_BODY_LIMIT))
}

async fn export_all(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    p.require_administrator()?;
    export(state, None, params.get("download")).await
}

async fn export_vhost(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(vhost): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    p.require_administrator()?;
    export(state, Some(vhost), params.get("download")).await
}

async fn export(
    state: AppState,
    vhost: Option<String>,
    download: Option<&String>,
) -> ApiResult<Response> {
    let doc = tokio::task::spawn_blocking(move || {
        let scope = vhost.as_deref().map_or(Scope::Broker, Scope::VHost);
        definitions::export(&state.broker, scope)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    // RabbitMQ answers an unknown vhost's export with 400, not 404.
    .ok_or_else(|| ApiError::BadRequest("vhost_not_found".to_string()))?;
    let mut response = Json(doc).into_response();
    if let Some(name) = download
        && let Ok(value) = HeaderValue::from_str(&format!("attachment; filename={name}"))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

async fn import_all(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    request: Request,
) -> ApiResult<Response> {
    p.require_administrator()?;
    let upload = read_upload(request).await?;
    import(state, None, upload).await
}

async fn import_vhost(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(vhost): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    p.require_administrator()?;
    if state.broker.vhost(&vhost).is_none() {
        // RabbitMQ's body for this one case differs from its usual 404.
        let body = json!({"error": "not_found", "reason": "vhost_not_found"});
        return Ok((StatusCode::NOT_FOUND, Json(body)).into_response());
    }
    let upload = read_upload(request).await?;
    import(state, Some(vhost), upload).await
}

/// The document and, from a form upload, where to redirect afterwards.
struct Upload {
    body: Bytes,
    redirect: Option<String>,
}

fn too_large_or(e_status: StatusCode, otherwise: ApiError) -> ApiError {
    if e_status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge
    } else {
        otherwise
    }
}

fn parse_failure() -> ApiError {
    ApiError::BadRequest("failed_to_parse_json".to_string())
}

/// Reads a JSON body or a multipart upload's `file` part; other content types are 415.
async fn read_upload(request: Request) -> ApiResult<Upload> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match content_type.as_str() {
        "application/json" => {
            let body = Bytes::from_request(request, &())
                .await
                .map_err(|e| too_large_or(e.status(), parse_failure()))?;
            Ok(Upload {
                body,
                redirect: None,
            })
        }
        "multipart/form-data" => {
            let mut form = Multipart::from_request(request, &())
                .await
                .map_err(|e| too_large_or(e.status(), parse_failure()))?;
            let mut upload = Upload {
                body: Bytes::new(),
                redirect: None,
            };
            while let Some(field) = form
                .next_field()
                .await
                .map_err(|e| too_large_or(e.status(), parse_failure()))?
            {
                let name = field.name().unwrap_or_default().to_string();
                let data = field
                    .bytes()
                    .await
                    .map_err(|e| too_large_or(e.status(), parse_failure()))?;
                match name.as_str() {
                    "file" => upload.body = data,
                    "redirect" => {
                        upload.redirect = Some(String::from_utf8_lossy(&data).into_owned());
                    }
                    _ => {}
                }
            }
            // A form without its file is no document (RabbitMQ answers the same).
            if upload.body.is_empty() {
                return Err(parse_failure());
            }
            Ok(upload)
        }
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

async fn import(state: AppState, vhost: Option<String>, upload: Upload) -> ApiResult<Response> {
    let body = upload.body;
    let result = tokio::task::spawn_blocking(move || {
        let scope = vhost.as_deref().map_or(Scope::Broker, Scope::VHost);
        definitions::import(&state.broker, scope, &body)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    match result {
        Ok(_) => {}
        Err(DefinitionsError::NotJson) => return Err(parse_failure()),
        Err(e) => {
            tracing::warn!(reason = %e, "definitions import refused");
            return Err(ApiError::BadRequest(e.to_string()));
        }
    }
    match upload.redirect.and_then(|r| HeaderValue::from_str(&r).ok()) {
        Some(location) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            Ok(response)
        }
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
