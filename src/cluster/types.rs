//! The openraft type configuration: node ids, the node record kept in the membership, the
//! entry payload and the reply to a write.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::entry::{Request, Response};

/// A node's id (`cluster.node_id`): unique, stable, never reused after a wipe.
pub type NodeId = u64;

/// What the membership records about a node. Peers never dial `cluster` from here: each
/// node dials the address of its own `[[cluster.peers]]` entry; the record is for status
/// output and, later, for handing clients to the leader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's cluster port as it announced it (`cluster.advertise`).
    pub cluster: String,
    /// The node's AMQP listener.
    pub amqp: String,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster={} amqp={}", self.cluster, self.amqp)
    }
}

openraft::declare_raft_types!(
    /// Warren's openraft types: one group for the whole cluster.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle of a Warren node.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id (term, leader, index).
pub type LogId = openraft::LogId<NodeId>;
/// A vote.
pub type Vote = openraft::Vote<NodeId>;
/// A membership with its log id, as the state machine keeps it.
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
/// A snapshot with its data.
pub type Snapshot = openraft::Snapshot<TypeConfig>;
/// openraft's storage error.
pub type StorageError = openraft::StorageError<NodeId>;
/// Metrics of a node.
pub type Metrics = openraft::RaftMetrics<NodeId, Node>;
