//! The Prometheus endpoint on its own listener, without authentication (as RabbitMQ's
//! plugin): `/metrics`, `/metrics/per-object`, `/metrics/detailed?family=..&vhost=..`.
//! Anything else is 404. A client that accepts only OpenMetrics gets 406, as RabbitMQ
//! answers; Prometheus's own Accept header (which also lists text/plain) is served text
//! format 0.0.4.

use super::exposition::Scrape;
use super::families;
use crate::management::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The Prometheus endpoint's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(aggregated))
        .route("/metrics/per-object", get(per_object))
        .route("/metrics/detailed", get(detailed))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
}

/// Whether the client can read the text format.
fn accepts_text(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or_default().trim();
        matches!(media, "text/plain" | "text/*" | "*/*" | "")
    })
}

fn respond(headers: &HeaderMap, build: impl FnOnce(&mut Scrape)) -> Response {
    if !accepts_text(headers) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let mut scrape = Scrape::default();
    build(&mut scrape);
    match scrape.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(%e, "cannot encode metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn aggregated(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&headers, |s| families::aggregated(&state.broker, s))
}

async fn per_object(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&headers, |s| families::per_object(&state.broker, s))
}

async fn detailed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let pick = |key: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (families_wanted, vhosts) = (pick("family"), pick("vhost"));
    respond(&headers, |s| {
        families::detailed(&state.broker, &families_wanted, &vhosts, s)
    })
}
