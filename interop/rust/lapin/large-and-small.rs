//! lapin: one large and many small messages. A 16 MiB body of random bytes is published
//! with a publisher confirm and consumed back; then 10,000 small messages of 0..100 random
//! bytes (lengths cycling 0, 1, ..., 100, so the first body is empty) are published with
//! confirms (500 in flight) and consumed back with prefetch 500 and multiple acks.
//!
//! Checks: every publish acked; the large body comes back byte for byte (length and full
//! comparison), not redelivered; the small ones arrive in publish order with exactly their
//! bodies; the queue ends empty and is deleted.

use std::collections::VecDeque;

use interop::lp::{self, depth};
use interop::{Rng, bounded, unique};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};

const LARGE: usize = 16 * 1024 * 1024;
const SMALL: usize = 10_000;
const WINDOW: usize = 500;

async fn publish(ch: &Channel, queue: &str, body: &[u8]) -> lapin::PublisherConfirm {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default().with_content_type("application/octet-stream".into()),
    )
    .await
    .expect("basic.publish")
}

#[tokio::main]
async fn main() {
    let mut rng = Rng::from_clock();
    let queue = unique("lapin.large-small");
    let conn = lp::connect().await;
    let ch = lp::confirm_channel(&conn).await;
    lp::declare_queue(&ch, &queue, QueueDeclareOptions::default()).await;

    let consume_ch = conn.create_channel().await.expect("channel");
    consume_ch
        .basic_qos(WINDOW as u16, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let mut consumer = consume_ch
        .basic_consume(
            queue.as_str().into(),
            "large-and-small".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");

    // One 16 MiB message.
    let large = rng.bytes(LARGE);
    lp::acked(publish(&ch, &queue, &large).await, "the 16 MiB publish").await;
    let d = lp::next(&mut consumer, "the 16 MiB message").await;
    assert_eq!(d.data.len(), LARGE, "length of the large body");
    assert!(d.data == large, "the large body came back byte for byte");
    assert!(!d.redelivered);
    assert_eq!(
        d.properties.content_type().as_ref().map(|s| s.as_str()),
        Some("application/octet-stream")
    );
    d.ack(BasicAckOptions::default()).await.expect("basic.ack");
    drop(large);

    // 10,000 small ones, confirmed with a window, consumed concurrently.
    let bodies: Vec<Vec<u8>> = (0..SMALL).map(|i| rng.bytes(i % 101)).collect();
    assert!(bodies[0].is_empty() && bodies[100].len() == 100);
    let expected = bodies.clone();
    let reader = tokio::spawn(async move {
        for (i, want) in expected.iter().enumerate() {
            let d = lp::next(&mut consumer, "a small message").await;
            assert!(
                d.data == *want,
                "small message {i}: got {} bytes {:?}, want {} bytes {:?}",
                d.data.len(),
                &d.data[..d.data.len().min(16)],
                want.len(),
                &want[..want.len().min(16)]
            );
            assert!(!d.redelivered, "small message {i} redelivered");
            if i % 100 == 99 || i + 1 == expected.len() {
                d.ack(BasicAckOptions { multiple: true })
                    .await
                    .expect("basic.ack multiple");
            }
        }
    });
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for body in &bodies {
        if in_flight.len() == WINDOW {
            lp::acked(in_flight.pop_front().unwrap(), "a small publish").await;
        }
        in_flight.push_back(publish(&ch, &queue, body).await);
    }
    for confirm in in_flight {
        lp::acked(confirm, "a small publish").await;
    }
    bounded("the small messages to be consumed", reader)
        .await
        .expect("reader task");

    consume_ch
        .basic_cancel("large-and-small".into(), BasicCancelOptions::default())
        .await
        .expect("basic.cancel");
    assert_eq!(depth(&ch, &queue).await, 0, "queue empty");
    let left = ch
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("queue.delete");
    assert_eq!(left, 0);
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin large and small: one 16 MiB body, {SMALL} small bodies, all intact");
}
