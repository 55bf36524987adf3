//! The Prometheus endpoint on its own listener, without authentication (as RabbitMQ's
//! plugin): `/metrics`, `/metrics/per-object`, `/metrics/detailed?family=..&vhost=..`.
//! Anything else is 404. A client that accepts only OpenMetrics gets 406, as RabbitMQ
//! answers; Prometheus's own Accept header (which also lists text/plain) is served text
//! format 0.0.4. Scrapes are rendered off the async workers at a lower priority, one per
//! endpoint at a time, streamed, and shared by every scrape of the same endpoint and query
//! until the sampler's next tick (see [`crate::management::offload`]).

use super::exposition::Scrape;
use super::families;
use crate::broker::Broker;
use crate::management::AppState;
use crate::management::offload::Work;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use std::sync::Arc;

/// A cluster follower's endpoint: the same paths, each serving [`super::raft::node_only`]
/// (it runs no broker; the leader serves the broker's series).
pub fn follower_router(view: Arc<crate::cluster::view::ClusterView>) -> Router {
    async fn scrape(
        State(view): State<Arc<crate::cluster::view::ClusterView>>,
        headers: HeaderMap,
    ) -> Response {
        if !accepts_text(&headers) {
            return StatusCode::NOT_ACCEPTABLE.into_response();
        }
        let mut s = Scrape::default();
        super::raft::node_only(&view, &mut s);
        match s.encode() {
            Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
    Router::new()
        .route("/metrics", get(scrape))
        .route("/metrics/per-object", get(scrape))
        .route("/metrics/detailed", get(scrape))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(view)
}

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

/// Streams the scrape `build` fills: the body of this `kind` and `key` (the query) already
/// rendered in this sampler tick, or a new one, rendered off the async workers one `kind`
/// at a time.
async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    kind: Work,
    key: &str,
    build: impl FnOnce(&Broker, &mut Scrape) + Send + 'static,
) -> Response {
    if !accepts_text(headers) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let broker = Arc::clone(&state.broker);
    let ticks = broker.sampler.ticks();
    // Cluster mode: the leader's scrapes carry the Raft series too.
    let cluster = state
        .cluster
        .clone()
        .filter(|_| matches!(kind, Work::Aggregated | Work::PerObject));
    let body = state
        .offload
        .stream_cached(kind, key, ticks, move |sink| {
            let mut scrape = Scrape::default();
            build(&broker, &mut scrape);
            if let Some(view) = &cluster {
                super::raft::raft_series(view, &mut scrape);
            }
            scrape.encode_into(sink)
        })
        .await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

async fn aggregated(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&state, &headers, Work::Aggregated, "", families::aggregated).await
}

async fn per_object(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&state, &headers, Work::PerObject, "", families::per_object).await
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
    let key = format!("{families_wanted:?} {vhosts:?}");
    respond(&state, &headers, Work::Detailed, &key, move |broker, s| {
        families::detailed(broker, &families_wanted, &vhosts, s)
    })
    .await
}
