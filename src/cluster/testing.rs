//! An in-memory transport for tests: every node's openraft client calls the target node
//! directly, through the same message encoding and request handling as the TCP port, and a
//! table of cut directed links drops requests (`from → to` cut) or their answers (`to →
//! from` cut) to make partitions, one-way partitions and isolated nodes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{RaftNetwork, RaftNetworkFactory};
use parking_lot::Mutex;

use super::network::listener::{Served, answer};
use super::network::rpc::{RpcRequest, RpcResponse};
use super::types::{Node, NodeId, Raft, TypeConfig};

/// Why the router did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The link is cut or the node is not registered.
    #[error("link {from} -> {to} is cut or node {to} is down")]
    Cut {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
    },
    /// A message did not survive encoding.
    #[error("message codec: {0}")]
    Codec(#[from] postcard::Error),
    /// The answer did not match the request.
    #[error("unexpected answer")]
    Unexpected,
}

#[derive(Default)]
struct Inner {
    nodes: HashMap<NodeId, Raft>,
    cut: HashSet<(NodeId, NodeId)>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("cut", &self.cut)
            .finish()
    }
}

/// The in-memory network shared by a test's nodes.
#[derive(Debug, Clone, Default)]
pub struct Router {
    inner: Arc<Mutex<Inner>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Makes node `id` reachable.
    pub fn register(&self, id: NodeId, raft: Raft) {
        self.inner.lock().nodes.insert(id, raft);
    }

    /// Makes node `id` unreachable (as if it had crashed).
    pub fn unregister(&self, id: NodeId) {
        self.inner.lock().nodes.remove(&id);
    }

    /// Drops everything `from` sends to `to` (one direction).
    pub fn cut(&self, from: NodeId, to: NodeId) {
        self.inner.lock().cut.insert((from, to));
    }

    /// Restores the link `from → to`.
    pub fn heal(&self, from: NodeId, to: NodeId) {
        self.inner.lock().cut.remove(&(from, to));
    }

    /// Cuts node `id` off from every other registered node, both ways.
    pub fn isolate(&self, id: NodeId) {
        let mut inner = self.inner.lock();
        let others: Vec<NodeId> = inner.nodes.keys().copied().filter(|&o| o != id).collect();
        for other in others {
            inner.cut.insert((id, other));
            inner.cut.insert((other, id));
        }
    }

    /// Restores every link.
    pub fn heal_all(&self) {
        self.inner.lock().cut.clear();
    }

    /// The network factory for node `from`.
    pub fn network(&self, from: NodeId) -> RouterNetwork {
        RouterNetwork {
            from,
            router: self.clone(),
        }
    }

    fn target(&self, from: NodeId, to: NodeId) -> Result<Raft, RouterError> {
        let inner = self.inner.lock();
        if inner.cut.contains(&(from, to)) {
            return Err(RouterError::Cut { from, to });
        }
        inner
            .nodes
            .get(&to)
            .cloned()
            .ok_or(RouterError::Cut { from, to })
    }

    async fn deliver(
        &self,
        from: NodeId,
        to: NodeId,
        request: RpcRequest,
    ) -> Result<RpcResponse, RouterError> {
        let raft = self.target(from, to)?;
        let request = postcard::from_bytes(&postcard::to_allocvec(&request)?)?;
        let served = Served {
            raft,
            auth: crate::cluster::network::peer_tls::PeerAuth::plain(b""),
            fence_ms: 0,
        };
        let response = answer(&served, from, request).await;
        if self.inner.lock().cut.contains(&(to, from)) {
            return Err(RouterError::Cut { from: to, to: from });
        }
        Ok(postcard::from_bytes(&postcard::to_allocvec(&response)?)?)
    }
}

/// Node `from`'s view of the [`Router`].
#[derive(Debug, Clone)]
pub struct RouterNetwork {
    from: NodeId,
    router: Router,
}

impl RaftNetworkFactory<TypeConfig> for RouterNetwork {
    type Network = RouterClient;

    async fn new_client(&mut self, target: NodeId, _node: &Node) -> RouterClient {
        RouterClient {
            from: self.from,
            target,
            router: self.router.clone(),
        }
    }
}

/// A client for one target over the [`Router`].
#[derive(Debug)]
pub struct RouterClient {
    from: NodeId,
    target: NodeId,
    router: Router,
}

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, Node, RaftError<NodeId, E>>;

impl RouterClient {
    async fn call<E: std::error::Error>(&self, req: RpcRequest) -> Result<RpcResponse, RpcErr<E>> {
        self.router
            .deliver(self.from, self.target, req)
            .await
            .map_err(|e| match e {
                RouterError::Cut { .. } => RPCError::Unreachable(Unreachable::new(&e)),
                _ => RPCError::Network(NetworkError::new(&e)),
            })
    }
}

fn unexpected<E: std::error::Error>() -> RpcErr<E> {
    RPCError::Network(NetworkError::new(&RouterError::Unexpected))
}

impl RaftNetwork<TypeConfig> for RouterClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        match self.call(RpcRequest::AppendEntries(rpc)).await? {
            RpcResponse::AppendEntries(Ok(r)) => Ok(r),
            RpcResponse::AppendEntries(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(unexpected()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        match self.call(RpcRequest::InstallSnapshot(rpc)).await? {
            RpcResponse::InstallSnapshot(Ok(r)) => Ok(r),
            RpcResponse::InstallSnapshot(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(unexpected()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        match self.call(RpcRequest::Vote(rpc)).await? {
            RpcResponse::Vote(Ok(r)) => Ok(r),
            RpcResponse::Vote(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(unexpected()),
        }
    }
}
