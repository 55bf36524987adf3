//! The messages of the cluster port after the handshake: one request frame, one response
//! frame, in turn, postcard-encoded (compact, and its decoder never allocates more than the
//! frame it reads from holds).

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::cluster::entry::entry_bytes;
use crate::cluster::status::Status;
use crate::cluster::types::{Node, NodeId, TypeConfig};

/// A request on the cluster port.
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcRequest {
    /// Raft: append entries (and heartbeats).
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft: request a vote.
    Vote(VoteRequest<NodeId>),
    /// Raft: one chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Admin: this node's view of the cluster.
    Status,
    /// Admin: add node `id` (a learner that catches up, then a voter). Leader only.
    Join {
        /// The new node's id (never used before in this cluster).
        id: NodeId,
        /// Its addresses, as it announces them.
        node: Node,
    },
    /// Admin: remove node `id` from the membership. Leader only.
    Remove {
        /// The node to remove.
        id: NodeId,
    },
}

impl RpcRequest {
    /// A capacity for its encoding: enough for an append request's entries, so encoding
    /// one does not grow (and copy) its buffer again and again.
    pub fn encoded_size_hint(&self) -> usize {
        const ENVELOPE: usize = 256;
        match self {
            RpcRequest::AppendEntries(rpc) => rpc
                .entries
                .iter()
                .map(entry_bytes)
                .fold(ENVELOPE, usize::saturating_add),
            _ => ENVELOPE,
        }
    }
}

/// The answer to an [`RpcRequest`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcResponse {
    /// To [`RpcRequest::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// To [`RpcRequest::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// To [`RpcRequest::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// To [`RpcRequest::Status`].
    Status(Box<Status>),
    /// The request was not acceptable (e.g. a Raft message from an admin client).
    Refused(String),
    /// To [`RpcRequest::Join`] and [`RpcRequest::Remove`]: done.
    Done,
    /// Only the leader changes the membership: ask it.
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
        /// Its cluster address in the membership, if known.
        addr: Option<String>,
    },
}
