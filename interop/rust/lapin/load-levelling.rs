//! lapin: load levelling. With no consumer attached, a burst of `INTEROP_BURST` (default
//! 100,000) small messages, each carrying its sequence number, is published with publisher
//! confirms (a window of 5,000 in flight, every one acked) through a direct exchange,
//! alternating between the keys `q0` and `q1`, each bound to its own durable queue.
//!
//! Checks: each queue's depth is exactly half the burst (passive queue.declare); then both
//! are drained at once by consumers with prefetch 1,000 that ack with `multiple` every
//! 100 deliveries: every message arrives once, strictly in publish order per queue, with
//! exactly the published body, none redelivered; both queues end empty and everything is
//! deleted. The bodies and the order check are shared with amqprs (`interop::levelling`).

use std::collections::VecDeque;
use std::time::Instant;

use interop::levelling;
use interop::lp::{self, depth};
use interop::{bounded_secs, unique};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ExchangeKind, PublisherConfirm};

const WINDOW: usize = 5000;
const ACK_EVERY: u64 = 100;

/// Drains `queue` (which holds `expected` messages numbered 0, 2, 4, ... or 1, 3, 5, ...
/// as `first`, `first + 2`, ...) in order; returns how many arrived.
async fn drain(conn: &Connection, queue: String, first: u64, expected: u64) -> u64 {
    let ch = conn.create_channel().await.expect("consumer channel");
    ch.basic_qos(1000, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let tag = format!("drain-{first}");
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");
    let mut got = 0u64;
    while got < expected {
        let d = lp::next(&mut consumer, "a queued message").await;
        let seq = levelling::check(&queue, first, got, &d.data);
        assert!(!d.redelivered, "{queue}: message {seq} flagged redelivered");
        got += 1;
        if got.is_multiple_of(ACK_EVERY) || got == expected {
            d.acker
                .ack(BasicAckOptions { multiple: true })
                .await
                .expect("basic.ack multiple");
        }
    }
    ch.basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await
        .expect("basic.cancel");
    assert_eq!(depth(&ch, &queue).await, 0, "{queue} empty after draining");
    ch.close(200, "bye".into()).await.expect("channel close");
    got
}

#[tokio::main]
async fn main() {
    let n = levelling::burst();
    let exchange = unique("lapin.levelling");
    let queues = [unique("lapin.levelling-q0"), unique("lapin.levelling-q1")];

    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("channel");
    lp::declare_exchange(
        &ch,
        &exchange,
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
    )
    .await;
    for (i, q) in queues.iter().enumerate() {
        lp::declare_queue(&ch, q, QueueDeclareOptions::durable()).await;
        lp::bind(&ch, q, &exchange, &format!("q{i}"), FieldTable::default()).await;
    }

    // The burst, nobody consuming: sequence number then 0..31 bytes of padding.
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    let started = Instant::now();
    let mut in_flight: VecDeque<PublisherConfirm> = VecDeque::with_capacity(WINDOW);
    let mut acked = 0u64;
    bounded_secs(90, "the burst to be confirmed", async {
        for seq in 0..n {
            if in_flight.len() == WINDOW {
                lp::acked(in_flight.pop_front().unwrap(), "a burst confirm").await;
                acked += 1;
            }
            let body = levelling::body(seq);
            let key = levelling::key(seq);
            let confirm = ch
                .basic_publish(
                    exchange.as_str().into(),
                    key.into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default(),
                )
                .await
                .expect("basic.publish");
            in_flight.push_back(confirm);
        }
        for confirm in in_flight.drain(..) {
            lp::acked(confirm, "a burst confirm").await;
            acked += 1;
        }
    })
    .await;
    assert_eq!(acked, n, "burst publishes acked");
    for q in &queues {
        assert_eq!(
            u64::from(depth(&ch, q).await),
            n / 2,
            "depth of {q} after the burst"
        );
    }

    let published = started.elapsed();
    let started = Instant::now();
    let consumers = lp::connect().await;
    let (got0, got1) = bounded_secs(90, "both queues to drain", async {
        tokio::join!(
            drain(&consumers, queues[0].clone(), 0, n / 2),
            drain(&consumers, queues[1].clone(), 1, n / 2)
        )
    })
    .await;
    assert_eq!((got0, got1), (n / 2, n / 2), "messages drained per queue");
    consumers.close(200, "bye".into()).await.expect("close");
    let drained = started.elapsed();

    for q in &queues {
        let left = ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("queue.delete");
        assert_eq!(left, 0, "{q} empty when deleted");
    }
    ch.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .expect("exchange.delete");
    conn.close(200, "bye".into()).await.expect("close");
    println!(
        "lapin load levelling: {n} messages queued in {published:.1?}, drained in order in {drained:.1?}"
    );
}
