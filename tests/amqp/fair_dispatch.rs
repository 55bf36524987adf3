//! Competing consumers with prefetch limits: which consumer gets the next message. RabbitMQ
//! serves consumers in rotation; one passed over because it was full rejoins at the back of
//! the rotation once an ack frees it (not at its old place).

use crate::common;

use common::{Deliveries, TestBroker, body, consume, fresh_queue, guard, publish_all};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};

/// Which of `a` and `b` the next single delivery goes to, with its body.
async fn next_of(a: &mut Deliveries, b: &mut Deliveries) -> (&'static str, String) {
    tokio::select! {
        d = a.next() => ("a", body(&d)),
        d = b.next() => ("b", body(&d)),
    }
}

#[tokio::test]
async fn a_consumer_passed_over_while_full_rejoins_the_rotation_at_the_back() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "rejoin").await;
    guard(ch.basic_qos(2, BasicQosOptions::default()))
        .await
        .unwrap();
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    publish_all(&ch, &q, &["m0", "m1", "m2"]).await;
    assert_eq!(a.bodies(2).await, ["m0", "m1"]);
    // m2 waited for a consumer with room: the new one.
    let mut b = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let m2 = b.next().await;
    assert_eq!(body(&m2), "m2");
    // Frees both; a was passed over while full, so it is now behind b.
    guard(m2.acker.ack(BasicAckOptions { multiple: true }))
        .await
        .unwrap();
    // One at a time, so each delivery is the only one either consumer can see.
    publish_all(&ch, &q, &["m3"]).await;
    assert_eq!(next_of(&mut a, &mut b).await, ("b", "m3".to_string()));
    publish_all(&ch, &q, &["m4"]).await;
    assert_eq!(next_of(&mut a, &mut b).await, ("a", "m4".to_string()));
}
