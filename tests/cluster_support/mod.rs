//! Test support for black-box cluster tests: real `warren` processes on loopback whose
//! cluster links each go through a [`chaos::Link`] (node i's `[[cluster.peers]]` entry for
//! node j names the i→j link), status polled with a deadline, signals, AMQP clients.

#![allow(dead_code)]

pub mod chaos;
pub mod clients;
pub mod process;
pub mod traffic;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};
use warren::cluster::Status;

use chaos::{Link, Mode};
#[allow(unused_imports)]
pub use clients::{closed, connect, count_and_get, declare_and_publish, relay_with_header};
use process::{NodeSpec, Peer, poll_statuses, spawn_warren};
pub use process::{POLL, free_port};

/// Bound on waiting for any cluster condition (real processes, real time, a loaded CI box).
pub const WITHIN: Duration = Duration::from_secs(30);
/// The secret every node shares.
const SECRET: &str = "chaos-tests-share-this-secret\n";

/// Settings a test may change from the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `cluster.snapshot_logs` (default: Warren's).
    pub snapshot_logs: Option<u64>,
}

/// A cluster of `warren` processes with chaos links between them.
pub struct Cluster {
    /// Temp dir with configs, data dirs, logs and the secret.
    pub dir: tempfile::TempDir,
    secret: PathBuf,
    options: Options,
    amqp: BTreeMap<u64, u16>,
    cluster: BTreeMap<u64, u16>,
    links: BTreeMap<(u64, u64), Link>,
    children: BTreeMap<u64, Child>,
}

impl Drop for Cluster {
    /// When a test fails, prints the end of every node's log before the temp dir goes.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for id in self.amqp.keys() {
            let text = std::fs::read_to_string(self.log(*id)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("--- node {id} log, last {} lines ---", tail.len());
            for line in tail {
                eprintln!("{line}");
            }
        }
    }
}

impl Cluster {
    /// Starts nodes `1..=n`, each listing all `n` as peers through the chaos links.
    pub async fn start(n: u64) -> Cluster {
        Cluster::start_with(n, Options::default()).await
    }

    /// [`Cluster::start`] with `options`.
    pub async fn start_with(n: u64, options: Options) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("cluster.secret");
        process::write_secret(&secret, SECRET);
        let mut c = Cluster {
            dir,
            secret,
            options,
            amqp: BTreeMap::new(),
            cluster: BTreeMap::new(),
            links: BTreeMap::new(),
            children: BTreeMap::new(),
        };
        let ids: Vec<u64> = (1..=n).collect();
        for &id in &ids {
            c.amqp.insert(id, free_port());
            c.cluster.insert(id, free_port());
        }
        for &id in &ids {
            c.write_config(id, &ids, false).await;
        }
        for &id in &ids {
            c.spawn(id);
        }
        c
    }

    /// Adds node `id` with `cluster.join = true`, listing the given peers (and itself); the
    /// other nodes' configs do not list it.
    pub async fn add_joining(&mut self, id: u64, peers: &[u64]) {
        self.amqp.insert(id, free_port());
        self.cluster.insert(id, free_port());
        let mut ids = peers.to_vec();
        ids.push(id);
        self.write_config(id, &ids, true).await;
        self.spawn(id);
    }

    async fn write_config(&mut self, id: u64, ids: &[u64], join: bool) {
        let mut peers = Vec::new();
        for &peer in ids {
            let cluster_addr = if peer == id {
                format!("127.0.0.1:{}", self.cluster[&id])
            } else {
                let target: SocketAddr = format!("127.0.0.1:{}", self.cluster[&peer])
                    .parse()
                    .expect("address");
                let link = Link::start(target).await;
                let addr = link.addr.to_string();
                self.links.insert((id, peer), link);
                addr
            };
            peers.push(Peer {
                id: peer,
                cluster: cluster_addr,
                amqp: format!("127.0.0.1:{}", self.amqp[&peer]),
            });
        }
        let data = self.data_dir(id);
        let spec = NodeSpec {
            id,
            amqp: self.amqp[&id],
            cluster: self.cluster[&id],
            data_dir: &data,
            secret: &self.secret,
            election_ms: [600, 1200],
            snapshot_logs: self.options.snapshot_logs,
            join: Some(join),
            peers: &peers,
        };
        std::fs::write(self.config(id), spec.text()).expect("write config");
    }

    /// Node `id`'s config file.
    pub fn config(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}.toml"))
    }

    /// Node `id`'s data directory.
    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    /// Node `id`'s log file (stderr of every run, appended).
    pub fn log(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}.log"))
    }

    /// Starts node `id`'s process.
    pub fn spawn(&mut self, id: u64) {
        let child = spawn_warren(&self.config(id), Some(&self.log(id)), true);
        self.children.insert(id, child);
    }

    /// SIGKILLs node `id` and reaps it.
    pub async fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.children.remove(&id) {
            child.start_kill().expect("kill");
            child.wait().await.expect("reaped");
        }
    }

    /// Sends `signal` (SIGSTOP, SIGCONT, SIGTERM) to node `id`.
    pub fn signal(&self, id: u64, signal: i32) {
        let pid = self.children[&id].id().expect("running");
        let pid = i32::try_from(pid).expect("pid");
        // SAFETY: plain kill(2) on a child process this test started and has not reaped.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits until node `id` exits by itself; its exit code.
    pub async fn exited(&mut self, id: u64) -> Option<i32> {
        let mut child = self.children.remove(&id).expect("a child");
        let status = tokio::time::timeout(WITHIN, child.wait())
            .await
            .expect("the node exits in time")
            .expect("wait");
        status.code()
    }

    /// Switches the link from node `from` to node `to`.
    pub fn link(&self, from: u64, to: u64, mode: Mode) {
        if let Some(l) = self.links.get(&(from, to)) {
            l.set(mode);
        }
    }

    /// Switches every link into and out of node `id`.
    pub fn isolate(&self, id: u64, mode: Mode) {
        for ((from, to), l) in &self.links {
            if *from == id || *to == id {
                l.set(mode);
            }
        }
    }

    /// Node `id`'s status, asked directly on its cluster port.
    pub async fn status(&self, id: u64) -> Result<Status, String> {
        let addr = format!("127.0.0.1:{}", self.cluster[&id]);
        warren::cluster::network::tcp::request_status(
            &addr,
            &warren::cluster::network::peer_tls::PeerAuth::plain(SECRET.trim_end().as_bytes()),
            Duration::from_secs(1),
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// Polls the statuses of `ids` until `ok` holds for them (all must answer).
    pub async fn wait_for(
        &self,
        ids: &[u64],
        what: &str,
        ok: impl Fn(&[Status]) -> bool,
    ) -> Vec<Status> {
        poll_statuses(ids, WITHIN, what, |&id| self.status(id), ok).await
    }

    /// Waits until `ids` agree on one leader among them with `voters` as voters; the leader.
    pub async fn agreed(&self, ids: &[u64], voters: &[u64]) -> u64 {
        let statuses = self
            .wait_for(ids, "one agreed leader", |s| agree(s, ids, voters))
            .await;
        statuses[0].leader.expect("a leader")
    }

    /// `amqp://guest:guest@` node `id`'s AMQP port.
    pub fn uri(&self, id: u64) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.amqp[&id])
    }

    /// The AMQP URI of every node, in id order.
    pub fn uris(&self) -> Vec<String> {
        self.amqp.keys().map(|&id| self.uri(id)).collect()
    }

    /// Whether node `id`'s process was started and not killed or reaped.
    pub fn running(&self, id: u64) -> bool {
        self.children.contains_key(&id)
    }

    /// Node `id`'s AMQP address.
    pub fn amqp_addr(&self, id: u64) -> SocketAddr {
        format!("127.0.0.1:{}", self.amqp[&id])
            .parse()
            .expect("address")
    }

    /// Runs `warren --config <node id's config> cluster ARGS`: (success, stdout + stderr).
    pub async fn cli(&self, id: u64, args: &[&str]) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_warren"))
            .arg("--config")
            .arg(self.config(id))
            .arg("cluster")
            .args(args)
            .output()
            .await
            .expect("warren cluster runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

/// All answered, one leader among `ids` that every one names, in one term, `voters` voting.
pub fn agree(statuses: &[Status], ids: &[u64], voters: &[u64]) -> bool {
    let Some(first) = statuses.first() else {
        return false;
    };
    let Some(leader) = first.leader else {
        return false;
    };
    ids.contains(&leader)
        && statuses.iter().filter(|s| s.role == "leader").count() == 1
        && statuses.iter().all(|s| {
            s.leader == Some(leader)
                && s.term == first.term
                && s.members
                    .iter()
                    .filter(|m| m.voter)
                    .map(|m| m.id)
                    .collect::<Vec<_>>()
                    == voters
        })
}
