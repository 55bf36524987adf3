//! Membership operations: `warren cluster join | remove`, `cluster.join`, and the start-up
//! check that keeps a wiped node from coming back under its old id.
//!
//! - Join: the leader adds the node as a learner, waits until it has caught up (by log or
//!   snapshot), then makes it a voter. A node that is already a voter is refused: a node
//!   whose data was wiped must join under a new id (Raft's safety rests on a voter never
//!   forgetting what it acknowledged).
//! - Remove: the leader takes the node out of the membership.
//! - Only the leader changes the membership; other nodes answer with the leader they know,
//!   and the admin client asks it (at the address of its own `[[cluster.peers]]` entry when
//!   it has one).
//! - A node that starts with an empty cluster log first asks its peers: if a leader lists
//!   its id as a member that has already acknowledged entries, its data was wiped and it
//!   refuses to start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::ChangeMembers;

use super::network::peer_tls::PeerAuth;
use super::network::rpc::{RpcRequest, RpcResponse};
use super::network::tcp::{self, CallError};
use super::types::{Node, NodeId, Raft};
use crate::config::Settings;

/// How long a join may take on the leader (the new node catching up included).
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long asking a peer at start-up may take.
pub const PEER_ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// Most redirects an admin request follows to reach the leader.
const MAX_HOPS: usize = 4;
/// Pause between rounds of a node's own join attempts (`cluster.join`).
const JOIN_RETRY: Duration = Duration::from_secs(1);

/// Why a membership operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// No node answered.
    #[error("{0}")]
    Call(#[from] CallError),
    /// The leader refused.
    #[error("refused: {0}")]
    Refused(String),
    /// No leader could be reached.
    #[error("no leader reachable (last answer: {0})")]
    NoLeader(String),
}

/// The `NotLeader` answer of this node, or `None` when it is the leader.
fn redirect(raft: &Raft) -> Option<RpcResponse> {
    let metrics = raft.metrics();
    let m = metrics.borrow();
    if m.current_leader == Some(m.id) && m.state == openraft::ServerState::Leader {
        return None;
    }
    let addr = m.current_leader.and_then(|l| {
        m.membership_config
            .membership()
            .get_node(&l)
            .map(|n| n.cluster.clone())
    });
    Some(RpcResponse::NotLeader {
        leader: m.current_leader,
        addr,
    })
}

/// Leader side of [`RpcRequest::Join`].
#[tracing::instrument(skip(raft, node), fields(cluster = %node.cluster))]
pub async fn join(raft: &Raft, id: NodeId, node: Node) -> RpcResponse {
    if let Some(r) = redirect(raft) {
        return r;
    }
    if id == 0 {
        return RpcResponse::Refused("node ids start at 1".into());
    }
    let voter = {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        m.membership_config
            .membership()
            .voter_ids()
            .any(|v| v == id)
    };
    if voter {
        return RpcResponse::Refused(format!(
            "node {id} is already a voter; a node whose data was wiped must join under a new \
             id (remove {id} first)"
        ));
    }
    tracing::info!("cluster: adding node {id} as a learner");
    let added = tokio::time::timeout(JOIN_TIMEOUT, raft.add_learner(id, node, true)).await;
    match added {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return RpcResponse::Refused(e.to_string()),
        Err(_) => {
            return RpcResponse::Refused(format!(
                "node {id} did not catch up within {} s; is it running and reachable?",
                JOIN_TIMEOUT.as_secs()
            ));
        }
    }
    tracing::info!("cluster: node {id} caught up; making it a voter");
    match raft
        .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
        .await
    {
        Ok(_) => RpcResponse::Done,
        Err(e) => RpcResponse::Refused(e.to_string()),
    }
}

/// Leader side of [`RpcRequest::Remove`].
#[tracing::instrument(skip(raft))]
pub async fn remove(raft: &Raft, id: NodeId) -> RpcResponse {
    if let Some(r) = redirect(raft) {
        return r;
    }
    let (voter, member) = {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        (
            membership.voter_ids().any(|v| v == id),
            membership.get_node(&id).is_some(),
        )
    };
    let change = if voter {
        ChangeMembers::RemoveVoters(BTreeSet::from([id]))
    } else if member {
        ChangeMembers::RemoveNodes(BTreeSet::from([id]))
    } else {
        return RpcResponse::Refused(format!("node {id} is not a member"));
    };
    tracing::info!("cluster: removing node {id}");
    match raft.change_membership(change, false).await {
        Ok(_) => RpcResponse::Done,
        Err(e) => RpcResponse::Refused(e.to_string()),
    }
}

/// Sends `req` to `addr`, following the leader redirects; `known` maps node ids to this
/// node's own addresses for them (preferred over the address in a redirect).
pub async fn send_to_leader(
    addr: &str,
    auth: &PeerAuth,
    known: &BTreeMap<NodeId, String>,
    req: &RpcRequest,
    ttl: Duration,
) -> Result<(), MembershipError> {
    let mut addr = addr.to_string();
    let mut last = String::new();
    for _ in 0..MAX_HOPS {
        match tcp::request(&addr, auth, req, ttl).await? {
            RpcResponse::Done => return Ok(()),
            RpcResponse::Refused(reason) => return Err(MembershipError::Refused(reason)),
            RpcResponse::NotLeader {
                leader,
                addr: hinted,
            } => {
                last = format!("{addr} is not the leader (leader: {leader:?})");
                let next = leader.and_then(|l| known.get(&l).cloned()).or(hinted);
                match next {
                    Some(next) => addr = next,
                    None => break,
                }
            }
            _ => return Err(MembershipError::Refused("unexpected answer".into())),
        }
    }
    Err(MembershipError::NoLeader(last))
}

/// This node's record as it announces it when joining.
pub fn own_node(settings: &Settings) -> Node {
    let c = &settings.cluster;
    Node {
        cluster: c.advertised().to_string(),
        amqp: c.own_peer().map(|p| p.amqp.clone()).unwrap_or_default(),
    }
}

/// This node's own addresses for the other nodes' cluster ports.
pub fn peer_addrs(settings: &Settings) -> BTreeMap<NodeId, String> {
    let c = &settings.cluster;
    c.peers
        .iter()
        .filter(|p| p.id != c.node_id)
        .map(|p| (p.id, p.cluster.clone()))
        .collect()
}

/// Start-up check of a node with an empty log: asks each peer for its status, and returns
/// the id of a leader that lists this node as a member that has acknowledged entries (so
/// this node's data was wiped), if any answers so.
pub async fn wiped_by(settings: &Settings, auth: &PeerAuth) -> Option<NodeId> {
    let me = settings.cluster.node_id;
    let mut asks = tokio::task::JoinSet::new();
    for addr in peer_addrs(settings).into_values() {
        let auth = auth.clone();
        asks.spawn(async move { tcp::request_status(&addr, &auth, PEER_ASK_TIMEOUT).await });
    }
    let mut found = None;
    while let Some(answer) = asks.join_next().await {
        let Ok(Ok(status)) = answer else { continue };
        let knows_me = status
            .members
            .iter()
            .any(|m| m.id == me && m.matched.is_some());
        if status.role == "leader" && knows_me {
            found = Some(status.id);
        }
    }
    found
}

/// `cluster.join`: asks the cluster, through each peer of this node's own list in turn,
/// to add this node, until this node sees itself a voter.
pub async fn join_until_member(settings: Settings, auth: PeerAuth, raft: Raft) {
    let me = settings.cluster.node_id;
    let known = peer_addrs(&settings);
    let req = RpcRequest::Join {
        id: me,
        node: own_node(&settings),
    };
    loop {
        if is_voter(&raft, me) {
            tracing::info!("cluster: this node is a voter");
            return;
        }
        for addr in known.values() {
            match send_to_leader(addr, &auth, &known, &req, JOIN_TIMEOUT).await {
                Ok(()) => {
                    tracing::info!(via = %addr, "cluster: joined");
                    break;
                }
                Err(e) => tracing::warn!(via = %addr, error = %e, "cluster: join failed"),
            }
        }
        let waited = raft
            .wait(Some(JOIN_RETRY))
            .metrics(|m| is_voter_in(m, me), "this node is a voter")
            .await;
        if waited.is_ok() {
            tracing::info!("cluster: this node is a voter");
            return;
        }
    }
}

fn is_voter(raft: &Raft, id: NodeId) -> bool {
    is_voter_in(&raft.metrics().borrow(), id)
}

fn is_voter_in(m: &super::types::Metrics, id: NodeId) -> bool {
    m.membership_config
        .membership()
        .voter_ids()
        .any(|v| v == id)
}
