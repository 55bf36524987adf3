//! basic.recover and multiple nacks with several consumers on one channel: RabbitMQ returns
//! the unacked messages one consumer at a time (consumer tags in byte order), and each group
//! is redelivered before the next comes back, so consumers with room get them in that order.

use crate::common;

use common::TestBroker;
use common::raw::{Args, RawConn};
use common::unique;

/// Channel 1 with consumers "a" and "b" on a fresh queue, which received m0..m3 round-robin
/// (a: m0, m2; b: m1, m3), all unacked.
async fn two_consumers_holding_four(broker: &TestBroker) -> RawConn {
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, &unique("recover-order"), true).await;
    c.consume(1, &q, "a", false).await;
    c.consume(1, &q, "b", false).await;
    for m in ["m0", "m1", "m2", "m3"] {
        c.publish(1, "", &q, m.as_bytes()).await;
    }
    let mut first = Vec::new();
    for _ in 0..4 {
        let d = c.expect_delivery().await;
        first.push((d.consumer_tag, String::from_utf8(d.body).unwrap()));
    }
    let expected = [("a", "m0"), ("b", "m1"), ("a", "m2"), ("b", "m3")];
    assert_eq!(first, expected.map(|(t, m)| (t.to_string(), m.to_string())));
    c
}

/// The next four deliveries as (consumer, body, redelivered).
async fn redeliveries(c: &mut RawConn) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for _ in 0..4 {
        let d = c.expect_delivery().await;
        out.push((
            d.consumer_tag,
            String::from_utf8(d.body).unwrap(),
            d.redelivered,
        ));
    }
    out
}

fn expected_regrouped() -> Vec<(String, String, bool)> {
    // a's messages come back first (m0, m2), then b's (m1, m3); each is handed out in turn.
    [("a", "m0"), ("b", "m2"), ("a", "m1"), ("b", "m3")]
        .map(|(t, m)| (t.to_string(), m.to_string(), true))
        .to_vec()
}

#[tokio::test]
async fn basic_recover_returns_the_unacked_messages_one_consumer_at_a_time() {
    let broker = TestBroker::start().await;
    let mut c = two_consumers_holding_four(&broker).await;
    c.send_method(1, 60, 110, &Args::new().bits(&[true]).build())
        .await;
    c.expect_method(60, 111).await;
    assert_eq!(redeliveries(&mut c).await, expected_regrouped());
}

#[tokio::test]
async fn a_multiple_nack_with_requeue_returns_them_one_consumer_at_a_time() {
    let broker = TestBroker::start().await;
    let mut c = two_consumers_holding_four(&broker).await;
    let nack = Args::new().u64(0).bits(&[true, true]).build();
    c.send_method(1, 60, 120, &nack).await;
    assert_eq!(redeliveries(&mut c).await, expected_regrouped());
}
