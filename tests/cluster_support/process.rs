//! The pieces every black-box cluster test shares: free ports, the secret file, a node's
//! configuration text, spawning a `warren` process, and `cluster status` (over the CLI or
//! the cluster port) polled with a deadline. `tests/cluster_support` and
//! `tests/common/cluster.rs` both build on this file.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use warren::cluster::Status;

/// Between two status polls.
pub const POLL: Duration = Duration::from_millis(100);

/// A free loopback port for a node to listen on, below the kernel's ephemeral range: a
/// node restarted on its port could otherwise find it taken as the local port of some
/// outgoing connection (`Address already in use`). Ports are handed out in turn from a
/// start that depends on the process id, so tests running side by side do not collide.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    const FIRST: u32 = 10_000;
    if low > FIRST + 1_000 {
        let span = low - FIRST;
        let start = std::process::id().wrapping_mul(7919) % span;
        for _ in 0..span {
            let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
            let Ok(port) = u16::try_from(FIRST + offset) else {
                continue;
            };
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Writes `secret` to `path`, readable by the owner only (as `cluster.secret_file` wants).
pub fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, secret).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// One `[[cluster.peers]]` entry.
pub struct Peer {
    /// The peer's node id.
    pub id: u64,
    /// Where this node dials it (its cluster port, or a chaos link in front of it).
    pub cluster: String,
    /// Its AMQP address.
    pub amqp: String,
}

/// What a node's configuration file says.
pub struct NodeSpec<'a> {
    /// `cluster.node_id`.
    pub id: u64,
    /// AMQP port on 127.0.0.1.
    pub amqp: u16,
    /// Cluster port on 127.0.0.1.
    pub cluster: u16,
    /// `server.data_dir`.
    pub data_dir: &'a Path,
    /// `cluster.secret_file`.
    pub secret: &'a Path,
    /// `cluster.election_timeout_ms`.
    pub election_ms: [u64; 2],
    /// `cluster.snapshot_logs`, when not the default.
    pub snapshot_logs: Option<u64>,
    /// `cluster.join`, when set.
    pub join: Option<bool>,
    /// `[[cluster.peers]]`, this node included.
    pub peers: &'a [Peer],
}

impl NodeSpec<'_> {
    /// The TOML text: management and Prometheus off, warnings only, 100 ms heartbeats.
    pub fn text(&self) -> String {
        let mut text = format!(
            "[server]\nlisten = [\"127.0.0.1:{amqp}\"]\ndata_dir = \"{data}\"\nlog_level = \"warn\"\n\
             [management]\nlisten = []\n[prometheus]\nlisten = []\n\
             [cluster]\nenabled = true\nnode_id = {id}\nlisten = \"127.0.0.1:{cluster}\"\n\
             secret_file = \"{secret}\"\nheartbeat_ms = 100\nelection_timeout_ms = [{lo}, {hi}]\n",
            amqp = self.amqp,
            data = self.data_dir.display(),
            id = self.id,
            cluster = self.cluster,
            secret = self.secret.display(),
            lo = self.election_ms[0],
            hi = self.election_ms[1],
        );
        if let Some(n) = self.snapshot_logs {
            text.push_str(&format!("snapshot_logs = {n}\n"));
        }
        if let Some(join) = self.join {
            text.push_str(&format!("join = {join}\n"));
        }
        for p in self.peers {
            text.push_str(&format!(
                "[[cluster.peers]]\nid = {}\ncluster = \"{}\"\namqp = \"{}\"\n",
                p.id, p.cluster, p.amqp
            ));
        }
        text
    }
}

/// Starts `warren --config CONFIG`, its stderr appended to `log` (else discarded); with
/// `http_off`, the management and Prometheus listeners are also turned off in the
/// environment (else the config file decides).
pub fn spawn_warren(config: &Path, log: Option<&Path>, http_off: bool) -> Child {
    let stderr = match log {
        Some(path) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open log"),
        ),
        None => Stdio::null(),
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_warren"));
    command.arg("--config").arg(config);
    if http_off {
        command
            .env("WARREN_MANAGEMENT__LISTEN", "")
            .env("WARREN_PROMETHEUS__LISTEN", "");
    }
    command
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("warren starts")
}

/// `warren --config CONFIG cluster status --json`, parsed.
pub async fn status_cli(config: &Path) -> Result<Status, String> {
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

/// Asks every node in `nodes` with `ask` until all answer and `ok` holds, or `within`
/// passes (then it fails the test, naming `what`).
pub async fn poll_statuses<N, F, Fut>(
    nodes: &[N],
    within: Duration,
    what: &str,
    ask: F,
    ok: impl Fn(&[Status]) -> bool,
) -> Vec<Status>
where
    F: Fn(&N) -> Fut,
    Fut: std::future::Future<Output = Result<Status, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        let mut statuses = Vec::new();
        let mut last_error = None;
        for node in nodes {
            match ask(node).await {
                Ok(s) => statuses.push(s),
                Err(e) => last_error = Some(e),
            }
        }
        if statuses.len() == nodes.len() && ok(&statuses) {
            return statuses;
        }
        assert!(
            Instant::now() < deadline,
            "not within {within:?}: {what}; last error {last_error:?}, statuses {statuses:#?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The peers `1..=n` at `127.0.0.1` ports, in id order.
pub fn loopback_peers(cluster: &[u16], amqp: &[u16]) -> Vec<Peer> {
    cluster
        .iter()
        .zip(amqp)
        .enumerate()
        .map(|(i, (c, a))| Peer {
            id: i as u64 + 1,
            cluster: format!("127.0.0.1:{c}"),
            amqp: format!("127.0.0.1:{a}"),
        })
        .collect()
}

/// `dir/node{id}.toml`.
pub fn config_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("node{id}.toml"))
}
