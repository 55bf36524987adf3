//! Transactions: publishes and acks held until commit, rollback, and misuse.

use crate::common;

use common::{TestBroker, body, fresh_queue, get_body, guard, publish, publish_all, unique};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicQosOptions, BasicRecoverOptions};

#[tokio::test]
async fn published_messages_are_invisible_until_commit() {
    let broker = TestBroker::start().await;
    let (conn, tx) = broker.lapin_channel().await;
    let q = fresh_queue(&tx, "tx-pub").await;
    let observer = guard(conn.create_channel()).await.unwrap();
    guard(tx.tx_select()).await.unwrap();
    publish_all(&tx, &q, &["a", "b"]).await;
    // A round trip on the transactional channel proves it has handled both publishes.
    guard(tx.basic_qos(0, BasicQosOptions::default()))
        .await
        .unwrap();
    assert_eq!(get_body(&observer, &q).await, None);
    guard(tx.tx_commit()).await.unwrap();
    assert_eq!(get_body(&observer, &q).await.as_deref(), Some("a"));
    assert_eq!(get_body(&observer, &q).await.as_deref(), Some("b"));
    assert_eq!(get_body(&observer, &q).await, None);
}

#[tokio::test]
async fn rollback_discards_uncommitted_publishes() {
    let broker = TestBroker::start().await;
    let (conn, tx) = broker.lapin_channel().await;
    let q = fresh_queue(&tx, "tx-rollback").await;
    let observer = guard(conn.create_channel()).await.unwrap();
    guard(tx.tx_select()).await.unwrap();
    publish(&tx, "", &q, b"discarded").await;
    guard(tx.tx_rollback()).await.unwrap();
    publish(&tx, "", &q, b"kept").await;
    guard(tx.tx_commit()).await.unwrap();
    assert_eq!(get_body(&observer, &q).await.as_deref(), Some("kept"));
    assert_eq!(get_body(&observer, &q).await, None);
}

#[tokio::test]
async fn the_channel_stays_transactional_after_a_commit() {
    let broker = TestBroker::start().await;
    let (conn, tx) = broker.lapin_channel().await;
    let q = fresh_queue(&tx, "tx-again").await;
    let observer = guard(conn.create_channel()).await.unwrap();
    guard(tx.tx_select()).await.unwrap();
    publish(&tx, "", &q, b"first").await;
    guard(tx.tx_commit()).await.unwrap();
    publish(&tx, "", &q, b"second").await;
    guard(tx.basic_qos(0, BasicQosOptions::default()))
        .await
        .unwrap();
    assert_eq!(get_body(&observer, &q).await.as_deref(), Some("first"));
    assert_eq!(get_body(&observer, &q).await, None);
    guard(tx.tx_commit()).await.unwrap();
    assert_eq!(get_body(&observer, &q).await.as_deref(), Some("second"));
}

#[tokio::test]
async fn acks_inside_a_transaction_take_effect_on_commit() {
    let broker = TestBroker::start().await;
    let (_conn, tx) = broker.lapin_channel().await;
    let q = fresh_queue(&tx, "tx-ack").await;
    publish_all(&tx, &q, &["m1", "m2"]).await;
    guard(tx.tx_select()).await.unwrap();
    let m1 = guard(tx.basic_get(q.as_str().into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    guard(m1.delivery.ack(BasicAckOptions::default()))
        .await
        .unwrap();
    guard(tx.tx_commit()).await.unwrap();
    guard(tx.basic_recover(BasicRecoverOptions { requeue: true }))
        .await
        .unwrap();
    assert_eq!(get_body(&tx, &q).await.as_deref(), Some("m2"));
    assert_eq!(get_body(&tx, &q).await, None);
}

#[tokio::test]
async fn rollback_discards_uncommitted_acks() {
    let broker = TestBroker::start().await;
    let (_conn, tx) = broker.lapin_channel().await;
    let q = fresh_queue(&tx, "tx-ack-rollback").await;
    publish(&tx, "", &q, b"m1").await;
    guard(tx.tx_select()).await.unwrap();
    let m1 = guard(tx.basic_get(q.as_str().into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    guard(m1.delivery.ack(BasicAckOptions::default()))
        .await
        .unwrap();
    guard(tx.tx_rollback()).await.unwrap();
    // The ack was discarded, so the message is still unacked and can be recovered.
    guard(tx.basic_recover(BasicRecoverOptions { requeue: true }))
        .await
        .unwrap();
    let again = guard(tx.basic_get(q.as_str().into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .expect("m1 back in the queue");
    assert_eq!(body(&again.delivery), "m1");
    assert!(again.delivery.redelivered);
}

#[tokio::test]
async fn tx_select_twice_is_allowed() {
    let broker = TestBroker::start().await;
    let (_conn, tx) = broker.lapin_channel().await;
    guard(tx.tx_select()).await.unwrap();
    guard(tx.tx_select()).await.unwrap();
    guard(tx.tx_commit()).await.unwrap();
}

#[tokio::test]
async fn tx_commit_without_tx_select_fails_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send_method(1, 90, 20, &[]).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    assert_eq!(
        close.text,
        "PRECONDITION_FAILED - channel is not transactional"
    );
    assert_eq!((close.class_id, close.method_id), (90, 20));
}

#[tokio::test]
async fn tx_rollback_without_tx_select_fails_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send_method(1, 90, 30, &[]).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    assert_eq!(
        close.text,
        "PRECONDITION_FAILED - channel is not transactional"
    );
    assert_eq!((close.class_id, close.method_id), (90, 30));
}

#[tokio::test]
async fn lapin_reports_406_for_commit_without_select() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    common::assert_amqp_error(
        guard(ch.tx_commit()).await,
        406,
        "PRECONDITION_FAILED - channel is not transactional",
    );
}

#[tokio::test]
async fn a_consumer_on_the_committing_channel_gets_the_messages_before_commit_ok() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, &unique("tx-self"), true).await;
    c.consume(1, &q, "self", true).await;
    c.send_method(1, 90, 10, &[]).await;
    c.expect_method(90, 11).await;
    c.publish(1, "", &q, b"a").await;
    c.publish(1, "", &q, b"b").await;
    c.send_method(1, 90, 20, &[]).await;
    assert_eq!(c.expect_delivery().await.body, b"a");
    assert_eq!(c.expect_delivery().await.body, b"b");
    c.expect_method(90, 21).await;
}
