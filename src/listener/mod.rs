//! Listeners: binding the plain and TLS sockets, accepting, and the TLS handshake, so the
//! connection task gets one stream type whatever the listener ([`ClientStream`]).
//!
//! Owns: one accept task per bound address. Each sends what it accepts to the server's
//! accept loop over a bounded channel (the server caps connections and tracks their tasks);
//! the TLS handshake runs later in the connection's own task, bounded by
//! `tls.handshake_timeout_ms`, so a slow or hostile TLS peer never holds up accepting.
//! [`https`] is the same for the HTTPS listeners of the management API and Prometheus.

pub mod https;
pub mod proxy_header;
pub mod stream;

use crate::tls::ReloadableTlsConfig;
use rustls::ServerConfig;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
pub use stream::{ClientStream, StreamReader, StreamWriter, Transport};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Pending connections the kernel queues per listener (RabbitMQ's default backlog is 128;
/// a larger queue absorbs reconnect storms).
const BACKLOG: i32 = 1024;

/// Binds `addr` for accepting. An IPv6 socket is bound IPv6-only, so `0.0.0.0:P` and
/// `[::]:P` can both be bound on Linux, as RabbitMQ's default listeners are.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// A socket some listener accepted, not yet past any TLS handshake.
#[derive(Debug)]
pub struct Accepted {
    /// The socket.
    pub tcp: TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// The TLS config in force when it was accepted (TLS listeners only).
    pub tls: Option<Arc<ServerConfig>>,
}

/// Accepts on `listener` until shutdown, sending each socket to `out`. A TLS listener
/// takes the current config from `tls` for each socket, so a reload applies to the next
/// connection.
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ReloadableTlsConfig>>,
    out: mpsc::Sender<Accepted>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        continue;
                    }
                };
                let tls = tls.as_ref().map(|t| t.current());
                if out.send(Accepted { tcp, peer, tls }).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Why a TLS handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum TlsHandshakeError {
    /// The peer broke the handshake (not TLS, a bad certificate, a closed socket).
    #[error("TLS handshake failed: {0}")]
    Failed(std::io::Error),
    /// The peer did not finish in time.
    #[error("TLS handshake not finished within {0:?}")]
    TimedOut(Duration),
}

impl Accepted {
    /// The stream for the connection task: at once for a plain socket; for a TLS one after
    /// the handshake, which must finish within `timeout`. A failed handshake's socket is
    /// closed here (rustls's alert sent first, when it has one).
    pub async fn into_stream(self, timeout: Duration) -> Result<ClientStream, TlsHandshakeError> {
        let Some(config) = self.tls else {
            return Ok(ClientStream::Plain(self.tcp));
        };
        // Boxed: the handshake's state (about 3 KiB) would otherwise be part of every
        // connection task for the connection's whole life, TLS or not (issue #11: an idle
        // connection's memory).
        let stream = Box::pin(tls_handshake(config, self.tcp, timeout)).await?;
        Ok(ClientStream::Tls(Box::new(stream)))
    }
}

/// The server side of a TLS handshake on `tcp` with `config`, which must finish within
/// `timeout`. A failed handshake's socket is closed here (rustls's alert sent first, when it
/// has one); a timed-out one is dropped. Shared by the AMQPS and HTTPS listeners.
pub async fn tls_handshake(
    config: Arc<ServerConfig>,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, TlsHandshakeError> {
    let accept = tokio_rustls::TlsAcceptor::from(config)
        .accept(tcp)
        .into_fallible();
    match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err((err, mut tcp))) => {
            let _ = tokio::time::timeout(timeout, tcp.shutdown()).await;
            Err(TlsHandshakeError::Failed(err))
        }
        Err(_) => Err(TlsHandshakeError::TimedOut(timeout)),
    }
}
