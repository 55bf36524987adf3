//! The Prometheus endpoint, parsed by a real exposition parser: RabbitMQ's metric names and
//! types on `/metrics` after known traffic, per-object and detailed series, identity
//! labels, no authentication, 404 for unknown paths, 406 for OpenMetrics-only clients.

use crate::common;

use common::{TestBroker, guard, publish_all, unique};
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use prometheus_parse::{Scrape, Value};

async fn scrape(b: &TestBroker, path: &str) -> (String, Scrape) {
    let r = guard(reqwest::get(format!("{}{path}", b.metrics_url())))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = guard(r.text()).await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    (text, parsed)
}

fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Value {
    let found: Vec<_> = s
        .samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
    found[0].value.clone()
}

fn counter(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match value(s, metric, labels) {
        Value::Counter(v) => v,
        other => panic!("{metric} is not a counter: {other:?}"),
    }
}

fn gauge(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match value(s, metric, labels) {
        Value::Gauge(v) => v,
        other => panic!("{metric} is not a gauge: {other:?}"),
    }
}

async fn traffic(b: &TestBroker) -> (lapin::Connection, lapin::Channel, String) {
    let (conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("prom");
    guard(ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    publish_all(&ch, &q, &["a", "b", "c"]).await;
    common::publish(&ch, "amq.direct", "nowhere", b"lost").await;
    let got = guard(ch.basic_get(q.as_str().into(), BasicGetOptions::default()))
        .await
        .unwrap();
    assert!(got.is_some());
    (conn, ch, q)
}

#[tokio::test]
async fn aggregated_metrics_carry_rabbitmq_names_types_and_values() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, _ch, _q) = traffic(&b).await;
    let (_, s) = scrape(&b, "/metrics").await;
    let node = s
        .samples
        .iter()
        .find(|x| x.metric == "rabbitmq_identity_info")
        .expect("identity info");
    assert!(
        node.labels
            .get("rabbitmq_node")
            .unwrap()
            .starts_with("rabbit@")
    );
    assert!(node.labels.get("rabbitmq_cluster").is_some());
    assert_eq!(
        gauge(&s, "rabbitmq_build_info", &[("rabbitmq_version", "3.10.8")]),
        1.0
    );
    assert_eq!(gauge(&s, "rabbitmq_queues", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_connections", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_channels", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_consumers", &[]), 0.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_ready", &[]), 2.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_unacked", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages", &[]), 3.0);
    let amqp = [("protocol", "amqp091")];
    assert_eq!(
        counter(&s, "rabbitmq_global_messages_received_total", &amqp),
        4.0
    );
    assert_eq!(
        counter(&s, "rabbitmq_global_messages_received_confirm_total", &amqp),
        4.0
    );
    assert_eq!(
        counter(&s, "rabbitmq_global_messages_routed_total", &amqp),
        3.0
    );
    assert_eq!(
        counter(
            &s,
            "rabbitmq_global_messages_unroutable_dropped_total",
            &amqp
        ),
        1.0
    );
    assert_eq!(
        counter(&s, "rabbitmq_global_messages_confirmed_total", &amqp),
        4.0
    );
    assert_eq!(
        counter(
            &s,
            "rabbitmq_global_messages_delivered_get_manual_ack_total",
            &amqp
        ),
        1.0
    );
    assert_eq!(
        counter(
            &s,
            "rabbitmq_channel_messages_unroutable_dropped_total",
            &[]
        ),
        1.0
    );
    assert_eq!(counter(&s, "rabbitmq_connections_opened_total", &[]), 1.0);
    assert_eq!(counter(&s, "rabbitmq_channels_opened_total", &[]), 1.0);
    assert_eq!(counter(&s, "rabbitmq_queues_declared_total", &[]), 1.0);
    assert_eq!(counter(&s, "rabbitmq_queues_created_total", &[]), 1.0);
    for g in [
        "rabbitmq_process_open_fds",
        "rabbitmq_process_max_fds",
        "rabbitmq_process_resident_memory_bytes",
        "rabbitmq_resident_memory_limit_bytes",
        "rabbitmq_disk_space_available_bytes",
        "rabbitmq_disk_space_available_limit_bytes",
        "rabbitmq_alarms_memory_used_watermark",
        "rabbitmq_alarms_free_disk_space_watermark",
        "rabbitmq_alarms_file_descriptor_limit",
        "rabbitmq_process_open_tcp_sockets",
        "rabbitmq_process_max_tcp_sockets",
        "rabbitmq_channel_consumers",
    ] {
        gauge(&s, g, &[]);
    }
    for c in [
        "rabbitmq_global_messages_unroutable_returned_total",
        "rabbitmq_global_messages_redelivered_total",
        "rabbitmq_global_messages_acknowledged_total",
        "rabbitmq_global_messages_delivered_consume_auto_ack_total",
        "rabbitmq_global_messages_delivered_consume_manual_ack_total",
        "rabbitmq_global_messages_delivered_get_auto_ack_total",
        "rabbitmq_global_messages_get_empty_total",
    ] {
        counter(&s, c, &amqp);
    }
    // One series per metric: aggregated, no per-queue labels.
    assert!(s.samples.iter().all(|x| x.labels.get("queue").is_none()));
}

#[tokio::test]
async fn per_object_and_detailed_metrics_label_queues_by_vhost_and_name() {
    skip_if_external!();
    let b = TestBroker::start_with(|s| s.auth.vhosts.push("other".into())).await;
    let (_conn, _ch, q) = traffic(&b).await;
    let other = b
        .handle()
        .unwrap()
        .broker()
        .expect("single-node broker")
        .vhost("other")
        .unwrap();
    other
        .declare_queue(warren::broker::vhost::QueueDeclareRequest {
            name: "elsewhere".into(),
            passive: false,
            durable: false,
            exclusive: false,
            auto_delete: false,
            arguments: Default::default(),
            connection_id: 0,
            max_queues: None,
        })
        .unwrap();
    let (_, s) = scrape(&b, "/metrics/per-object").await;
    let ql = [("vhost", "/"), ("queue", q.as_str())];
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_ready", &ql), 2.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_unacked", &ql), 1.0);
    assert_eq!(
        counter(&s, "rabbitmq_queue_messages_published_total", &ql),
        3.0
    );
    assert_eq!(
        gauge(
            &s,
            "rabbitmq_queue_messages",
            &[("vhost", "other"), ("queue", "elsewhere")]
        ),
        0.0
    );
    assert_eq!(
        counter(
            &s,
            "rabbitmq_exchange_messages_published_in_total",
            &[("vhost", "/"), ("exchange", "amq.direct")]
        ),
        1.0
    );
    let channel = s
        .samples
        .iter()
        .find(|x| x.metric == "rabbitmq_channel_messages_published_total")
        .unwrap();
    assert!(channel.labels.get("channel").unwrap().ends_with(" (1)"));
    assert_eq!(channel.value, Value::Counter(4.0));

    let (text, s) = scrape(
        &b,
        "/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&vhost=%2F",
    )
    .await;
    assert_eq!(gauge(&s, "rabbitmq_detailed_queue_messages", &ql), 3.0);
    assert_eq!(gauge(&s, "rabbitmq_detailed_queue_consumers", &ql), 0.0);
    assert!(!text.contains("elsewhere"), "{text}");
    assert!(!text.contains("rabbitmq_detailed_queue_messages_ram"));
    assert!(!text.contains("rabbitmq_queues "));
    let (_, s) = scrape(&b, "/metrics/detailed?family=queue_metrics").await;
    gauge(
        &s,
        "rabbitmq_detailed_queue_messages_ram",
        &[("vhost", "other"), ("queue", "elsewhere")],
    );
    gauge(&s, "rabbitmq_identity_info", &[]);
}

#[tokio::test]
async fn unknown_paths_are_404_and_openmetrics_only_clients_406() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let r = guard(reqwest::get(format!("{}/metrics/nope", b.metrics_url())))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let client = reqwest::Client::new();
    let r = guard(
        client
            .get(format!("{}/metrics", b.metrics_url()))
            .header("accept", "application/openmetrics-text")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let r = guard(
        client
            .get(format!("{}/metrics", b.metrics_url()))
            .header("accept", prometheus_accept)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// `rabbitmq_auth_attempts_*`, by protocol as RabbitMQ labels them: an AMQP login that
/// succeeds and one that fails, an API request with good and one with bad credentials.
#[tokio::test]
async fn auth_attempts_are_counted_by_protocol_and_outcome() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let read = |s: &Scrape| {
        let mut out = Vec::new();
        for name in [
            "rabbitmq_auth_attempts_total",
            "rabbitmq_auth_attempts_succeeded_total",
            "rabbitmq_auth_attempts_failed_total",
        ] {
            for protocol in ["amqp091", "http"] {
                out.push(counter(s, name, &[("protocol", protocol)]));
            }
        }
        out
    };
    // Scrapes are cached per sampler tick: ticks come only from this test.
    let broker = b.warren().unwrap();
    broker.sampler.set_manual(true);
    broker.sampler.sample(broker);
    let (_, before) = scrape(&b, "/metrics").await;
    let before = read(&before);
    let _ok = b.lapin().await;
    let bad = b.uri_with("guest", "wrong", "/");
    assert!(
        guard(lapin::Connection::connect(
            &bad,
            lapin::ConnectionProperties::default()
        ))
        .await
        .is_err()
    );
    let http = reqwest::Client::new();
    for pass in ["guest", "wrong"] {
        guard(
            http.get(format!("{}/api/overview", b.mgmt_url()))
                .basic_auth("guest", Some(pass))
                .send(),
        )
        .await
        .unwrap();
    }
    broker.sampler.sample(broker);
    let (_, after) = scrape(&b, "/metrics").await;
    let delta: Vec<f64> = read(&after)
        .iter()
        .zip(&before)
        .map(|(a, b)| a - b)
        .collect();
    // total amqp/http, succeeded amqp/http, failed amqp/http
    assert_eq!(delta, vec![2.0, 2.0, 1.0, 1.0, 1.0, 1.0]);
}

/// The `channel` label of the one open channel, read from a per-object scrape.
fn only_channel(s: &Scrape, metric: &str) -> String {
    let found: Vec<_> = s.samples.iter().filter(|x| x.metric == metric).collect();
    assert_eq!(found.len(), 1, "{metric}: {found:?}");
    found[0]
        .labels
        .get("channel")
        .expect("channel label")
        .to_string()
}

/// `/metrics/per-object` carries every family `/metrics` does (node-wide ones included, as
/// RabbitMQ 3.10.8's does), channel and connection families per object, and the queue
/// byte and memory gauges; `/metrics` sums the new ones.
#[tokio::test]
async fn per_object_metrics_carry_channel_connection_queue_and_node_families() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch, q) = traffic(&b).await;
    guard(ch.basic_qos(7, lapin::options::BasicQosOptions { global: false }))
        .await
        .unwrap();
    guard(ch.basic_qos(11, lapin::options::BasicQosOptions { global: true }))
        .await
        .unwrap();
    let (_, s) = scrape(&b, "/metrics/per-object").await;
    let amqp = [("protocol", "amqp091")];
    assert_eq!(gauge(&s, "rabbitmq_connections", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_channels", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_queues", &[]), 1.0);
    assert_eq!(counter(&s, "rabbitmq_connections_opened_total", &[]), 1.0);
    assert_eq!(counter(&s, "rabbitmq_queues_declared_total", &[]), 1.0);
    assert_eq!(
        counter(&s, "rabbitmq_global_messages_received_total", &amqp),
        4.0
    );
    assert_eq!(gauge(&s, "rabbitmq_global_publishers", &amqp), 1.0);
    gauge(&s, "rabbitmq_process_resident_memory_bytes", &[]);

    let channel = only_channel(&s, "rabbitmq_channel_prefetch");
    let cl = [("channel", channel.as_str())];
    assert_eq!(gauge(&s, "rabbitmq_consumer_prefetch", &cl), 7.0);
    assert_eq!(gauge(&s, "rabbitmq_channel_prefetch", &cl), 11.0);
    assert_eq!(gauge(&s, "rabbitmq_channel_messages_unacked", &cl), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_channel_messages_unconfirmed", &cl), 0.0);
    assert_eq!(counter(&s, "rabbitmq_channel_get_ack_total", &cl), 1.0);
    assert_eq!(counter(&s, "rabbitmq_channel_get_empty_total", &cl), 0.0);
    assert_eq!(
        counter(&s, "rabbitmq_channel_messages_confirmed_total", &cl),
        4.0
    );
    assert_eq!(
        counter(
            &s,
            "rabbitmq_channel_messages_unroutable_dropped_total",
            &cl
        ),
        1.0
    );
    let conn_name = channel.trim_end_matches(" (1)");
    assert_eq!(
        gauge(
            &s,
            "rabbitmq_connection_channels",
            &[("connection", conn_name)]
        ),
        1.0
    );

    let ql = [("vhost", "/"), ("queue", q.as_str())];
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_ready_bytes", &ql), 2.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_unacked_bytes", &ql), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_ready_ram", &ql), 2.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_unacked_ram", &ql), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_consumer_capacity", &ql), 0.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_consumer_utilisation", &ql), 0.0);

    let (_, s) = scrape(&b, "/metrics").await;
    assert_eq!(gauge(&s, "rabbitmq_consumer_prefetch", &[]), 7.0);
    assert_eq!(gauge(&s, "rabbitmq_channel_prefetch", &[]), 11.0);
    assert_eq!(gauge(&s, "rabbitmq_connection_channels", &[]), 1.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_ready_bytes", &[]), 2.0);
    assert_eq!(gauge(&s, "rabbitmq_queue_messages_unacked_ram", &[]), 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = gauge(&s, "process_start_time_seconds", &[]);
    assert!(started > 0.0 && started <= now, "{started} vs {now}");
    assert!(
        s.samples
            .iter()
            .all(|x| x.metric != "rabbitmq_queue_consumer_capacity"),
        "RabbitMQ's /metrics has no consumer capacity sum"
    );
}

/// `/metrics/detailed` serves the channel, connection, churn, node, exchange and vhost
/// families by RabbitMQ 3.10.8's `family` names, and only the ones asked for.
#[tokio::test]
async fn detailed_metrics_serve_channel_connection_node_and_exchange_families() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch, q) = traffic(&b).await;
    guard(ch.basic_qos(7, lapin::options::BasicQosOptions { global: false }))
        .await
        .unwrap();
    guard(ch.queue_bind(
        q.as_str().into(),
        "amq.fanout".into(),
        "".into(),
        lapin::options::QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let (text, s) = scrape(
        &b,
        "/metrics/detailed?family=channel_metrics&family=connection_metrics\
         &family=connection_churn_metrics&family=node_metrics&family=exchange_names\
         &family=exchange_bindings&family=vhost_status",
    )
    .await;
    let channel = only_channel(&s, "rabbitmq_detailed_consumer_prefetch");
    let cl = [("channel", channel.as_str())];
    assert_eq!(gauge(&s, "rabbitmq_detailed_consumer_prefetch", &cl), 7.0);
    assert_eq!(
        gauge(&s, "rabbitmq_detailed_channel_messages_unacked", &cl),
        1.0
    );
    let connection = [("connection", channel.trim_end_matches(" (1)"))];
    assert_eq!(
        gauge(&s, "rabbitmq_detailed_connection_channels", &connection),
        1.0
    );
    counter(
        &s,
        "rabbitmq_detailed_connection_incoming_packets_total",
        &connection,
    );
    assert_eq!(
        counter(&s, "rabbitmq_detailed_connections_opened_total", &[]),
        1.0
    );
    assert_eq!(
        counter(&s, "rabbitmq_detailed_queues_declared_total", &[]),
        1.0
    );
    gauge(&s, "rabbitmq_detailed_process_max_fds", &[]);
    gauge(&s, "rabbitmq_detailed_erlang_uptime_seconds", &[]);
    let fanout = [
        ("vhost", "/"),
        ("exchange", "amq.fanout"),
        ("type", "fanout"),
    ];
    let direct = [
        ("vhost", "/"),
        ("exchange", "amq.direct"),
        ("type", "direct"),
    ];
    assert_eq!(
        gauge(&s, "rabbitmq_cluster_exchange_bindings", &fanout),
        1.0
    );
    assert_eq!(
        gauge(&s, "rabbitmq_cluster_exchange_bindings", &direct),
        0.0
    );
    assert_eq!(gauge(&s, "rabbitmq_cluster_exchange_name", &direct), 1.0);
    assert!(
        s.samples
            .iter()
            .filter(|x| x.metric == "rabbitmq_cluster_exchange_name")
            .all(|x| x.labels.get("exchange") != Some("")),
        "the default exchange is not listed"
    );
    assert_eq!(
        gauge(&s, "rabbitmq_cluster_vhost_status", &[("vhost", "/")]),
        1.0
    );
    // Families not asked for are absent.
    for absent in [
        "rabbitmq_detailed_channel_messages_published_total",
        "rabbitmq_detailed_connection_incoming_bytes_total",
        "rabbitmq_detailed_process_open_fds",
        "rabbitmq_detailed_queue_messages",
        "rabbitmq_connections ",
    ] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
}
