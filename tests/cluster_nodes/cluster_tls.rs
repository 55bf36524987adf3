//! TLS on the cluster port (`[cluster.tls]`): three `warren` processes form a cluster and
//! replicate over mutual TLS, and `warren cluster status` reaches its node through it;
//! the settings are checked. (A one-node cluster refusing plain, foreign and misnamed peers
//! is in `tests/cluster_nodes/cluster_port.rs`.)

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cluster::{Ports, agreed, free_port, node_config, poll_statuses, spawn, write_secret};
use common::tls::{Leaf, Pki};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use warren::config::Settings;
use warren::store::{Store, StoreOptions};

const SECRET: &str = "cluster-over-tls-secret\n";
const WAIT: Duration = Duration::from_secs(30);

/// Appends `[cluster.tls]` to a node's configuration file.
fn add_tls(config: &Path, pki: &Pki, leaf: &Leaf) {
    let mut text = std::fs::read_to_string(config).expect("read config");
    text.push_str(&format!(
        "[cluster.tls]\nenabled = true\ncertfile = \"{}\"\nkeyfile = \"{}\"\ncacertfile = \"{}\"\n",
        leaf.cert_path.display(),
        leaf.key_path.display(),
        pki.ca_path.display()
    ));
    std::fs::write(config, text).expect("write config");
}

#[tokio::test]
async fn three_nodes_form_and_replicate_over_tls() {
    let _one_cluster_at_a_time = common::cluster::THREE_NODES.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("cluster.secret");
    write_secret(&secret, SECRET);
    let pki = Pki::new("cluster");
    let ports = Ports {
        amqp: [free_port(), free_port(), free_port()],
        cluster: [free_port(), free_port(), free_port()],
    };
    let configs: Vec<PathBuf> = (1..=3)
        .map(|id| {
            let config = node_config(dir.path(), id, &ports, &secret);
            add_tls(&config, &pki, &pki.node(&format!("node{id}")));
            config
        })
        .collect();
    let mut children: Vec<_> = configs.iter().map(|c| spawn(c)).collect();
    // `warren cluster status` answers through TLS on every node, and they agree.
    let statuses = agreed(&configs, 3).await;
    let leader = statuses[0].leader.expect("leader") as usize;

    // A confirmed message in a quorum queue reaches every node's store.
    let uri = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f",
        ports.amqp[leader - 1]
    );
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect("connect to the leader");
    let ch = conn.create_channel().await.expect("channel");
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let declare = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare("over-tls".into(), declare, args)
        .await
        .expect("declare");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let confirm = ch
        .basic_publish(
            "".into(),
            "over-tls".into(),
            BasicPublishOptions::default(),
            b"sealed",
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(confirm.is_ack(), "{confirm:?}");
    // Every node applies as far as the leader had when it confirmed.
    let published_at = common::cluster::status(&configs[leader - 1])
        .await
        .expect("leader status")
        .applied;
    poll_statuses(
        &configs,
        WAIT,
        "every node applies the confirmed entry",
        |config: &PathBuf| {
            let config = config.clone();
            async move { common::cluster::status(&config).await }
        },
        |statuses| statuses.iter().all(|s| s.applied >= published_at),
    )
    .await;
    let _ = conn.close(200, "bye".into()).await;
    for child in &mut children {
        child.start_kill().expect("stop");
        child.wait().await.expect("reaped");
    }
    // Every node applied the entry (its store holds the message).
    for id in 1..=3 {
        let data = dir.path().join(format!("node{id}"));
        let store = Store::open(&data, StoreOptions::default()).expect("open the node's store");
        let applied = store
            .cluster_applied()
            .expect("applied mark")
            .map(|m| m.index);
        assert!(
            applied >= published_at,
            "node {id} applied {applied:?}, the cluster {published_at:?}"
        );
        assert_eq!(
            store.message_count().expect("count"),
            1,
            "node {id}'s store holds the confirmed message"
        );
    }
}

#[test]
fn enabled_tls_needs_its_three_files_and_a_valid_name() {
    let mut s = Settings::default();
    s.cluster.tls.enabled = true;
    let err = s.validate().expect_err("no files").to_string();
    assert!(err.contains("cluster.tls.certfile"), "{err}");
    let mut s = Settings::default();
    s.cluster.tls.server_name = "not a name!".into();
    let err = s.validate().expect_err("bad name").to_string();
    assert!(err.contains("cluster.tls.server_name"), "{err}");
}
