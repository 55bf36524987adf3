//! Frame order on a connection's write path (issue #11): whatever the write path does to
//! save wake-ups or batch writes, frames must leave in the order they were produced. Many
//! channels of one connection publish and consume at once (their deliveries, content frames
//! and acks interleave on the same socket), and a consumer that stops reading fills its
//! socket, so its writer has to wait and resume. Bodies and per-queue order are checked.
//! Runs against an external broker with `WARREN_TEST_URI`.

use crate::common;

use common::{Deliveries, TestBroker, consume, fresh_queue, guard};
use futures_util::future::join_all;
use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions};

/// Channels publishing and consuming at once on the one connection.
const CHANNELS: usize = 8;
/// Messages each channel publishes to its own queue.
const PER_CHANNEL: usize = 200;

/// A body naming its channel and number, padded to a size that varies with `i`: small
/// (copied into the encoding block), 5000 B (passed as its own slice), and 140,000 B (more
/// than the default frame_max, so cut into several body frames).
fn body_of(channel: usize, i: usize) -> Vec<u8> {
    let size = match i % 4 {
        0 => 16,
        1 => 1000,
        2 => 5000,
        _ => 140_000,
    };
    let mut body = format!("ch{channel}-{i}:").into_bytes();
    let fill = (channel * 31 + i) as u8;
    body.resize(size.max(body.len()), fill);
    body
}

#[tokio::test]
async fn many_channels_on_one_connection_keep_bodies_and_order() {
    let broker = TestBroker::start().await;
    let conn = broker.lapin().await;
    let mut setups = Vec::new();
    for c in 0..CHANNELS {
        let ch = guard(conn.create_channel()).await.unwrap();
        let queue = fresh_queue(&ch, &format!("write-order-{c}")).await;
        // Even channels acknowledge each delivery, odd ones consume with no-ack.
        let no_ack = c % 2 == 1;
        let opts = BasicConsumeOptions {
            no_ack,
            ..BasicConsumeOptions::default()
        };
        let deliveries = consume(&ch, &queue, opts).await;
        setups.push((c, ch, queue, deliveries, no_ack));
    }
    let tasks = setups
        .into_iter()
        .map(|(c, ch, queue, mut deliveries, no_ack)| async move {
            let publisher = {
                let ch = ch.clone();
                let queue = queue.clone();
                async move {
                    for i in 0..PER_CHANNEL {
                        guard(ch.basic_publish(
                            "".into(),
                            queue.as_str().into(),
                            BasicPublishOptions::default(),
                            &body_of(c, i),
                            BasicProperties::default(),
                        ))
                        .await
                        .unwrap();
                    }
                }
            };
            let consumer = async {
                for i in 0..PER_CHANNEL {
                    let d = deliveries.next().await;
                    assert_eq!(d.data, body_of(c, i), "channel {c}, message {i}");
                    if !no_ack {
                        guard(d.acker.ack(BasicAckOptions::default()))
                            .await
                            .unwrap();
                    }
                }
            };
            tokio::join!(publisher, consumer);
            deliveries_left(&mut deliveries, c);
        });
    join_all(tasks).await;
    broker.shutdown().await;
}

/// Nothing beyond what was published arrives.
fn deliveries_left(deliveries: &mut Deliveries, channel: usize) {
    assert!(
        !deliveries.has_buffered(),
        "channel {channel}: more deliveries than published"
    );
}

/// Two queues consumed on two channels of a connection that reads nothing while 16 MiB of
/// deliveries are routed to it: its socket fills and its writer waits, then it reads
/// everything, in order and intact.
#[tokio::test]
async fn a_consumer_that_stops_reading_gets_everything_in_order_afterwards() {
    const PER_QUEUE: usize = 128;
    const SIZE: usize = 64 * 1024;
    let broker = TestBroker::start().await;
    let mut consumer = broker.raw().await;
    let mut queues = Vec::new();
    for ch in [1u16, 2] {
        consumer.open_channel(ch).await;
        let q = consumer
            .queue_declare(ch, &common::unique("write-order-full"), false)
            .await;
        consumer.consume(ch, &q, &format!("c{ch}"), true).await;
        queues.push((ch, q));
    }
    let (_pub_conn, pub_ch) = broker.lapin_confirm_channel().await;
    let body = |ch: u16, i: usize| {
        let mut b = format!("q{ch}-{i}:").into_bytes();
        b.resize(SIZE, (i % 251) as u8);
        b
    };
    for i in 0..PER_QUEUE {
        for (ch, q) in &queues {
            // Confirmed once routed: by the last confirm everything is queued for the
            // consumer's connection or written to its socket.
            common::publish(&pub_ch, "", q, &body(*ch, i)).await;
        }
    }
    let mut next = [0usize; 2];
    for _ in 0..PER_QUEUE * 2 {
        let d = consumer.expect_delivery().await;
        let idx = usize::from(d.channel - 1);
        let i = next[idx];
        assert_eq!(
            d.body,
            body(d.channel, i),
            "channel {}, message {i}",
            d.channel
        );
        assert_eq!(
            d.delivery_tag,
            i as u64 + 1,
            "delivery tags count per channel"
        );
        next[idx] += 1;
    }
    assert_eq!(next, [PER_QUEUE, PER_QUEUE]);
    broker.shutdown().await;
}
