//! basic.qos: per-consumer and per-channel prefetch limits.
//!
//! Absence of extra deliveries is proven with the queue's ready count (which RabbitMQ
//! reports after its dispatch for a consume has run) and by a later unlimited consumer
//! on another channel receiving exactly the remaining messages.

use crate::common;

use common::raw::Args;
use common::{
    Deliveries, TestBroker, body, consume, fresh_queue, guard, message_count, publish_all,
};
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};

const NO_ACK: BasicConsumeOptions = BasicConsumeOptions {
    no_local: false,
    no_ack: true,
    exclusive: false,
    nowait: false,
};

async fn qos(ch: &Channel, count: u16, global: bool) {
    guard(ch.basic_qos(count, BasicQosOptions { global }))
        .await
        .unwrap();
}

fn bodies(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("m{i}")).collect()
}

async fn publish_n(ch: &Channel, q: &str, n: usize) {
    let owned = bodies(n);
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    publish_all(ch, q, &refs).await;
}

/// Takes `n` deliveries from whichever of `a`/`b` has them; returns how many each got.
async fn take_from_either(a: &mut Deliveries, b: &mut Deliveries, n: usize) -> (usize, usize) {
    let (mut na, mut nb) = (0, 0);
    for _ in 0..n {
        tokio::select! {
            d = a.next() => { let _ = d; na += 1; }
            d = b.next() => { let _ = d; nb += 1; }
        }
    }
    (na, nb)
}

/// An unlimited consumer on a new connection receives exactly `expected` more messages.
async fn remaining_go_to_a_fresh_consumer(broker: &TestBroker, q: &str, expected: usize) {
    let (_conn, ch) = broker.lapin_channel().await;
    let mut d = consume(
        &ch,
        q,
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
    )
    .await;
    d.take(expected).await;
    assert_eq!(message_count(&ch, q).await, 0);
}

#[tokio::test]
async fn per_consumer_prefetch_limits_unacked_deliveries() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch").await;
    publish_n(&publisher, &q, 5).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 2, false).await;
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let got = a.take(2).await;
    assert_eq!(got.iter().map(body).collect::<Vec<_>>(), vec!["m1", "m2"]);
    assert_eq!(message_count(&publisher, &q).await, 3);
    guard(got[0].ack(BasicAckOptions::default())).await.unwrap();
    assert_eq!(body(&a.next().await), "m3");
    assert_eq!(message_count(&publisher, &q).await, 2);
    remaining_go_to_a_fresh_consumer(&broker, &q, 2).await;
}

#[tokio::test]
async fn per_consumer_prefetch_applies_to_each_consumer_separately() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-each").await;
    publish_n(&publisher, &q, 5).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 1, false).await;
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let mut b = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(body(&a.next().await), "m1");
    assert_eq!(body(&b.next().await), "m2");
    assert_eq!(message_count(&publisher, &q).await, 3);
    remaining_go_to_a_fresh_consumer(&broker, &q, 3).await;
}

#[tokio::test]
async fn global_prefetch_is_shared_by_all_consumers_on_the_channel() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-global").await;
    publish_n(&publisher, &q, 6).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 3, true).await;
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let mut b = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let (na, nb) = take_from_either(&mut a, &mut b, 3).await;
    assert_eq!(na + nb, 3);
    assert_eq!(message_count(&publisher, &q).await, 3);
    remaining_go_to_a_fresh_consumer(&broker, &q, 3).await;
}

#[tokio::test]
async fn per_consumer_and_global_prefetch_apply_together() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-both").await;
    publish_n(&publisher, &q, 10).await;
    let (_conn, ch) = broker.lapin_channel().await;
    // Per-consumer first: RabbitMQ's per-consumer qos clears an earlier global limit.
    qos(&ch, 1, false).await;
    qos(&ch, 3, true).await;
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(body(&a.next().await), "m1");
    let mut b = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(body(&b.next().await), "m2");
    // Each consumer is capped at 1, so two deliveries only.
    assert_eq!(message_count(&publisher, &q).await, 8);
    let mut c = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(body(&c.next().await), "m3");
    // The channel is now at its global limit of 3: a fourth consumer gets nothing.
    let _d = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(message_count(&publisher, &q).await, 7);
    remaining_go_to_a_fresh_consumer(&broker, &q, 7).await;
}

#[tokio::test]
async fn per_consumer_qos_after_a_global_qos_lifts_the_channel_limit() {
    // RabbitMQ quirk: basic.qos(global=false) resets the channel-wide prefetch.
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-reset").await;
    publish_n(&publisher, &q, 6).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 2, true).await;
    qos(&ch, 1, false).await;
    let mut consumers = Vec::new();
    for expected in ["m1", "m2", "m3"] {
        let mut d = consume(&ch, &q, BasicConsumeOptions::default()).await;
        assert_eq!(body(&d.next().await), expected);
        consumers.push(d);
    }
    assert_eq!(message_count(&publisher, &q).await, 3);
}

#[tokio::test]
async fn prefetch_zero_means_unlimited() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-zero").await;
    publish_n(&publisher, &q, 50).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 0, false).await;
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let got = a.take(50).await;
    assert_eq!(got.iter().map(body).collect::<Vec<_>>(), bodies(50));
    assert_eq!(message_count(&publisher, &q).await, 0);
}

#[tokio::test]
async fn no_ack_consumers_ignore_the_prefetch_limit() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-noack").await;
    publish_n(&publisher, &q, 5).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 1, false).await;
    let mut a = consume(&ch, &q, NO_ACK).await;
    assert_eq!(a.bodies(5).await, bodies(5));
}

#[tokio::test]
async fn raising_the_prefetch_lets_waiting_messages_flow() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-raise").await;
    publish_n(&publisher, &q, 3).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 1, true).await;
    let mut a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(body(&a.next().await), "m1");
    assert_eq!(message_count(&publisher, &q).await, 2);
    qos(&ch, 3, true).await;
    assert_eq!(a.bodies(2).await, vec!["m2", "m3"]);
}

#[tokio::test]
async fn nonzero_prefetch_size_closes_the_connection_with_540() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let args = Args::new().u32(4096).u16(0).bits(&[false]).build();
    c.send_method(1, 60, 10, &args).await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 540);
    assert_eq!(close.text, "NOT_IMPLEMENTED - prefetch_size!=0 (4096)");
    assert_eq!((close.class_id, close.method_id), (60, 10));
}

#[tokio::test]
async fn per_consumer_prefetch_binds_only_consumers_started_after_it() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-later").await;
    let (_conn, ch) = broker.lapin_channel().await;
    let mut early = consume(&ch, &q, BasicConsumeOptions::default()).await;
    qos(&ch, 1, false).await;
    let mut late = consume(&ch, &q, BasicConsumeOptions::default()).await;
    publish_n(&publisher, &q, 6).await;
    // Round-robin while both have room; then the unlimited early consumer takes the rest.
    let (ne, nl) = take_from_either(&mut early, &mut late, 6).await;
    assert_eq!((ne, nl), (5, 1));
    assert_eq!(message_count(&publisher, &q).await, 0);
}

#[tokio::test]
async fn a_channel_at_its_global_prefetch_stops_its_no_ack_consumers_too() {
    let broker = TestBroker::start().await;
    let (_pc, publisher) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&publisher, "prefetch-global-noack").await;
    publish_n(&publisher, &q, 6).await;
    let (_conn, ch) = broker.lapin_channel().await;
    qos(&ch, 1, true).await;
    let mut acking = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert_eq!(acking.bodies(1).await, ["m1"]);
    // As RabbitMQ: the channel is full, so its no-ack consumer gets nothing either.
    let _no_ack = consume(&ch, &q, NO_ACK).await;
    assert_eq!(message_count(&publisher, &q).await, 5);
    remaining_go_to_a_fresh_consumer(&broker, &q, 5).await;
}
