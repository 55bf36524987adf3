//! The listener: accept loop, connection cap, shutdown fan-out.
//!
//! Owns: the TCP listener and the shutdown signal (a `watch` channel every connection task
//! holds). `start` returns a `ServerHandle` with the bound address; `shutdown` tells every
//! connection to close with 320 CONNECTION_FORCED and waits for them to finish.

use crate::broker::Broker;
use crate::config::Settings;
use crate::management::{AppState, Listener};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long shutdown waits for connections to finish their close handshake.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the settings.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running broker. Dropping it does not stop the broker; call [`ServerHandle::shutdown`].
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    management_addrs: Vec<SocketAddr>,
    prometheus_addrs: Vec<SocketAddr>,
    shutdown_tx: watch::Sender<bool>,
    accept_task: tokio::task::JoinHandle<()>,
    broker: Arc<Broker>,
}

impl ServerHandle {
    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The addresses the management API is bound to (empty when it is off).
    pub fn management_addrs(&self) -> &[SocketAddr] {
        &self.management_addrs
    }

    /// The addresses the Prometheus endpoint is bound to (empty when it is off).
    pub fn prometheus_addrs(&self) -> &[SocketAddr] {
        &self.prometheus_addrs
    }

    /// The broker behind this server (for tests and benchmarks that inspect state).
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Closes every connection with 320 CONNECTION_FORCED and stops the listener.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.accept_task.await;
        // Everything queued to the store is committed before the data directory is released.
        let _ = self.broker.store.flush();
        self.broker.store.close();
    }
}

/// Binds the listener and starts serving in background tasks on the current tokio runtime.
pub async fn start(settings: Arc<Settings>) -> Result<ServerHandle, ServerError> {
    let addr = settings.server.listen.clone();
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: addr.clone(),
        source,
    })?;
    tracing::info!(%local_addr, "listening");
    let broker = Broker::open(Arc::clone(&settings)).map_err(|source| ServerError::Store {
        dir: settings.server.data_dir.clone(),
        source,
    })?;
    let broker = Arc::new(broker);
    let management = bind_http("management.listen", &settings.management.listen)?;
    let prometheus = bind_http("prometheus.listen", &settings.prometheus.listen)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(housekeeping(Arc::clone(&broker), shutdown_rx.clone()));
    tokio::spawn(crate::metrics::sampler::run(
        Arc::clone(&broker),
        shutdown_rx.clone(),
    ));
    let addrs = |ls: &[TcpListener]| -> Vec<SocketAddr> {
        ls.iter().filter_map(|l| l.local_addr().ok()).collect()
    };
    let (management_addrs, prometheus_addrs) = (addrs(&management), addrs(&prometheus));
    let mut listeners = vec![Listener {
        protocol: "amqp",
        addr: local_addr,
    }];
    listeners.extend(management_addrs.iter().map(|&addr| Listener {
        protocol: "http",
        addr,
    }));
    listeners.extend(prometheus_addrs.iter().map(|&addr| Listener {
        protocol: "http/prometheus",
        addr,
    }));
    let state = AppState {
        broker: Arc::clone(&broker),
        listeners: Arc::new(listeners),
    };
    for listener in management {
        tracing::info!(addr = ?listener.local_addr().ok(), "management API listening");
        let router = crate::management::router(state.clone());
        tokio::spawn(crate::management::serve(
            listener,
            router,
            shutdown_rx.clone(),
        ));
    }
    for listener in prometheus {
        tracing::info!(addr = ?listener.local_addr().ok(), "Prometheus endpoint listening");
        let router = crate::metrics::prometheus::router(state.clone());
        tokio::spawn(crate::management::serve(
            listener,
            router,
            shutdown_rx.clone(),
        ));
    }
    let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&broker), shutdown_rx));
    Ok(ServerHandle {
        local_addr,
        management_addrs,
        prometheus_addrs,
        shutdown_tx,
        accept_task,
        broker,
    })
}

/// Binds every address of an HTTP listen list. An IPv6 address on a machine without IPv6
/// is skipped with a log line (the IPv4 listener still serves); any other failure stops
/// start-up, naming the setting.
fn bind_http(key: &str, listen: &[String]) -> Result<Vec<TcpListener>, ServerError> {
    let mut bound = Vec::new();
    for addr in listen {
        let parsed: SocketAddr = addr.parse().map_err(|_| ServerError::Bind {
            addr: format!("{key} {addr}"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not IP:PORT"),
        })?;
        match bind_one(parsed) {
            Ok(listener) => bound.push(listener),
            Err(e) if parsed.is_ipv6() && ipv6_unavailable(&e) => {
                tracing::info!(%addr, %e, "no IPv6 on this machine; {key} skips this address");
            }
            Err(source) => {
                return Err(ServerError::Bind {
                    addr: format!("{key} {addr}"),
                    source,
                });
            }
        }
    }
    Ok(bound)
}

fn ipv6_unavailable(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
    )
}

/// One listening socket; an IPv6 one is IPv6-only so `0.0.0.0` and `[::]` on the same port
/// can both be bound, as RabbitMQ binds them.
fn bind_one(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// How often resource alarms are re-checked.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Periodic checks: the memory alarm.
async fn housekeeping(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => broker.alarms.check(),
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let max = broker.settings.server.max_connections;
    let limit = Arc::new(Semaphore::new(if max == 0 {
        Semaphore::MAX_PERMITS
    } else {
        max
    }));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                    tracing::warn!(%peer, max, "connection limit reached, refusing");
                    drop(stream);
                    continue;
                };
                let broker = Arc::clone(&broker);
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    crate::connection::serve(stream, peer, broker, shutdown).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}
