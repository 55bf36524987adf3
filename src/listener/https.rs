//! HTTPS listeners for the management API and the Prometheus endpoint: an axum
//! [`Listener`] that accepts TCP connections and hands axum only those whose TLS handshake
//! finished.
//!
//! Each handshake runs in its own task, bounded by `tls.handshake_timeout_ms`, so a slow or
//! hostile peer (plain HTTP on the HTTPS port, a handshake that stops halfway) never holds up
//! the accept loop or other clients. At most [`MAX_PENDING_HANDSHAKES`] run at once; beyond
//! that new sockets wait in the kernel's backlog until one finishes or times out. The TLS
//! config is taken from the [`ReloadableTlsConfig`] for every socket, so a reload (SIGHUP)
//! applies to the next connection, as on the AMQPS listener.

use super::{TlsHandshakeError, tls_handshake};
use crate::tls::ReloadableTlsConfig;
use axum::serve::Listener;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tracing::Instrument;

/// Handshakes in progress per listener before accepting pauses.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// How long accepting pauses after an error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

type Handshake = Result<(TlsStream<TcpStream>, SocketAddr), (SocketAddr, TlsHandshakeError)>;

/// A bound socket that yields TLS streams, the handshake done, to `axum::serve`.
#[derive(Debug)]
pub struct HttpsListener {
    tcp: TcpListener,
    tls: Arc<ReloadableTlsConfig>,
    timeout: Duration,
    handshakes: JoinSet<Handshake>,
}

impl HttpsListener {
    /// Serves HTTPS on `tcp` with the config in `tls`; handshakes must finish in `timeout`.
    pub fn new(tcp: TcpListener, tls: Arc<ReloadableTlsConfig>, timeout: Duration) -> Self {
        HttpsListener {
            tcp,
            tls,
            timeout,
            handshakes: JoinSet::new(),
        }
    }

    /// Starts the handshake of a socket just accepted, in its own task.
    fn start_handshake(&mut self, tcp: TcpStream, peer: SocketAddr) {
        let _ = tcp.set_nodelay(true);
        let (config, timeout) = (self.tls.current(), self.timeout);
        let span = tracing::debug_span!("https_handshake", %peer);
        self.handshakes.spawn(
            async move {
                match tls_handshake(config, tcp, timeout).await {
                    Ok(stream) => Ok((stream, peer)),
                    Err(err) => Err((peer, err)),
                }
            }
            .instrument(span),
        );
    }
}

impl Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    /// The next connection whose handshake finished. Cancel-safe: a handshake finished
    /// while this future is dropped stays in the set for the next call.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
            tokio::select! {
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((tcp, peer)) => self.start_handshake(tcp, peer),
                    Err(err) => {
                        tracing::warn!(%err, "HTTPS accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                },
                Some(done) = self.handshakes.join_next() => match done {
                    Ok(Ok(pair)) => return pair,
                    Ok(Err((peer, err))) => {
                        tracing::warn!(%peer, %err, "HTTPS connection refused");
                    }
                    Err(err) => tracing::error!(%err, "HTTPS handshake task failed"),
                },
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
