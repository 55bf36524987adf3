//! End-to-end routing through topic exchanges (`*`, `#`, empty words) and headers
//! exchanges (x-match all/any).

use crate::common;

use common::{TestBroker, fresh_queue, get_body, guard, publish, unique};
use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ExchangeKind};

/// Declares a fresh topic exchange and a queue bound to it with `patterns`.
async fn topic_setup(ch: &Channel, test: &str, patterns: &[&str]) -> (String, String) {
    let x = unique(test);
    guard(ch.exchange_declare(
        x.as_str().into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let q = fresh_queue(ch, test).await;
    for p in patterns {
        guard(ch.queue_bind(
            q.as_str().into(),
            x.as_str().into(),
            (*p).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    (x, q)
}

/// Publishes one message per key (body = key), then a sentinel straight to the queue,
/// and returns the keys that arrived before the sentinel.
async fn routed_keys(ch: &Channel, x: &str, q: &str, keys: &[&str]) -> Vec<String> {
    for k in keys {
        publish(ch, x, k, format!("key:{k}").as_bytes()).await;
    }
    publish(ch, "", q, b"sentinel").await;
    let mut out = Vec::new();
    loop {
        match get_body(ch, q).await.as_deref() {
            Some("sentinel") => return out,
            Some(b) => out.push(b.trim_start_matches("key:").to_string()),
            None => panic!("sentinel missing; got {out:?}"),
        }
    }
}

async fn check_topic(test: &str, patterns: &[&str], keys: &[&str], expect: &[&str]) {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let (x, q) = topic_setup(&ch, test, patterns).await;
    let got = routed_keys(&ch, &x, &q, keys).await;
    assert_eq!(got, expect, "patterns {patterns:?}");
}

#[tokio::test]
async fn star_matches_exactly_one_word() {
    check_topic(
        "star",
        &["a.*.c"],
        &["a.b.c", "a.c", "a.b.b.c", "a.xyz.c", "b.b.c", "a.b.c.d"],
        &["a.b.c", "a.xyz.c"],
    )
    .await;
}

#[tokio::test]
async fn star_matches_an_empty_word() {
    check_topic("star-empty", &["a.*.c"], &["a..c", "a.c"], &["a..c"]).await;
}

#[tokio::test]
async fn hash_matches_zero_or_more_words() {
    check_topic(
        "hash",
        &["a.#"],
        &["a", "a.b", "a.b.c", "b.a", "ab", "a."],
        &["a", "a.b", "a.b.c", "a."],
    )
    .await;
}

#[tokio::test]
async fn hash_alone_matches_every_key_including_the_empty_one() {
    check_topic(
        "hash-all",
        &["#"],
        &["", "a", "a.b.c", ".."],
        &["", "a", "a.b.c", ".."],
    )
    .await;
}

#[tokio::test]
async fn hash_in_the_middle_matches_any_run_of_words() {
    check_topic(
        "hash-mid",
        &["a.#.z"],
        &["a.z", "a.b.z", "a.b.c.z", "a.b", "z.a.z", "a.z.q"],
        &["a.z", "a.b.z", "a.b.c.z"],
    )
    .await;
}

#[tokio::test]
async fn star_then_hash_needs_at_least_one_word() {
    check_topic("star-hash", &["*.#"], &["a", "a.b", ""], &["a", "a.b"]).await;
}

#[tokio::test]
async fn star_alone_matches_single_word_keys_but_not_the_empty_key() {
    // RabbitMQ treats "" as zero words, so "*" does not match it.
    check_topic("star-alone", &["*"], &["a", "", "a.b", "."], &["a"]).await;
}

#[tokio::test]
async fn empty_words_in_a_pattern_match_only_empty_words() {
    check_topic(
        "empty-words",
        &["a..b"],
        &["a..b", "a.b", "a...b"],
        &["a..b"],
    )
    .await;
}

#[tokio::test]
async fn words_are_matched_exactly_and_case_sensitively() {
    check_topic(
        "exact",
        &["stock.usd.nyse"],
        &[
            "stock.usd.nyse",
            "Stock.usd.nyse",
            "stock.usd.nyse2",
            "stock.usd",
        ],
        &["stock.usd.nyse"],
    )
    .await;
}

#[tokio::test]
async fn overlapping_bindings_deliver_a_message_once_per_queue() {
    check_topic(
        "overlap",
        &["a.*", "#", "a.b"],
        &["a.b", "c"],
        &["a.b", "c"],
    )
    .await;
}

#[tokio::test]
async fn amq_topic_routes_with_wildcards() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "amq-topic").await;
    let prefix = unique("t");
    guard(ch.queue_bind(
        q.as_str().into(),
        "amq.topic".into(),
        format!("{prefix}.*.x.#").as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let hit1 = format!("{prefix}.a.x");
    let hit2 = format!("{prefix}.b.x.y.z");
    let miss = format!("{prefix}.x");
    let got = routed_keys(&ch, "amq.topic", &q, &[&hit1, &miss, &hit2]).await;
    assert_eq!(got, vec![hit1, hit2]);
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

/// Declares a headers exchange (or uses `exchange` if given) with one bound queue.
async fn headers_setup(
    ch: &Channel,
    exchange: Option<&str>,
    binding: FieldTable,
) -> (String, String) {
    let x = match exchange {
        Some(x) => x.to_string(),
        None => {
            let x = unique("hdrs");
            guard(ch.exchange_declare(
                x.as_str().into(),
                ExchangeKind::Headers,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            ))
            .await
            .unwrap();
            x
        }
    };
    let q = fresh_queue(ch, "hdrs-q").await;
    guard(ch.queue_bind(
        q.as_str().into(),
        x.as_str().into(),
        "".into(),
        QueueBindOptions::default(),
        binding,
    ))
    .await
    .unwrap();
    (x, q)
}

/// Publishes one message per header set (body = its label), then a sentinel, and returns
/// the labels routed to the queue.
async fn routed_headers(
    ch: &Channel,
    x: &str,
    q: &str,
    msgs: &[(&str, FieldTable)],
) -> Vec<String> {
    for (label, headers) in msgs {
        guard(ch.basic_publish(
            x.into(),
            "ignored".into(),
            BasicPublishOptions::default(),
            label.as_bytes(),
            BasicProperties::default().with_headers(headers.clone()),
        ))
        .await
        .unwrap();
    }
    publish(ch, "", q, b"sentinel").await;
    let mut out = Vec::new();
    loop {
        match get_body(ch, q).await.as_deref() {
            Some("sentinel") => return out,
            Some(b) => out.push(b.to_string()),
            None => panic!("sentinel missing; got {out:?}"),
        }
    }
}

#[tokio::test]
async fn headers_x_match_all_requires_every_bound_header() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let binding = table(&[
        ("x-match", s("all")),
        ("format", s("pdf")),
        ("type", s("report")),
    ]);
    let (x, q) = headers_setup(&ch, None, binding).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            (
                "both",
                table(&[("format", s("pdf")), ("type", s("report"))]),
            ),
            (
                "both-plus-extra",
                table(&[("format", s("pdf")), ("type", s("report")), ("z", s("1"))]),
            ),
            ("one", table(&[("format", s("pdf"))])),
            (
                "wrong-value",
                table(&[("format", s("pdf")), ("type", s("log"))]),
            ),
            ("none", FieldTable::default()),
        ],
    )
    .await;
    assert_eq!(got, vec!["both", "both-plus-extra"]);
}

#[tokio::test]
async fn headers_x_match_any_requires_one_bound_header() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let binding = table(&[
        ("x-match", s("any")),
        ("format", s("pdf")),
        ("type", s("report")),
    ]);
    let (x, q) = headers_setup(&ch, None, binding).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            ("format", table(&[("format", s("pdf"))])),
            ("type", table(&[("type", s("report"))])),
            ("wrong", table(&[("format", s("zip")), ("type", s("log"))])),
            ("none", FieldTable::default()),
        ],
    )
    .await;
    assert_eq!(got, vec!["format", "type"]);
}

#[tokio::test]
async fn headers_binding_without_x_match_defaults_to_all() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let binding = table(&[("a", s("1")), ("b", s("2"))]);
    let (x, q) = headers_setup(&ch, None, binding).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            ("a-only", table(&[("a", s("1"))])),
            ("both", table(&[("a", s("1")), ("b", s("2"))])),
        ],
    )
    .await;
    assert_eq!(got, vec!["both"]);
}

#[tokio::test]
async fn headers_values_must_match_in_type_as_well_as_value() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let binding = table(&[("x-match", s("all")), ("n", AMQPValue::LongInt(1))]);
    let (x, q) = headers_setup(&ch, None, binding).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            ("int", table(&[("n", AMQPValue::LongInt(1))])),
            ("string", table(&[("n", s("1"))])),
            ("other-int", table(&[("n", AMQPValue::LongInt(2))])),
        ],
    )
    .await;
    assert_eq!(got, vec!["int"]);
}

#[tokio::test]
async fn headers_binding_with_only_x_match_matches_every_message() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let (x, q) = headers_setup(&ch, None, table(&[("x-match", s("all"))])).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            ("none", FieldTable::default()),
            ("some", table(&[("k", s("v"))])),
        ],
    )
    .await;
    assert_eq!(got, vec!["none", "some"]);
}

#[tokio::test]
async fn headers_x_match_any_ignores_x_prefixed_binding_arguments() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let binding = table(&[("x-match", s("any")), ("x-extra", s("v")), ("k", s("v"))]);
    let (x, q) = headers_setup(&ch, None, binding).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            ("x-only", table(&[("x-extra", s("v"))])),
            ("k", table(&[("k", s("v"))])),
        ],
    )
    .await;
    assert_eq!(got, vec!["k"]);
}

#[tokio::test]
async fn amq_match_routes_by_headers() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let id = unique("m");
    let binding = table(&[("x-match", s("all")), ("id", s(&id))]);
    let (x, q) = headers_setup(&ch, Some("amq.match"), binding).await;
    let got = routed_headers(
        &ch,
        &x,
        &q,
        &[
            ("mine", table(&[("id", s(&id))])),
            ("other", table(&[("id", s("someone-else"))])),
        ],
    )
    .await;
    assert_eq!(got, vec!["mine"]);
}

#[tokio::test]
async fn exchange_binding_cycles_deliver_once_per_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let a = unique("cycle-a");
    let b = unique("cycle-b");
    for x in [&a, &b] {
        guard(ch.exchange_declare(
            x.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    for (dst, src) in [(&a, &b), (&b, &a)] {
        guard(ch.exchange_bind(
            dst.as_str().into(),
            src.as_str().into(),
            "".into(),
            lapin::options::ExchangeBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let q = fresh_queue(&ch, "cycle-q").await;
    for x in [&a, &b] {
        guard(ch.queue_bind(
            q.as_str().into(),
            x.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let got = routed_keys(&ch, &a, &q, &["once"]).await;
    assert_eq!(got, vec!["once"]);
}
