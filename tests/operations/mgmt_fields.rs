//! Fields that used to be 0 and now come from per-object counters: queue bytes of
//! unacknowledged and persistent messages, `idle_since`, connection socket counters, and
//! the Prometheus families that read the same counters; the node memory breakdown.

use crate::common;

use common::mgmt::Api;
use common::{Deliveries, TestBroker, guard, unique};
use lapin::BasicProperties;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use serde_json::Value;

async fn publish(ch: &lapin::Channel, queue: &str, body: &[u8], persistent: bool) {
    let props = BasicProperties::default().with_delivery_mode(if persistent { 2 } else { 1 });
    guard(
        guard(ch.basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body,
            props,
        ))
        .await
        .unwrap(),
    )
    .await
    .unwrap();
}

async fn declare(ch: &lapin::Channel, queue: &str, durable: bool) {
    let opts = QueueDeclareOptions {
        durable,
        ..QueueDeclareOptions::default()
    };
    guard(ch.queue_declare(queue.into(), opts, FieldTable::default()))
        .await
        .unwrap();
}

/// Waits until the queue has finished the work behind what the client saw: a passive
/// declare takes the queue's lock, so the gauges written under it are current.
async fn settle(ch: &lapin::Channel, queue: &str) {
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    guard(ch.queue_declare(queue.into(), opts, FieldTable::default()))
        .await
        .unwrap();
}

fn sample(b: &TestBroker) {
    let broker = b.warren().unwrap();
    broker.sampler.sample(broker);
}

#[tokio::test]
async fn queue_bytes_count_unacked_and_persistent_messages() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let durable = unique("durable");
    let transient = unique("transient");
    declare(&ch, &durable, true).await;
    declare(&ch, &transient, false).await;
    for (body, persistent) in [
        (&[1u8; 10][..], true),
        (&[2; 20], true),
        (&[3; 30], true),
        (&[4; 5], false),
    ] {
        publish(&ch, &durable, body, persistent).await;
        publish(&ch, &transient, body, persistent).await;
    }
    // One delivery held unacknowledged: the 10-byte persistent head.
    guard(ch.basic_qos(1, BasicQosOptions::default()))
        .await
        .unwrap();
    let consumer = guard(ch.basic_consume(
        durable.as_str().into(),
        "c".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut deliveries = Deliveries::of(&consumer);
    let first = deliveries.next().await;
    assert_eq!(first.data, vec![1u8; 10]);
    settle(&ch, &durable).await;

    let q = api.get(&format!("/api/queues/%2F/{durable}")).await;
    let fields = [
        ("messages", 4),
        ("messages_ready", 3),
        ("messages_unacknowledged", 1),
        ("message_bytes", 65),
        ("message_bytes_ready", 55),
        ("message_bytes_unacknowledged", 10),
        ("messages_persistent", 3),
        ("message_bytes_persistent", 60),
        ("messages_ram", 4),
        ("message_bytes_ram", 65),
        ("messages_paged_out", 0),
    ];
    for (key, want) in fields {
        assert_eq!(q[key], want, "{key}: {q}");
    }
    assert_eq!(q["consumer_details"][0]["consumer_tag"], "c");
    assert_eq!(q["incoming"], Value::Array(vec![]));
    // A transient queue has no persistent messages, whatever their delivery mode.
    let t = api.get(&format!("/api/queues/%2F/{transient}")).await;
    assert_eq!(
        (
            t["messages_persistent"].clone(),
            t["message_bytes_persistent"].clone()
        ),
        (0.into(), 0.into())
    );
    assert_eq!(t["message_bytes_ready"], 65);

    // The Prometheus families read the same gauges.
    let text = scrape(&b, "/metrics/per-object").await;
    for (metric, want) in [
        ("rabbitmq_queue_messages_persistent", 3),
        ("rabbitmq_queue_messages_persistent_bytes", 60),
        ("rabbitmq_queue_messages_ram_bytes", 65),
    ] {
        let line = format!("{metric}{{vhost=\"/\",queue=\"{durable}\"}} {want}");
        assert!(text.contains(&line), "{line} missing");
    }
    let detailed = scrape(&b, "/metrics/detailed?family=queue_metrics").await;
    let line = format!(
        "rabbitmq_detailed_queue_messages_unacked_bytes{{vhost=\"/\",queue=\"{durable}\"}} 10"
    );
    assert!(detailed.contains(&line), "{line} missing");

    // Acked: the next persistent message (20 bytes) is delivered in its place.
    guard(first.ack(BasicAckOptions::default())).await.unwrap();
    assert_eq!(deliveries.next().await.data, vec![2u8; 20]);
    settle(&ch, &durable).await;
    let q = api.get(&format!("/api/queues/%2F/{durable}")).await;
    assert_eq!(
        (
            q["message_bytes_persistent"].clone(),
            q["messages_persistent"].clone()
        ),
        (50.into(), 2.into()),
        "{q}"
    );
    assert_eq!(q["message_bytes_unacknowledged"], 20);
}

#[tokio::test]
async fn idle_since_appears_once_a_sample_finds_nothing_changed() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_channel().await;
    let q = unique("idle");
    declare(&ch, &q, false).await;
    publish(&ch, &q, b"x", false).await;
    settle(&ch, &q).await;
    sample(&b);
    let shown = api.get(&format!("/api/queues/%2F/{q}")).await;
    assert!(shown.get("idle_since").is_none(), "{shown}");
    sample(&b);
    let shown = api.get(&format!("/api/queues/%2F/{q}")).await;
    let idle = shown["idle_since"].as_str().unwrap();
    // RabbitMQ's format: 2026-12-06T10:38:21.290+00:00
    assert_eq!(idle.len(), 29, "{idle}");
    assert!(
        idle.ends_with("+00:00") && idle.as_bytes()[10] == b'T',
        "{idle}"
    );
    let channel = &api.get("/api/channels").await[0];
    assert!(channel["idle_since"].is_string(), "{channel}");
    publish(&ch, &q, b"y", false).await;
    settle(&ch, &q).await;
    sample(&b);
    let shown = api.get(&format!("/api/queues/%2F/{q}")).await;
    assert!(shown.get("idle_since").is_none(), "{shown}");
}

#[tokio::test]
async fn connections_count_socket_bytes_and_reads_with_rates() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("bytes");
    declare(&ch, &q, false).await;
    sample(&b);
    let before = api.get("/api/connections").await[0].clone();
    let body = vec![7u8; 100_000];
    publish(&ch, &q, &body, false).await;
    let consumer = guard(ch.basic_consume(
        q.as_str().into(),
        "c".into(),
        BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(Deliveries::of(&consumer).next().await.data.len(), 100_000);
    sample(&b);
    let after = api.get("/api/connections").await[0].clone();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
    assert!(
        n(&after, "recv_oct") >= n(&before, "recv_oct") + 100_000,
        "{after}"
    );
    assert!(
        n(&after, "send_oct") >= n(&before, "send_oct") + 100_000,
        "{after}"
    );
    assert!(n(&after, "recv_cnt") > n(&before, "recv_cnt"));
    assert!(n(&after, "send_cnt") > n(&before, "send_cnt"));
    assert!(after["recv_oct_details"]["rate"].as_f64().unwrap() > 0.0);
    assert!(after["send_oct_details"]["rate"].as_f64().unwrap() > 0.0);
    // As in RabbitMQ, the counts have no rates.
    assert!(after.get("recv_cnt_details").is_none());
    let vhost = api.get("/api/vhosts/%2F").await;
    assert_eq!(vhost["recv_oct"], after["recv_oct"]);
    assert_eq!(vhost["message_stats"]["publish"], 1);

    let text = scrape(&b, "/metrics/per-object").await;
    let name = after["name"].as_str().unwrap();
    let line = format!(
        "rabbitmq_connection_incoming_bytes_total{{connection=\"{name}\"}} {}",
        after["recv_oct"]
    );
    assert!(text.contains(&line), "{line} missing");
    let aggregated = scrape(&b, "/metrics").await;
    assert!(aggregated.contains("# TYPE rabbitmq_connection_outgoing_bytes_total counter"));
}

#[tokio::test]
async fn node_memory_has_rabbitmqs_breakdown_adding_up_to_rss() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("mem");
    declare(&ch, &q, false).await;
    publish(&ch, &q, &[0u8; 4096], false).await;
    let node = api.get("/api/nodes").await[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let memory = api.get(&format!("/api/nodes/{node}/memory")).await;
    let m = memory["memory"].as_object().unwrap();
    let keys = [
        "connection_readers",
        "connection_writers",
        "connection_channels",
        "connection_other",
        "queue_procs",
        "queue_slave_procs",
        "quorum_queue_procs",
        "quorum_queue_dlx_procs",
        "stream_queue_procs",
        "stream_queue_replica_reader_procs",
        "stream_queue_coordinator_procs",
        "plugins",
        "other_proc",
        "metrics",
        "mgmt_db",
        "mnesia",
        "quorum_ets",
        "other_ets",
        "binary",
        "msg_index",
        "code",
        "atom",
        "other_system",
        "allocated_unused",
        "reserved_unallocated",
    ];
    for k in keys {
        assert!(m[k].is_u64(), "{k}: {memory}");
    }
    assert_eq!(m["strategy"], "rss");
    let rss = m["total"]["rss"].as_u64().unwrap();
    assert!(rss > 0);
    let sum: u64 = keys.iter().map(|k| m[*k].as_u64().unwrap()).sum();
    assert_eq!(sum, m["total"]["erlang"].as_u64().unwrap());
    assert!(m["binary"].as_u64().unwrap() >= 4096);
    assert!(m["connection_readers"].as_u64().unwrap() > 0);
    let with = api
        .get(&format!("/api/nodes/{node}?memory=true&binary=true"))
        .await;
    assert!(with["memory"]["total"]["rss"].is_u64());
    assert!(with["binary"]["queue_procs"].as_u64().unwrap() >= 4096);
    assert!(
        api.get(&format!("/api/nodes/{node}"))
            .await
            .get("memory")
            .is_none()
    );
}

async fn scrape(b: &TestBroker, path: &str) -> String {
    let r = guard(reqwest::get(format!("{}{path}", b.metrics_url())))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    let text = guard(r.text()).await.unwrap();
    // It must parse as the exposition format.
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    text
}
