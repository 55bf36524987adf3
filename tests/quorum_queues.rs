//! Quorum queues (`x-queue-type=quorum`) on one node, as RabbitMQ 3.10.8 shows them to
//! clients: declare refusals and argument checks with its reply texts, redeclare
//! equivalence, global QoS refused on consume, `x-delivery-count`, delivery limits (argument
//! and policy) with dead-lettering, the management API's fields and messages kept whatever
//! their delivery mode. The expected answers were recorded from RabbitMQ 3.10.8 with
//! `interop/probes/quorum.py`; the AMQP-only tests also pass against it:
//! `WARREN_TEST_URI=amqp://guest:guest@127.0.0.1:5672/%2f cargo test --test quorum_queues`.

mod common;

use common::mgmt::Api;
use common::{TestBroker, amqp_error, assert_amqp_error, guard, unique};
use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use serde_json::json;

const DURABLE: QueueDeclareOptions = QueueDeclareOptions {
    passive: false,
    durable: true,
    exclusive: false,
    auto_delete: false,
    nowait: false,
};

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

fn int(v: i32) -> AMQPValue {
    AMQPValue::LongInt(v)
}

/// `x-queue-type=quorum` plus `extra`.
fn quorum_args(extra: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert("x-queue-type".into(), s("quorum"));
    for (k, v) in extra {
        t.insert((*k).into(), v.clone());
    }
    t
}

async fn declare(ch: &Channel, name: &str, opts: QueueDeclareOptions, args: FieldTable) {
    guard(ch.queue_declare(name.into(), opts, args))
        .await
        .unwrap();
}

/// Declares `name` on a fresh channel, returning the refusal's (code, text), or `None`.
async fn refusal(
    broker: &TestBroker,
    name: &str,
    opts: QueueDeclareOptions,
    args: FieldTable,
) -> Option<(u16, String)> {
    let (_conn, ch) = broker.lapin_channel().await;
    match guard(ch.queue_declare(name.into(), opts, args)).await {
        Ok(_) => {
            let _ = guard(ch.queue_delete(name.into(), Default::default())).await;
            None
        }
        Err(e) => Some(amqp_error(&e)),
    }
}

async fn delete(broker: &TestBroker, name: &str) {
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.queue_delete(name.into(), Default::default()))
        .await
        .unwrap();
}

async fn publish_props(ch: &Channel, queue: &str, body: &[u8], props: BasicProperties) {
    let confirm = guard(ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        props,
    ))
    .await
    .unwrap();
    assert!(guard(confirm).await.unwrap().is_ack(), "publish was nacked");
}

async fn get(ch: &Channel, queue: &str) -> Option<BasicGetMessage> {
    guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
}

/// The `x-delivery-count` header: `None` when absent; panics unless it is a signed 64-bit
/// integer (RabbitMQ's `long`).
fn delivery_count(props: &BasicProperties) -> Option<i64> {
    let value = props.headers().as_ref()?.inner().get("x-delivery-count")?;
    match value {
        AMQPValue::LongLongInt(n) => Some(*n),
        other => panic!("x-delivery-count should be a long, got {other:?}"),
    }
}

fn body(m: &BasicGetMessage) -> String {
    String::from_utf8_lossy(&m.delivery.data).into_owned()
}

async fn reject(ch: &Channel, tag: u64) {
    guard(ch.basic_reject(tag, BasicRejectOptions { requeue: true }))
        .await
        .unwrap();
}

/// basic.get then reject with requeue until the queue answers get-empty or `max` messages
/// were seen; returns (body, redelivered, x-delivery-count) per get.
async fn get_and_reject_all(
    ch: &Channel,
    queue: &str,
    max: usize,
) -> Vec<(String, bool, Option<i64>)> {
    let mut seen = Vec::new();
    while seen.len() < max {
        let Some(m) = get(ch, queue).await else { break };
        seen.push((
            body(&m),
            m.delivery.redelivered,
            delivery_count(&m.delivery.properties),
        ));
        reject(ch, m.delivery.delivery_tag).await;
    }
    seen
}

#[tokio::test]
async fn exclusive_non_durable_and_auto_delete_quorum_queues_are_refused() {
    let broker = TestBroker::start().await;
    let q = unique("qq-flags");
    let cases = [
        (true, true, false, "exclusive-owner"),
        (false, false, false, "non-durable"),
        (true, false, true, "auto-delete"),
        // Auto-delete is named first when several flags are wrong.
        (true, true, true, "auto-delete"),
        (false, false, true, "auto-delete"),
    ];
    for (durable, exclusive, auto_delete, property) in cases {
        let opts = QueueDeclareOptions {
            durable,
            exclusive,
            auto_delete,
            ..Default::default()
        };
        let got = refusal(&broker, &q, opts, quorum_args(&[])).await;
        assert_eq!(
            got,
            Some((
                406,
                format!(
                    "PRECONDITION_FAILED - invalid property '{property}' for queue '{q}' in \
                     vhost '/'"
                )
            )),
            "durable={durable} exclusive={exclusive} auto_delete={auto_delete}"
        );
    }
}

#[tokio::test]
async fn arguments_of_other_queue_types_are_refused() {
    let broker = TestBroker::start().await;
    let q = unique("qq-foreign");
    let cases = [
        ("x-max-priority", int(5)),
        ("x-queue-mode", s("lazy")),
        ("x-queue-mode", s("default")),
        ("x-queue-version", int(2)),
        ("x-queue-master-locator", s("min-masters")),
        ("x-max-age", s("1D")),
        ("x-initial-cluster-size", int(1)),
        ("x-stream-max-segment-size-bytes", int(1000)),
    ];
    for (key, value) in cases {
        let got = refusal(&broker, &q, DURABLE, quorum_args(&[(key, value)])).await;
        assert_eq!(
            got,
            Some((
                406,
                format!(
                    "PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '/' of \
                     queue type rabbit_quorum_queue"
                )
            )),
            "{key}"
        );
    }
}

#[tokio::test]
async fn quorum_arguments_are_validated_with_rabbitmqs_terms() {
    let broker = TestBroker::start().await;
    let q = unique("qq-badarg");
    let cases = [
        ("x-overflow", s("bad"), "invalid_overflow"),
        ("x-dead-letter-strategy", s("bad"), "invalid_dlx_strategy"),
        (
            "x-dead-letter-strategy",
            int(1),
            "{unacceptable_type,signedint}",
        ),
        ("x-quorum-initial-group-size", int(0), "{value_zero,0}"),
        (
            "x-quorum-initial-group-size",
            int(-1),
            "{value_negative,-1}",
        ),
        (
            "x-quorum-initial-group-size",
            s("3"),
            "\"expected integer, got longstr\"",
        ),
        (
            "x-queue-leader-locator",
            s("bad"),
            "invalid_queue_locator_arg",
        ),
        ("x-max-in-memory-length", int(-1), "{value_negative,-1}"),
    ];
    for (key, value, term) in cases {
        let got = refusal(&broker, &q, DURABLE, quorum_args(&[(key, value)])).await;
        assert_eq!(
            got,
            Some((
                406,
                format!(
                    "PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '/': {term}"
                )
            )),
            "{key}"
        );
    }
}

#[tokio::test]
async fn quorum_arguments_rabbitmq_accepts_are_accepted() {
    let broker = TestBroker::start().await;
    let cases = [
        ("x-delivery-limit", int(3)),
        ("x-delivery-limit", int(0)),
        ("x-delivery-limit", int(-1)),
        ("x-delivery-limit", s("three")),
        ("x-dead-letter-strategy", s("at-least-once")),
        ("x-dead-letter-strategy", s("at-most-once")),
        ("x-quorum-initial-group-size", int(5)),
        ("x-queue-leader-locator", s("client-local")),
        ("x-queue-leader-locator", s("balanced")),
        ("x-queue-leader-locator", s("random")),
        ("x-max-in-memory-length", int(10)),
        ("x-max-in-memory-bytes", int(1000)),
        ("x-overflow", s("drop-head")),
        ("x-overflow", s("reject-publish")),
        // Refused by the 3.10 documentation, accepted by 3.10.8.
        ("x-overflow", s("reject-publish-dlx")),
        ("x-message-ttl", int(1000)),
        ("x-expires", int(100_000)),
        ("x-single-active-consumer", AMQPValue::Boolean(true)),
    ];
    for (key, value) in cases {
        let q = unique("qq-ok");
        let got = refusal(&broker, &q, DURABLE, quorum_args(&[(key, value.clone())])).await;
        assert_eq!(got, None, "{key} = {value:?}");
    }
}

#[tokio::test]
async fn redeclaring_across_queue_types_is_inequivalent() {
    let broker = TestBroker::start().await;
    let classic = unique("qq-classic");
    let quorum = unique("qq-quorum");
    {
        let (_conn, ch) = broker.lapin_channel().await;
        declare(&ch, &classic, DURABLE, FieldTable::default()).await;
        declare(&ch, &quorum, DURABLE, quorum_args(&[])).await;
    }
    let pre = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue";
    let classic_type = {
        let mut t = FieldTable::default();
        t.insert("x-queue-type".into(), s("classic"));
        t
    };
    let cases = [
        (
            &classic,
            quorum_args(&[]),
            format!(
                "{pre} '{classic}' in vhost '/': received the value 'quorum' of type 'longstr' \
                 but current is none"
            ),
        ),
        (
            &quorum,
            FieldTable::default(),
            format!(
                "{pre} '{quorum}' in vhost '/': received none but current is the value 'quorum' \
                 of type 'longstr'"
            ),
        ),
        (
            &quorum,
            classic_type,
            format!("{pre} '{quorum}' in vhost '/': received 'classic' but current is 'quorum'"),
        ),
    ];
    for (name, args, text) in cases {
        let got = refusal(&broker, name, DURABLE, args).await;
        assert_eq!(got, Some((406, text)));
    }
    // The same declaration, or a passive one, is fine.
    assert_eq!(
        refusal_keep(&broker, &quorum, DURABLE, quorum_args(&[])).await,
        None
    );
    delete(&broker, &classic).await;
    delete(&broker, &quorum).await;
}

/// Like [`refusal`], without deleting the queue on success.
async fn refusal_keep(
    broker: &TestBroker,
    name: &str,
    opts: QueueDeclareOptions,
    args: FieldTable,
) -> Option<(u16, String)> {
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.queue_declare(name.into(), opts, args))
        .await
        .err()
        .map(|e| amqp_error(&e))
}

#[tokio::test]
async fn redeclare_compares_the_quorum_arguments_in_rabbitmqs_order() {
    let broker = TestBroker::start().await;
    let q = unique("qq-equiv");
    let base = [
        ("x-dead-letter-strategy", s("at-most-once")),
        ("x-delivery-limit", int(3)),
    ];
    {
        let (_conn, ch) = broker.lapin_channel().await;
        declare(&ch, &q, DURABLE, quorum_args(&base)).await;
    }
    let pre = "PRECONDITION_FAILED - inequivalent arg";
    let got = refusal_keep(
        &broker,
        &q,
        DURABLE,
        quorum_args(&[
            ("x-dead-letter-strategy", s("at-most-once")),
            ("x-delivery-limit", int(4)),
        ]),
    )
    .await;
    assert_eq!(
        got,
        Some((
            406,
            format!(
                "{pre} 'x-delivery-limit' for queue '{q}' in vhost '/': received '4' but current is '3'"
            )
        ))
    );
    // Several differences: the strategy comes first in RabbitMQ's list.
    let got = refusal_keep(
        &broker,
        &q,
        DURABLE,
        quorum_args(&[
            ("x-dead-letter-strategy", s("at-least-once")),
            ("x-delivery-limit", int(4)),
            ("x-message-ttl", int(5)),
        ]),
    )
    .await;
    assert_eq!(
        got,
        Some((
            406,
            format!(
                "{pre} 'x-dead-letter-strategy' for queue '{q}' in vhost '/': received \
                 'at-least-once' but current is 'at-most-once'"
            )
        ))
    );
    let got = refusal_keep(
        &broker,
        &q,
        DURABLE,
        quorum_args(&[
            ("x-dead-letter-strategy", s("at-most-once")),
            ("x-delivery-limit", int(3)),
            ("x-max-in-memory-bytes", int(5)),
        ]),
    )
    .await;
    assert_eq!(
        got,
        Some((
            406,
            format!(
                "{pre} 'x-max-in-memory-bytes' for queue '{q}' in vhost '/': received the value \
                 '5' of type 'signedint' but current is none"
            )
        ))
    );
    assert_eq!(
        refusal_keep(&broker, &q, DURABLE, quorum_args(&base)).await,
        None
    );
    delete(&broker, &q).await;
}

#[tokio::test]
async fn consuming_from_a_quorum_queue_under_global_qos_closes_the_connection_with_540() {
    let broker = TestBroker::start().await;
    let q = unique("qq-gqos");
    let (conn, ch) = broker.lapin_channel().await;
    declare(&ch, &q, DURABLE, quorum_args(&[])).await;
    guard(ch.basic_qos(10, BasicQosOptions { global: true }))
        .await
        .unwrap();
    // basic.get is fine under global qos.
    assert!(get(&ch, &q).await.is_none());
    let res = guard(ch.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await;
    let text = assert_amqp_error(res, 540, "NOT_IMPLEMENTED - ");
    assert_eq!(
        text,
        format!("NOT_IMPLEMENTED - queue '{q}' in vhost '/' does not support global qos")
    );
    assert!(!conn.status().connected(), "the whole connection is closed");
    // A per-consumer prefetch is fine, and so is global qos 0 (no limit).
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.basic_qos(0, BasicQosOptions { global: true }))
        .await
        .unwrap();
    guard(ch.basic_qos(10, BasicQosOptions { global: false }))
        .await
        .unwrap();
    guard(ch.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    drop(ch);
    delete(&broker, &q).await;
}

#[tokio::test]
async fn basic_get_carries_the_delivery_count_from_zero_and_each_requeue_adds_one() {
    let broker = TestBroker::start().await;
    let q = unique("qq-dc-get");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(&ch, &q, DURABLE, quorum_args(&[])).await;
    publish_props(&ch, &q, b"m", BasicProperties::default()).await;
    let mut seen = Vec::new();
    for nack in [false, false, true, true] {
        let m = get(&ch, &q).await.expect("the message");
        seen.push((
            m.delivery.redelivered,
            delivery_count(&m.delivery.properties),
        ));
        let tag = m.delivery.delivery_tag;
        if nack {
            guard(ch.basic_nack(
                tag,
                BasicNackOptions {
                    requeue: true,
                    multiple: false,
                },
            ))
            .await
            .unwrap();
        } else {
            reject(&ch, tag).await;
        }
    }
    let m = get(&ch, &q).await.expect("the message");
    seen.push((
        m.delivery.redelivered,
        delivery_count(&m.delivery.properties),
    ));
    assert_eq!(
        seen,
        [
            (false, Some(0)),
            (true, Some(1)),
            (true, Some(2)),
            (true, Some(3)),
            (true, Some(4))
        ]
    );
    delete(&broker, &q).await;
}

#[tokio::test]
async fn a_first_consumer_delivery_has_no_count_and_a_redelivery_has_one() {
    let broker = TestBroker::start().await;
    let q = unique("qq-dc-consume");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(&ch, &q, DURABLE, quorum_args(&[])).await;
    let mut headers = FieldTable::default();
    headers.insert("own".into(), s("h"));
    publish_props(
        &ch,
        &q,
        b"m",
        BasicProperties::default().with_headers(headers),
    )
    .await;
    guard(ch.basic_qos(1, BasicQosOptions::default()))
        .await
        .unwrap();
    let consumer = guard(ch.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut deliveries = common::Deliveries::of(&consumer);
    let first = deliveries.next().await;
    assert!(!first.redelivered);
    assert_eq!(delivery_count(&first.properties), None);
    let own = first
        .properties
        .headers()
        .as_ref()
        .map(|h| h.inner().get("own").cloned());
    assert_eq!(
        own,
        Some(Some(s("h"))),
        "the message's own headers are kept"
    );
    reject(&ch, first.delivery_tag).await;
    let second = deliveries.next().await;
    assert!(second.redelivered);
    assert_eq!(delivery_count(&second.properties), Some(1));
    guard(ch.basic_ack(second.delivery_tag, Default::default()))
        .await
        .unwrap();
    delete(&broker, &q).await;
}

#[tokio::test]
async fn closing_the_consumers_channel_or_connection_counts_a_delivery() {
    let broker = TestBroker::start().await;
    let q = unique("qq-dc-close");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(&ch, &q, DURABLE, quorum_args(&[])).await;
    publish_props(&ch, &q, b"m", BasicProperties::default()).await;
    // Taken and left unacked by a channel that closes, then by a connection that closes.
    let other = guard(_conn.create_channel()).await.unwrap();
    let m = get(&other, &q).await.expect("the message");
    assert_eq!(delivery_count(&m.delivery.properties), Some(0));
    guard(other.close(200, "bye".into())).await.unwrap();
    let (conn2, ch2) = broker.lapin_channel().await;
    let m = get(&ch2, &q).await.expect("back after the channel closed");
    assert_eq!(delivery_count(&m.delivery.properties), Some(1));
    guard(conn2.close(200, "bye".into())).await.unwrap();
    let m = get(&ch, &q)
        .await
        .expect("back after the connection closed");
    assert_eq!(delivery_count(&m.delivery.properties), Some(2));
    assert!(m.delivery.redelivered);
    delete(&broker, &q).await;
}

#[tokio::test]
async fn past_its_delivery_limit_a_message_is_dropped() {
    let broker = TestBroker::start().await;
    let q = unique("qq-limit");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(
        &ch,
        &q,
        DURABLE,
        quorum_args(&[("x-delivery-limit", int(2))]),
    )
    .await;
    publish_props(&ch, &q, b"poison", BasicProperties::default()).await;
    publish_props(&ch, &q, b"second", BasicProperties::default()).await;
    let seen = get_and_reject_all(&ch, &q, 4).await;
    let p = |redelivered, n| ("poison".to_string(), redelivered, Some(n));
    // Delivered with counts 0, 1, 2; the third return drops it (the second message is at
    // the head now).
    assert_eq!(
        seen,
        [
            p(false, 0),
            p(true, 1),
            p(true, 2),
            ("second".to_string(), false, Some(0))
        ]
    );
    delete(&broker, &q).await;
}

#[tokio::test]
async fn limits_of_zero_and_below_drop_at_the_first_return_and_a_string_never_limits() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    for (limit, gets) in [(int(0), 1), (int(-1), 1), (s("three"), 5)] {
        let q = unique("qq-limit-edge");
        declare(
            &ch,
            &q,
            DURABLE,
            quorum_args(&[("x-delivery-limit", limit.clone())]),
        )
        .await;
        publish_props(&ch, &q, b"poison", BasicProperties::default()).await;
        let seen = get_and_reject_all(&ch, &q, 5).await;
        assert_eq!(seen.len(), gets, "limit {limit:?}: {seen:?}");
        delete(&broker, &q).await;
    }
}

#[tokio::test]
async fn past_its_delivery_limit_a_message_is_dead_lettered_with_reason_delivery_limit() {
    let broker = TestBroker::start().await;
    let q = unique("qq-limit-dlx");
    let dlq = unique("qq-limit-dlq");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(&ch, &dlq, DURABLE, FieldTable::default()).await;
    let args = quorum_args(&[
        ("x-delivery-limit", int(1)),
        ("x-dead-letter-exchange", s("")),
        ("x-dead-letter-routing-key", s(&dlq)),
    ]);
    declare(&ch, &q, DURABLE, args).await;
    let mut headers = FieldTable::default();
    headers.insert("own".into(), s("h"));
    let props = BasicProperties::default().with_headers(headers);
    publish_props(&ch, &q, b"poison", props).await;
    let seen = get_and_reject_all(&ch, &q, 3).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    // Dead-lettering is asynchronous in RabbitMQ: poll the dead-letter queue.
    let deadline = std::time::Instant::now() + common::HANG_GUARD;
    let dead = loop {
        if let Some(m) = get(&ch, &dlq).await {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing dead-lettered"
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(body(&dead), "poison");
    assert_eq!(dead.delivery.routing_key.as_str(), dlq);
    let headers = dead.delivery.properties.headers().clone().unwrap();
    let h = headers.inner();
    assert_eq!(h.get("x-first-death-reason"), Some(&s("delivery_limit")));
    assert_eq!(h.get("x-first-death-queue"), Some(&s(&q)));
    assert_eq!(h.get("own"), Some(&s("h")));
    assert_eq!(
        h.get("x-delivery-count"),
        None,
        "the dead letter has no count"
    );
    let Some(AMQPValue::FieldArray(deaths)) = h.get("x-death") else {
        panic!("x-death: {h:?}");
    };
    let Some(AMQPValue::FieldTable(death)) = deaths.as_slice().first() else {
        panic!("x-death entry: {deaths:?}");
    };
    assert_eq!(death.inner().get("reason"), Some(&s("delivery_limit")));
    assert_eq!(death.inner().get("queue"), Some(&s(&q)));
    assert_eq!(death.inner().get("count"), Some(&AMQPValue::LongLongInt(1)));
    delete(&broker, &q).await;
    delete(&broker, &dlq).await;
}

#[tokio::test]
async fn the_delivery_limit_policy_applies_to_quorum_queues_only() {
    let broker = TestBroker::start().await;
    if common::external_uri().is_some() {
        eprintln!("skipped: sets a policy through the management API");
        return;
    }
    let api = Api::new(&broker);
    let prefix = unique("qq-policy");
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/policies/%2F/{prefix}"),
            Some(
                json!({"pattern": format!("^{prefix}"), "apply-to": "queues",
                        "definition": {"delivery-limit": 1}}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let quorum = format!("{prefix}-quorum");
    let classic = format!("{prefix}-classic");
    declare(&ch, &quorum, DURABLE, quorum_args(&[])).await;
    declare(&ch, &classic, DURABLE, FieldTable::default()).await;
    for q in [&quorum, &classic] {
        publish_props(&ch, q, b"poison", BasicProperties::default()).await;
    }
    let seen = get_and_reject_all(&ch, &quorum, 5).await;
    let p = |redelivered, n| ("poison".to_string(), redelivered, Some(n));
    assert_eq!(seen, [p(false, 0), p(true, 1)]);
    // A classic queue neither counts nor limits.
    let seen = get_and_reject_all(&ch, &classic, 4).await;
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|(_, _, count)| count.is_none()), "{seen:?}");
    // The smaller of argument and policy applies.
    let tight = format!("{prefix}-tight");
    declare(
        &ch,
        &tight,
        DURABLE,
        quorum_args(&[("x-delivery-limit", int(5))]),
    )
    .await;
    publish_props(&ch, &tight, b"poison", BasicProperties::default()).await;
    assert_eq!(get_and_reject_all(&ch, &tight, 8).await.len(), 2);
    let info = api.get(&format!("/api/queues/%2F/{quorum}")).await;
    assert_eq!(
        info["effective_policy_definition"],
        json!({"delivery-limit": 1})
    );
}

#[tokio::test]
async fn the_management_api_shows_quorum_membership_and_counts_every_message_persistent() {
    let broker = TestBroker::start().await;
    if common::external_uri().is_some() {
        eprintln!("skipped: in-process management API");
        return;
    }
    let api = Api::new(&broker);
    let q = unique("qq-mgmt");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(
        &ch,
        &q,
        DURABLE,
        quorum_args(&[("x-delivery-limit", int(5))]),
    )
    .await;
    let transient = BasicProperties::default().with_delivery_mode(1);
    publish_props(&ch, &q, b"ab", transient).await;
    let info = api.get(&format!("/api/queues/%2F/{q}")).await;
    let node = info["node"].clone();
    assert_eq!(info["type"], "quorum");
    assert_eq!(info["leader"], node);
    assert_eq!(info["members"], json!([node]));
    assert_eq!(info["online"], json!([node]));
    assert_eq!(info["messages_persistent"], 1);
    assert_eq!(info["message_bytes_persistent"], 2);
    assert_eq!(info["messages_ram"], 0);
    assert_eq!(info["messages_dlx"], 0);
    assert_eq!(info["single_active_consumer_ctag"], json!(null));
    for absent in [
        "messages_paged_out",
        "recoverable_slaves",
        "single_active_consumer_tag",
    ] {
        assert!(
            info.get(absent).is_none(),
            "{absent} is a classic queue field"
        );
    }
    assert_eq!(info["open_files"], json!({ node.as_str().unwrap(): 0 }));
    let rows = api
        .get("/api/queues/%2F?columns=name,type,leader,members,online")
        .await;
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == q.as_str())
        .cloned();
    assert_eq!(
        row,
        Some(
            json!({"name": q, "type": "quorum", "leader": node, "members": [node],
                    "online": [node]})
        )
    );
    let defs = api.get("/api/definitions/%2F").await;
    let exported = defs["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == q.as_str())
        .cloned();
    assert_eq!(
        exported,
        Some(json!({"name": q, "durable": true, "auto_delete": false,
                    "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 5}}))
    );
}

#[tokio::test]
async fn the_http_api_refuses_a_non_durable_quorum_queue_with_rabbitmqs_reason() {
    let broker = TestBroker::start().await;
    if common::external_uri().is_some() {
        eprintln!("skipped: in-process management API");
        return;
    }
    let api = Api::new(&broker);
    let q = unique("qq-http");
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/queues/%2F/{q}"),
            Some(json!({"durable": false, "arguments": {"x-queue-type": "quorum"}})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "bad_request",
                   "reason": format!("invalid property 'non-durable' for queue '{q}' in vhost '/'")})
        )
    );
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/queues/%2F/{q}"),
            Some(json!({"durable": true, "arguments": {"x-queue-type": "quorum"}})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_transient_message_in_a_quorum_queue_survives_a_restart() {
    skip_if_external!();
    let dir = tempfile::tempdir().unwrap();
    let at = |dir: std::path::PathBuf| {
        move |s: &mut warren::config::Settings| {
            s.server.data_dir = dir;
            s.management.listen.clear();
            s.prometheus.listen.clear();
        }
    };
    let quorum = unique("qq-restart");
    let classic = unique("qq-restart-classic");
    let broker = TestBroker::start_with(at(dir.path().to_path_buf())).await;
    {
        let (conn, ch) = broker.lapin_confirm_channel().await;
        declare(&ch, &quorum, DURABLE, quorum_args(&[])).await;
        declare(&ch, &classic, DURABLE, FieldTable::default()).await;
        for q in [&quorum, &classic] {
            let transient = BasicProperties::default().with_delivery_mode(1);
            publish_props(&ch, q, b"transient", transient).await;
        }
        guard(conn.close(200, "bye".into())).await.unwrap();
    }
    broker.shutdown().await;
    let broker = TestBroker::start_with(at(dir.path().to_path_buf())).await;
    let (_conn, ch) = broker.lapin_channel().await;
    let m = get(&ch, &quorum).await.expect("kept by the quorum queue");
    assert_eq!(body(&m), "transient");
    assert_eq!(
        m.delivery.properties.delivery_mode(),
        &Some(1),
        "as published"
    );
    assert!(
        get(&ch, &classic).await.is_none(),
        "a classic queue drops it"
    );
}

/// Publishes on a confirm channel; true when acked, false when nacked.
async fn acked(ch: &Channel, queue: &str, body: &[u8]) -> bool {
    let confirm = guard(ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    guard(confirm).await.unwrap().is_ack()
}

#[tokio::test]
async fn reject_publish_takes_one_past_the_limit_then_refuses_until_four_fifths() {
    let broker = TestBroker::start().await;
    let q = unique("qq-reject-publish");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let args = quorum_args(&[
        ("x-max-length", int(2)),
        ("x-overflow", s("reject-publish")),
    ]);
    declare(&ch, &q, DURABLE, args).await;
    let mut outcomes = Vec::new();
    for i in 0..6u8 {
        outcomes.push(acked(&ch, &q, &[i]).await);
    }
    assert_eq!(outcomes, [true, true, true, false, false, false]);
    // A new publisher is refused too.
    let (_conn2, other) = broker.lapin_confirm_channel().await;
    assert!(!acked(&other, &q, b"new").await);
    // Down to 2 (not under the mark of 1): still refused; down to 1: accepted again.
    assert!(get(&ch, &q).await.is_some_and(|m| m.delivery.data == [0]));
    guard(ch.basic_ack(1, Default::default())).await.unwrap();
    assert!(!acked(&ch, &q, b"x").await);
    assert!(get(&ch, &q).await.is_some_and(|m| m.delivery.data == [1]));
    guard(ch.basic_ack(2, Default::default())).await.unwrap();
    let outcomes = [
        acked(&ch, &q, b"a").await,
        acked(&ch, &q, b"b").await,
        acked(&ch, &q, b"c").await,
    ];
    assert_eq!(outcomes, [true, true, false]);
    assert_eq!(common::message_count(&ch, &q).await, 3);
    delete(&broker, &q).await;
}

#[tokio::test]
async fn reject_publish_dlx_acts_as_drop_head_on_a_quorum_queue() {
    let broker = TestBroker::start().await;
    let q = unique("qq-reject-dlx");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let args = quorum_args(&[
        ("x-max-length", int(1)),
        ("x-overflow", s("reject-publish-dlx")),
    ]);
    declare(&ch, &q, DURABLE, args).await;
    let outcomes = [
        acked(&ch, &q, b"a").await,
        acked(&ch, &q, b"b").await,
        acked(&ch, &q, b"c").await,
    ];
    assert_eq!(outcomes, [true, true, true]);
    let m = get(&ch, &q).await.expect("the newest message");
    assert_eq!(body(&m), "c");
    delete(&broker, &q).await;
}
