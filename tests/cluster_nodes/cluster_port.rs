//! The cluster port under hostile input: a one-node cluster started from settings keeps
//! answering its admin client after unauthenticated garbage, an oversized length prefix, a
//! wrong secret and an undecodable frame after a good handshake; a write goes through it.
//! With `[cluster.tls]` on, it refuses a plain client, a client whose certificate another
//! CA signed, and is refused by a client that expects another name.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::tls::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren::cluster::entry::{ClusterOp, DefKind, Request};
use warren::cluster::network::peer_tls::{PeerAuth, PeerTls};
use warren::cluster::network::{auth, frame, tcp};
use warren::config::Settings;
use warren::config::cluster::{ClusterTlsSettings, PeerSettings};
use warren::store::{DefinitionKind, Store, StoreOptions};

const SECRET: &[u8] = b"one-node-cluster-secret";
const WAIT: Duration = Duration::from_secs(30);

fn settings(dir: &tempfile::TempDir) -> Settings {
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).expect("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut s = Settings::default();
    s.server.data_dir = dir.path().join("data");
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
    s.validate().expect("valid settings");
    s
}

/// Reads until the peer closes; true if it closed within the bound.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, read_all).await.is_ok()
}

#[tokio::test]
async fn the_cluster_port_survives_hostile_input_and_serves_its_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = settings(&dir);
    let store = Store::open(&settings.server.data_dir, StoreOptions::default()).expect("store");
    let cluster = warren::cluster::start(&settings, store.clone())
        .await
        .expect("cluster starts");
    let addr = cluster.addr.to_string();
    cluster
        .node
        .raft()
        .wait(Some(WAIT))
        .state(
            openraft::ServerState::Leader,
            "a one-node cluster leads itself",
        )
        .await
        .expect("leader");

    // Not a cluster peer at all.
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(closed_by_peer(&mut s).await);

    // A proof frame claiming 4 GiB is refused before anything is allocated.
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    frame::read_frame(&mut s, 64).await.expect("greeting");
    s.write_all(&u32::MAX.to_be_bytes()).await.expect("write");
    assert!(closed_by_peer(&mut s).await);

    // The wrong secret.
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    let refused = auth::dial(&mut s, b"not-the-secret-of-this-cluster", 2).await;
    assert!(
        matches!(refused, Err(auth::AuthError::BadSecret)),
        "{refused:?}"
    );

    // The right secret, then bytes that are no request; then a frame over the cap.
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    auth::dial(&mut s, SECRET, 2).await.expect("handshake");
    frame::write_frame(&mut s, &[0xff; 32])
        .await
        .expect("write");
    assert!(closed_by_peer(&mut s).await);
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    auth::dial(&mut s, SECRET, 2).await.expect("handshake");
    let too_big = u32::try_from(frame::MAX_FRAME + 1).expect("fits");
    s.write_all(&too_big.to_be_bytes()).await.expect("write");
    assert!(closed_by_peer(&mut s).await);

    // Still serving: the admin client gets the status, and a write is applied to the store.
    let status = tcp::request_status(&addr, &PeerAuth::plain(SECRET), WAIT)
        .await
        .expect("status");
    assert_eq!(status.id, 1);
    assert_eq!(status.role, "leader");
    let (log_id, _) = cluster
        .node
        .write(Request::new(vec![ClusterOp::PutDefinition {
            kind: DefKind::User,
            key: b"alice".to_vec(),
            value: b"{}".to_vec(),
        }]))
        .await
        .expect("write");
    // The write's answer can come before the node's metrics show it applied: poll.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = tcp::request_status(&addr, &PeerAuth::plain(SECRET), WAIT)
            .await
            .expect("status");
        if status.applied >= Some(log_id.index) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let users = store.definitions(DefinitionKind::User).expect("read");
    assert!(
        users.contains(&(b"alice".to_vec(), b"{}".to_vec())),
        "{users:?}"
    );

    cluster.shutdown().await;
    store.close();
}

#[tokio::test]
async fn single_node_mode_starts_no_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::default();
    settings.server.data_dir = dir.path().join("data");
    settings.server.listen = "127.0.0.1:0".into();
    settings.management.listen = Vec::new();
    settings.prometheus.listen = Vec::new();
    let handle = warren::server::start(std::sync::Arc::new(settings))
        .await
        .expect("server starts");
    assert!(handle.cluster().is_none());
    assert!(!dir.path().join("data").join("cluster").exists());
    handle.shutdown().await;
}

#[tokio::test]
async fn the_tls_cluster_port_refuses_plain_foreign_and_misnamed_peers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("cluster");
    let mut settings = settings(&dir);
    settings.cluster.tls = pki.cluster_tls(&pki.node("node1"));
    settings.validate().expect("valid settings");
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
    let with = |tls: &ClusterTlsSettings| PeerAuth {
        secret: SECRET.into(),
        tls: PeerTls::load(tls).expect("client TLS loads"),
    };

    // The node's own certificate and CA: answered.
    let status = tcp::request_status(&addr, &with(&settings.cluster.tls), WAIT)
        .await
        .expect("status over TLS");
    assert_eq!((status.id, status.role.as_str()), (1, "leader"));

    // No TLS: the shared secret alone gets nowhere.
    let plain = tcp::request_status(&addr, &PeerAuth::plain(SECRET), WAIT).await;
    assert!(plain.is_err(), "{plain:?}");

    // A certificate from another CA (the client still trusts the node's CA).
    let other = Pki::new("other");
    let mut foreign = other.cluster_tls(&other.node("intruder"));
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
