//! Three real `warren` processes on loopback form a cluster over the TCP transport: they
//! elect one leader, and `warren --config FILE cluster status --json` on each reports the
//! same leader, term and membership. A node with another secret is refused. After the
//! leader is killed with SIGKILL the other two elect a new one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use warren::cluster::Status;

/// Bound on waiting for the cluster to form (real processes, real time).
const FORM_WITHIN: Duration = Duration::from_secs(60);
/// Between two status polls.
const POLL: Duration = Duration::from_millis(100);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, secret).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

struct Ports {
    amqp: [u16; 3],
    cluster: [u16; 3],
}

fn node_config(dir: &Path, id: usize, ports: &Ports, secret: &Path) -> PathBuf {
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

async fn status(config: &Path) -> Result<Status, String> {
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

/// All three answer, agree on one leader, its term and the members.
fn formed(statuses: &[Status]) -> bool {
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

#[tokio::test]
async fn three_processes_elect_one_leader_agree_on_membership_and_fail_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("cluster.secret");
    write_secret(&secret, "three-processes-share-this-secret\n");
    let ports = Ports {
        amqp: [free_port(), free_port(), free_port()],
        cluster: [free_port(), free_port(), free_port()],
    };
    let configs: Vec<PathBuf> = (1..=3)
        .map(|id| node_config(dir.path(), id, &ports, &secret))
        .collect();
    let mut children: Vec<Child> = configs.iter().map(|c| spawn(c)).collect();

    let statuses = agreed(&configs, 3).await;
    for (i, s) in statuses.iter().enumerate() {
        assert_eq!(s.id, i as u64 + 1);
        assert!(s.applied.is_some(), "{s:?}");
        assert!(!s.fenced, "{s:?}");
        let amqp: Vec<&str> = s.members.iter().map(|m| m.amqp.as_str()).collect();
        let expected: Vec<String> = ports
            .amqp
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        assert_eq!(amqp, expected);
    }

    // The same node asked with another secret refuses the admin client.
    let wrong = dir.path().join("wrong.secret");
    write_secret(&wrong, "not-the-cluster-secret-at-all\n");
    let text = std::fs::read_to_string(&configs[0]).expect("read config");
    let bad = dir.path().join("wrong.toml");
    std::fs::write(
        &bad,
        text.replace(&secret.display().to_string(), &wrong.display().to_string()),
    )
    .expect("write config");
    let err = status(&bad).await.expect_err("wrong secret refused");
    assert!(err.contains("authentication"), "{err}");

    // SIGKILL the leader: the other two elect a new one in a later term.
    let old = statuses[0].leader.expect("leader");
    let old_term = statuses[0].term;
    let index = usize::try_from(old - 1).expect("index");
    let mut leader = children.remove(index);
    leader.start_kill().expect("kill");
    leader.wait().await.expect("reaped");
    let rest: Vec<PathBuf> = configs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, c)| c.clone())
        .collect();
    let after = agreed(&rest, 2).await;
    assert_ne!(after[0].leader, Some(old));
    assert!(after[0].term > old_term, "{after:?}");
}

/// Polls `configs`' nodes until all answer and agree on one leader among them.
async fn agreed(configs: &[PathBuf], expect: usize) -> Vec<Status> {
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
