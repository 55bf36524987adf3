//! Test support for black-box cluster tests: real `warren` processes on loopback whose
//! cluster links each go through a [`chaos::Link`] (node i's `[[cluster.peers]]` entry for
//! node j names the i→j link), status polled with a deadline, signals, AMQP clients.

#![allow(dead_code)]

pub mod chaos;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use warren::cluster::Status;

use chaos::{Link, Mode};

/// Bound on waiting for any cluster condition (real processes, real time, a loaded CI box).
pub const WITHIN: Duration = Duration::from_secs(30);
/// Between two status polls.
const POLL: Duration = Duration::from_millis(100);
/// The secret every node shares.
const SECRET: &str = "chaos-tests-share-this-secret\n";

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A cluster of `warren` processes with chaos links between them.
pub struct Cluster {
    /// Temp dir with configs, data dirs, logs and the secret.
    pub dir: tempfile::TempDir,
    secret: PathBuf,
    amqp: BTreeMap<u64, u16>,
    cluster: BTreeMap<u64, u16>,
    links: BTreeMap<(u64, u64), Link>,
    children: BTreeMap<u64, Child>,
}

impl Cluster {
    /// Starts nodes `1..=n`, each listing all `n` as peers through the chaos links.
    pub async fn start(n: u64) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("cluster.secret");
        std::fs::write(&secret, SECRET).expect("write secret");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut c = Cluster {
            dir,
            secret,
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
        let mut text = format!(
            "[server]\nlisten = [\"127.0.0.1:{amqp}\"]\ndata_dir = \"{data}\"\n\
             log_level = \"warn\"\n[management]\nlisten = []\n[prometheus]\nlisten = []\n\
             [cluster]\nenabled = true\nnode_id = {id}\nlisten = \"127.0.0.1:{cluster}\"\n\
             secret_file = \"{secret}\"\nheartbeat_ms = 100\nelection_timeout_ms = [600, 1200]\n\
             join = {join}\n",
            amqp = self.amqp[&id],
            data = self.data_dir(id).display(),
            cluster = self.cluster[&id],
            secret = self.secret.display(),
        );
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
            text.push_str(&format!(
                "[[cluster.peers]]\nid = {peer}\ncluster = \"{cluster_addr}\"\n\
                 amqp = \"127.0.0.1:{}\"\n",
                self.amqp[&peer]
            ));
        }
        std::fs::write(self.config(id), text).expect("write config");
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
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(id))
            .expect("open log");
        let child = Command::new(env!("CARGO_BIN_EXE_warren"))
            .arg("--config")
            .arg(self.config(id))
            .env("WARREN_MANAGEMENT__LISTEN", "")
            .env("WARREN_PROMETHEUS__LISTEN", "")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("warren starts");
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
            SECRET.trim_end().as_bytes(),
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
        let deadline = Instant::now() + WITHIN;
        loop {
            let mut statuses = Vec::new();
            let mut last_error = None;
            for &id in ids {
                match self.status(id).await {
                    Ok(s) => statuses.push(s),
                    Err(e) => last_error = Some(e),
                }
            }
            if statuses.len() == ids.len() && ok(&statuses) {
                return statuses;
            }
            assert!(
                Instant::now() < deadline,
                "not within {WITHIN:?}: {what}; last error {last_error:?}, statuses {statuses:#?}"
            );
            tokio::time::sleep(POLL).await;
        }
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

/// A one-connection-at-a-time relay on a free port that writes `header` to `target` before
/// splicing, standing in for a cluster peer that hands a client over.
pub async fn relay_with_header(target: SocketAddr, header: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let header = header.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(target).await else {
                    return;
                };
                if server.write_all(header.as_bytes()).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    addr
}

/// Connects with `lapin` to `uri`; an error if refused, closed or not done in 10 s.
pub async fn connect(uri: &str) -> Result<lapin::Connection, String> {
    let connecting = lapin::Connection::connect(uri, lapin::ConnectionProperties::default());
    match tokio::time::timeout(Duration::from_secs(10), connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

/// Waits until `conn` is no longer connected.
pub async fn closed(conn: &lapin::Connection) {
    let deadline = Instant::now() + WITHIN;
    while conn.status().connected() {
        assert!(Instant::now() < deadline, "connection still open");
        tokio::time::sleep(POLL).await;
    }
}

/// Declares durable `queue`, publishes `body` to it with a confirm, and returns the
/// channel.
pub async fn declare_and_publish(conn: &lapin::Connection, queue: &str, body: &[u8]) {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        lapin::types::FieldTable::default(),
    )
    .await
    .expect("queue.declare");
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body,
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(confirm.is_ack(), "publish to {queue} not confirmed");
}

/// The message count of `queue` (passive declare) and the body of its first message.
pub async fn count_and_get(conn: &lapin::Connection, queue: &str) -> (u32, Option<Vec<u8>>) {
    use lapin::options::{BasicGetOptions, QueueDeclareOptions};
    let ch = conn.create_channel().await.expect("channel");
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("passive queue.declare");
    let got = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get");
    (q.message_count(), got.map(|m| m.delivery.data.clone()))
}
