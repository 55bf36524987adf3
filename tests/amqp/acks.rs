//! Acknowledgements: ack/nack/reject with multiple and requeue, redelivery position,
//! unknown tags, basic.recover, and requeue on channel/connection close.

use crate::common;

use common::raw::Args;
use common::{TestBroker, body, consume, fresh_queue, guard, publish, publish_all};
use lapin::Channel;
use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicRecoverOptions,
    BasicRejectOptions,
};

/// basic.get without auto-ack; panics if the queue is empty.
async fn get(ch: &Channel, q: &str) -> BasicGetMessage {
    guard(ch.basic_get(q.into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .expect("a message")
}

/// Drains the queue with auto-ack basic.get, returning (body, redelivered) pairs.
async fn drain(ch: &Channel, q: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = guard(ch.basic_get(q.into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        out.push((body(&m.delivery), m.delivery.redelivered));
    }
    out
}

fn pairs(items: &[(&str, bool)]) -> Vec<(String, bool)> {
    items.iter().map(|(b, r)| (b.to_string(), *r)).collect()
}

#[tokio::test]
async fn acked_messages_are_gone_and_unacked_ones_are_not() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "ack").await;
    publish_all(&ch, &q, &["a", "b"]).await;
    let a = get(&ch, &q).await;
    guard(a.delivery.ack(BasicAckOptions::default()))
        .await
        .unwrap();
    let b = get(&ch, &q).await;
    guard(b.delivery.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(drain(&ch, &q).await, pairs(&[("b", true)]));
}

#[tokio::test]
async fn ack_multiple_acknowledges_every_tag_up_to_and_including_it() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "ack-multi").await;
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    for _ in 0..3 {
        get(&ch, &q).await;
    }
    guard(ch.basic_ack(2, BasicAckOptions { multiple: true }))
        .await
        .unwrap();
    guard(ch.basic_recover(BasicRecoverOptions { requeue: true }))
        .await
        .unwrap();
    assert_eq!(drain(&ch, &q).await, pairs(&[("3", true)]));
}

#[tokio::test]
async fn ack_of_tag_zero_with_multiple_acknowledges_everything_outstanding() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "ack-zero").await;
    publish_all(&ch, &q, &["1", "2"]).await;
    get(&ch, &q).await;
    get(&ch, &q).await;
    guard(ch.basic_ack(0, BasicAckOptions { multiple: true }))
        .await
        .unwrap();
    guard(ch.basic_recover(BasicRecoverOptions { requeue: true }))
        .await
        .unwrap();
    assert!(drain(&ch, &q).await.is_empty());
}

#[tokio::test]
async fn nack_with_requeue_puts_the_message_back_in_its_original_position() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "nack-pos").await;
    publish_all(&ch, &q, &["m1", "m2", "m3"]).await;
    let m1 = get(&ch, &q).await;
    assert!(!m1.delivery.redelivered);
    guard(m1.delivery.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(
        drain(&ch, &q).await,
        pairs(&[("m1", true), ("m2", false), ("m3", false)])
    );
}

#[tokio::test]
async fn requeued_messages_keep_their_relative_order_whatever_the_nack_order() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "requeue-order").await;
    publish_all(&ch, &q, &["m1", "m2", "m3", "m4"]).await;
    let m1 = get(&ch, &q).await;
    let m2 = get(&ch, &q).await;
    guard(m2.delivery.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    guard(m1.delivery.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(
        drain(&ch, &q).await,
        pairs(&[("m1", true), ("m2", true), ("m3", false), ("m4", false)])
    );
}

#[tokio::test]
async fn nack_multiple_without_requeue_discards_every_tag_up_to_it() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "nack-drop").await;
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    get(&ch, &q).await;
    get(&ch, &q).await;
    guard(ch.basic_nack(
        2,
        BasicNackOptions {
            multiple: true,
            requeue: false,
        },
    ))
    .await
    .unwrap();
    assert_eq!(drain(&ch, &q).await, pairs(&[("3", false)]));
}

#[tokio::test]
async fn nack_multiple_with_requeue_returns_every_tag_up_to_it() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "nack-requeue").await;
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    get(&ch, &q).await;
    get(&ch, &q).await;
    guard(ch.basic_nack(
        2,
        BasicNackOptions {
            multiple: true,
            requeue: true,
        },
    ))
    .await
    .unwrap();
    assert_eq!(
        drain(&ch, &q).await,
        pairs(&[("1", true), ("2", true), ("3", false)])
    );
}

#[tokio::test]
async fn reject_with_requeue_redelivers_and_without_requeue_discards() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "reject").await;
    publish_all(&ch, &q, &["keep", "drop"]).await;
    let keep = get(&ch, &q).await;
    let drop = get(&ch, &q).await;
    guard(drop.delivery.reject(BasicRejectOptions { requeue: false }))
        .await
        .unwrap();
    guard(keep.delivery.reject(BasicRejectOptions { requeue: true }))
        .await
        .unwrap();
    assert_eq!(drain(&ch, &q).await, pairs(&[("keep", true)]));
}

#[tokio::test]
async fn acking_an_unknown_delivery_tag_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.open_channel(2).await;
    c.ack(1, 99, false).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    assert_eq!(close.text, "PRECONDITION_FAILED - unknown delivery tag 99");
    assert_eq!((close.class_id, close.method_id), (60, 80));
    c.sync(2).await;
}

#[tokio::test]
async fn acking_the_same_delivery_twice_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    c.publish(1, "", &q, b"once").await;
    c.consume(1, &q, "t", false).await;
    let d = c.expect_delivery().await;
    c.ack(1, d.delivery_tag, false).await;
    c.ack(1, d.delivery_tag, false).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    assert_eq!(
        close.text,
        format!(
            "PRECONDITION_FAILED - unknown delivery tag {}",
            d.delivery_tag
        )
    );
    assert_eq!((close.class_id, close.method_id), (60, 80));
}

#[tokio::test]
async fn rejecting_an_unknown_delivery_tag_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let args = Args::new().u64(7).bits(&[true]).build();
    c.send_method(1, 60, 90, &args).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!((close.code, close.class_id, close.method_id), (406, 60, 90));
    assert_eq!(close.text, "PRECONDITION_FAILED - unknown delivery tag 7");
}

#[tokio::test]
async fn nacking_an_unknown_delivery_tag_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let args = Args::new().u64(3).bits(&[false, true]).build();
    c.send_method(1, 60, 120, &args).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(
        (close.code, close.class_id, close.method_id),
        (406, 60, 120)
    );
    assert_eq!(close.text, "PRECONDITION_FAILED - unknown delivery tag 3");
}

#[tokio::test]
async fn acking_a_no_ack_delivery_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    c.consume(1, &q, "auto", true).await;
    c.publish(1, "", &q, b"x").await;
    let d = c.expect_delivery().await;
    c.ack(1, d.delivery_tag, false).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!((close.code, close.class_id, close.method_id), (406, 60, 80));
    assert_eq!(close.text, "PRECONDITION_FAILED - unknown delivery tag 1");
}

#[tokio::test]
async fn basic_recover_with_requeue_redelivers_unacked_messages_to_the_consumer() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "recover").await;
    let mut d = consume(&ch, &q, BasicConsumeOptions::default()).await;
    publish_all(&ch, &q, &["r1", "r2"]).await;
    let first = d.take(2).await;
    assert!(first.iter().all(|m| !m.redelivered));
    guard(ch.basic_recover(BasicRecoverOptions { requeue: true }))
        .await
        .unwrap();
    let again = d.take(2).await;
    assert_eq!(again.iter().map(body).collect::<Vec<_>>(), vec!["r1", "r2"]);
    assert!(again.iter().all(|m| m.redelivered));
    assert!(
        again[0].delivery_tag > first[1].delivery_tag,
        "new delivery tags"
    );
}

#[tokio::test]
async fn unacked_deliveries_are_requeued_in_order_when_the_channel_closes() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "close-requeue").await;
    let ch1 = guard(conn.create_channel()).await.unwrap();
    let mut first = consume(&ch1, &q, BasicConsumeOptions::default()).await;
    publish_all(&ch, &q, &["c1", "c2", "c3"]).await;
    let got = first.take(3).await;
    guard(got[1].ack(BasicAckOptions::default())).await.unwrap();
    let mut second = consume(&ch, &q, BasicConsumeOptions::default()).await;
    guard(ch1.close(200, "bye".into())).await.unwrap();
    let back = second.take(2).await;
    assert_eq!(back.iter().map(body).collect::<Vec<_>>(), vec!["c1", "c3"]);
    assert!(back.iter().all(|m| m.redelivered));
}

#[tokio::test]
async fn unacked_deliveries_are_requeued_when_the_connection_closes() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "conn-requeue").await;
    let (conn2, ch2) = broker.lapin_channel().await;
    let mut first = consume(&ch2, &q, BasicConsumeOptions::default()).await;
    publish_all(&ch, &q, &["k1", "k2"]).await;
    assert_eq!(first.bodies(2).await, vec!["k1", "k2"]);
    let mut second = consume(&ch, &q, BasicConsumeOptions::default()).await;
    guard(conn2.close(200, "bye".into())).await.unwrap();
    let back = second.take(2).await;
    assert_eq!(back.iter().map(body).collect::<Vec<_>>(), vec!["k1", "k2"]);
    assert!(back.iter().all(|m| m.redelivered));
    publish(&ch, "", &q, b"k3").await;
    let fresh = second.next().await;
    assert_eq!((body(&fresh), fresh.redelivered), ("k3".to_string(), false));
}
