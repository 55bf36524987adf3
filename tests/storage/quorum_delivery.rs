//! Quorum queues' delivery counting as RabbitMQ 3.10.8 does it: the `x-delivery-count`
//! header, delivery limits (argument and policy) with dead-lettering, and reject-publish.
//! Recorded from RabbitMQ with `interop/probes/quorum.py`; the AMQP-only tests also pass
//! against it: `WARREN_TEST_URI=amqp://guest:guest@127.0.0.1:5672/%2f cargo test --test
//! storage quorum_delivery::`.

use crate::common;

use common::mgmt::Api;
use common::quorum::*;
use common::{TestBroker, guard, unique};
use lapin::BasicProperties;
use lapin::options::{BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;

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
