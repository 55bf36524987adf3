//! Cluster mode's series: the Raft log of the cluster's one group, in the names RabbitMQ's
//! prometheus plugin gives a quorum queue's Raft log (`rabbitmq_raft_*`). RabbitMQ labels
//! those by `vhost` and `queue`; Warren's log is not a queue's, so its series carry no
//! labels (join them with `rabbitmq_identity_info` on `instance`, as RabbitMQ's dashboards
//! do). A follower, which runs no broker, serves [`node_only`]: who it is, its process and
//! its Raft log.

use super::exposition::{Kind, Scrape};
use crate::broker::alarms::resident_memory;
use crate::cluster::types::Metrics;
use crate::cluster::view::ClusterView;
use openraft::ServerState;

/// The index a majority of voters has in its log, as the leader knows it; a follower's
/// applied index (it learns commits from the leader, and applies them at once).
fn commit_index(m: &Metrics) -> u64 {
    let applied = m.last_applied.map_or(0, |l| l.index);
    let (true, Some(replication)) = (m.state == ServerState::Leader, m.replication.as_ref()) else {
        return applied;
    };
    let mut matched: Vec<u64> = m
        .membership_config
        .membership()
        .voter_ids()
        .map(|id| {
            if id == m.id {
                m.last_log_index.unwrap_or(0)
            } else {
                replication
                    .get(&id)
                    .and_then(|l| l.map(|l| l.index))
                    .unwrap_or(0)
            }
        })
        .collect();
    if matched.is_empty() {
        return applied;
    }
    matched.sort_unstable_by(|a, b| b.cmp(a));
    let majority = matched.len() / 2;
    matched.get(majority).copied().unwrap_or(0).max(applied)
}

/// The `rabbitmq_raft_*` series of this node's log.
pub fn raft_series(view: &ClusterView, scrape: &mut Scrape) {
    let m = view.node().raft().metrics().borrow().clone();
    scrape.single(
        "rabbitmq_raft_term",
        "Current Raft term number",
        Kind::Counter,
        m.current_term,
    );
    scrape.single(
        "rabbitmq_raft_log_snapshot_index",
        "Raft log snapshot index",
        Kind::Gauge,
        m.snapshot.map_or(0, |l| l.index),
    );
    scrape.single(
        "rabbitmq_raft_log_last_applied_index",
        "Raft log last applied index",
        Kind::Gauge,
        m.last_applied.map_or(0, |l| l.index),
    );
    scrape.single(
        "rabbitmq_raft_log_commit_index",
        "Raft log commit index",
        Kind::Gauge,
        commit_index(&m),
    );
    scrape.single(
        "rabbitmq_raft_log_last_written_index",
        "Raft log last written index",
        Kind::Gauge,
        m.last_log_index.unwrap_or(0),
    );
    let members = view.members();
    scrape.single(
        "warren_cluster_members",
        "Members of the cluster (voters and learners)",
        Kind::Gauge,
        members.len() as u64,
    );
    scrape.single(
        "warren_cluster_members_running",
        "Members seen running (from the leader: answered recently; elsewhere: itself and the leader)",
        Kind::Gauge,
        members.iter().filter(|m| m.running).count() as u64,
    );
    scrape.single(
        "warren_cluster_leader",
        "1 while this node is the cluster's leader",
        Kind::Gauge,
        u64::from(m.state == ServerState::Leader),
    );
}

/// A follower's scrape: identity, process figures and the Raft series.
pub fn node_only(view: &ClusterView, scrape: &mut Scrape) {
    super::families::identity(scrape, crate::broker::cluster_name());
    scrape.single(
        "rabbitmq_process_open_fds",
        "Open file descriptors",
        Kind::Gauge,
        super::families::open_fds(),
    );
    scrape.single(
        "rabbitmq_process_max_fds",
        "Open file descriptors limit",
        Kind::Gauge,
        super::families::max_fds(),
    );
    scrape.single(
        "rabbitmq_process_resident_memory_bytes",
        "Memory used in bytes",
        Kind::Gauge,
        resident_memory(),
    );
    raft_series(view, scrape);
}
