//! The management API and the Prometheus endpoint of a cluster node. Every node serves
//! both, on its own `[management]` and `[prometheus]` listeners:
//!
//! - While this node leads and serves a broker, requests go to the full API (and scrape)
//!   over that term's broker; the routers follow the promotion watch, so a new term's broker
//!   replaces the old one, and a demoted node's broker is let go.
//! - Otherwise a management request is forwarded to the leader's management address from
//!   this node's own `[[cluster.peers]]` ([`super::http_forward`]); with no leader known, or
//!   no address for it, the answer is 503 `{"error":"service_unavailable","reason":...}`.
//!   Three paths describe this node and are answered by it, authenticated against the users
//!   its replicated store holds: `GET /api/warren/cluster` (its view of the cluster),
//!   `GET /api/health/checks/local-alarms` (its own memory and disk alarms) and
//!   `GET /api/nodes/{its name}` (its own statistics, which the leader's `/api/nodes` asks
//!   for).
//! - A follower's Prometheus endpoint serves its own series (identity, process, Raft log):
//!   RabbitMQ's nodes each serve their own, never the cluster's.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use parking_lot::Mutex;
use tokio::sync::watch;
use tower::ServiceExt;

use super::http_forward::{FORWARDED, ForwardError, Forwarder};
use super::promotion::Serving;
use super::view::ClusterView;
use crate::access::Access;
use crate::broker::Broker;
use crate::broker::alarms::Alarms;
use crate::config::Settings;
use crate::management::auth::Principal;
use crate::management::error::ApiError;
use crate::management::nodes::{NodeFacts, describe};
use crate::management::{AppState, Listener, auth, contexts_json};
use crate::store::Store;

/// Paths a follower answers itself (any other is forwarded to the leader).
const LOCAL_PATHS: [&str; 2] = ["/api/warren/cluster", "/api/health/checks/local-alarms"];

/// The leader's routers of one term.
struct Term {
    broker: Arc<Broker>,
    api: Router,
    metrics: Router,
}

/// What both endpoints of a cluster node answer from.
pub struct Front {
    roles: watch::Receiver<Option<Serving>>,
    view: Arc<ClusterView>,
    listeners: Arc<Vec<Listener>>,
    offload: Arc<crate::management::offload::Offload>,
    term: Mutex<Option<Term>>,
    forwarder: Forwarder,
    local_api: Router,
    local_metrics: Router,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front")
            .field("node", &self.view.node().id())
            .finish_non_exhaustive()
    }
}

/// What a follower's own answers need.
#[derive(Clone)]
struct Local {
    store: Store,
    settings: Arc<Settings>,
    alarms: Arc<Alarms>,
    listeners: Arc<Vec<Listener>>,
    started: std::time::Instant,
}

impl Front {
    /// The front of this node; `listeners` are every listener it has bound.
    pub fn new(
        settings: &Arc<Settings>,
        store: Store,
        view: Arc<ClusterView>,
        roles: watch::Receiver<Option<Serving>>,
        listeners: Arc<Vec<Listener>>,
    ) -> Result<Arc<Front>, ForwardError> {
        let alarms = Arc::new(Alarms::new(
            settings.limits.memory_high_watermark,
            settings.limits.disk_free_limit,
            settings.server.data_dir.clone(),
            store.clone(),
        ));
        let local = Local {
            store,
            settings: Arc::clone(settings),
            alarms,
            listeners: Arc::clone(&listeners),
            started: std::time::Instant::now(),
        };
        let local_api = Router::new()
            .nest(
                "/api",
                super::ops_api::routes::<Local>(Arc::clone(&view))
                    .route(
                        "/health/checks/local-alarms",
                        get(|State(l): State<Local>| async move {
                            crate::management::health::alarms_of(&l.alarms)
                        }),
                    )
                    .route("/nodes/{name}", get(own_node)),
            )
            .layer(axum::middleware::from_fn_with_state(
                local.clone(),
                authenticate_replica,
            ))
            .with_state(local);
        let front = Arc::new(Front {
            local_metrics: crate::metrics::prometheus::follower_router(Arc::clone(&view)),
            roles: roles.clone(),
            view,
            listeners,
            offload: Default::default(),
            term: Mutex::new(None),
            forwarder: Forwarder::new(settings.cluster.node_id)?,
            local_api,
        });
        tokio::spawn(release_on_demotion(Arc::downgrade(&front), roles));
        Ok(front)
    }

    /// The management API's router.
    pub fn management(self: &Arc<Self>) -> Router {
        Router::new()
            .fallback(management)
            .with_state(Arc::clone(self))
    }

    /// The Prometheus endpoint's router.
    pub fn prometheus(self: &Arc<Self>) -> Router {
        Router::new()
            .fallback(prometheus)
            .with_state(Arc::clone(self))
    }

    /// The routers of the term this node serves, if it serves one (built once per term).
    fn serving(&self) -> Option<(Router, Router)> {
        let serving = self.roles.borrow().clone();
        let mut term = self.term.lock();
        let Some(serving) = serving else {
            *term = None;
            return None;
        };
        if let Some(t) = term.as_ref()
            && Arc::ptr_eq(&t.broker, &serving.broker)
        {
            return Some((t.api.clone(), t.metrics.clone()));
        }
        let state = AppState {
            broker: Arc::clone(&serving.broker),
            listeners: Arc::clone(&self.listeners),
            offload: Arc::clone(&self.offload),
            cluster: Some(Arc::clone(&self.view)),
        };
        let api = crate::management::router(state.clone());
        let metrics = crate::metrics::prometheus::router(state);
        *term = Some(Term {
            broker: serving.broker,
            api: api.clone(),
            metrics: metrics.clone(),
        });
        Some((api, metrics))
    }
}

/// Drops the cached routers (and with them the broker) when this node stops serving.
async fn release_on_demotion(
    front: std::sync::Weak<Front>,
    mut roles: watch::Receiver<Option<Serving>>,
) {
    while roles.changed().await.is_ok() {
        let serving = roles.borrow_and_update().is_some();
        let Some(front) = front.upgrade() else { return };
        if !serving {
            *front.term.lock() = None;
        }
    }
}

async fn management(State(front): State<Arc<Front>>, request: Request) -> Response {
    if let Some((api, _)) = front.serving() {
        return api.oneshot(request).await.into_response();
    }
    if LOCAL_PATHS.contains(&request.uri().path()) || is_own_node_path(request.uri().path()) {
        return front
            .local_api
            .clone()
            .oneshot(request)
            .await
            .into_response();
    }
    if let Some(by) = request.headers().get(FORWARDED) {
        let by = String::from_utf8_lossy(by.as_bytes()).into_owned();
        return ApiError::Unavailable(format!(
            "node {by} forwarded this request here, but this node is not serving as the \
             leader; try again"
        ))
        .into_response();
    }
    match front.view.leader_management() {
        Ok((leader, addr)) => {
            tracing::debug!(leader, %addr, path = %request.uri().path(), "forwarding to the leader");
            let overview =
                request.method() == axum::http::Method::GET && request.uri().path() == OVERVIEW;
            let mut request = request;
            if overview {
                // Plain JSON back, so that the answering node can name itself in it.
                request
                    .headers_mut()
                    .remove(axum::http::header::ACCEPT_ENCODING);
            }
            match front.forwarder.forward(&addr, request).await {
                Ok(response) if overview => named_here(response).await,
                Ok(response) => response,
                Err(e) => {
                    tracing::warn!(leader, %addr, error = %e, "cannot forward to the leader");
                    e.into_response()
                }
            }
        }
        Err(reason) => ApiError::Unavailable(reason).into_response(),
    }
}

/// `/api/nodes/{this node's name}` (the name percent-encoded or not): answered by this node
/// itself, so that the leader can list it in full.
fn is_own_node_path(path: &str) -> bool {
    let Some(name) = path.strip_prefix("/api/nodes/") else {
        return false;
    };
    percent_encoding::percent_decode_str(name)
        .decode_utf8()
        .is_ok_and(|name| name == crate::broker::node_name())
}

/// `GET /api/nodes/{name}` on a follower: its own description (no broker runs here, so no
/// client connections are counted).
async fn own_node(
    State(local): State<Local>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require_monitor()?;
    if name != crate::broker::node_name() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(describe(&NodeFacts {
        alarms: &local.alarms,
        data_dir: &local.settings.server.data_dir,
        sockets: 0,
        totals: [0; 4],
        uptime_ms: u64::try_from(local.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        contexts: contexts_json(&local.listeners),
    })))
}

/// The overview, whose `node` is the node that answers (as in RabbitMQ, where any node
/// answers it from the cluster-wide statistics).
const OVERVIEW: &str = "/api/overview";

/// The leader's overview with `node` set to this node's name; any other answer (an error, a
/// body that is not plain JSON) unchanged.
async fn named_here(response: Response) -> Response {
    use axum::http::{StatusCode, header};
    if response.status() != StatusCode::OK
        || response.headers().contains_key(header::CONTENT_ENCODING)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::Unavailable("the leader's overview was cut short".into()).into_response();
    };
    let renamed = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|mut overview| {
            let map = overview.as_object_mut()?;
            map.insert("node".into(), crate::broker::node_name().into());
            serde_json::to_vec(&overview).ok()
        });
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        axum::body::Body::from(renamed.unwrap_or_else(|| bytes.to_vec())),
    )
}

async fn prometheus(State(front): State<Arc<Front>>, request: Request) -> Response {
    let router = match front.serving() {
        Some((_, metrics)) => metrics,
        None => front.local_metrics.clone(),
    };
    router.oneshot(request).await.into_response()
}

/// Basic authentication against the users this node's replicated store holds.
async fn authenticate_replica(
    State(local): State<Local>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let store = local.store.clone();
    let settings = Arc::clone(&local.settings);
    let opened =
        tokio::task::spawn_blocking(move || Access::open_replica(store, &settings.auth)).await;
    let access = match opened {
        Ok(Ok(Some(access))) => access,
        Ok(Ok(None)) => {
            return ApiError::Unavailable(
                "this node has not received the cluster's users yet".into(),
            )
            .into_response();
        }
        Ok(Err(e)) => return ApiError::Internal(e.to_string()).into_response(),
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    let principal = auth::basic_credentials(request.headers())
        .and_then(|(user, pass)| auth::authenticate(&access, &user, &pass, peer));
    match principal {
        Ok(p) => {
            request.extensions_mut().insert(p);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}
