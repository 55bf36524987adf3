//! The management HTTP API: RabbitMQ's management plugin endpoints and JSON shapes, served
//! by axum on the `[management]` listeners.
//!
//! Map: [`auth`] (Basic credentials → [`auth::Principal`]), [`error`] (RabbitMQ's error
//! bodies), [`json`](mod@json) (field tables and counters as JSON, the body extractor), [`paging`]
//! (page/sort/filter/columns for every list), [`ranges`] and [`sampled`] (`*_age`/`*_incr`
//! samples), then one file per resource family:
//! [`overview`], [`nodes`] (and [`memory`], its breakdown), [`health`], [`queues`], [`exchanges`], [`bindings`],
//! [`connections`] (connections, channels, consumers), [`vhosts`] (and vhost limits),
//! [`users`] (users, whoami, user limits), [`permissions`] (permissions and topic
//! permissions), [`policies`] (policies and operator policies), [`definitions`]
//! (definitions export and import), [`offload`] (heavy renders off the async workers, on
//! [`low_priority`] threads, scrapes cached per tick by [`render_cache`] as
//! [`shared_body`]s).
//!
//! Handlers read the broker through its registries and the atomics its objects carry; they
//! never hold a queue lock while serialising. Every request but the Prometheus scrape (on
//! its own listener, see [`crate::metrics::prometheus`]) needs Basic authentication.

pub mod about;
pub mod auth;
pub mod bindings;
pub mod connections;
pub mod definitions;
pub mod error;
pub mod exchanges;
pub mod health;
pub mod json;
pub mod low_priority;
pub mod memory;
pub mod messages;
pub mod nodes;
pub mod offload;
pub mod overview;
pub mod paging;
pub mod parameters;
pub mod permissions;
pub mod policies;
pub mod queues;
pub mod ranges;
pub mod render_cache;
pub mod sampled;
pub mod serve;
pub mod shared_body;
pub mod ui;
pub mod users;
pub mod vhost_admin;
pub mod vhosts;

use crate::broker::Broker;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use error::ApiError;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// The RabbitMQ version whose API Warren answers as (`rabbitmq_version`,
/// `management_version`); tools enable features by it.
pub const RABBITMQ_VERSION: &str = "3.10.8";

/// The node name shown everywhere (`rabbit@<short host name>`, as RabbitMQ names a node).
pub fn node_name() -> &'static str {
    crate::broker::node_name()
}

/// A bound listener, as `/api/overview` lists it.
#[derive(Debug, Clone)]
pub struct Listener {
    /// `amqp`, `amqp/ssl`, `http`, `https`, `http/prometheus` or `https/prometheus`.
    pub protocol: &'static str,
    /// The bound address.
    pub addr: SocketAddr,
    /// A TLS listener's settings as RabbitMQ shows them (`ssl_opts`); `None` for plain ones.
    pub ssl_opts: Option<Value>,
}

impl Listener {
    /// A plain listener.
    pub fn plain(protocol: &'static str, addr: SocketAddr) -> Listener {
        Listener {
            protocol,
            addr,
            ssl_opts: None,
        }
    }

    /// `socket_opts` as RabbitMQ shows it: the TLS settings inline for AMQPS, nested under
    /// `ssl_opts` (cowboy's shape) for HTTPS.
    fn socket_opts(&self) -> Value {
        match (&self.ssl_opts, self.protocol.starts_with("https")) {
            (None, _) => json!({}),
            (Some(opts), true) => json!({
                "cowboy_opts": {"sendfile": false},
                "port": self.addr.port(),
                "ssl": true,
                "ssl_opts": opts,
            }),
            (Some(opts), false) => opts.clone(),
        }
    }
}

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The broker.
    pub broker: Arc<Broker>,
    /// Every listener of this node.
    pub listeners: Arc<Vec<Listener>>,
    /// Where scrapes and queue listings run, one of a kind at a time.
    pub offload: Arc<offload::Offload>,
    /// Cluster mode: the cluster as this node sees it (members for `/api/nodes`, the
    /// `/api/warren/cluster` operations, raft series); `None` on a single node.
    pub cluster: Option<Arc<crate::cluster::view::ClusterView>>,
}

/// The HTTP listeners as RabbitMQ's `contexts` (in `/api/overview` and `/api/nodes`).
pub(crate) fn contexts_json(listeners: &[Listener]) -> Value {
    Value::Array(
        listeners
            .iter()
            .filter(|l| l.protocol.starts_with("http"))
            .map(|l| {
                let description = if l.protocol.ends_with("/prometheus") {
                    "RabbitMQ Prometheus"
                } else {
                    "RabbitMQ Management"
                };
                let mut context = json!({
                    "ssl_opts": l.ssl_opts.clone().unwrap_or_else(|| json!([])),
                    "node": node_name(),
                    "description": description,
                    "path": "/",
                    "ip": l.addr.ip().to_string(),
                    "port": l.addr.port().to_string(),
                });
                if l.ssl_opts.is_some() {
                    context["ssl"] = json!("true");
                }
                context
            })
            .collect(),
    )
}

impl AppState {
    fn listeners_json(&self) -> Value {
        Value::Array(
            self.listeners
                .iter()
                .map(|l| {
                    json!({
                        "node": node_name(),
                        "protocol": l.protocol,
                        "ip_address": l.addr.ip().to_string(),
                        "port": l.addr.port(),
                        "socket_opts": l.socket_opts(),
                    })
                })
                .collect(),
        )
    }

    fn contexts_json(&self) -> Value {
        contexts_json(&self.listeners)
    }

    /// Queues (declared, created, deleted) across every vhost.
    fn queue_churn(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.broker.vhosts().iter().fold((0, 0, 0), |(a, b, c), v| {
            (
                a + v.churn.declared.load(Relaxed),
                b + v.churn.created.load(Relaxed),
                c + v.churn.deleted.load(Relaxed),
            )
        })
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/overview", get(overview::overview))
        .route("/cluster-name", get(overview::cluster_name))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{name}", get(nodes::get))
        .route("/nodes/{name}/memory", get(nodes::memory))
        .route(
            "/rebalance/queues",
            axum::routing::post(nodes::rebalance_queues),
        )
        .route("/health/checks/alarms", get(health::alarms))
        .route("/health/checks/local-alarms", get(health::alarms))
        .route("/health/checks/virtual-hosts", get(health::virtual_hosts))
        .route(
            "/health/checks/port-listener/{port}",
            get(health::port_listener),
        )
        .route(
            "/health/checks/protocol-listener/{protocol}",
            get(health::protocol_listener),
        )
        .route(
            "/health/checks/certificate-expiration/{within}/{unit}",
            get(health::certificate_expiration),
        )
        .route(
            "/health/checks/node-is-quorum-critical",
            get(health::node_is_quorum_critical),
        )
        .route(
            "/health/checks/node-is-mirror-sync-critical",
            get(health::node_is_mirror_sync_critical),
        )
        .route("/aliveness-test/{vhost}", get(health::aliveness))
        .route("/extensions", get(about::extensions))
        .route("/feature-flags", get(about::feature_flags))
        .merge(parameters::routes())
        .merge(queues::routes())
        .merge(exchanges::routes())
        .merge(bindings::routes())
        .merge(connections::routes())
        .merge(vhosts::routes())
        .merge(vhost_admin::routes())
        .merge(users::routes())
        .merge(permissions::routes())
        .merge(policies::routes())
        .merge(definitions::routes());
    let api = match &state.cluster {
        Some(view) => api.merge(crate::cluster::ops_api::routes(Arc::clone(view))),
        None => api,
    };
    let api = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(json_rejection))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ));
    let routed = Router::new()
        .route("/api/auth", get(about::auth))
        .nest("/api", api)
        .merge(ui::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT))
        .with_state(state);
    Router::new()
        .fallback_service(tower::ServiceExt::<Request>::map_request(
            routed,
            without_trailing_slash,
        ))
        .layer(axum::middleware::from_fn(preflight))
        .layer(axum::middleware::from_fn(refuse_bad_escapes))
}

/// A request whose path or query has a `%` not followed by two hex digits is 400 with an
/// empty body, before anything else looks at it, as RabbitMQ's HTTP server answers it.
async fn refuse_bad_escapes(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if has_bad_escape(uri.path()) || uri.query().is_some_and(has_bad_escape) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    next.run(request).await
}

/// True when `text` has a `%` that does not start a two-hex-digit escape.
fn has_bad_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && !(hex(i + 1) && hex(i + 2)))
}

/// The methods an `allow` header lists, in RabbitMQ's order (OPTIONS is added last).
const ALLOW_ORDER: [Method; 6] = [
    Method::HEAD,
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

/// `OPTIONS` on an API path, as RabbitMQ answers it (a CORS preflight sends it without
/// credentials): 200, no body, `allow` naming the path's methods and OPTIONS (`HEAD, GET,
/// OPTIONS` for a path with no route).
async fn preflight(request: Request, next: Next) -> Response {
    if request.method() != Method::OPTIONS || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let routed: Vec<String> = response
        .headers()
        .get(axum::http::header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|m| m.trim().to_ascii_uppercase())
                .collect()
        })
        .unwrap_or_default();
    let mut allow: Vec<&str> = ALLOW_ORDER
        .iter()
        .map(Method::as_str)
        .filter(|m| routed.iter().any(|r| r == m))
        .collect();
    if allow.is_empty() {
        allow = vec!["HEAD", "GET"];
    }
    allow.push("OPTIONS");
    (
        StatusCode::OK,
        [(axum::http::header::ALLOW, allow.join(", "))],
    )
        .into_response()
}

/// `/api/queues/` as `/api/queues`: RabbitMQ's routes match with or without one trailing
/// slash, and tools that join paths send it.
fn without_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > "/api/".len() && path.starts_with("/api/") && path.ends_with('/') {
        let trimmed = &path[..path.len() - 1];
        let rebuilt = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Gives a request that axum's extractors refused (a path segment that is not UTF-8
/// after percent-decoding, say) the API's JSON error body instead of plain text, keeping
/// the status: `{"error":"bad_request","reason":...}`.
async fn json_rejection(response: Response) -> Response {
    let plain_text = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !response.status().is_client_error() || !plain_text {
        return response;
    }
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let reason = String::from_utf8_lossy(&text).into_owned();
    (
        status,
        axum::Json(json!({"error": "bad_request", "reason": reason})),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Checks Basic credentials on every API request and stores the [`auth::Principal`].
async fn authenticate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::OPTIONS {
        // No route takes OPTIONS: it reaches the method fallback, whose answer
        // `preflight` turns into RabbitMQ's; like RabbitMQ, it needs no credentials.
        return next.run(request).await;
    }
    let principal = auth::basic_credentials(request.headers()).and_then(|(user, pass)| {
        let checked = auth::authenticate(&state.broker.access, &user, &pass, peer);
        state.broker.connections.totals.auth.http(checked.is_ok());
        checked
    });
    match principal {
        Ok(p) => {
            request.extensions_mut().insert(p);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

pub use serve::serve;

/// The vhost called `name`, if the user may see it: 404 when there is none, 401 when the
/// user has no access (RabbitMQ's "User not authorised to access virtual host").
pub(crate) fn find_vhost(
    state: &AppState,
    principal: &auth::Principal,
    name: &str,
) -> Result<Arc<crate::broker::vhost::VHost>, ApiError> {
    let vhost = state.broker.vhost(name).ok_or(ApiError::NotFound)?;
    if !principal.may_access_vhost(name) {
        return Err(ApiError::NotAuthorised(
            "User not authorised to access virtual host".to_string(),
        ));
    }
    Ok(vhost)
}

/// The vhosts a listing covers: one named vhost, or every vhost the user may see.
pub(crate) fn listed_vhosts(
    state: &AppState,
    principal: &auth::Principal,
    name: Option<&str>,
) -> Result<Vec<Arc<crate::broker::vhost::VHost>>, ApiError> {
    match name {
        Some(name) => Ok(vec![find_vhost(state, principal, name)?]),
        None => Ok(state
            .broker
            .vhosts()
            .into_iter()
            .filter(|v| principal.may_access_vhost(&v.name))
            .collect()),
    }
}

/// A name from the path as an AMQP short string; longer than 255 bytes cannot exist.
pub(crate) fn short_name(name: &str) -> Result<crate::protocol::ShortStr, ApiError> {
    crate::protocol::ShortStr::from_bytes(bytes::Bytes::copy_from_slice(name.as_bytes()))
        .ok_or(ApiError::NotFound)
}
