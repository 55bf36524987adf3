//! The management API and the Prometheus endpoint of a three-process cluster: every node
//! serves both. A follower forwards management requests to the leader (a queue declared
//! through the leader is listed through a follower with the same JSON), answers
//! `/api/warren/cluster` itself, and serves its own Raft series; `/api/nodes` lists the
//! three members and a killed one turns `running: false`; a member is removed through the
//! API; with no leader a follower answers 503 with a JSON reason. Raft runs on its own
//! `warren-raft` thread, and messages near the 24 MiB entry cap replicate (each append
//! request stays under the cluster port's 32 MiB frame cap).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::cluster::{POLL, agreed, free_port, write_secret};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// Bound on each wait for the cluster to reach a state.
const WITHIN: Duration = Duration::from_secs(60);

struct Node {
    config: PathBuf,
    mgmt: u16,
    prom: u16,
    child: Option<Child>,
}

/// Raft timings of the first test: fast failure detection.
const FAST: &str = "heartbeat_ms = 100\nelection_timeout_ms = [500, 1000]\n";

fn config(dir: &Path, id: usize, ports: &[[u16; 4]; 3], secret: &Path, timings: &str) -> PathBuf {
    let [amqp, cluster, mgmt, prom] = ports[id - 1];
    let mut text = format!(
        "[server]\nlisten = [\"127.0.0.1:{amqp}\"]\ndata_dir = \"{data}\"\nlog_level = \"warn\"\n\
         [management]\nlisten = [\"127.0.0.1:{mgmt}\"]\n\
         [prometheus]\nlisten = [\"127.0.0.1:{prom}\"]\n\
         [cluster]\nenabled = true\nnode_id = {id}\nlisten = \"127.0.0.1:{cluster}\"\n\
         secret_file = \"{secret}\"\n{timings}",
        data = dir.join(format!("node{id}")).display(),
        secret = secret.display(),
    );
    for (i, [amqp, cluster, mgmt, _]) in ports.iter().enumerate() {
        text.push_str(&format!(
            "[[cluster.peers]]\nid = {}\ncluster = \"127.0.0.1:{cluster}\"\n\
             amqp = \"127.0.0.1:{amqp}\"\nmanagement = \"127.0.0.1:{mgmt}\"\n",
            i + 1
        ));
    }
    let path = dir.join(format!("node{id}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

fn spawn(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("warren starts")
}

struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new() -> Http {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Http { client }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        port: u16,
        path: &str,
        user: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> Result<(u16, String), String> {
        let mut req = self
            .client
            .request(method, format!("http://127.0.0.1:{port}{path}"));
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    /// A guest request answered with JSON.
    async fn json(&self, method: reqwest::Method, port: u16, path: &str) -> (u16, Value) {
        let (status, text) = self
            .call(method, port, path, Some(("guest", "guest")), None)
            .await
            .expect("answer");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn delete(&self, port: u16, path: &str, user: (&str, &str)) -> (u16, String) {
        self.call(reqwest::Method::DELETE, port, path, Some(user), None)
            .await
            .expect("answer")
    }

    async fn get(&self, port: u16, path: &str) -> (u16, Value) {
        self.json(reqwest::Method::GET, port, path).await
    }

    /// Polls `GET path` on `port` until `ok` holds; returns the last body.
    async fn until(
        &self,
        port: u16,
        path: &str,
        what: &str,
        ok: impl Fn(u16, &Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WITHIN;
        loop {
            if let Ok((status, text)) = self
                .call(
                    reqwest::Method::GET,
                    port,
                    path,
                    Some(("guest", "guest")),
                    None,
                )
                .await
            {
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                if ok(status, &body) {
                    return body;
                }
                assert!(Instant::now() < deadline, "{what}: last {status} {body}");
            }
            assert!(Instant::now() < deadline, "{what}: no answer in time");
            tokio::time::sleep(POLL).await;
        }
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// The names of the threads of process `pid`.
fn threads(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|t| t.ok())
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|c| c.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The value of an unlabelled sample `name` in a text scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn every_node_serves_the_management_api_and_prometheus() {
    let _one_cluster_at_a_time = common::cluster::THREE_NODES.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("cluster.secret");
    write_secret(&secret, "management-through-any-node-secret\n");
    let ports: [[u16; 4]; 3] =
        std::array::from_fn(|_| [free_port(), free_port(), free_port(), free_port()]);
    let mut nodes: Vec<Node> = (1..=3)
        .map(|id| {
            let config = config(dir.path(), id, &ports, &secret, FAST);
            Node {
                child: Some(spawn(&config)),
                config,
                mgmt: ports[id - 1][2],
                prom: ports[id - 1][3],
            }
        })
        .collect();
    let configs: Vec<PathBuf> = nodes.iter().map(|n| n.config.clone()).collect();
    let statuses = agreed(&configs, 3).await;
    let leader = statuses[0].leader.expect("leader") as usize;
    let followers: Vec<usize> = (1..=3).filter(|&i| i != leader).collect();
    let (lport, f1, f2) = (
        nodes[leader - 1].mgmt,
        nodes[followers[0] - 1].mgmt,
        nodes[followers[1] - 1].mgmt,
    );
    let http = Http::new();
    let name = |id: usize| format!("warren-{id}@127.0.0.1");

    // The leader serves from its broker once promoted.
    let overview = http
        .until(lport, "/api/overview", "leader overview", |s, _| s == 200)
        .await;
    assert_eq!(overview["node"], json!(name(leader)));
    assert_eq!(overview["cluster_name"], json!(name(1)));
    // Through a follower: the leader's figures, named by the node that answers.
    let (status, via_follower) = http.get(f1, "/api/overview").await;
    assert_eq!(status, 200, "{via_follower}");
    assert_eq!(via_follower["node"], json!(name(followers[0])));
    assert_eq!(via_follower["cluster_name"], json!(name(1)));
    assert_eq!(keys(&via_follower), keys(&overview));
    let (status, cluster_name) = http.get(f1, "/api/cluster-name").await;
    assert_eq!((status, cluster_name), (200, json!({"name": name(1)})));

    // A queue declared through the leader is listed through a follower, same fields.
    let (status, _) = http
        .call(
            reqwest::Method::PUT,
            lport,
            "/api/queues/%2F/mq1",
            Some(("guest", "guest")),
            Some(json!({"durable": true})),
        )
        .await
        .expect("declare");
    assert_eq!(status, 201);
    let (status, from_leader) = http.get(lport, "/api/queues/%2F/mq1").await;
    assert_eq!(status, 200);
    let (status, from_follower) = http.get(f1, "/api/queues/%2F/mq1").await;
    assert_eq!(status, 200, "{from_follower}");
    assert_eq!(keys(&from_follower), keys(&from_leader));
    for field in ["name", "vhost", "durable", "node", "type"] {
        assert_eq!(from_follower[field], from_leader[field], "{field}");
    }
    assert_eq!(from_follower["node"], json!(name(leader)));
    let (status, _) = http
        .call(
            reqwest::Method::PUT,
            lport,
            "/api/queues/%2F/qq1",
            Some(("guest", "guest")),
            Some(json!({"durable": true, "arguments": {"x-queue-type": "quorum"}})),
        )
        .await
        .expect("declare");
    assert_eq!(status, 201);

    // The web UI through a follower (forwarded like the API).
    let (status, page) = http
        .call(reqwest::Method::GET, f2, "/", None, None)
        .await
        .expect("ui");
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!DOCTYPE"),
        "{page}"
    );

    // Raft runs on its own runtime thread in every node.
    for node in &nodes {
        let pid = node.child.as_ref().and_then(Child::id).expect("pid");
        assert!(
            threads(pid).iter().any(|t| t == "warren-raft"),
            "{:?}",
            threads(pid)
        );
    }

    // /api/nodes through a follower: three members, all running and described.
    let nodes_json = http
        .until(f2, "/api/nodes", "three running nodes", |s, b| {
            s == 200
                && b.as_array().is_some_and(|a| {
                    a.len() == 3
                        && a.iter()
                            .all(|n| n["running"] == json!(true) && n["os_pid"].is_string())
                })
        })
        .await;
    let names: Vec<&str> = nodes_json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, vec![name(1), name(2), name(3)]);
    assert!(
        nodes_json
            .as_array()
            .expect("array")
            .iter()
            .all(|n| n["type"] == json!("disc"))
    );
    // Every running member describes itself: its own process id, memory and descriptors
    // as integers (monitoring tools decode them so), whichever node answers the listing.
    let pids: Vec<String> = nodes
        .iter()
        .map(|n| {
            n.child
                .as_ref()
                .and_then(Child::id)
                .expect("pid")
                .to_string()
        })
        .collect();
    for (i, entry) in nodes_json.as_array().expect("array").iter().enumerate() {
        assert_eq!(entry["os_pid"], json!(pids[i]), "{entry}");
        for field in [
            "mem_used",
            "mem_limit",
            "fd_used",
            "fd_total",
            "uptime",
            "disk_free",
        ] {
            assert!(entry[field].as_u64().is_some(), "{field} in {entry}");
        }
        assert_eq!(entry["mem_alarm"], json!(false), "{entry}");
    }
    // A follower answers for itself by name (`@` percent-encoded, as tools send it),
    // without the leader.
    let own = format!("/api/nodes/{}", name(followers[0]).replace('@', "%40"));
    let (status, itself) = http.get(f1, &own).await;
    assert_eq!(status, 200, "{itself}");
    assert_eq!(itself["name"], json!(name(followers[0])));
    assert_eq!(itself["os_pid"], json!(pids[followers[0] - 1]));
    // The leader answers for another member by asking it.
    let (status, asked) = http.get(lport, &own).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["os_pid"], json!(pids[followers[0] - 1]));
    let (status, _) = http.get(lport, "/api/nodes/warren-9%40127.0.0.1").await;
    assert_eq!(status, 404);

    // The follower's own view of the cluster, answered by itself.
    let (status, view) = http.get(f1, "/api/warren/cluster").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["id"], json!(followers[0]));
    assert_eq!(view["role"], json!("follower"));
    assert_eq!(view["leader"], json!(leader));
    assert_eq!(view["members"].as_array().map(Vec::len), Some(3));
    let (status, _) = http
        .call(reqwest::Method::GET, f1, "/api/warren/cluster", None, None)
        .await
        .expect("answer");
    assert_eq!(status, 401, "no credentials");

    // Refusals: a monitoring user may not remove, a bad id is 400, an unknown one 404.
    let (status, _) = http
        .call(
            reqwest::Method::PUT,
            f2,
            "/api/users/watcher",
            Some(("guest", "guest")),
            Some(json!({"password": "watcher-pass", "tags": "monitoring"})),
        )
        .await
        .expect("create user");
    assert_eq!(status, 201);
    let (status, body) = http
        .delete(
            lport,
            "/api/warren/cluster/members/2",
            ("watcher", "watcher-pass"),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Not administrator user"), "{body}");
    let guest = ("guest", "guest");
    let (status, _) = http
        .delete(lport, "/api/warren/cluster/members/abc", guest)
        .await;
    assert_eq!(status, 400);
    let (status, _) = http
        .delete(lport, "/api/warren/cluster/members/9", guest)
        .await;
    assert_eq!(status, 404);

    // Prometheus: a follower serves its own identity and Raft series, the leader the
    // broker's series with them.
    let (status, text) = http
        .call(
            reqwest::Method::GET,
            nodes[followers[0] - 1].prom,
            "/metrics",
            None,
            None,
        )
        .await
        .expect("scrape");
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("rabbitmq_node=\"{}\"", name(followers[0]))),
        "{text}"
    );
    let term = sample(&text, "rabbitmq_raft_term_total").expect("term");
    assert!(term >= 1.0, "{text}");
    let applied = sample(&text, "rabbitmq_raft_log_last_applied_index").expect("applied");
    assert!(applied >= 1.0, "{text}");
    for series in [
        "rabbitmq_raft_log_commit_index",
        "rabbitmq_raft_log_last_written_index",
        "rabbitmq_raft_log_snapshot_index",
    ] {
        assert!(sample(&text, series).is_some(), "{series} in {text}");
    }
    assert_eq!(sample(&text, "warren_cluster_leader"), Some(0.0));
    let (status, text) = http
        .call(
            reqwest::Method::GET,
            nodes[leader - 1].prom,
            "/metrics",
            None,
            None,
        )
        .await
        .expect("scrape");
    assert_eq!(status, 200);
    assert!(
        sample(&text, "rabbitmq_queues").is_some_and(|q| q >= 1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "warren_cluster_leader"), Some(1.0));
    assert!(sample(&text, "rabbitmq_raft_log_commit_index").is_some_and(|c| c >= applied));

    // Every voter running: stopping the leader, which answers (forwarded), leaves two.
    let (status, body) = http
        .get(f1, "/api/health/checks/node-is-quorum-critical")
        .await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    // Kill a follower: the leader reports it not running.
    let gone = followers[1];
    let mut child = nodes[gone - 1].child.take().expect("child");
    child.start_kill().expect("kill");
    child.wait().await.expect("reaped");
    let gone_name = name(gone);
    let listing = http
        .until(lport, "/api/nodes", "killed node not running", |s, b| {
            s == 200
                && b.as_array().is_some_and(|a| {
                    a.iter()
                        .any(|n| n["name"] == json!(gone_name) && n["running"] == json!(false))
                })
        })
        .await;
    // A stopped member is listed by name only, as RabbitMQ lists a stopped node.
    let stopped = listing
        .as_array()
        .expect("array")
        .iter()
        .find(|n| n["name"] == json!(gone_name))
        .expect("listed");
    assert!(stopped.get("mem_used").is_none(), "{stopped}");
    // Now stopping the leader would leave one voter of three: quorum-critical, naming
    // the quorum queues (not the classic one).
    let (status, body) = http
        .get(f1, "/api/health/checks/node-is-quorum-critical")
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], json!("failed"), "{body}");
    assert_eq!(
        body["queues"],
        json!([{"name": "qq1", "virtual_host": "/"}]),
        "{body}"
    );

    // Remove it through the other follower (forwarded to the leader).
    let path = format!("/api/warren/cluster/members/{gone}");
    let (status, body) = http.delete(f1, &path, guest).await;
    assert_eq!(status, 204, "{body}");
    let view = http
        .until(lport, "/api/warren/cluster", "two members", |s, b| {
            s == 200 && b["members"].as_array().is_some_and(|m| m.len() == 2)
        })
        .await;
    assert!(
        view["members"]
            .as_array()
            .expect("members")
            .iter()
            .all(|m| m["id"] != json!(gone))
    );

    // Kill the leader: the lone follower has no leader and answers 503 with a reason,
    // but still answers for itself.
    let mut child = nodes[leader - 1].child.take().expect("child");
    child.start_kill().expect("kill");
    child.wait().await.expect("reaped");
    let body = http
        .until(f1, "/api/overview", "503 without a leader", |s, _| s == 503)
        .await;
    assert_eq!(body["error"], json!("service_unavailable"), "{body}");
    assert!(
        body["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    let (status, view) = http.get(f1, "/api/warren/cluster").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["id"], json!(followers[0]));
    drop(nodes);
}

/// Messages of 20 MiB each, published back to back: several such entries in one append
/// request would exceed the cluster port's 32 MiB frame cap; bounded by bytes, every one
/// is confirmed (a majority has it) and every node applies as far as the leader.
#[tokio::test]
async fn messages_near_the_entry_cap_replicate_to_every_node() {
    let _one_cluster_at_a_time = common::cluster::THREE_NODES.lock().await;
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use lapin::{BasicProperties, Connection, ConnectionProperties};

    const BODY: usize = 20 << 20;
    const MESSAGES: usize = 4;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("cluster.secret");
    write_secret(&secret, "large-entries-split-by-bytes-secret\n");
    let ports: [[u16; 4]; 3] =
        std::array::from_fn(|_| [free_port(), free_port(), free_port(), free_port()]);
    // openraft 0.9 gives each append request `heartbeat_ms` to be sent and fsynced: a
    // 20 MiB entry in a debug build on a loaded machine needs more than the default.
    let slow = "heartbeat_ms = 1000\nelection_timeout_ms = [4000, 8000]\n";
    let configs: Vec<PathBuf> = (1..=3)
        .map(|id| config(dir.path(), id, &ports, &secret, slow))
        .collect();
    let _children: Vec<Child> = configs.iter().map(|c| spawn(c)).collect();
    let statuses = agreed(&configs, 3).await;
    let leader = statuses[0].leader.expect("leader") as usize;
    let amqp = ports[leader - 1][0];
    let deadline = Instant::now() + WITHIN;
    // The leader takes clients once promoted.
    let conn = loop {
        let uri = format!("amqp://guest:guest@127.0.0.1:{amqp}/%2f");
        match Connection::connect(&uri, ConnectionProperties::default()).await {
            Ok(conn) => break conn,
            Err(e) => assert!(Instant::now() < deadline, "no AMQP on the leader: {e}"),
        }
        tokio::time::sleep(POLL).await;
    };
    let ch = conn.create_channel().await.expect("channel");
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare("big".into(), durable, FieldTable::default())
        .await
        .expect("declare");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    let body = vec![b'x'; BODY];
    let mut pending = Vec::new();
    for _ in 0..MESSAGES {
        let confirm = ch
            .basic_publish(
                "".into(),
                "big".into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
        pending.push(confirm);
    }
    for confirm in pending {
        let confirmation = tokio::time::timeout(WITHIN, confirm)
            .await
            .expect("confirmed in time")
            .expect("confirmation");
        assert!(confirmation.is_ack(), "{confirmation:?}");
    }
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = ch
        .queue_declare("big".into(), passive, FieldTable::default())
        .await
        .expect("passive declare");
    assert_eq!(q.message_count() as usize, MESSAGES);
    // Every node applies as far as the leader had when the last confirm came.
    let target = common::cluster::status(&configs[leader - 1])
        .await
        .expect("leader status")
        .applied
        .expect("applied");
    let deadline = Instant::now() + WITHIN;
    for config in &configs {
        loop {
            let applied = common::cluster::status(config)
                .await
                .ok()
                .and_then(|s| s.applied);
            if applied.is_some_and(|a| a >= target) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{config:?} applied {applied:?} < {target}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}
