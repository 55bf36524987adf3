//! amqprs: load levelling. A burst of `INTEROP_BURST` (default 100000) small messages, each
//! carrying its sequence number, is published with publisher confirms (all acked) while no
//! consumer is attached, alternating between two durable queues bound to a direct exchange
//! with keys `q0` and `q1`. Each queue must then report exactly half the burst (passive
//! declare). Each queue is drained by its own consumer (prefetch 1000, `multiple` acks
//! every 100): every message arrives exactly once, strictly in order per queue, with
//! exactly the published body, none redelivered; both queues end empty and everything is
//! deleted. The bodies and the order check are shared with lapin (`interop::levelling`).

#[path = "helpers/util.rs"]
mod util;

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicPublishArguments, BasicQosArguments,
    ConfirmSelectArguments, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::Connection;
use interop::rs::connect;
use interop::{bounded, levelling, unique};
use util::{Confirms, channel, consume_manual, delete_empty, message_count, recv};

/// Drains `queue` on its own channel; expects sequence numbers `first, first+2, ...` (`n` of them).
async fn drain(conn: &Connection, queue: &str, first: u64, n: u64) {
    let (ch, _events) = channel(conn).await;
    ch.basic_qos(BasicQosArguments::new(0, 1000, false))
        .await
        .expect("basic.qos");
    let (tag, mut rx) = consume_manual(&ch, queue, "").await;
    for i in 0..n {
        let (deliver, _props, body) = recv(&mut rx, "a queued message").await;
        let seq = levelling::check(queue, first, i, &body);
        assert!(!deliver.redelivered(), "message {seq} flagged redelivered");
        assert_eq!(deliver.delivery_tag(), i + 1, "delivery tag");
        if (i + 1) % 100 == 0 || i + 1 == n {
            ch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), true))
                .await
                .expect("basic.ack multiple");
        }
    }
    ch.basic_cancel(BasicCancelArguments::new(&tag))
        .await
        .expect("basic.cancel");
    assert!(
        rx.try_recv().is_err(),
        "{queue}: a message beyond the burst"
    );
    // Same channel: the acks above were processed before this declare.
    assert_eq!(
        message_count(&ch, queue).await,
        0,
        "{queue} empty after draining"
    );
    ch.close().await.expect("channel close");
}

#[tokio::main]
async fn main() {
    let exchange = unique("amqprs.levelling");
    let q0 = unique("amqprs.levelling-q0");
    let q1 = unique("amqprs.levelling-q1");
    util::run(
        vec![q0.clone(), q1.clone()],
        vec![exchange.clone()],
        scenario(exchange, q0, q1),
    )
    .await;
}

async fn scenario(exchange: String, q0: String, q1: String) {
    let burst = levelling::burst();
    let producer = connect().await;
    let (ch, mut events) = channel(&producer).await;
    ch.exchange_declare(ExchangeDeclareArguments::new(&exchange, "direct"))
        .await
        .expect("exchange.declare");
    for (q, k) in [(&q0, "q0"), (&q1, "q1")] {
        ch.queue_declare(QueueDeclareArguments::durable_client_named(q))
            .await
            .expect("queue.declare");
        ch.queue_bind(QueueBindArguments::new(q, &exchange, k))
            .await
            .expect("queue.bind");
    }
    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .expect("confirm.select");
    let mut confirms = Confirms::default();
    let started = std::time::Instant::now();
    for seq in 0..burst {
        ch.basic_publish(
            BasicProperties::default(),
            levelling::body(seq),
            BasicPublishArguments::new(&exchange, levelling::key(seq)),
        )
        .await
        .expect("basic.publish");
        confirms.published();
        // Keep the event queue short; acks are usually far ahead of this bound.
        if confirms.in_flight() > 20_000 {
            confirms.wait_until(&mut events, 10_000).await;
        }
    }
    confirms.wait_all(&mut events).await;
    assert_eq!(confirms.acked, burst, "burst confirmed");
    let published = started.elapsed();
    for q in [&q0, &q1] {
        assert_eq!(
            u64::from(message_count(&ch, q).await),
            burst / 2,
            "depth of {q} after the burst"
        );
    }

    let consumer = connect().await;
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(
        bounded("draining q0", drain(&consumer, &q0, 0, burst / 2)),
        bounded("draining q1", drain(&consumer, &q1, 1, burst / 2)),
    );
    let _ = (a, b);
    let drained = started.elapsed();
    consumer.close().await.expect("consumer close");

    delete_empty(&ch, &[&q0, &q1], &[&exchange]).await;
    ch.close().await.expect("channel close");
    producer.close().await.expect("producer close");
    println!(
        "amqprs load levelling: {burst} messages confirmed in {:.1}s, drained in order in {:.1}s",
        published.as_secs_f64(),
        drained.as_secs_f64()
    );
}
