//! A node's view of the cluster, as `warren cluster status` prints it.

use std::fmt;

use openraft::ServerState;
use serde::{Deserialize, Serialize};

use super::fence;
use super::types::{Metrics, NodeId};

/// One member as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Node id.
    pub id: NodeId,
    /// Voter (true) or learner.
    pub voter: bool,
    /// The cluster address it announced.
    pub cluster: String,
    /// Its AMQP address.
    pub amqp: String,
    /// Highest log index known to be on its disk (reported by the leader only).
    pub matched: Option<u64>,
}

/// This node's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node's id.
    pub id: NodeId,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// Current term.
    pub term: u64,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Members of the effective membership, voters first.
    pub members: Vec<MemberStatus>,
    /// Last index in its log.
    pub last_log_index: Option<u64>,
    /// Last index applied to its store.
    pub applied: Option<u64>,
    /// Last index included in its snapshot.
    pub snapshot: Option<u64>,
    /// A leader that has not heard from a majority recently refuses writes.
    pub fenced: bool,
    /// Leader only: milliseconds since a majority last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
}

fn role(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

impl Status {
    /// The status from a node's metrics; `fence_ms` is the fencing threshold.
    pub fn from_metrics(m: &Metrics, fence_ms: u64) -> Status {
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut members: Vec<MemberStatus> = membership
            .nodes()
            .map(|(id, node)| MemberStatus {
                id: *id,
                voter: voters.contains(id),
                cluster: node.cluster.clone(),
                amqp: node.amqp.clone(),
                matched: m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id))
                    .and_then(|l| l.map(|l| l.index)),
            })
            .collect();
        members.sort_by_key(|s| (!s.voter, s.id));
        Status {
            id: m.id,
            role: role(m.state).to_string(),
            term: m.current_term,
            leader: m.current_leader,
            members,
            last_log_index: m.last_log_index,
            applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            fenced: fence::quorum_lost(m, fence_ms),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
        }
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Node {} ({})", self.id, self.role)?;
        writeln!(f, "Term: {}", self.term)?;
        writeln!(f, "Leader: {}", opt(self.leader))?;
        writeln!(
            f,
            "Log: last {}, applied {}, snapshot {}",
            opt(self.last_log_index),
            opt(self.applied),
            opt(self.snapshot)
        )?;
        if self.fenced {
            writeln!(f, "Fenced: no majority heard from recently; writes refused")?;
        }
        writeln!(f, "Members:")?;
        for m in &self.members {
            writeln!(
                f,
                "  {} {:<7} cluster {} amqp {} matched {}",
                m.id,
                if m.voter { "voter" } else { "learner" },
                m.cluster,
                m.amqp,
                opt(m.matched)
            )?;
        }
        Ok(())
    }
}
