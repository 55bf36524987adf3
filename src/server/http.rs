//! The HTTP side of [`super::start`]: binds the management API and the Prometheus endpoint
//! (plain and HTTPS) and serves them on their own low-priority runtime
//! ([`super::http_runtime`]), with the routers of the mode the node runs in: a single
//! node's broker, or a cluster node's front (src/cluster/http_front.rs) that serves the
//! leader's broker or forwards to it.
//!
//! Both endpoints answer `Accept-Encoding: gzip` with a gzip body (as RabbitMQ's
//! management and Prometheus plugins do), compressed on the HTTP runtime at the fastest
//! level: a scrape of 100,000 queues shrinks from 80 MB to a few MB to copy.

use super::http_runtime::HttpRuntime;
use super::{Serve, ServerError, bind_all};
use crate::config::Settings;
use crate::listener::https::HttpsListener;
use crate::management::{AppState, Listener};
use crate::tls::ReloadableTlsConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;

/// The addresses the HTTP endpoints are bound to.
#[derive(Debug, Default)]
pub(super) struct HttpAddrs {
    /// `management.listen`.
    pub management: Vec<SocketAddr>,
    /// `prometheus.listen`.
    pub prometheus: Vec<SocketAddr>,
    /// `management.tls_listen`.
    pub management_tls: Vec<SocketAddr>,
    /// `prometheus.tls_listen`.
    pub prometheus_tls: Vec<SocketAddr>,
}

/// The AMQP listeners' addresses (plain, TLS), listed by the API's `listeners`.
pub(super) type AmqpAddrs<'a> = (&'a [SocketAddr], &'a [SocketAddr]);

/// Binds and serves the management API and the Prometheus endpoint for the node `serve`
/// describes, on a runtime of their own. Nothing starts when every HTTP listen list is
/// empty.
pub(super) fn start(
    settings: &Arc<Settings>,
    tls: Option<&Arc<ReloadableTlsConfig>>,
    amqp: AmqpAddrs<'_>,
    shutdown_rx: &watch::Receiver<bool>,
    (serve, cluster): (&Serve, Option<&crate::cluster::RunningCluster>),
) -> Result<HttpAddrs, ServerError> {
    let (m, p) = (&settings.management, &settings.prometheus);
    if m.listen.is_empty()
        && p.listen.is_empty()
        && m.tls_listen.is_empty()
        && p.tls_listen.is_empty()
    {
        return Ok(HttpAddrs::default());
    }
    let mut runtime = HttpRuntime::start().map_err(ServerError::HttpRuntime)?;
    let handle = runtime.handle().clone();
    // Listeners bound and tasks spawned from here on belong to the HTTP runtime.
    let entered = handle.enter();
    let addrs = match (serve, cluster) {
        (Serve::Single(broker), _) => {
            let broker = Arc::clone(broker);
            serve_http(
                settings,
                tls,
                amqp,
                shutdown_rx,
                &mut runtime,
                |listeners| {
                    let state = AppState {
                        broker,
                        listeners,
                        offload: Default::default(),
                        cluster: None,
                    };
                    let api = crate::management::router(state.clone());
                    Ok((api, crate::metrics::prometheus::router(state)))
                },
            )?
        }
        // Every node serves both: the leader from its broker, a follower by forwarding.
        (Serve::Cluster(roles, _), Some(c)) => {
            let view = Arc::new(crate::cluster::view::ClusterView::new(
                settings,
                c.node.clone(),
                c.contacts.clone(),
            ));
            let (store, roles) = (c.store.clone(), roles.clone());
            serve_http(
                settings,
                tls,
                amqp,
                shutdown_rx,
                &mut runtime,
                |listeners| {
                    let front = crate::cluster::http_front::Front::new(
                        settings, store, view, roles, listeners,
                    )?;
                    Ok((front.management(), front.prometheus()))
                },
            )?
        }
        (Serve::Cluster(..), None) => HttpAddrs::default(),
    };
    drop(entered);
    runtime.run().map_err(ServerError::HttpRuntime)?;
    Ok(addrs)
}

/// Both routers answer `Accept-Encoding: gzip` (compressed as the body streams).
fn compressed(router: axum::Router) -> axum::Router {
    router.layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
}

/// Binds the management API and the Prometheus endpoint, and spawns their servers on
/// `runtime` with the routers `routers` makes from the list of every bound listener.
fn serve_http(
    settings: &Arc<Settings>,
    tls: Option<&Arc<ReloadableTlsConfig>>,
    (plain_addrs, tls_addrs): AmqpAddrs<'_>,
    shutdown_rx: &watch::Receiver<bool>,
    runtime: &mut HttpRuntime,
    routers: impl FnOnce(Arc<Vec<Listener>>) -> Result<(axum::Router, axum::Router), ServerError>,
) -> Result<HttpAddrs, ServerError> {
    let management = bind_all("management.listen", &settings.management.addresses()?, true)?;
    let prometheus = bind_all("prometheus.listen", &settings.prometheus.addresses()?, true)?;
    let management_tls = bind_all(
        "management.tls_listen",
        &settings.management.tls_addresses()?,
        false,
    )?;
    let prometheus_tls = bind_all(
        "prometheus.tls_listen",
        &settings.prometheus.tls_addresses()?,
        false,
    )?;
    let addrs = HttpAddrs {
        management: management.iter().map(|(_, a)| *a).collect(),
        prometheus: prometheus.iter().map(|(_, a)| *a).collect(),
        management_tls: management_tls.iter().map(|(_, a)| *a).collect(),
        prometheus_tls: prometheus_tls.iter().map(|(_, a)| *a).collect(),
    };
    let ssl_opts = settings.tls.ssl_opts();
    let tls_listener = |protocol, addr| Listener {
        protocol,
        addr,
        ssl_opts: Some(ssl_opts.clone()),
    };
    let amqp = plain_addrs.iter().map(|&a| Listener::plain("amqp", a));
    let amqps = tls_addrs.iter().map(|&a| tls_listener("amqp/ssl", a));
    let http = addrs.management.iter().map(|&a| Listener::plain("http", a));
    let https = addrs
        .management_tls
        .iter()
        .map(|&a| tls_listener("https", a));
    let metrics = addrs
        .prometheus
        .iter()
        .map(|&a| Listener::plain("http/prometheus", a));
    let metrics_tls = addrs
        .prometheus_tls
        .iter()
        .map(|&a| tls_listener("https/prometheus", a));
    let (api_router, metrics_router) = routers(Arc::new(
        amqp.chain(amqps)
            .chain(http)
            .chain(https)
            .chain(metrics)
            .chain(metrics_tls)
            .collect(),
    ))?;
    let (api_router, metrics_router) = (compressed(api_router), compressed(metrics_router));
    let http_timeout = settings.management.request_timeout()?;
    let plain_listeners = management
        .into_iter()
        .map(|(l, a)| (l, a, "management API", &api_router))
        .chain(
            prometheus
                .into_iter()
                .map(|(l, a)| (l, a, "Prometheus endpoint", &metrics_router)),
        );
    for (listener, addr, what, router) in plain_listeners {
        tracing::info!(%addr, "{what} listening");
        runtime.spawn(crate::management::serve(
            listener,
            router.clone(),
            http_timeout,
            shutdown_rx.clone(),
        ));
    }
    let https_timeout = Duration::from_millis(settings.tls.handshake_timeout_ms);
    let https_listeners = management_tls
        .into_iter()
        .map(|(l, a)| (l, a, "management API", true))
        .chain(
            prometheus_tls
                .into_iter()
                .map(|(l, a)| (l, a, "Prometheus endpoint", false)),
        );
    for (listener, addr, what, is_api) in https_listeners {
        // `tls` is loaded whenever an HTTPS listener is configured.
        let Some(tls) = tls.cloned() else { break };
        tracing::info!(%addr, "{what} listening for HTTPS");
        let router = if is_api {
            api_router.clone()
        } else {
            metrics_router.clone()
        };
        let listener = HttpsListener::new(listener, tls, https_timeout);
        runtime.spawn(crate::management::serve(
            listener,
            router,
            http_timeout,
            shutdown_rx.clone(),
        ));
    }
    Ok(addrs)
}
