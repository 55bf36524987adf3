//! Sender-selected distribution: the CC and BCC headers add routing keys; BCC is removed
//! from the delivered message, CC is kept.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{RawConn, Value};
use common::unique;

/// Declares one exclusive queue per key, each bound to amq.direct with that key.
async fn queues(c: &mut RawConn, keys: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in keys {
        let q = unique(&format!("cc-{k}"));
        let key = format!("{q}-key");
        declare(c, 1, &q, &[]).await;
        bind(c, 1, &q, "amq.direct", &key).await;
        out.push((q, key));
    }
    out
}

fn keys(ks: &[&str]) -> Value {
    Value::Array(ks.iter().map(|k| vstr(k)).collect())
}

fn with_headers(h: &[(&str, Value)]) -> Props {
    Props {
        headers: Some(table(h)),
        ..Default::default()
    }
}

/// Everything in `q`, as (routing key, rendered headers).
async fn drain(c: &mut RawConn, q: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(m) = get_msg(c, 1, q, true).await {
        out.push((m.routing_key.clone(), render_headers(&m)));
    }
    out
}

#[tokio::test]
async fn cc_routes_to_extra_keys_and_stays_in_the_delivered_headers() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a", "b", "c"]).await;
    let (a, b, cq) = (&qs[0], &qs[1], &qs[2]);
    let props = with_headers(&[("CC", keys(&[&b.1]))]);
    publish_msg(&mut c, 1, "amq.direct", &a.1, &props, b"m").await;
    let expect = vec![(a.1.clone(), format!("{{CC: [{:?}]}}", b.1))];
    assert_eq!(drain(&mut c, &a.0).await, expect);
    assert_eq!(drain(&mut c, &b.0).await, expect);
    assert_eq!(drain(&mut c, &cq.0).await, []);
}

#[tokio::test]
async fn bcc_routes_to_extra_keys_and_is_removed_from_the_delivered_headers() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a", "b"]).await;
    let (a, b) = (&qs[0], &qs[1]);
    let props = with_headers(&[("BCC", keys(&[&b.1])), ("other", Value::I32(1))]);
    publish_msg(&mut c, 1, "amq.direct", &a.1, &props, b"m").await;
    let expect = vec![(a.1.clone(), "{other: 1I}".to_string())];
    assert_eq!(drain(&mut c, &a.0).await, expect);
    assert_eq!(drain(&mut c, &b.0).await, expect);
}

#[tokio::test]
async fn a_bcc_only_header_table_is_delivered_empty() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a", "b"]).await;
    let (a, b) = (&qs[0], &qs[1]);
    let props = with_headers(&[("BCC", keys(&[&b.1]))]);
    publish_msg(&mut c, 1, "amq.direct", &a.1, &props, b"m").await;
    let expect = vec![(a.1.clone(), "{}".to_string())];
    assert_eq!(drain(&mut c, &a.0).await, expect);
    assert_eq!(drain(&mut c, &b.0).await, expect);
}

#[tokio::test]
async fn cc_and_bcc_together_route_to_all_keys_and_only_cc_is_delivered() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a", "b", "c", "d"]).await;
    let props = with_headers(&[
        ("CC", keys(&[&qs[1].1])),
        ("BCC", keys(&[&qs[2].1, &qs[3].1])),
    ]);
    publish_msg(&mut c, 1, "amq.direct", &qs[0].1, &props, b"m").await;
    let expect = vec![(qs[0].1.clone(), format!("{{CC: [{:?}]}}", qs[1].1))];
    for (q, _) in &qs {
        assert_eq!(drain(&mut c, q).await, expect, "queue {q}");
    }
}

#[tokio::test]
async fn a_queue_reached_through_two_keys_gets_the_message_once() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a"]).await;
    let a = &qs[0];
    bind(&mut c, 1, &a.0, "amq.direct", "second-key").await;
    let props = with_headers(&[("CC", keys(&["second-key", &a.1]))]);
    publish_msg(&mut c, 1, "amq.direct", &a.1, &props, b"m").await;
    let got = drain(&mut c, &a.0).await;
    assert_eq!(got.len(), 1, "{got:?}");
}

#[tokio::test]
async fn cc_works_on_the_default_exchange() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qa = unique("cc-default-a");
    let qb = unique("cc-default-b");
    declare(&mut c, 1, &qa, &[]).await;
    declare(&mut c, 1, &qb, &[]).await;
    let props = with_headers(&[("CC", keys(&[&qb]))]);
    publish_msg(&mut c, 1, "", &qa, &props, b"m").await;
    let expect = vec![(qa.clone(), format!("{{CC: [{qb:?}]}}"))];
    assert_eq!(drain(&mut c, &qa).await, expect);
    assert_eq!(drain(&mut c, &qb).await, expect);
}

#[tokio::test]
async fn a_cc_header_that_is_not_an_array_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a"]).await;
    let props = with_headers(&[("CC", vstr("some-key"))]);
    publish_msg(&mut c, 1, "amq.direct", &qs[0].1, &props, b"m").await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            406,
            "PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,\"CC\",longstr}",
            60,
            40
        )
    );
}

#[tokio::test]
async fn a_bcc_header_that_is_not_an_array_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let qs = queues(&mut c, &["a"]).await;
    let props = with_headers(&[("BCC", Value::I32(5))]);
    publish_msg(&mut c, 1, "amq.direct", &qs[0].1, &props, b"m").await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            406,
            "PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,\"BCC\",signedint}",
            60,
            40
        )
    );
}

#[tokio::test]
async fn a_dead_lettered_message_is_routed_with_its_bcc_keys_too() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    // Sinks bound to the dead-letter exchange (amq.direct) by the routing, CC and BCC keys,
    // each with its own consumer.
    let mut sinks = Vec::new();
    let mut consumers = Vec::new();
    for name in ["k", "cc", "bcc"] {
        let mut s = open1(&broker).await;
        sinks.extend(queues(&mut s, &[name]).await);
        let (q, _) = &sinks[sinks.len() - 1];
        consume_args(&mut s, 1, q, true, &[]).await;
        consumers.push(s);
    }
    let (k, cc, bcc) = (&sinks[0], &sinks[1], &sinks[2]);
    let q = unique("dl-bcc");
    let args = [("x-dead-letter-exchange", vstr("amq.direct"))];
    declare(&mut c, 1, &q, &args).await;
    bind(&mut c, 1, &q, "amq.direct", &k.1).await;
    let props = with_headers(&[("CC", keys(&[&cc.1])), ("BCC", keys(&[&bcc.1]))]);
    publish_msg(&mut c, 1, "amq.direct", &k.1, &props, b"m").await;
    let m = get_msg(&mut c, 1, &q, false).await.expect("the message");
    reject(&mut c, 1, m.delivery_tag, false).await;
    for s in &mut consumers {
        // First the published copy, then the dead-lettered one.
        let published = next_msg(s).await;
        assert!(!render_headers(&published).contains("x-death"));
        let dead = next_msg(s).await;
        assert_eq!(dead.routing_key, k.1);
        let headers = render_headers(&dead);
        assert!(headers.contains("reason: \"rejected\""), "{headers}");
        assert!(!headers.contains("BCC"), "{headers}");
    }
}
