//! The cluster port's server side: TLS when `[cluster.tls]` is on, then authenticate each
//! connection, then answer its requests one at a time from the local Raft node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use super::auth;
use super::frame::{FrameError, MAX_FRAME, read_frame, write_frame};
use super::peer_tls::PeerAuth;
use super::rpc::{RpcRequest, RpcResponse};
use crate::cluster::status::Status;
use crate::cluster::types::Raft;

/// How long a new connection has to authenticate.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections served at once (peers hold a few each; admin clients one).
pub const MAX_CONNECTIONS: usize = 64;

/// What the connections answer from.
#[derive(Clone)]
pub struct Served {
    /// The local node.
    pub raft: Raft,
    /// The shared secret and the port's TLS.
    pub auth: PeerAuth,
    /// Fencing threshold for status answers.
    pub fence_ms: u64,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("fence_ms", &self.fence_ms)
            .finish_non_exhaustive()
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(listener: TcpListener, served: Served, mut shutdown: watch::Receiver<bool>) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "cluster port: accept failed");
                // Out of descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            tracing::warn!(%peer, "cluster port: too many connections, refusing");
            continue;
        };
        let served = served.clone();
        let shutdown = shutdown.clone();
        let span = tracing::info_span!("cluster_conn", %peer);
        tokio::spawn(
            async move {
                connection(stream, peer, served, shutdown).await;
                drop(permit);
            }
            .instrument(span),
        );
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    served: Served,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let Some(mut stream) = handshake_step(peer, "TLS handshake", served.auth.accept(tcp)).await
    else {
        return;
    };
    let Some(from) = handshake_step(
        peer,
        "handshake",
        auth::accept(&mut stream, &served.auth.secret),
    )
    .await
    else {
        return;
    };
    tracing::debug!(from, "cluster port: peer authenticated");
    loop {
        let frame = tokio::select! {
            _ = shutdown.changed() => return,
            frame = read_frame(&mut stream, MAX_FRAME) => frame,
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(FrameError::Closed) => return,
            Err(e) => {
                tracing::warn!(from, error = %e, "cluster port: closing connection");
                return;
            }
        };
        let request: RpcRequest = match postcard::from_bytes(&frame) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(from, error = %e, "cluster port: undecodable request, closing");
                return;
            }
        };
        let response = answer(&served, from, request).await;
        let bytes = match postcard::to_allocvec(&response) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cluster port: cannot encode a response");
                return;
            }
        };
        if let Err(e) = write_frame(&mut stream, &bytes).await {
            tracing::debug!(from, error = %e, "cluster port: peer went away");
            return;
        }
    }
}

/// One step of a new connection's handshake, within [`HANDSHAKE_TIMEOUT`]; `None` (logged)
/// when it fails or takes too long.
async fn handshake_step<T, E: std::fmt::Display>(
    peer: SocketAddr,
    what: &str,
    step: impl std::future::Future<Output = Result<T, E>>,
) -> Option<T> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, step).await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "cluster port: {what} failed, closing");
            None
        }
        Err(_) => {
            tracing::warn!(%peer, "cluster port: no {what} in time, closing");
            None
        }
    }
}

/// Answers one request. Raft messages are only taken from nodes (id >= 1).
pub async fn answer(served: &Served, from: u64, request: RpcRequest) -> RpcResponse {
    let raft = &served.raft;
    match request {
        RpcRequest::Status => {
            let status = Status::from_metrics(&raft.metrics().borrow(), served.fence_ms);
            RpcResponse::Status(Box::new(status))
        }
        RpcRequest::Join { id, node } => crate::cluster::membership::join(raft, id, node).await,
        RpcRequest::Remove { id } => crate::cluster::membership::remove(raft, id).await,
        _ if from == 0 => RpcResponse::Refused("Raft messages come from nodes only".into()),
        RpcRequest::AppendEntries(req) => {
            RpcResponse::AppendEntries(raft.append_entries(req).await)
        }
        RpcRequest::Vote(req) => RpcResponse::Vote(raft.vote(req).await),
        RpcRequest::InstallSnapshot(req) => {
            RpcResponse::InstallSnapshot(raft.install_snapshot(req).await)
        }
    }
}
