//! Dead-lettering: the x-death table and x-first-death-* headers for each reason, death
//! counts, cycle breaking, missing dead-letter exchanges and confirms.
//!
//! RabbitMQ 3.10 is the reference: it keeps the headers table sorted by key, each x-death
//! entry is `{count, reason, queue, time, exchange, routing-keys[, original-expiration]}`, and
//! a dead-lettered message loses its `expiration` property. An entry added to (or counted up
//! in) an existing x-death array has its keys sorted instead.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{RawConn, Value};
use common::unique;

/// Names and connections of one dead-letter setup: `ops` declares/publishes/rejects, `sink`
/// consumes (no-ack) `dlq`, which is bound to the `dlx` exchange of `kind` with `dl_rk`.
struct Dl {
    ops: RawConn,
    sink: RawConn,
    dlx: String,
}

async fn setup(broker: &TestBroker, kind: &str, dl_rk: &str) -> Dl {
    let mut ops = open1(broker).await;
    let mut sink = open1(broker).await;
    let dlx = unique("dlx");
    let dlq = unique("dlq");
    exchange_declare(&mut ops, 1, &dlx, kind).await;
    declare(&mut sink, 1, &dlq, &[]).await;
    bind(&mut sink, 1, &dlq, &dlx, dl_rk).await;
    consume_args(&mut sink, 1, &dlq, true, &[]).await;
    Dl { ops, sink, dlx }
}

/// The expected rendering of one x-death entry (see [`render`]).
fn death(
    reason: &str,
    queue: &str,
    exchange: &str,
    rks: &[&str],
    orig_exp: Option<&str>,
) -> String {
    let rks: Vec<String> = rks.iter().map(|k| format!("{k:?}")).collect();
    let exp = orig_exp
        .map(|e| format!(", original-expiration: {e:?}"))
        .unwrap_or_default();
    format!(
        "{{count: 1l, reason: {reason:?}, queue: {queue:?}, time: T, exchange: {exchange:?}, routing-keys: [{}]{exp}}}",
        rks.join(", ")
    )
}

/// Like [`death`] for an entry RabbitMQ added to (or updated in) an existing x-death array:
/// such an entry has its keys sorted.
fn death_sorted(count: u32, reason: &str, queue: &str, exchange: &str, rks: &[&str]) -> String {
    let rks: Vec<String> = rks.iter().map(|k| format!("{k:?}")).collect();
    format!(
        "{{count: {count}l, exchange: {exchange:?}, queue: {queue:?}, reason: {reason:?}, routing-keys: [{}], time: T}}",
        rks.join(", ")
    )
}

/// The expected x-first-death-* headers.
fn first(exchange: &str, queue: &str, reason: &str) -> String {
    format!(
        "x-first-death-exchange: {exchange:?}, x-first-death-queue: {queue:?}, x-first-death-reason: {reason:?}"
    )
}

/// Publishes `body` to `q` via the default exchange, takes it back with basic.get and
/// rejects (or nacks) it without requeue.
async fn publish_and_refuse(ops: &mut RawConn, q: &str, props: &Props, body: &str, use_nack: bool) {
    publish_msg(ops, 1, "", q, props, body.as_bytes()).await;
    let m = get_msg(ops, 1, q, false)
        .await
        .expect("the published message");
    if use_nack {
        nack(ops, 1, m.delivery_tag, false).await;
    } else {
        reject(ops, 1, m.delivery_tag, false).await;
    }
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_with_its_original_routing_key_and_an_x_death_entry() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    publish_and_refuse(&mut dl.ops, &src, &Props::default(), "m", false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(
        (
            m.exchange.as_str(),
            m.routing_key.as_str(),
            m.text().as_str()
        ),
        (dl.dlx.as_str(), src.as_str(), "m")
    );
    assert!(!m.redelivered);
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("rejected", &src, "", &[&src], None),
            first("", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn a_nack_without_requeue_dead_letters_with_reason_rejected() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    publish_and_refuse(&mut dl.ops, &src, &Props::default(), "m", true).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("rejected", &src, "", &[&src], None),
            first("", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn dead_lettered_headers_are_sorted_by_name_and_keep_the_publishers_headers() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    let props = Props {
        headers: Some(table(&[
            ("zz", Value::I32(7)),
            ("App", vstr("v")),
            ("y", Value::Bool(true)),
        ])),
        ..Default::default()
    };
    publish_and_refuse(&mut dl.ops, &src, &props, "m", false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(
        render_headers(&m),
        format!(
            "{{App: \"v\", x-death: [{}], {}, y: true, zz: 7I}}",
            death("rejected", &src, "", &[&src], None),
            first("", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn x_death_routing_keys_include_cc_keys() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    let props = Props {
        headers: Some(table(&[("CC", Value::Array(vec![vstr("cc-key")]))])),
        ..Default::default()
    };
    publish_and_refuse(&mut dl.ops, &src, &props, "m", false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.routing_key, src);
    assert_eq!(
        render_headers(&m),
        format!(
            "{{CC: [\"cc-key\"], x-death: [{}], {}}}",
            death("rejected", &src, "", &[&src, "cc-key"], None),
            first("", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn x_dead_letter_routing_key_replaces_the_routing_key_and_drops_the_cc_header() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "direct", "dl-key").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[
            ("x-dead-letter-exchange", vstr(&dl.dlx)),
            ("x-dead-letter-routing-key", vstr("dl-key")),
        ],
    )
    .await;
    let props = Props {
        headers: Some(table(&[("CC", Value::Array(vec![vstr("cc-key")]))])),
        ..Default::default()
    };
    publish_and_refuse(&mut dl.ops, &src, &props, "m", false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(
        (m.exchange.as_str(), m.routing_key.as_str()),
        (dl.dlx.as_str(), "dl-key")
    );
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("rejected", &src, "", &[&src, "cc-key"], None),
            first("", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn a_message_expiring_by_queue_ttl_is_dead_lettered_with_reason_expired() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[
            ("x-dead-letter-exchange", vstr(&dl.dlx)),
            ("x-message-ttl", Value::I32(5)),
        ],
    )
    .await;
    publish_body(&mut dl.ops, 1, "amq.direct", "", "ignored").await;
    publish_body(&mut dl.ops, 1, "", &src, "m").await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(
        (m.routing_key.as_str(), m.text().as_str()),
        (src.as_str(), "m")
    );
    assert_eq!(m.props.expiration, None);
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("expired", &src, "", &[&src], None),
            first("", &src, "expired")
        )
    );
}

#[tokio::test]
async fn a_message_expiring_by_its_expiration_records_original_expiration_and_loses_the_property() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    let props = Props {
        expiration: Some("5".into()),
        ..Default::default()
    };
    publish_msg(&mut dl.ops, 1, "", &src, &props, b"m").await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.props.expiration, None);
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("expired", &src, "", &[&src], Some("5")),
            first("", &src, "expired")
        )
    );
}

#[tokio::test]
async fn a_rejected_message_with_an_expiration_records_original_expiration_too() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    let props = Props {
        expiration: Some("600000".into()),
        ..Default::default()
    };
    publish_and_refuse(&mut dl.ops, &src, &props, "m", false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.props.expiration, None);
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("rejected", &src, "", &[&src], Some("600000")),
            first("", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn max_length_drop_head_dead_letters_the_oldest_message_with_reason_maxlen() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[
            ("x-dead-letter-exchange", vstr(&dl.dlx)),
            ("x-max-length", Value::I32(1)),
        ],
    )
    .await;
    publish_body(&mut dl.ops, 1, "", &src, "old").await;
    publish_body(&mut dl.ops, 1, "", &src, "new").await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.text(), "old");
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("maxlen", &src, "", &[&src], None),
            first("", &src, "maxlen")
        )
    );
    let left = get_msg(&mut dl.ops, 1, &src, true)
        .await
        .expect("the newest survives");
    assert_eq!((left.text().as_str(), left.message_count), ("new", Some(0)));
}

#[tokio::test]
async fn the_x_death_exchange_is_the_exchange_the_message_was_published_to() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    bind(&mut dl.ops, 1, &src, "amq.direct", "via-direct").await;
    publish_body(&mut dl.ops, 1, "amq.direct", "via-direct", "m").await;
    let got = get_msg(&mut dl.ops, 1, &src, false)
        .await
        .expect("the message");
    reject(&mut dl.ops, 1, got.delivery_tag, false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.routing_key, "via-direct");
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("rejected", &src, "amq.direct", &["via-direct"], None),
            first("amq.direct", &src, "rejected")
        )
    );
}

#[tokio::test]
async fn a_second_death_in_another_queue_is_put_first_and_first_death_headers_stay() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let q1 = unique("q1");
    let q2 = unique("q2");
    declare(
        &mut dl.ops,
        1,
        &q1,
        &[
            ("x-dead-letter-exchange", vstr("")),
            ("x-dead-letter-routing-key", vstr(&q2)),
        ],
    )
    .await;
    // q2 is exclusive to the connection consuming it; consuming waits for the dead letter.
    let mut mid = open1(&broker).await;
    declare(
        &mut mid,
        1,
        &q2,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    publish_and_refuse(&mut dl.ops, &q1, &Props::default(), "m", false).await;
    consume_args(&mut mid, 1, &q2, false, &[]).await;
    let in_q2 = next_msg(&mut mid).await;
    reject(&mut mid, 1, in_q2.delivery_tag, false).await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.routing_key, q2);
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}, {}], {}}}",
            death_sorted(1, "rejected", &q2, "", &[&q2]),
            death("rejected", &q1, "", &[&q1], None),
            first("", &q1, "rejected")
        )
    );
}

#[tokio::test]
async fn a_message_rejected_twice_in_the_same_queue_has_one_x_death_entry_with_count_2() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("loop");
    // Rejecting dead-letters the message straight back into the same queue: a cycle with a
    // reject in it, which RabbitMQ allows.
    let mut cons = open1(&broker).await;
    declare(
        &mut cons,
        1,
        &q,
        &[
            ("x-dead-letter-exchange", vstr("")),
            ("x-dead-letter-routing-key", vstr(&q)),
        ],
    )
    .await;
    consume_args(&mut cons, 1, &q, false, &[]).await;
    publish_body(&mut ops, 1, "", &q, "m").await;
    let first_delivery = next_msg(&mut cons).await;
    assert_eq!(render_headers(&first_delivery), "-");
    reject(&mut cons, 1, first_delivery.delivery_tag, false).await;
    let second = next_msg(&mut cons).await;
    assert!(!second.redelivered);
    reject(&mut cons, 1, second.delivery_tag, false).await;
    let third = next_msg(&mut cons).await;
    assert_eq!(third.routing_key, q);
    assert_eq!(
        render_headers(&third),
        format!(
            "{{x-death: [{}], {}}}",
            death_sorted(2, "rejected", &q, "", &[&q]),
            first("", &q, "rejected")
        )
    );
}

#[tokio::test]
async fn a_fully_automatic_expiry_cycle_drops_the_message() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let q = unique("cycle");
    // q expires messages into the fanout dlx, which routes to q itself and to the spy (dlq).
    declare(
        &mut dl.ops,
        1,
        &q,
        &[
            ("x-dead-letter-exchange", vstr(&dl.dlx)),
            ("x-message-ttl", Value::I32(5)),
        ],
    )
    .await;
    bind(&mut dl.ops, 1, &q, &dl.dlx, "").await;
    publish_body(&mut dl.ops, 1, "", &q, "m").await;
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.text(), "m");
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("expired", &q, "", &[&q], None),
            first("", &q, "expired")
        )
    );
    // Had the copy routed back to q survived, it would expire again and reach the spy
    // before the sentinel does.
    publish_body(&mut dl.ops, 1, "", &q, "sentinel").await;
    let next = next_msg(&mut dl.sink).await;
    assert_eq!(next.text(), "sentinel");
}

#[tokio::test]
async fn dead_lettering_to_a_missing_exchange_drops_the_message_and_nothing_breaks() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let src = unique("src");
    declare(
        &mut ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&unique("missing-dlx")))],
    )
    .await;
    publish_and_refuse(&mut ops, &src, &Props::default(), "m", false).await;
    publish_body(&mut ops, 1, "", &src, "after").await;
    let m = get_msg(&mut ops, 1, &src, true)
        .await
        .expect("the second message");
    assert_eq!((m.text().as_str(), m.message_count), ("after", Some(0)));
    assert!(get_msg(&mut ops, 1, &src, true).await.is_none());
}

#[tokio::test]
async fn a_publish_dead_lettered_on_arrival_is_still_confirmed_with_an_ack() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[
            ("x-dead-letter-exchange", vstr(&dl.dlx)),
            ("x-max-length", Value::I32(0)),
        ],
    )
    .await;
    confirm_select(&mut dl.ops, 1).await;
    publish_body(&mut dl.ops, 1, "", &src, "m").await;
    assert_eq!(confirms(&mut dl.ops, 1, 1).await, [(1, true)]);
    let m = next_msg(&mut dl.sink).await;
    assert_eq!(m.text(), "m");
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{}], {}}}",
            death("maxlen", &src, "", &[&src], None),
            first("", &src, "maxlen")
        )
    );
}

/// RabbitMQ drops a deleted queue's unacked messages with it: rejecting one afterwards
/// dead-letters nothing (checked live against RabbitMQ 3.10.8).
#[tokio::test]
async fn a_message_rejected_after_its_queue_was_deleted_is_not_dead_lettered() {
    let broker = TestBroker::start().await;
    let mut dl = setup(&broker, "fanout", "").await;
    let src = unique("src");
    declare(
        &mut dl.ops,
        1,
        &src,
        &[("x-dead-letter-exchange", vstr(&dl.dlx))],
    )
    .await;
    publish_body(&mut dl.ops, 1, "", &src, "m").await;
    let m = get_msg(&mut dl.ops, 1, &src, false)
        .await
        .expect("the published message");
    let delete = common::raw::Args::new()
        .u16(0)
        .shortstr(&src)
        .bits(&[false, false, false])
        .build();
    dl.ops.send_method(1, 50, 40, &delete).await;
    Box::pin(dl.ops.expect_method(50, 41)).await;
    reject(&mut dl.ops, 1, m.delivery_tag, false).await;
    // Had the rejected message been dead-lettered, it would reach the sink first.
    publish_body(&mut dl.ops, 1, &dl.dlx, "", "sentinel").await;
    assert_eq!(next_msg(&mut dl.sink).await.text(), "sentinel");
}
