//! `definitions.load_file` (RabbitMQ's `load_definitions`): a file or a directory of
//! `*.json` files applied in name order at start-up, before clients are served; a missing
//! or invalid file stops start-up with a message naming the setting, the file and the
//! reason. In-process and as the `warren` binary (environment `WARREN_DEFINITIONS__LOAD_FILE`).

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, guard};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

const BROKER_FIXTURE: &str = "tests/fixtures/definitions/rabbitmq-3.10.8-broker.json";

async fn passive_declare(uri: &str, queue: &str) -> Result<(), lapin::Error> {
    let conn = guard(lapin::Connection::connect(
        uri,
        lapin::ConnectionProperties::default(),
    ))
    .await?;
    let ch = guard(conn.create_channel()).await?;
    let options = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    guard(ch.queue_declare(queue.into(), options, FieldTable::default())).await?;
    guard(conn.close(200, "bye".into())).await
}

#[tokio::test]
async fn a_directory_is_applied_file_by_file_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    // 02 needs the vhost and user 01 creates; a file that is not *.json is ignored.
    std::fs::write(
        dir.path().join("01-access.json"),
        r#"{"vhosts": [{"name": "defs-dir"}],
            "users": [{"name": "defs-dir-user", "password": "dir-pw", "tags": []}],
            "permissions": [{"user": "defs-dir-user", "vhost": "defs-dir",
                             "configure": ".*", "write": ".*", "read": ".*"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("02-topology.json"),
        r#"{"queues": [{"name": "defs-dir-q", "vhost": "defs-dir", "durable": true,
                        "auto_delete": false, "arguments": {"x-max-length": 3}}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "not definitions").unwrap();
    let path = dir.path().to_path_buf();
    let b = TestBroker::start_with(|s| s.definitions.load_file = path).await;
    passive_declare(
        &b.uri_with("defs-dir-user", "dir-pw", "defs-dir"),
        "defs-dir-q",
    )
    .await
    .unwrap();
    let q = Api::new(&b).get("/api/queues/defs-dir/defs-dir-q").await;
    assert_eq!(q["arguments"]["x-max-length"], 3);
    b.shutdown().await;
}

#[test]
fn the_setting_comes_from_the_file_or_the_environment() {
    let env = vec![(
        "WARREN_DEFINITIONS__LOAD_FILE".to_string(),
        "/etc/warren/definitions.json".to_string(),
    )];
    let settings = warren::config::load_from(None, env, Default::default()).unwrap();
    assert_eq!(
        settings.definitions.path(),
        Some(Path::new("/etc/warren/definitions.json"))
    );
    let defaults = warren::config::load_from(None, Vec::new(), Default::default()).unwrap();
    assert_eq!(defaults.definitions.path(), None);
}

/// Starts the binary with `load_file`; returns it and its AMQP port.
fn spawn(load_file: &Path, data: &Path) -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_warren"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "info",
        ])
        .arg("--data-dir")
        .arg(data)
        .env("WARREN_MANAGEMENT__LISTEN", "")
        .env("WARREN_PROMETHEUS__LISTEN", "")
        .env("WARREN_DEFINITIONS__LOAD_FILE", load_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    (child, port)
}

#[tokio::test]
async fn the_binary_loads_a_rabbitmq_export_at_start_up() {
    let data = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(BROKER_FIXTURE);
    let (mut child, port) = spawn(&fixture, data.path());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Logged before any client is accepted.
    loop {
        let line = guard(lines.next_line()).await.unwrap().expect("log line");
        if line.contains("definitions loaded") {
            break;
        }
    }
    let uri = format!("amqp://defs-app:defs-app-pw@127.0.0.1:{port}/defs-src");
    passive_declare(&uri, "defs-q1").await.unwrap();
    child.start_kill().unwrap();
    guard(child.wait()).await.unwrap();
}

async fn failed_start(load_file: &Path) -> String {
    let data = tempfile::tempdir().unwrap();
    let (child, _) = spawn(load_file, data.path());
    let output = guard(child.wait_with_output()).await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_missing_or_invalid_file_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let stderr = failed_start(&missing).await;
    assert!(stderr.contains("definitions.load_file"), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(stderr.contains("No such file"), "{stderr}");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"queues\": [").unwrap();
    let stderr = failed_start(&broken).await;
    assert!(stderr.contains("definitions.load_file"), "{stderr}");
    assert!(stderr.contains(&broken.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a JSON object"), "{stderr}");

    let invalid = dir.path().join("invalid.json");
    std::fs::write(
        &invalid,
        r#"{"queues": [{"name": "q", "vhost": "defs-nowhere", "durable": true,
                        "auto_delete": false, "arguments": {}}]}"#,
    )
    .unwrap();
    let stderr = failed_start(&invalid).await;
    assert!(stderr.contains("definitions.load_file"), "{stderr}");
    assert!(
        stderr.contains("vhost 'defs-nowhere' does not exist"),
        "{stderr}"
    );
}
