//! The `[cluster]` section through the real loader: file, environment, validation.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use warren::config::{self, ConfigError, Overrides, Settings};

fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write");
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    config::load_from(Some(file.path()), env, Overrides::default())
}

fn secret_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("cluster.secret");
    std::fs::write(&path, "a-secret-of-enough-bytes\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path.display().to_string()
}

fn three_nodes(secret: &str, node_id: u64) -> String {
    let mut text = format!(
        "[cluster]\nenabled = true\nnode_id = {node_id}\nlisten = \"127.0.0.1:25702\"\n\
         secret_file = \"{secret}\"\nheartbeat_ms = 100\nelection_timeout_ms = [500, 1000]\n"
    );
    for id in 1..=3 {
        text.push_str(&format!(
            "[[cluster.peers]]\nid = {id}\ncluster = \"127.0.0.1:2570{id}\"\namqp = \"127.0.0.1:570{id}\"\n"
        ));
    }
    text
}

#[test]
fn cluster_mode_is_off_by_default() {
    let s = config::load_from(None, Vec::new(), Overrides::default()).expect("defaults");
    assert!(!s.cluster.enabled);
    assert!(s.cluster.peers.is_empty());
    s.validate().expect("valid");
}

#[test]
fn a_three_node_section_loads_and_validates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = load(&three_nodes(&secret_file(&dir), 2), &[]).expect("loads");
    s.validate().expect("valid");
    assert!(s.cluster.enabled);
    assert_eq!(s.cluster.node_id, 2);
    assert_eq!(s.cluster.election_timeout(), (500, 1000));
    assert_eq!(s.cluster.peers.len(), 3);
    assert_eq!(s.cluster.peers[2].amqp, "127.0.0.1:5703");
    assert_eq!(
        s.cluster.read_secret().expect("secret"),
        b"a-secret-of-enough-bytes"
    );
}

#[test]
fn environment_overrides_cluster_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = load(
        &three_nodes(&secret_file(&dir), 1),
        &[
            ("WARREN_CLUSTER__NODE_ID", "3"),
            ("WARREN_CLUSTER__ELECTION_TIMEOUT_MS", "800,1600"),
            ("WARREN_CLUSTER__HEARTBEAT_MS", "120"),
        ],
    )
    .expect("loads");
    s.validate().expect("valid");
    assert_eq!(s.cluster.node_id, 3);
    assert_eq!(s.cluster.election_timeout_ms, vec![800, 1600]);
    assert_eq!(s.cluster.heartbeat_ms, 120);
    let on = config::load_from(
        None,
        vec![("WARREN_CLUSTER__ENABLED".into(), "true".into())],
        Overrides::default(),
    )
    .expect("loads");
    assert!(on.cluster.enabled);
    let err = on.validate().expect_err("no node id");
    assert_eq!(err.key(), Some("cluster.node_id"));
}

#[test]
fn bad_cluster_values_name_their_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(&dir);
    let not_a_peer = load(&three_nodes(&secret, 7), &[]).expect("loads");
    let err = not_a_peer.validate().expect_err("7 is not a peer");
    assert_eq!(err.key(), Some("cluster.node_id"));
    assert!(err.to_string().contains("1, 2, 3"), "{err}");

    let missing = load(&three_nodes("/nonexistent/secret", 1), &[]).expect("loads");
    let err = missing.validate().expect_err("no secret");
    assert_eq!(err.key(), Some("cluster.secret_file"));

    let dup = three_nodes(&secret, 1).replace("id = 3", "id = 2");
    let err = load(&dup, &[]).expect("loads").validate().expect_err("dup");
    assert_eq!(err.key(), Some("cluster.peers[2].id"));

    let unknown = load("[cluster]\nleader = 1\n", &[]).expect_err("unknown key");
    assert!(unknown.to_string().contains("leader"), "{unknown}");
    let unknown_peer_key = load(
        "[[cluster.peers]]\nid = 1\ncluster = \"h:1\"\namqp = \"h:2\"\nport = 3\n",
        &[],
    )
    .expect_err("unknown peer key");
    assert!(
        unknown_peer_key.to_string().contains("port"),
        "{unknown_peer_key}"
    );
}
