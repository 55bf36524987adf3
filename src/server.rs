//! The server: listeners, accept loop, connection cap, shutdown fan-out.
//!
//! Owns: the listeners (plain and TLS, one accept task per address, see
//! [`crate::listener`]), the reloadable TLS config, and the shutdown signal (a `watch`
//! channel every connection task holds). `start` returns a `ServerHandle` with the bound
//! addresses; `shutdown` tells every connection to close with 320 CONNECTION_FORCED and
//! waits for them to finish. The management API and the Prometheus endpoint are bound and
//! served by `http` (src/server/http.rs), on a runtime of their own ([`http_runtime`]).

use crate::broker::Broker;
use crate::config::Settings;
use crate::listener::{self, Accepted};
use crate::tls::{ReloadableTlsConfig, TlsError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

mod http;
pub mod http_runtime;

/// How long shutdown waits for connections to finish their close handshake.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Accepted sockets waiting for the accept loop (it only spawns a task for each).
const ACCEPT_QUEUE: usize = 64;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be opened or recovered.
    #[error("cannot open the data directory {}: {source}", dir.display())]
    Store {
        /// The data directory from the settings.
        dir: std::path::PathBuf,
        /// What went wrong.
        source: crate::store::StoreError,
    },
    /// A listen address could not be bound.
    #[error("{key}: cannot listen on {addr}: {source}")]
    Bind {
        /// The setting naming the address (`server.listen` or `tls.listen`).
        key: &'static str,
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A listen address list did not parse (only when the settings were not validated).
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The TLS certificate, key or CA files are not usable.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// `definitions.load_file` names a missing or invalid file.
    #[error("{0}")]
    Definitions(#[from] crate::definitions::load::LoadError),
    /// Cluster mode is on and the cluster part could not start.
    #[error("{0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    /// Cluster mode: the HTTP client that forwards management requests could not start.
    #[error("{0}")]
    Forward(#[from] crate::cluster::http_forward::ForwardError),
    /// The runtime the management API and the Prometheus endpoint run on could not start.
    #[error("cannot start the HTTP runtime: {0}")]
    HttpRuntime(std::io::Error),
}

/// A running broker. Dropping it does not stop the broker; call [`ServerHandle::shutdown`].
#[derive(Debug)]
pub struct ServerHandle {
    plain_addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    tls: Option<Arc<ReloadableTlsConfig>>,
    management_addrs: Vec<SocketAddr>,
    prometheus_addrs: Vec<SocketAddr>,
    management_tls_addrs: Vec<SocketAddr>,
    prometheus_tls_addrs: Vec<SocketAddr>,
    shutdown_tx: watch::Sender<bool>,
    accept_task: tokio::task::JoinHandle<()>,
    /// `None` in cluster mode, where the broker lives only while this node leads.
    broker: Option<Arc<Broker>>,
    cluster: Option<crate::cluster::RunningCluster>,
}

impl ServerHandle {
    /// The first plain listener's address (useful with port 0), or the first TLS
    /// listener's when the plain listener is off.
    pub fn local_addr(&self) -> SocketAddr {
        match self.plain_addrs.first().or(self.tls_addrs.first()) {
            Some(addr) => *addr,
            // `start` refuses to run without a listener.
            None => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Every plain (AMQP) listener's address, in the order of `server.listen`.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.plain_addrs
    }

    /// Every TLS (AMQPS) listener's address, in the order of `tls.listen`.
    pub fn tls_local_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Reads the TLS certificate, key and CA files again (what SIGHUP does): new
    /// connections use them, open ones keep theirs. On error the previous files stay in use.
    /// Without a TLS listener there is nothing to do.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match &self.tls {
            Some(tls) => tls.reload(),
            None => Ok(()),
        }
    }

    /// The addresses the management API is bound to (empty when it is off).
    pub fn management_addrs(&self) -> &[SocketAddr] {
        &self.management_addrs
    }

    /// The addresses the Prometheus endpoint is bound to (empty when it is off).
    pub fn prometheus_addrs(&self) -> &[SocketAddr] {
        &self.prometheus_addrs
    }

    /// The addresses the management API serves HTTPS on (empty when off).
    pub fn management_tls_addrs(&self) -> &[SocketAddr] {
        &self.management_tls_addrs
    }

    /// The addresses the Prometheus endpoint serves HTTPS on (empty when off).
    pub fn prometheus_tls_addrs(&self) -> &[SocketAddr] {
        &self.prometheus_tls_addrs
    }

    /// The broker behind this server (for tests and benchmarks that inspect state); `None`
    /// in cluster mode, where a broker runs only on the leader, for one term at a time.
    pub fn broker(&self) -> Option<&Arc<Broker>> {
        self.broker.as_ref()
    }

    /// The cluster node, when `cluster.enabled` is true.
    pub fn cluster(&self) -> Option<&crate::cluster::RunningCluster> {
        self.cluster.as_ref()
    }

    /// Closes every connection with 320 CONNECTION_FORCED and stops the listeners.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.accept_task.await;
        let store = match (&self.broker, &self.cluster) {
            (Some(broker), _) => Some(broker.store.clone()),
            (None, Some(cluster)) => Some(cluster.store.clone()),
            (None, None) => None,
        };
        if let Some(cluster) = self.cluster {
            cluster.shutdown().await;
        }
        // Everything queued to the store is committed before the data directory is released.
        if let Some(store) = store {
            let _ = store.flush();
            store.close();
        }
    }
}

/// Binds every listener and starts serving in background tasks on the current tokio runtime.
pub async fn start(settings: Arc<Settings>) -> Result<ServerHandle, ServerError> {
    let https_wanted =
        !settings.management.tls_listen.is_empty() || !settings.prometheus.tls_listen.is_empty();
    let tls = if settings.tls.enabled() || https_wanted {
        Some(Arc::new(ReloadableTlsConfig::load(&settings.tls)?))
    } else {
        None
    };
    let plain = bind_all(
        "server.listen",
        &settings.listen_addrs()?,
        settings.listen_is_default(),
    )?;
    let secure = bind_all("tls.listen", &settings.tls.listen_addrs()?, false)?;
    if plain.is_empty() && secure.is_empty() {
        return Err(ServerError::Config(crate::config::ConfigError::Invalid {
            key: "server.listen".to_string(),
            reason: "no listener: server.listen and tls.listen are both empty".to_string(),
        }));
    }
    let plain_addrs: Vec<SocketAddr> = plain.iter().map(|(_, a)| *a).collect();
    let tls_addrs: Vec<SocketAddr> = secure.iter().map(|(_, a)| *a).collect();
    for addr in &plain_addrs {
        tracing::info!(%addr, "listening for AMQP");
    }
    for addr in &tls_addrs {
        tracing::info!(%addr, "listening for AMQPS");
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Cluster mode only; off (the default) nothing of the cluster starts.
    let (serve, cluster) = if settings.cluster.enabled {
        let (cluster, roles) = start_cluster(&settings, shutdown_rx.clone()).await?;
        let node = cluster.node.clone();
        (Serve::Cluster(roles, node), Some(cluster))
    } else {
        let broker = Broker::open(Arc::clone(&settings)).map_err(|source| ServerError::Store {
            dir: settings.server.data_dir.clone(),
            source,
        })?;
        if let Some(path) = settings.definitions.path() {
            crate::definitions::load::load(&broker, path)?;
        }
        let broker = Arc::new(broker);
        tokio::spawn(housekeeping(Arc::clone(&broker), shutdown_rx.clone()));
        tokio::spawn(crate::metrics::sampler::run(
            Arc::clone(&broker),
            shutdown_rx.clone(),
        ));
        (Serve::Single(broker), None)
    };
    // Management and Prometheus run on a runtime of their own (src/server/http.rs).
    let web = http::start(
        &settings,
        tls.as_ref(),
        (&plain_addrs, &tls_addrs),
        &shutdown_rx,
        (&serve, cluster.as_ref()),
    )?;
    let (accepted_tx, accepted_rx) = mpsc::channel(ACCEPT_QUEUE);
    for (listener, _) in plain {
        let task = listener::accept_loop(listener, None, accepted_tx.clone(), shutdown_rx.clone());
        tokio::spawn(task);
    }
    for (listener, _) in secure {
        let task = listener::accept_loop(
            listener,
            tls.clone(),
            accepted_tx.clone(),
            shutdown_rx.clone(),
        );
        tokio::spawn(task);
    }
    drop(accepted_tx);
    let broker = match &serve {
        Serve::Single(b) => Some(Arc::clone(b)),
        Serve::Cluster(..) => None,
    };
    // Cluster mode: followers hand clients to the leader (src/cluster/proxy.rs).
    let gate = match &cluster {
        Some(c) => Some(Arc::new(
            crate::cluster::proxy::Gate::new(&settings, c.node.raft().clone()).await,
        )),
        None => None,
    };
    let accept_task = tokio::spawn(accept_loop(
        accepted_rx,
        serve,
        gate,
        Arc::clone(&settings),
        shutdown_rx,
    ));
    Ok(ServerHandle {
        plain_addrs,
        tls_addrs,
        tls,
        management_addrs: web.management,
        prometheus_addrs: web.prometheus,
        management_tls_addrs: web.management_tls,
        prometheus_tls_addrs: web.prometheus_tls,
        shutdown_tx,
        accept_task,
        broker,
        cluster,
    })
}

/// Cluster mode: opens the store, starts the node with the proposer as the store's
/// replicator, and the promotion loop that runs a broker while this node leads.
async fn start_cluster(
    settings: &Arc<Settings>,
    shutdown: watch::Receiver<bool>,
) -> Result<
    (
        crate::cluster::RunningCluster,
        watch::Receiver<Option<crate::cluster::promotion::Serving>>,
    ),
    ServerError,
> {
    let dir = &settings.server.data_dir;
    // The Raft log is the durable record: a store commit undone by a system crash is
    // applied again from it (see `cluster::apply`), so one flush per store commit is enough.
    let options = crate::store::StoreOptions {
        meta_sync: false,
        ..Broker::store_options(settings)
    };
    let store = crate::store::Store::open(dir, options).map_err(|source| ServerError::Store {
        dir: dir.clone(),
        source,
    })?;
    let cluster = crate::cluster::start(settings, store.clone()).await?;
    // Before any broker reads it: this node's name in the cluster (`warren-<id>@<host>`).
    crate::cluster::view::name_process(settings, &cluster.node);
    let proposer = crate::cluster::proposer::Proposer::start(cluster.node.clone());
    store.set_replicator(Arc::new(proposer));
    let roles = crate::cluster::promotion::spawn(
        Arc::clone(settings),
        store,
        cluster.node.clone(),
        shutdown,
    );
    Ok((cluster, roles))
}

/// Binds each address of the setting `key`. With `ipv6_optional` (the default listen
/// list), an IPv6 address the machine cannot bind is logged and skipped, as long as
/// another address was bound.
fn bind_all(
    key: &'static str,
    addrs: &[SocketAddr],
    ipv6_optional: bool,
) -> Result<Vec<(TcpListener, SocketAddr)>, ServerError> {
    let mut bound = Vec::with_capacity(addrs.len());
    let mut skipped = None;
    for addr in addrs {
        let result = listener::bind(*addr).and_then(|l| l.local_addr().map(|a| (l, a)));
        match result {
            Ok(pair) => bound.push(pair),
            Err(source) if ipv6_optional && addr.is_ipv6() => {
                tracing::warn!(%addr, %source, "IPv6 not available; listening on IPv4 only");
                skipped = Some((addr, source));
            }
            Err(source) => {
                return Err(ServerError::Bind {
                    key,
                    addr: addr.to_string(),
                    source,
                });
            }
        }
    }
    if let (true, Some((addr, source))) = (bound.is_empty(), skipped) {
        return Err(ServerError::Bind {
            key,
            addr: addr.to_string(),
            source,
        });
    }
    Ok(bound)
}

/// Where accepted connections find their broker.
#[derive(Debug, Clone)]
enum Serve {
    /// Single node: one broker for the life of the server.
    Single(Arc<Broker>),
    /// Cluster mode: the broker of this node's current term as leader, if any, and the node.
    Cluster(
        watch::Receiver<Option<crate::cluster::promotion::Serving>>,
        crate::cluster::ClusterNode,
    ),
}

impl Serve {
    /// The broker a new connection uses and the signal that closes it; `None` when this
    /// node serves no broker (a cluster follower).
    fn current(
        &self,
        shutdown: &watch::Receiver<bool>,
    ) -> Option<(Arc<Broker>, watch::Receiver<bool>)> {
        match self {
            Serve::Single(broker) => Some((Arc::clone(broker), shutdown.clone())),
            Serve::Cluster(roles, _) => roles
                .borrow()
                .as_ref()
                .map(|s| (Arc::clone(&s.broker), s.stop.clone())),
        }
    }

    /// [`Serve::current`], except that a cluster node that has just been elected and is
    /// still recovering its broker lets the client wait for it (up to the proxy's
    /// `LEADER_WAIT`) instead of closing it.
    async fn current_or_promoting(
        &self,
        shutdown: &watch::Receiver<bool>,
    ) -> Option<(Arc<Broker>, watch::Receiver<bool>)> {
        if let Some(current) = self.current(shutdown) {
            return Some(current);
        }
        let Serve::Cluster(roles, node) = self else {
            return None;
        };
        if *node.leader_watch().borrow() != Some(node.id()) {
            return None;
        }
        let mut roles = roles.clone();
        let wait = crate::cluster::proxy::LEADER_WAIT;
        let _ = tokio::time::timeout(wait, roles.wait_for(Option::is_some)).await;
        self.current(shutdown)
    }
}

/// How often resource alarms are re-checked.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Periodic checks: the memory alarm.
pub(crate) async fn housekeeping(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => broker.alarms.check(),
        }
    }
}

async fn accept_loop(
    mut accepted: mpsc::Receiver<Accepted>,
    serve: Serve,
    gate: Option<Arc<crate::cluster::proxy::Gate>>,
    settings: Arc<Settings>,
    mut shutdown: watch::Receiver<bool>,
) {
    let max = settings.server.max_connections;
    let limit = Arc::new(Semaphore::new(if max == 0 {
        Semaphore::MAX_PERMITS
    } else {
        max
    }));
    let tls_timeout = Duration::from_millis(settings.tls.handshake_timeout_ms);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            next = accepted.recv() => {
                let Some(socket) = next else { break };
                let peer = socket.peer;
                let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                    tracing::warn!(%peer, max, "connection limit reached, refusing");
                    drop(socket);
                    continue;
                };
                let serve = serve.clone();
                let gate = gate.clone();
                let server_shutdown = shutdown.clone();
                connections.spawn(async move {
                    // A follower hands the socket to the leader (and is done with it).
                    let (socket, peer) = match gate {
                        None => (socket, peer),
                        Some(gate) => {
                            let mut stop = server_shutdown.clone();
                            match tokio::select! {
                                routed = gate.route(socket, tls_timeout) => routed,
                                _ = stop.changed() => None,
                            } {
                                Some(routed) => routed,
                                None => return,
                            }
                        }
                    };
                    let current = serve.current_or_promoting(&server_shutdown).await;
                    let Some((broker, mut shutdown)) = current else {
                        tracing::warn!(
                            %peer,
                            "refusing an AMQP connection: this node is not the cluster's leader"
                        );
                        return;
                    };
                    let stream = tokio::select! {
                        stream = socket.into_stream(tls_timeout) => stream,
                        _ = shutdown.changed() => return,
                    };
                    match stream {
                        Ok(stream) => {
                            crate::connection::serve(stream, peer, broker, shutdown).await;
                        }
                        Err(err) => tracing::warn!(%peer, %err, "connection refused"),
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(accepted);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}
