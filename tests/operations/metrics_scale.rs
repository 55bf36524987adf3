//! What the scale work must not change: per-queue Prometheus series encoded straight from
//! the queues are byte for byte what the generic sample encoder writes (names that need
//! escaping, names that are not UTF-8, two vhosts); concurrent scrapes and listings are all
//! answered in full; scrapes within one sampler tick share one render, and the next tick's
//! scrape shows what changed; sorting a listing by a statistic without rendering every queue orders
//! and pages exactly as sorting the rendered queues does.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, guard};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::sync::Arc;
use warren::broker::queue::Queue;
use warren::broker::vhost::QueueDeclareRequest;
use warren::metrics::exposition::{Family, Kind, Scrape, labels};
use warren::metrics::queue_series::{QueueFamily, labelled};
use warren::protocol::ShortStr;

fn declare(b: &TestBroker, vhost: &str, name: ShortStr) {
    let v = b.warren().unwrap().vhost(vhost).unwrap();
    v.declare_queue(QueueDeclareRequest {
        name,
        passive: false,
        durable: false,
        exclusive: false,
        auto_delete: false,
        arguments: Default::default(),
        connection_id: 0,
        max_queues: None,
    })
    .unwrap();
}

/// Queues whose names need escaping in the exposition format, or are not UTF-8.
async fn awkward_broker() -> TestBroker {
    let b = TestBroker::start_with(|s| s.auth.vhosts.push("we\"ird\\vh".into())).await;
    for name in ["plain", "quo\"te", "back\\slash", "new\nline", "ünïcode"] {
        declare(&b, "/", ShortStr::from(name.to_string()));
        declare(&b, "we\"ird\\vh", ShortStr::from(name.to_string()));
    }
    let not_utf8 = ShortStr::from_bytes(bytes::Bytes::from_static(b"raw\xff\xfe")).unwrap();
    declare(&b, "/", not_utf8);
    let api = Api::new(&b);
    for (q, n) in [("plain", 3), ("back\\slash", 1)] {
        for _ in 0..n {
            let (status, _) = api
                .call(
                    "POST",
                    "/api/exchanges/%2F/amq.default/publish",
                    Some(json!({"routing_key": q, "payload": "0123456789",
                        "payload_encoding": "string", "properties": {}})),
                )
                .await;
            assert_eq!(status, 200);
        }
    }
    b
}

fn all_queues(b: &TestBroker) -> Vec<Arc<Queue>> {
    b.warren()
        .unwrap()
        .vhosts()
        .iter()
        .flat_map(|v| v.queues())
        .collect()
}

fn ready(q: &Queue) -> u64 {
    q.stats.gauges.get(warren::metrics::counters::queue::READY)
}

fn published(q: &Queue) -> u64 {
    q.stats
        .counters
        .get(warren::metrics::counters::queue::PUBLISH)
}

fn huge(_: &Queue) -> u64 {
    u64::MAX
}

#[tokio::test]
async fn per_queue_families_encode_as_the_generic_encoder_does() {
    skip_if_external!();
    let b = awkward_broker().await;
    let queues = all_queues(&b);
    let shared = labelled(queues.clone());
    let mut fast = Scrape::default();
    let mut generic = Scrape::default();
    for (name, kind, value) in [
        ("test_ready", Kind::Gauge, ready as fn(&Queue) -> u64),
        (
            "test_published",
            Kind::Counter,
            published as fn(&Queue) -> u64,
        ),
        ("test_huge", Kind::Gauge, huge),
    ] {
        fast.add_queues(QueueFamily::new(
            name,
            "Help with a \\ and a\nnewline",
            kind,
            Arc::clone(&shared),
            value,
        ));
        let mut family = Family::new(name, "Help with a \\ and a\nnewline", kind);
        for q in &queues {
            let queue = q.name().to_string_lossy();
            let pairs = [("vhost", &*q.vhost_name), ("queue", queue.as_ref())];
            family.push_u64(labels(&pairs), value(q));
        }
        generic.add(family);
    }
    let (fast, generic) = (fast.encode().unwrap(), generic.encode().unwrap());
    assert_eq!(fast, generic);
    assert!(
        fast.contains("test_ready{vhost=\"/\",queue=\"plain\"} 3\n"),
        "{fast}"
    );
    assert!(fast.contains("queue=\"new\\nline\""), "{fast}");
    assert!(
        fast.contains("vhost=\"we\\\"ird\\\\vh\",queue=\"quo\\\"te\""),
        "{fast}"
    );
    assert!(fast.contains("test_published_total{vhost=\"/\",queue=\"back\\\\slash\"} 1\n"));
    assert!(fast.contains(&format!("queue=\"plain\"}} {}\n", i64::MAX)));

    // The endpoint carries the same lines.
    let text = scrape(&b, "/metrics/per-object").await;
    let expected: String = generic
        .lines()
        .filter(|l| l.starts_with("test_ready{"))
        .map(|l| l.replacen("test_ready", "rabbitmq_queue_messages_ready", 1) + "\n")
        .collect();
    assert!(text.contains(&expected), "{text}");
}

async fn scrape(b: &TestBroker, path: &str) -> String {
    let r = guard(reqwest::get(format!("{}{path}", b.metrics_url())))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    guard(r.text()).await.unwrap()
}

#[tokio::test]
async fn concurrent_scrapes_and_listings_are_all_answered_in_full() {
    skip_if_external!();
    let b = TestBroker::start().await;
    for i in 0..2_000 {
        declare(&b, "/", ShortStr::from(format!("many-{i:04}")));
    }
    let api = Api::new(&b);
    let scrapes = (0..6).map(|_| scrape(&b, "/metrics/per-object"));
    let detailed = (0..3).map(|_| scrape(&b, "/metrics/detailed?family=queue_coarse_metrics"));
    let listings = (0..6).map(|p| {
        let api = api.clone();
        async move {
            api.get(&format!(
                "/api/queues/%2F?page={}&page_size=100&sort=messages&columns=name",
                p + 1
            ))
            .await
        }
    });
    let (scrapes, detailed, listings) = tokio::join!(
        futures_util::future::join_all(scrapes),
        futures_util::future::join_all(detailed),
        futures_util::future::join_all(listings),
    );
    for text in &scrapes {
        let parsed =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        let series = parsed
            .samples
            .iter()
            .filter(|s| s.metric == "rabbitmq_queue_messages_ready")
            .count();
        assert_eq!(series, 2_000);
        // The node gauges come last: the body is complete.
        assert!(text.contains("rabbitmq_erlang_uptime_seconds "));
        let queue_lines = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.starts_with("rabbitmq_queue_"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(queue_lines(text), queue_lines(&scrapes[0]));
    }
    for text in &detailed {
        assert_eq!(
            text.matches("rabbitmq_detailed_queue_messages{").count(),
            2_000
        );
    }
    for (p, page) in listings.iter().enumerate() {
        assert_eq!(page["item_count"], 100);
        assert_eq!(page["filtered_count"], 2_000);
        assert_eq!(
            page["items"][0]["name"],
            format!("many-{:04}", p * 100).as_str()
        );
    }
}

fn ready_of(text: &str, queue: &str) -> Option<f64> {
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    parsed
        .samples
        .iter()
        .find(|s| {
            s.metric == "rabbitmq_queue_messages_ready" && s.labels.get("queue") == Some(queue)
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("not a gauge: {other:?}"),
        })
}

#[tokio::test]
async fn scrapes_within_one_sampler_tick_share_one_render() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let broker = b.warren().unwrap();
    // Ticks come only from this test from here on.
    broker.sampler.set_manual(true);
    broker.sampler.sample(broker);
    declare(&b, "/", ShortStr::from("cached-q"));
    let paths = [
        "/metrics/per-object",
        "/metrics",
        "/metrics/detailed?family=queue_coarse_metrics",
    ];
    let first: Vec<String> =
        futures_util::future::join_all(paths.iter().map(|p| scrape(&b, p))).await;
    assert_eq!(ready_of(&first[0], "cached-q"), Some(0.0));
    // Concurrent scrapes of the same tick get the same body.
    let concurrent =
        futures_util::future::join_all((0..3).map(|_| scrape(&b, "/metrics/per-object"))).await;
    for text in &concurrent {
        assert_eq!(text, &first[0]);
    }
    // Changes within the tick: a new queue, a message. The tick's bodies stay as rendered
    // (the node's uptime and memory gauges in them would differ in a second render).
    declare(&b, "/", ShortStr::from("cached-later"));
    let api = Api::new(&b);
    let (status, _) = api
        .call(
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"routing_key": "cached-q", "payload": "x",
                "payload_encoding": "string", "properties": {}})),
        )
        .await;
    assert_eq!(status, 200);
    for (path, before) in paths.iter().zip(&first) {
        assert_eq!(&scrape(&b, path).await, before, "{path}");
    }
    // Another query is another render, and sees the changes.
    let other = scrape(&b, "/metrics/detailed?family=queue_coarse_metrics&vhost=/").await;
    assert!(other.contains("queue=\"cached-later\""), "{other}");
    // The next tick's scrapes show them.
    broker.sampler.sample(broker);
    let next = scrape(&b, "/metrics/per-object").await;
    assert_eq!(ready_of(&next, "cached-q"), Some(1.0));
    assert_eq!(ready_of(&next, "cached-later"), Some(0.0));
    assert!(scrape(&b, "/metrics").await.contains("rabbitmq_queues 2\n"));
}

/// RabbitMQ's order of JSON values: missing first, then numbers, then strings, then the
/// rest by their text.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().unwrap().total_cmp(&y.as_f64().unwrap())
        }
        (Some(Value::Number(_)), Some(_)) => Ordering::Less,
        (Some(_), Some(Value::Number(_))) => Ordering::Greater,
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

#[tokio::test]
async fn sorting_by_a_statistic_orders_and_pages_as_the_rendered_queues_sort() {
    skip_if_external!();
    let b = TestBroker::start().await;
    // No sampler tick between the listings below: rates must not change while comparing.
    b.warren().unwrap().sampler.set_manual(true);
    let api = Api::new(&b);
    for i in 0..23 {
        let body = match i % 3 {
            0 => json!({"arguments": {"x-max-length": 100 - i}}),
            1 => json!({"durable": false}),
            _ => json!({}),
        };
        let (status, _) = api
            .call("PUT", &format!("/api/queues/%2F/sorted-{i:02}"), Some(body))
            .await;
        assert_eq!(status, 201);
        for _ in 0..(i * 7) % 5 {
            api.call(
                "POST",
                "/api/exchanges/%2F/amq.default/publish",
                Some(
                    json!({"routing_key": format!("sorted-{i:02}"), "payload": "x".repeat(i),
                    "payload_encoding": "string", "properties": {}}),
                ),
            )
            .await;
        }
    }
    let everything = api.get("/api/queues/%2F").await;
    let all = everything.as_array().unwrap();
    for field in [
        "messages",
        "messages_ready",
        "message_bytes",
        "memory",
        "consumers",
        "messages_ram",
        "message_bytes_ram",
        "name",
        "vhost",
        "durable",
        "arguments.x-max-length",
        "message_stats.publish",
        "messages_details.rate",
        "no_such_field",
    ] {
        let mut expected: Vec<&Value> = all.iter().collect();
        expected.sort_by(|a, b| compare(at(a, field), at(b, field)));
        for (reverse, filter) in [
            (false, ""),
            (true, ""),
            (false, "&name=1"),
            (true, "&name=%5Esorted-0&use_regex=true"),
        ] {
            let mut want: Vec<&str> = expected
                .iter()
                .map(|q| q["name"].as_str().unwrap())
                .filter(|n| match filter {
                    "&name=1" => n.contains('1'),
                    "" => true,
                    _ => n.starts_with("sorted-0"),
                })
                .collect();
            if reverse {
                want.reverse();
            }
            let query = format!("sort={field}&sort_reverse={reverse}{filter}&columns=name");
            let listed = api.get(&format!("/api/queues/%2F?{query}")).await;
            let got: Vec<&str> = listed
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["name"].as_str().unwrap())
                .collect();
            assert_eq!(got, want, "{query}");
            let page = api
                .get(&format!("/api/queues/%2F?{query}&page=2&page_size=4"))
                .await;
            let got: Vec<&str> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                got,
                want.iter().skip(4).take(4).copied().collect::<Vec<_>>(),
                "{query}"
            );
            assert_eq!(page["filtered_count"], want.len(), "{query}");
            assert_eq!(page["total_count"], 23);
            assert_eq!(page["item_count"], got.len());
            assert_eq!(page["page_count"], want.len().div_ceil(4));
        }
    }
}
