//! The HTTP server loop for the management API and the Prometheus endpoint: hyper's
//! HTTP/1 connection driver with the limits RabbitMQ's HTTP listener (cowboy on ranch)
//! has and axum's own `serve` lacks.
//!
//! - A client gets `request_timeout` (`management.request_timeout_ms`, 60 s by default) to
//!   send each request's line and headers, counted
//!   from when the connection starts waiting for it (on a kept-alive connection, from the
//!   end of the previous response): a silent or trickling client is disconnected instead
//!   of holding a socket for ever.
//! - At most [`MAX_CONNECTIONS`] connections per listener are served at once (ranch's
//!   default); further clients wait in the kernel's accept queue.
//! - On shutdown the listener stops accepting and open connections finish their current
//!   request, for at most [`SHUTDOWN_GRACE`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Connections served at once per listener (ranch's default `max_connections`).
pub const MAX_CONNECTIONS: usize = 1024;

/// How long shutdown waits for open connections to finish their requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `router` on an already-bound listener (plain TCP, or
/// [`crate::listener::https::HttpsListener`]) until `shutdown` flips. Handlers see the
/// peer's address as axum's `ConnectInfo<SocketAddr>`. A client that takes longer than
/// `request_timeout` to send a request's head (or stays idle that long between requests) is
/// disconnected.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    request_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) where
    L: Listener<Addr = SocketAddr>,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(request_timeout);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = accept_with_slot(&mut listener, &slots) => accepted,
        };
        let Some((io, peer, slot)) = accepted else {
            break;
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move { router.oneshot(request).await }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, %err, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("HTTP connections still open at shutdown were dropped");
    }
}

/// Waits for a free connection slot, then for the next connection. `None` when the
/// semaphore is closed (never, in practice).
async fn accept_with_slot<L>(
    listener: &mut L,
    slots: &Arc<Semaphore>,
) -> Option<(L::Io, SocketAddr, tokio::sync::OwnedSemaphorePermit)>
where
    L: Listener<Addr = SocketAddr>,
{
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    let (io, peer) = listener.accept().await;
    Some((io, peer, slot))
}
