//! What the management API and the Prometheus endpoint know of the cluster in cluster
//! mode: this node, each member's name and whether it runs, and where the leader's
//! management API is.
//!
//! Names: a member is `warren-<id>@<host>`, `<host>` being the host of the cluster address
//! the membership records for it (the shape of RabbitMQ's `rabbit@<host>`, with the id
//! keeping nodes on one machine apart). Every node derives the same names from the
//! replicated membership. The cluster's name is the name of the lowest id in
//! `[[cluster.peers]]`, as a RabbitMQ cluster is named after its first node.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::ServerState;

use super::member_node::MemberNodes;
use super::network::tcp::Contacts;
use super::node::ClusterNode;
use super::status::Status;
use super::types::{Node, NodeId};
use crate::config::Settings;

/// One member, as `/api/nodes` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Node id.
    pub id: NodeId,
    /// `warren-<id>@<host>`.
    pub name: String,
    /// Voter (true) or learner.
    pub voter: bool,
    /// This node itself, or (seen from the leader) a peer that answered recently.
    pub running: bool,
}

/// The cluster as this node's HTTP endpoints see it.
#[derive(Debug, Clone)]
pub struct ClusterView {
    node: ClusterNode,
    contacts: Contacts,
    management: BTreeMap<NodeId, String>,
    running_within: Duration,
    member_nodes: MemberNodes,
}

/// The host part of `host:port` (brackets of an IPv6 address removed).
pub(crate) fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The name of member `id` whose record is `node`.
pub fn member_name(id: NodeId, node: &Node) -> String {
    format!("warren-{id}@{}", host_of(&node.cluster))
}

/// Names this process's node and cluster (call once, before any broker starts): the node
/// from the membership record of this node (or its own `[[cluster.peers]]` entry), the
/// cluster from the lowest id of `[[cluster.peers]]`.
pub fn name_process(settings: &Settings, node: &ClusterNode) {
    let me = settings.cluster.node_id;
    let recorded = node
        .raft()
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .get_node(&me)
        .cloned();
    let own = recorded.unwrap_or_else(|| Node {
        cluster: settings.cluster.own_peer().map_or_else(
            || settings.cluster.advertised().to_string(),
            |p| p.cluster.clone(),
        ),
        amqp: String::new(),
    });
    let name = member_name(me, &own);
    let cluster = settings
        .cluster
        .peers
        .iter()
        .min_by_key(|p| p.id)
        .map_or_else(
            || name.clone(),
            |p| {
                member_name(
                    p.id,
                    &Node {
                        cluster: p.cluster.clone(),
                        amqp: String::new(),
                    },
                )
            },
        );
    if !crate::broker::set_node_name(name.clone()) {
        tracing::warn!(%name, "cluster: the node name was already set; keeping it");
    }
    // An operator's `server.cluster_name` names the cluster on followers too.
    let configured = &settings.server.cluster_name;
    crate::broker::set_cluster_name(if configured.is_empty() {
        cluster
    } else {
        configured.clone()
    });
}

impl ClusterView {
    /// The view of `node`, with the management addresses of this node's own
    /// `[[cluster.peers]]` entries.
    pub fn new(settings: &Settings, node: ClusterNode, contacts: Contacts) -> ClusterView {
        let management = settings
            .cluster
            .peers
            .iter()
            .filter(|p| !p.management.is_empty())
            .map(|p| (p.id, p.management.clone()))
            .collect();
        let (_, max) = settings.cluster.election_timeout();
        ClusterView {
            node,
            contacts,
            management,
            running_within: Duration::from_millis(max),
            member_nodes: MemberNodes::new(),
        }
    }

    /// The node.
    pub fn node(&self) -> &ClusterNode {
        &self.node
    }

    /// This node's view, as `warren cluster status --json` prints it.
    pub fn status(&self) -> Status {
        self.node.status()
    }

    /// Every member, voters first, by id.
    pub fn members(&self) -> Vec<MemberView> {
        let metrics = self.node.raft().metrics();
        let m = metrics.borrow();
        let leading = m.state == ServerState::Leader;
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut out: Vec<MemberView> = membership
            .nodes()
            .map(|(id, node)| {
                let running = if *id == m.id {
                    true
                } else if leading {
                    self.contacts
                        .since(*id)
                        .is_some_and(|t| t <= self.running_within)
                } else {
                    m.current_leader == Some(*id)
                };
                MemberView {
                    id: *id,
                    name: member_name(*id, node),
                    voter: voters.contains(id),
                    running,
                }
            })
            .collect();
        out.sort_by_key(|v| (!v.voter, v.id));
        out
    }

    /// Member `m`'s own `/api/nodes` entry, asked of it at the management address of this
    /// node's `[[cluster.peers]]` entry for it with `authorization`; `None` without an
    /// address or an answer.
    pub async fn member_node(
        &self,
        m: &MemberView,
        authorization: Option<&axum::http::HeaderValue>,
    ) -> Option<serde_json::Value> {
        let addr = self.management.get(&m.id)?;
        self.member_nodes
            .describe(addr, &m.name, authorization)
            .await
    }

    /// Where to forward a management request: the leader's management address from this
    /// node's own `[[cluster.peers]]`; otherwise why there is none.
    pub fn leader_management(&self) -> Result<(NodeId, String), String> {
        let leader = self.node.raft().metrics().borrow().current_leader;
        let Some(leader) = leader else {
            return Err("no cluster leader is known at the moment".to_string());
        };
        if leader == self.node.id() {
            return Err("this node leads but is not serving yet".to_string());
        }
        match self.management.get(&leader) {
            Some(addr) => Ok((leader, addr.clone())),
            None => Err(format!(
                "the leader is node {leader}, and this node's [[cluster.peers]] entry for it \
                 has no management address"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_the_host_of_the_cluster_address() {
        let node = |c: &str| Node {
            cluster: c.to_string(),
            amqp: String::new(),
        };
        assert_eq!(member_name(2, &node("10.0.0.2:25672")), "warren-2@10.0.0.2");
        assert_eq!(member_name(1, &node("[::1]:25672")), "warren-1@::1");
        assert_eq!(
            member_name(3, &node("node3.example:25672")),
            "warren-3@node3.example"
        );
    }
}
