//! Three real `warren` processes on loopback in cluster mode: ports, configuration files,
//! spawning, and `warren cluster status --json` polls. A thin layer over
//! `tests/cluster_support/process.rs`, which the chaos suite shares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Child;
use warren::cluster::Status;

#[path = "../cluster_support/process.rs"]
mod process;

#[allow(unused_imports)]
pub use process::{POLL, free_port, poll_statuses, write_secret};

/// Bound on waiting for the cluster to form (real processes, real time).
pub const FORM_WITHIN: Duration = Duration::from_secs(60);

/// The loopback ports of a 3-node cluster, node 1 first.
pub struct Ports {
    /// AMQP port of each node.
    pub amqp: [u16; 3],
    /// Cluster port of each node.
    pub cluster: [u16; 3],
}

/// Writes node `id`'s config into `dir` (peers dialed directly) and returns its path.
pub fn node_config(dir: &Path, id: usize, ports: &Ports, secret: &Path) -> PathBuf {
    let peers = process::loopback_peers(&ports.cluster, &ports.amqp);
    let data = dir.join(format!("node{id}"));
    let spec = process::NodeSpec {
        id: id as u64,
        amqp: ports.amqp[id - 1],
        cluster: ports.cluster[id - 1],
        data_dir: &data,
        secret,
        election_ms: [500, 1000],
        snapshot_logs: None,
        join: None,
        peers: &peers,
    };
    let path = process::config_path(dir, id as u64);
    std::fs::write(&path, spec.text()).expect("write config");
    path
}

/// Held by each test that runs three `warren` processes, so two such clusters never share
/// the machine's cores at once (the tests of one binary run in parallel).
pub static THREE_NODES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts `warren --config CONFIG` (output discarded; killed when dropped). The config
/// decides the HTTP listeners (`node_config` turns them off).
pub fn spawn(config: &Path) -> Child {
    process::spawn_warren(config, None, false)
}

/// `warren --config CONFIG cluster status --json`, parsed.
pub async fn status(config: &Path) -> Result<Status, String> {
    process::status_cli(config).await
}

/// All answer, agree on one leader, its term and the members, and have applied an entry.
pub fn formed(statuses: &[Status]) -> bool {
    let Some(first) = statuses.first() else {
        return false;
    };
    let leaders = statuses.iter().filter(|s| s.role == "leader").count();
    leaders == 1
        && statuses.iter().all(|s| {
            s.leader.is_some()
                // A follower may hear of the leader before it has applied anything.
                && s.applied.is_some()
                && s.leader == first.leader
                && s.term == first.term
                && s.members.iter().map(|m| m.id).collect::<Vec<_>>() == vec![1, 2, 3]
        })
}

/// Polls `configs`' nodes until `expect` of them answer and agree on one leader.
pub async fn agreed(configs: &[PathBuf], expect: usize) -> Vec<Status> {
    let deadline = std::time::Instant::now() + FORM_WITHIN;
    loop {
        let mut statuses = Vec::new();
        let mut last_error = None;
        for config in configs {
            match status(config).await {
                Ok(s) => statuses.push(s),
                Err(e) => last_error = Some(e),
            }
        }
        if statuses.len() == expect && formed(&statuses) {
            return statuses;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no agreed leader in time; last error {last_error:?}, statuses {statuses:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
