//! Black box: three real `warren` processes in cluster mode. Messages published with
//! confirms to a durable queue, through a follower that hands the client to the leader,
//! survive a SIGKILL of the leader: the new leader serves every confirmed message, and
//! nothing else.

use crate::common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::cluster::{Ports, agreed, free_port, node_config, spawn, write_secret};
use lapin::options::QueueDeclareOptions;
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::process::Child;
use tokio::time::Instant;

/// Bound on a new leader starting to serve (real processes, real time).
const SERVE_WITHIN: Duration = Duration::from_secs(60);
/// Messages published before the kill.
const MESSAGES: usize = 300;

/// Connects to the node's AMQP port, retrying until it serves (a new leader recovers first).
async fn connect(port: u16) -> Connection {
    let uri = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let deadline = Instant::now() + SERVE_WITHIN;
    loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            Connection::connect(&uri, ConnectionProperties::default()),
        )
        .await
        {
            Ok(Ok(c)) => return c,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "node on port {port} never served AMQP: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn confirmed_messages_survive_a_sigkill_of_the_leader() {
    let _one_cluster_at_a_time = common::cluster::THREE_NODES.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("cluster.secret");
    write_secret(&secret, "failover-test-cluster-secret\n");
    let ports = Ports {
        amqp: [free_port(), free_port(), free_port()],
        cluster: [free_port(), free_port(), free_port()],
    };
    let configs: Vec<PathBuf> = (1..=3)
        .map(|id| node_config(dir.path(), id, &ports, &secret))
        .collect();
    let mut children: Vec<Child> = configs.iter().map(|c| spawn(c)).collect();
    let statuses = agreed(&configs, 3).await;
    let old = statuses[0].leader.expect("leader");
    let index = usize::try_from(old - 1).expect("index");

    // Published through a follower, which hands the client to the leader's broker.
    let follower = (0..3).find(|&i| i != index).expect("a follower");
    let conn = connect(ports.amqp[follower]).await;
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_declare(
        "failover".into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("declare");
    let mut quorum = FieldTable::default();
    quorum.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        "failover-qq".into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        quorum,
    )
    .await
    .expect("declare quorum queue");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    let confirmed = publish_confirmed(&ch, "failover", 2, MESSAGES).await;
    // A quorum queue keeps transient messages too, and confirms them once they are kept.
    let confirmed_qq = publish_confirmed(&ch, "failover-qq", 1, MESSAGES / 3).await;

    let mut leader = children.remove(index);
    leader.start_kill().expect("kill");
    leader.wait().await.expect("reaped");
    drop(conn);
    let rest: Vec<PathBuf> = configs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, c)| c.clone())
        .collect();
    let after = agreed(&rest, 2).await;
    let new = after[0].leader.expect("new leader");
    assert_ne!(new, old);
    let new_index = usize::try_from(new - 1).expect("index");

    let conn = connect(ports.amqp[new_index]).await;
    let ch = conn.create_channel().await.expect("channel");
    assert_eq!(drain(&ch, "failover").await, confirmed, "durable queue");
    assert_eq!(
        drain(&ch, "failover-qq").await,
        confirmed_qq,
        "quorum queue"
    );
}

/// Publishes `n` messages `m0..` to `queue` and returns those the broker confirmed (all of
/// them, or the test fails).
async fn publish_confirmed(
    ch: &lapin::Channel,
    queue: &str,
    delivery_mode: u8,
    n: usize,
) -> BTreeSet<String> {
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                format!("m{i}").as_bytes(),
                BasicProperties::default().with_delivery_mode(delivery_mode),
            )
            .await
            .expect("publish");
        pending.push((i, confirm));
    }
    let mut confirmed = BTreeSet::new();
    for (i, confirm) in pending {
        let c = confirm.await.expect("confirmation");
        assert!(c.is_ack(), "{queue}: message {i} nacked");
        confirmed.insert(format!("m{i}"));
    }
    confirmed
}

/// Takes every message of `queue`; fails on a duplicate.
async fn drain(ch: &lapin::Channel, queue: &str) -> BTreeSet<String> {
    let mut got = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        got.push(String::from_utf8_lossy(&m.delivery.data).into_owned());
    }
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "{queue}: duplicates delivered");
    unique
}
