//! The management API's skeleton: authentication and RabbitMQ's error shapes, the overview,
//! nodes, health checks, and the connection registry behind `/api/connections`.

use crate::common;

use common::{TestBroker, guard};
use serde_json::Value;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(b: &TestBroker, path: &str) -> (u16, Value) {
    let r = guard(
        http()
            .get(format!("{}{path}", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    let status = r.status().as_u16();
    (status, guard(r.json()).await.unwrap())
}

#[tokio::test]
async fn requests_with_wrong_credentials_are_401_with_the_basic_challenge() {
    skip_if_external!();
    let b = TestBroker::start().await;
    for (u, p) in [("guest", "nope"), ("nobody", "guest")] {
        let req = http()
            .get(format!("{}/api/overview", b.mgmt_url()))
            .basic_auth(u, Some(p));
        let auth = (u, p);
        let r = guard(req.send()).await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{auth:?}");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"RabbitMQ Management\""
        );
        let body: Value = guard(r.json()).await.unwrap();
        // RabbitMQ spells this error with a z (checked live).
        assert_eq!(body["error"], "not_authorized");
        assert_eq!(body["reason"], "Login failed");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_object_not_found_and_wrong_methods_405() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (status, body) = get_json(&b, "/api/no-such-thing").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": "Object Not Found", "reason": "Not Found"})
    );
    let (status, _) = get_json(&b, "/api/nodes/rabbit@elsewhere").await;
    assert_eq!(status, 404);
    let r = guard(
        http()
            .patch(format!("{}/api/overview", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    // RabbitMQ answers 405 with an empty body.
    assert!(guard(r.bytes()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_fresh_overview_has_every_field_tools_read_with_empty_stats_present() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (status, o) = get_json(&b, "/api/overview").await;
    assert_eq!(status, 200);
    assert_eq!(o["rabbitmq_version"], "3.10.8");
    assert_eq!(o["management_version"], "3.10.8");
    // RabbitMQ's default node name, which monitoring checks build from the host name
    // (nagios-plugins-rabbitmq asks for /api/nodes/rabbit@<host>).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let node = format!("rabbit@{}", host.trim().split('.').next().unwrap());
    assert_eq!(o["cluster_name"], node.as_str());
    assert_eq!(o["node"], o["cluster_name"]);
    let (status, n) = get_json(&b, &format!("/api/nodes/{node}")).await;
    assert_eq!((status, &n["name"]), (200, &Value::from(node.as_str())));
    assert_eq!(o["message_stats"], serde_json::json!({}));
    assert_eq!(o["queue_totals"], serde_json::json!({}));
    let totals = &o["object_totals"];
    for key in ["connections", "channels", "queues", "consumers"] {
        assert_eq!(totals[key], 0, "{key}");
    }
    // The default exchange plus the six amq.* exchanges.
    assert_eq!(totals["exchanges"], 7);
    let listeners = o["listeners"].as_array().unwrap();
    let amqp = listeners.iter().find(|l| l["protocol"] == "amqp").unwrap();
    assert_eq!(amqp["port"], b.addr().port());
    assert!(listeners.iter().any(|l| l["protocol"] == "http"));
    let types: Vec<&str> = o["exchange_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["direct", "fanout", "headers", "topic"]);
}

#[tokio::test]
async fn overview_counts_connections_channels_queues_and_messages_after_traffic() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = common::unique("ov");
    guard(ch.queue_declare(q.as_str().into(), Default::default(), Default::default()))
        .await
        .unwrap();
    for _ in 0..3 {
        guard(
            guard(ch.basic_publish(
                "".into(),
                q.as_str().into(),
                Default::default(),
                b"hello",
                Default::default(),
            ))
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    }
    let (_, o) = get_json(&b, "/api/overview").await;
    assert_eq!(o["object_totals"]["connections"], 1);
    assert_eq!(o["object_totals"]["channels"], 1);
    assert_eq!(o["object_totals"]["queues"], 1);
    assert_eq!(o["queue_totals"]["messages"], 3);
    assert_eq!(o["queue_totals"]["messages_ready"], 3);
    assert_eq!(o["queue_totals"]["messages_unacknowledged"], 0);
    assert_eq!(o["message_stats"]["publish"], 3);
    assert_eq!(o["message_stats"]["confirm"], 3);
    assert!(o["message_stats"]["publish_details"]["rate"].is_f64());
}

#[tokio::test]
async fn nodes_report_integer_resource_fields() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (status, nodes) = get_json(&b, "/api/nodes").await;
    assert_eq!(status, 200);
    let node = &nodes[0];
    for key in [
        "disk_free",
        "disk_free_limit",
        "fd_total",
        "fd_used",
        "mem_limit",
        "mem_used",
        "proc_total",
        "proc_used",
        "run_queue",
        "sockets_total",
        "sockets_used",
        "uptime",
        "processors",
        "gc_num",
        "io_read_count",
    ] {
        assert!(node[key].is_u64(), "{key}: {}", node[key]);
    }
    for key in ["disk_free_alarm", "mem_alarm", "running"] {
        assert!(node[key].is_boolean(), "{key}");
    }
    let name = node["name"].as_str().unwrap();
    let (status, one) = get_json(&b, &format!("/api/nodes/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["name"], name);
}

#[tokio::test]
async fn health_checks_answer_ok_or_503_failed() {
    skip_if_external!();
    let b = TestBroker::start().await;
    for path in [
        "/api/health/checks/alarms",
        "/api/health/checks/local-alarms",
        "/api/health/checks/virtual-hosts",
        "/api/health/checks/protocol-listener/amqp",
        "/api/health/checks/protocol-listener/amqp091",
        "/api/aliveness-test/%2F",
    ] {
        let (status, body) = get_json(&b, path).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &Value::from("ok")),
            "{path}"
        );
    }
    let port = b.addr().port();
    let (status, _) = get_json(&b, &format!("/api/health/checks/port-listener/{port}")).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&b, "/api/health/checks/port-listener/1").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "failed");
    let (status, body) = get_json(&b, "/api/health/checks/protocol-listener/stomp").await;
    assert_eq!((status, &body["status"]), (503, &Value::from("failed")));
    let (status, _) = get_json(&b, "/api/aliveness-test/nope").await;
    assert_eq!(status, 404);
    let (status, body) = get_json(&b, "/api/cluster-name").await;
    assert_eq!(status, 200);
    assert!(body["name"].as_str().unwrap().starts_with("rabbit@"));
}

#[tokio::test]
async fn the_connection_registry_lists_and_force_closes_connections() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let mut raw = common::raw::RawConn::open(b.addr()).await;
    raw.open_channel(1).await;
    raw.sync(1).await;
    let broker = b.handle().unwrap().broker().expect("single-node broker");
    let entries = broker.connections.list();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.details.user, "guest");
    assert_eq!(entry.details.vhost, "/");
    assert_eq!(entry.channel_count(), 1);
    assert!(
        entry.name.ends_with(&format!("-> {}", b.addr())),
        "{}",
        entry.name
    );
    assert!(broker.connections.by_name(&entry.name).is_some());
    let closed = broker
        .connections
        .close_where(|c| c.details.user == "guest", "user deleted");
    assert_eq!(closed, 1);
    let close = raw.expect_connection_close().await;
    assert_eq!(close.code, 320);
    assert_eq!(close.text, "CONNECTION_FORCED - user deleted");
}
