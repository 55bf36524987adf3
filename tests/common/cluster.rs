//! Three real `warren` processes on loopback in cluster mode: ports, configuration files,
//! spawning, and `warren cluster status --json` polls.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use warren::cluster::Status;

/// Bound on waiting for the cluster to form (real processes, real time).
pub const FORM_WITHIN: Duration = Duration::from_secs(60);
/// Between two status polls.
pub const POLL: Duration = Duration::from_millis(100);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, secret).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

pub struct Ports {
    /// AMQP port of each node.
    pub amqp: [u16; 3],
    /// Cluster port of each node.
    pub cluster: [u16; 3],
}

pub fn node_config(dir: &Path, id: usize, ports: &Ports, secret: &Path) -> PathBuf {
    let mut text = format!(
        "[server]\nlisten = [\"127.0.0.1:{amqp}\"]\ndata_dir = \"{data}\"\nlog_level = \"warn\"\n\
         [management]\nlisten = []\n[prometheus]\nlisten = []\n\
         [cluster]\nenabled = true\nnode_id = {id}\nlisten = \"127.0.0.1:{cluster}\"\n\
         secret_file = \"{secret}\"\nheartbeat_ms = 100\nelection_timeout_ms = [500, 1000]\n",
        amqp = ports.amqp[id - 1],
        data = dir.join(format!("node{id}")).display(),
        cluster = ports.cluster[id - 1],
        secret = secret.display(),
    );
    for peer in 1..=3 {
        text.push_str(&format!(
            "[[cluster.peers]]\nid = {peer}\ncluster = \"127.0.0.1:{}\"\namqp = \"127.0.0.1:{}\"\n",
            ports.cluster[peer - 1],
            ports.amqp[peer - 1]
        ));
    }
    let path = dir.join(format!("node{id}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

pub fn spawn(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("warren starts")
}

pub async fn status(config: &Path) -> Result<Status, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("--config")
        .arg(config)
        .args(["cluster", "status", "--json"])
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
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

/// Polls `configs`' nodes until all answer and agree on one leader among them.
pub async fn agreed(configs: &[PathBuf], expect: usize) -> Vec<Status> {
    let deadline = Instant::now() + FORM_WITHIN;
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
            Instant::now() < deadline,
            "no agreed leader in time; last error {last_error:?}, statuses {statuses:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
