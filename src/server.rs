//! The listener: accept loop, connection cap, shutdown fan-out.
//!
//! Owns: the TCP listener and the shutdown signal (a `watch` channel every connection task
//! holds). `start` returns a `ServerHandle` with the bound address; `shutdown` tells every
//! connection to close with 320 CONNECTION_FORCED and waits for them to finish.

use crate::broker::Broker;
use crate::config::Settings;
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
    shutdown_tx: watch::Sender<bool>,
    accept_task: tokio::task::JoinHandle<()>,
    broker: Arc<Broker>,
}

impl ServerHandle {
    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(housekeeping(Arc::clone(&broker), shutdown_rx.clone()));
    let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&broker), shutdown_rx));
    Ok(ServerHandle {
        local_addr,
        shutdown_tx,
        accept_task,
        broker,
    })
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
