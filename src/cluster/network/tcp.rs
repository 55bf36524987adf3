//! The TCP transport: a node dials each peer at the `cluster` address of its own
//! `[[cluster.peers]]` entry (never at an address learned from another node), inside TLS when
//! `[cluster.tls]` is on ([`super::peer_tls`]), authenticates with the shared secret, then
//! sends one request frame and reads one response frame at a time. A failed call drops the
//! connection; the next call dials again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{RaftNetwork, RaftNetworkFactory};
use tokio::net::TcpStream;

use super::auth::{self, AuthError};
use super::frame::{FrameError, MAX_FRAME, read_frame, write_frame};
use super::peer_tls::{PeerAuth, PeerStream};
use super::rpc::{RpcRequest, RpcResponse};
use crate::cluster::status::Status;
use crate::cluster::types::{Node, NodeId, TypeConfig};

/// How long dialing and the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a call on the cluster port failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The peer could not be reached (refused, unknown, or no answer in time).
    #[error("cannot reach {addr}: {reason}")]
    Unreachable {
        /// The address dialed.
        addr: String,
        /// What happened.
        reason: String,
    },
    /// The handshake failed.
    #[error("{addr}: {source}")]
    Auth {
        /// The address dialed.
        addr: String,
        /// Why.
        source: AuthError,
    },
    /// The link failed mid-call.
    #[error("{addr}: {source}")]
    Frame {
        /// The address dialed.
        addr: String,
        /// Why.
        source: FrameError,
    },
    /// A message did not encode or decode.
    #[error("{addr}: bad message: {source}")]
    Codec {
        /// The address dialed.
        addr: String,
        /// Why.
        source: postcard::Error,
    },
    /// The peer refused the request, or answered another one.
    #[error("{addr}: {reason}")]
    Refused {
        /// The address dialed.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// One authenticated connection to a cluster port.
struct Link {
    addr: String,
    auth: PeerAuth,
    from: NodeId,
    stream: Option<PeerStream>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("addr", &self.addr)
            .field("from", &self.from)
            .field("connected", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// The open connection, taken out of the link (it goes back only after a complete
    /// exchange), or a new authenticated one.
    async fn take_connected(&mut self) -> Result<PeerStream, CallError> {
        if let Some(stream) = self.stream.take() {
            return Ok(stream);
        }
        let addr = self.addr.clone();
        let unreachable = |reason: String| CallError::Unreachable {
            addr: addr.clone(),
            reason,
        };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
            .await
            .map_err(|_| unreachable("connect timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, self.auth.connect(tcp, &addr))
            .await
            .map_err(|_| unreachable("TLS handshake timed out".into()))?
            .map_err(|e| unreachable(format!("TLS: {e}")))?;
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            auth::dial(&mut stream, &self.auth.secret, self.from),
        )
        .await
        .map_err(|_| unreachable("handshake timed out".into()))?
        .map_err(|source| CallError::Auth {
            addr: addr.clone(),
            source,
        })?;
        Ok(stream)
    }

    /// Sends `req` and reads the answer within `ttl`. The connection is kept only after a
    /// complete exchange: a failure, or the caller dropping this future mid-frame (openraft
    /// times its requests out so), closes it, so a half-written frame never precedes the
    /// next request on the same connection.
    async fn call(&mut self, req: &RpcRequest, ttl: Duration) -> Result<RpcResponse, CallError> {
        let addr = self.addr.clone();
        let buffer = Vec::with_capacity(req.encoded_size_hint());
        let payload = postcard::to_extend(req, buffer).map_err(|source| CallError::Codec {
            addr: addr.clone(),
            source,
        })?;
        let exchanged = tokio::time::timeout(ttl, async {
            let mut stream = self.take_connected().await?;
            let frame_err = |source| CallError::Frame {
                addr: addr.clone(),
                source,
            };
            write_frame(&mut stream, &payload)
                .await
                .map_err(frame_err)?;
            let answer = read_frame(&mut stream, MAX_FRAME)
                .await
                .map_err(frame_err)?;
            let response = postcard::from_bytes::<RpcResponse>(&answer).map_err(|source| {
                CallError::Codec {
                    addr: addr.clone(),
                    source,
                }
            })?;
            Ok((response, stream))
        })
        .await
        .unwrap_or_else(|_| {
            Err(CallError::Unreachable {
                addr: addr.clone(),
                reason: format!("no answer within {} ms", ttl.as_millis()),
            })
        });
        let (response, stream) = exchanged?;
        self.stream = Some(stream);
        Ok(response)
    }
}

/// Sends one admin request to the node at `addr`, as the admin client (node id 0).
pub async fn request(
    addr: &str,
    auth: &PeerAuth,
    req: &RpcRequest,
    ttl: Duration,
) -> Result<RpcResponse, CallError> {
    let mut link = Link {
        addr: addr.to_string(),
        auth: auth.clone(),
        from: 0,
        stream: None,
    };
    link.call(req, ttl).await
}

/// Asks the node at `addr` for its status, as the admin client (node id 0).
pub async fn request_status(
    addr: &str,
    auth: &PeerAuth,
    ttl: Duration,
) -> Result<Status, CallError> {
    match request(addr, auth, &RpcRequest::Status, ttl).await? {
        RpcResponse::Status(status) => Ok(*status),
        RpcResponse::Refused(reason) => Err(CallError::Refused {
            addr: addr.to_string(),
            reason,
        }),
        _ => Err(CallError::Refused {
            addr: addr.to_string(),
            reason: "answered another request".into(),
        }),
    }
}

/// When each peer last answered a Raft request of this node: on the leader (which sends
/// every peer heartbeats) whether a member is running.
#[derive(Debug, Clone, Default)]
pub struct Contacts(Arc<parking_lot::Mutex<BTreeMap<NodeId, Instant>>>);

impl Contacts {
    fn answered(&self, id: NodeId) {
        self.0.lock().insert(id, Instant::now());
    }

    /// How long ago node `id` last answered (`None`: never since this node started).
    pub fn since(&self, id: NodeId) -> Option<Duration> {
        self.0.lock().get(&id).map(Instant::elapsed)
    }
}

/// Creates [`TcpClient`]s for openraft.
#[derive(Debug, Clone)]
pub struct TcpNetwork {
    from: NodeId,
    auth: PeerAuth,
    peers: Arc<BTreeMap<NodeId, String>>,
    contacts: Contacts,
}

impl TcpNetwork {
    /// A network for node `from`, dialing `peers` (id → this node's address for it).
    pub fn new(from: NodeId, auth: PeerAuth, peers: BTreeMap<NodeId, String>) -> TcpNetwork {
        TcpNetwork {
            from,
            auth,
            peers: Arc::new(peers),
            contacts: Contacts::default(),
        }
    }

    /// When each peer last answered this node.
    pub fn contacts(&self) -> Contacts {
        self.contacts.clone()
    }
}

impl RaftNetworkFactory<TypeConfig> for TcpNetwork {
    type Network = TcpClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> TcpClient {
        // This node's own entry wins; a node added by `cluster join` and not listed is
        // reached at the address it announced when it joined.
        let addr = match self.peers.get(&target) {
            Some(addr) => Some(addr.clone()),
            None if !node.cluster.is_empty() => {
                tracing::info!(
                    target,
                    addr = %node.cluster,
                    "cluster: node {target} is not in [[cluster.peers]]; dialing the address \
                     it announced"
                );
                Some(node.cluster.clone())
            }
            None => None,
        };
        TcpClient {
            target,
            contacts: self.contacts.clone(),
            link: addr.map(|addr| Link {
                addr,
                auth: self.auth.clone(),
                from: self.from,
                stream: None,
            }),
        }
    }
}

/// openraft's client for one peer.
#[derive(Debug)]
pub struct TcpClient {
    target: NodeId,
    contacts: Contacts,
    link: Option<Link>,
}

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, Node, RaftError<NodeId, E>>;

impl TcpClient {
    async fn call<E: std::error::Error>(
        &mut self,
        req: RpcRequest,
        option: &RPCOption,
    ) -> Result<RpcResponse, RpcErr<E>> {
        let Some(link) = self.link.as_mut() else {
            let e = CallError::Unreachable {
                addr: String::new(),
                reason: format!("node {} is not in [[cluster.peers]]", self.target),
            };
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        };
        let answer = link
            .call(&req, option.hard_ttl())
            .await
            .map_err(|e| match e {
                CallError::Unreachable { .. } | CallError::Auth { .. } => {
                    RPCError::Unreachable(Unreachable::new(&e))
                }
                _ => RPCError::Network(NetworkError::new(&e)),
            })?;
        self.contacts.answered(self.target);
        Ok(answer)
    }

    fn unexpected<E: std::error::Error>(&self) -> RpcErr<E> {
        let e = CallError::Refused {
            addr: format!("node {}", self.target),
            reason: "answered another request".into(),
        };
        RPCError::Network(NetworkError::new(&e))
    }
}

impl RaftNetwork<TypeConfig> for TcpClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        // Several large entries could exceed the frame cap: send what fits, and tell
        // openraft how far it got so it sends the rest next.
        let (rpc, partial) = super::batch::bound(rpc, super::batch::APPEND_BUDGET);
        match self.call(RpcRequest::AppendEntries(rpc), &option).await? {
            RpcResponse::AppendEntries(Ok(AppendEntriesResponse::Success)) => match partial {
                Some(last) => Ok(AppendEntriesResponse::PartialSuccess(Some(last))),
                None => Ok(AppendEntriesResponse::Success),
            },
            RpcResponse::AppendEntries(Ok(r)) => Ok(r),
            RpcResponse::AppendEntries(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(self.unexpected()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        match self.call(RpcRequest::InstallSnapshot(rpc), &option).await? {
            RpcResponse::InstallSnapshot(Ok(r)) => Ok(r),
            RpcResponse::InstallSnapshot(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(self.unexpected()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        match self.call(RpcRequest::Vote(rpc), &option).await? {
            RpcResponse::Vote(Ok(r)) => Ok(r),
            RpcResponse::Vote(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(self.unexpected()),
        }
    }
}
