//! `warrenctl`, the built binary, against an in-process Warren's management API: rabbitmqctl's
//! table and JSON output after known AMQP traffic, the effects of its verbs as seen over
//! AMQP, and its exit codes.

use crate::common;

use common::raw::RawConn;
use common::{TestBroker, consume, guard, message_count, publish_all, unique};
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::{Value, json};

/// What one run of the binary printed and how it exited.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `warrenctl --url <broker's API> args...`.
async fn ctl(b: &TestBroker, args: &[&str]) -> Run {
    ctl_with(&["--url", &b.mgmt_url()], args).await
}

async fn ctl_with(connection: &[&str], args: &[&str]) -> Run {
    let output = guard(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_warrenctl"))
            .args(connection)
            .args(args)
            .env_remove("WARRENCTL_URL")
            .env_remove("WARRENCTL_PASSWORD")
            .env_remove("WARRENCTL_USERNAME")
            .output(),
    )
    .await
    .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

use common::declare_queue as declare;

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test]
async fn list_queues_prints_rabbitmqctls_table_with_the_asked_columns() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("ctl-list");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["a", "b"]).await;
    let run = ctl(&b, &["list_queues", "name", "messages", "consumers"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        lines(&run.stdout),
        vec![
            "Listing queues for vhost / ...",
            "name\tmessages\tconsumers",
            &format!("{q}\t2\t0"),
        ]
    );
    let quiet = ctl(&b, &["list_queues", "-s"]).await;
    assert_eq!(quiet.stdout, format!("{q}\t2\n"));
}

#[tokio::test]
async fn formatter_json_prints_one_object_a_line_in_column_order() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("ctl-json");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["a"]).await;
    let run = ctl(
        &b,
        &[
            "list_queues",
            "name",
            "messages",
            "durable",
            "arguments",
            "--formatter",
            "json",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("[\n{{\"name\":\"{q}\",\"messages\":1,\"durable\":false,\"arguments\":[]}}\n]\n")
    );
    let parsed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(parsed[0]["messages"], json!(1));
}

#[tokio::test]
async fn an_unknown_column_is_a_usage_error() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let run = ctl(&b, &["list_queues", "name", "nosuchcol"]).await;
    assert_eq!(run.code, 64, "{run:?}");
    assert!(
        run.stderr
            .contains("Info key(s) nosuchcol are not supported"),
        "{run:?}"
    );
    assert_eq!(run.stdout, "");
    let unknown_verb = ctl(&b, &["list_everything"]).await;
    assert_eq!(unknown_verb.code, 64, "{unknown_verb:?}");
}

#[tokio::test]
async fn exchanges_bindings_and_vhosts_are_listed() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("ctl-bind");
    declare(&ch, &q).await;
    let exchanges = ctl(&b, &["list_exchanges", "-q"]).await;
    assert_eq!(exchanges.code, 0, "{exchanges:?}");
    let rows = lines(&exchanges.stdout);
    assert_eq!(rows[0], "name\ttype");
    assert!(rows.contains(&"amq.direct\tdirect"), "{rows:?}");
    assert!(rows.contains(&"amq.topic\ttopic"), "{rows:?}");
    assert!(rows.contains(&"\tdirect"), "the default exchange: {rows:?}");
    let bindings = ctl(&b, &["list_bindings"]).await;
    assert_eq!(bindings.code, 0, "{bindings:?}");
    let rows = lines(&bindings.stdout);
    assert_eq!(rows[0], "Listing bindings for vhost /...");
    assert_eq!(
        rows[1],
        "source_name\tsource_kind\tdestination_name\tdestination_kind\trouting_key\targuments"
    );
    assert!(
        rows.contains(&format!("\texchange\t{q}\tqueue\t{q}\t[]").as_str()),
        "{rows:?}"
    );
    let vhosts = ctl(&b, &["list_vhosts"]).await;
    assert_eq!(
        lines(&vhosts.stdout),
        vec!["Listing vhosts ...", "name", "/"]
    );
}

#[tokio::test]
async fn connections_channels_and_consumers_are_listed() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("ctl-cons");
    declare(&ch, &q).await;
    let _deliveries = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let connections = ctl(
        &b,
        &["list_connections", "user", "vhost", "state", "channels"],
    )
    .await;
    assert_eq!(connections.code, 0, "{connections:?}");
    assert_eq!(
        lines(&connections.stdout),
        vec![
            "Listing connections ...",
            "user\tvhost\tstate\tchannels",
            "guest\t/\trunning\t1",
        ]
    );
    let channels = ctl(
        &b,
        &["list_channels", "-q", "user", "consumer_count", "number"],
    )
    .await;
    assert_eq!(
        lines(&channels.stdout),
        vec!["user\tconsumer_count\tnumber", "guest\t1\t1"]
    );
    let consumers = ctl(
        &b,
        &[
            "list_consumers",
            "-q",
            "queue_name",
            "ack_required",
            "active",
        ],
    )
    .await;
    assert_eq!(
        lines(&consumers.stdout),
        vec![
            "queue_name\tack_required\tactive",
            &format!("{q}\ttrue\ttrue")
        ]
    );
}

#[tokio::test]
async fn purge_queue_empties_the_queue() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("ctl-purge");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["a", "b", "c"]).await;
    let run = ctl(&b, &["purge_queue", &q]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("Purging queue '{q}' in vhost '/' ...\n")
    );
    assert_eq!(message_count(&ch, &q).await, 0);
    let missing = ctl(&b, &["purge_queue", "no-such-queue"]).await;
    assert_eq!(missing.code, 69, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("Queue 'no-such-queue' in vhost '/' does not exist"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn delete_queue_reports_its_messages_and_honours_if_empty() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("ctl-del");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["a", "b"]).await;
    let refused = ctl(&b, &["delete_queue", "--if-empty", &q]).await;
    assert_ne!(refused.code, 0, "{refused:?}");
    assert_eq!(message_count(&ch, &q).await, 2);
    let run = ctl(&b, &["delete_queue", &q]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        lines(&run.stdout),
        vec![
            &format!("Deleting queue '{q}' on vhost '/' ...") as &str,
            "Queue was successfully deleted with 2 messages",
        ]
    );
    let (_c2, ch2) = b.lapin_channel().await;
    let passive = guard(ch2.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    ))
    .await;
    assert_eq!(common::amqp_error(&passive.unwrap_err()).0, 404);
}

#[tokio::test]
async fn close_connection_closes_it_with_320_and_the_explanation() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let mut raw = RawConn::open(b.addr()).await;
    raw.open_channel(1).await;
    raw.sync(1).await;
    let listed = ctl(&b, &["list_connections", "-s", "name"]).await;
    let name = listed.stdout.trim_end().to_string();
    assert!(name.contains("->"), "{listed:?}");
    let run = ctl(&b, &["close_connection", &name, "maintenance window"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let close = raw.expect_connection_close().await;
    assert_eq!(close.code, 320);
    assert_eq!(close.text, "CONNECTION_FORCED - maintenance window");
    let again = ctl(&b, &["close_connection", "no such connection", "x"]).await;
    assert_eq!(again.code, 69, "{again:?}");
}

#[tokio::test]
async fn status_names_the_node_and_its_listeners() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let run = ctl(&b, &["status"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let rows = lines(&run.stdout);
    assert!(rows[0].starts_with("Status of node "), "{rows:?}");
    assert!(
        rows.iter().any(|l| l.starts_with("Node name: ")),
        "{rows:?}"
    );
    let amqp = format!("port: {}, protocol: amqp", b.addr().port());
    assert!(rows.iter().any(|l| l.contains(&amqp)), "{rows:?}");
    let json = ctl(&b, &["status", "--formatter", "json"]).await;
    let parsed: Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        parsed["node_name"].as_str().is_some_and(|n| !n.is_empty()),
        "{parsed}"
    );
}

#[tokio::test]
async fn bad_credentials_and_an_unreachable_api_have_their_exit_codes() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let url = b.mgmt_url();
    let refused = ctl_with(
        &["--url", &url, "--username", "guest", "--password", "wrong"],
        &["list_queues"],
    )
    .await;
    assert_eq!(refused.code, 77, "{refused:?}");
    let bad_url = ctl_with(&["--url", "ftp://x"], &["list_queues"]).await;
    assert_eq!(bad_url.code, 64, "{bad_url:?}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().port().to_string();
    drop(listener);
    let unreachable = ctl_with(
        &["--host", "127.0.0.1", "--port", &closed],
        &["list_queues"],
    )
    .await;
    assert_eq!(unreachable.code, 69, "{unreachable:?}");
    assert!(
        unreachable.stderr.contains("could not reach"),
        "{unreachable:?}"
    );
}

#[tokio::test]
async fn a_vhost_that_does_not_exist_is_reported() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let run = ctl(&b, &["list_queues", "-p", "no-such-vhost"]).await;
    assert_eq!(run.code, 69, "{run:?}");
    assert!(
        run.stderr
            .contains("Virtual host 'no-such-vhost' does not exist"),
        "{run:?}"
    );
}
