//! Three real `warren` processes on loopback form a cluster over the TCP transport: they
//! elect one leader, and `warren --config FILE cluster status --json` on each reports the
//! same leader, term and membership. A node with another secret is refused. After the
//! leader is killed with SIGKILL the other two elect a new one.

use crate::common;

use std::path::PathBuf;

use common::cluster::{Ports, agreed, free_port, node_config, spawn, status, write_secret};
use tokio::process::Child;

#[tokio::test]
async fn three_processes_elect_one_leader_agree_on_membership_and_fail_over() {
    let _one_cluster_at_a_time = common::cluster::THREE_NODES.lock().await;
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
