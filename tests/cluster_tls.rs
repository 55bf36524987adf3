//! TLS on the cluster port (`[cluster.tls]`): three `warren` processes form a cluster and
//! replicate over mutual TLS, and `warren cluster status` reaches its node through it; a
//! one-node cluster refuses a plain client, a client whose certificate another CA signed,
//! and is refused by a client expecting another name.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cluster::{Ports, agreed, free_port, node_config, spawn, write_secret};
use common::tls::{Leaf, Pki};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rcgen::{ExtendedKeyUsagePurpose, KeyPair};
use warren::cluster::network::peer_tls::{PeerAuth, PeerTls};
use warren::cluster::network::tcp;
use warren::config::Settings;
use warren::config::cluster::{ClusterTlsSettings, PeerSettings};
use warren::store::{Store, StoreOptions};

const SECRET: &str = "cluster-over-tls-secret\n";
const WAIT: Duration = Duration::from_secs(30);

/// A node certificate for 127.0.0.1 and localhost, for serving and for dialing.
fn node_cert(pki: &Pki, stem: &str) -> Leaf {
    let mut params = Pki::server_params();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    pki.sign(stem, params, KeyPair::generate().expect("key"))
}

fn tls_settings(pki: &Pki, leaf: &Leaf) -> ClusterTlsSettings {
    ClusterTlsSettings {
        enabled: true,
        certfile: leaf.cert_path.clone(),
        keyfile: leaf.key_path.clone(),
        cacertfile: pki.ca_path.clone(),
        server_name: String::new(),
    }
}

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
            add_tls(&config, &pki, &node_cert(&pki, &format!("node{id}")));
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
    let target = common::cluster::status(&configs[leader - 1])
        .await
        .expect("leader status")
        .applied;
    let deadline = std::time::Instant::now() + WAIT;
    let published_at = loop {
        let statuses = agreed(&configs, 3).await;
        if statuses.iter().all(|s| s.applied >= target) {
            break target;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not applied everywhere: {statuses:?}"
        );
        tokio::time::sleep(common::cluster::POLL).await;
    };
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

fn one_node_settings(dir: &Path, pki: &Pki) -> Settings {
    let secret = dir.join("secret");
    write_secret(&secret, SECRET);
    let mut s = Settings::default();
    s.server.data_dir = dir.join("data");
    s.cluster.enabled = true;
    s.cluster.node_id = 1;
    s.cluster.listen = "127.0.0.1:0".into();
    s.cluster.secret_file = secret;
    s.cluster.peers = vec![PeerSettings {
        id: 1,
        cluster: "127.0.0.1:1".into(),
        amqp: "127.0.0.1:5672".into(),
        management: String::new(),
    }];
    s.cluster.tls = tls_settings(pki, &node_cert(pki, "node1"));
    s.validate().expect("valid settings");
    s
}

#[tokio::test]
async fn the_tls_cluster_port_refuses_plain_foreign_and_misnamed_peers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("cluster");
    let settings = one_node_settings(dir.path(), &pki);
    let store = Store::open(&settings.server.data_dir, StoreOptions::default()).expect("store");
    let cluster = warren::cluster::start(&settings, store)
        .await
        .expect("cluster starts");
    cluster
        .node
        .raft()
        .wait(Some(WAIT))
        .state(openraft::ServerState::Leader, "a one-node cluster leads")
        .await
        .expect("leader");
    let addr = cluster.addr.to_string();
    let secret = SECRET.trim_end().as_bytes();
    let with = |tls: &ClusterTlsSettings| PeerAuth {
        secret: secret.into(),
        tls: PeerTls::load(tls).expect("client TLS loads"),
    };

    // The node's own certificate and CA: answered.
    let status = tcp::request_status(&addr, &with(&settings.cluster.tls), WAIT)
        .await
        .expect("status over TLS");
    assert_eq!((status.id, status.role.as_str()), (1, "leader"));

    // No TLS: the shared secret alone gets nowhere.
    let plain = tcp::request_status(&addr, &PeerAuth::plain(secret), WAIT).await;
    assert!(plain.is_err(), "{plain:?}");

    // A certificate from another CA (the client still trusts the node's CA).
    let other = Pki::new("other");
    let mut foreign = tls_settings(&pki, &node_cert(&other, "intruder"));
    foreign.cacertfile = pki.ca_path.clone();
    let refused = tcp::request_status(&addr, &with(&foreign), WAIT).await;
    assert!(refused.is_err(), "{refused:?}");

    // The node's certificate does not carry the name the client expects.
    let mut misnamed = settings.cluster.tls.clone();
    misnamed.server_name = "node9.example".into();
    let refused = tcp::request_status(&addr, &with(&misnamed), WAIT).await;
    let text = refused.expect_err("wrong name").to_string();
    assert!(text.contains("TLS"), "{text}");

    // Still serving.
    tcp::request_status(&addr, &with(&settings.cluster.tls), WAIT)
        .await
        .expect("status over TLS");
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
