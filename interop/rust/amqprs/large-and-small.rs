//! amqprs: one large and many small messages.
//!
//! A 16 MiB body of pseudo-random bytes is published with a confirm (acked), consumed
//! back and compared byte for byte (with its length and a digest). Then 10,000 small
//! messages of lengths 0..=100 bytes (the first one empty) with distinct contents are
//! published with confirms (all acked) and consumed back in order with exact bodies and
//! sequence numbers in a header; the queue ends empty and is deleted.

#[path = "helpers/util.rs"]
mod util;

use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicPublishArguments, BasicQosArguments,
    QueueDeclareArguments,
};
use amqprs::{BasicProperties, FieldTable, FieldValue};
use interop::rs::connect;
use interop::{Rng, fnv1a_hex, unique};
use util::{
    Confirms, channel, confirm_channel, consume_manual, delete_empty, key, message_count, recv,
};

const LARGE: usize = 16 * 1024 * 1024;
const SMALL: u64 = 10_000;

#[tokio::main]
async fn main() {
    let queue = unique("amqprs.large-small");
    util::run(vec![queue.clone()], vec![], scenario(queue)).await;
}

async fn scenario(queue: String) {
    let conn = connect().await;
    let (ch, mut events) = confirm_channel(&conn).await;
    ch.queue_declare(QueueDeclareArguments::durable_client_named(&queue))
        .await
        .expect("queue.declare");
    let mut confirms = Confirms::default();
    let mut rng = Rng::from_clock();

    let large = rng.bytes(LARGE);
    let large_digest = fnv1a_hex(&large);
    ch.basic_publish(
        BasicProperties::default()
            .with_content_type("application/octet-stream")
            .with_message_id("large")
            .finish(),
        large.clone(),
        BasicPublishArguments::new("", &queue),
    )
    .await
    .expect("publish 16 MiB");
    confirms.published();
    confirms.wait_all(&mut events).await;
    assert_eq!(message_count(&ch, &queue).await, 1);

    let (cch, _cevents) = channel(&conn).await;
    cch.basic_qos(BasicQosArguments::new(0, 500, false))
        .await
        .expect("basic.qos");
    let (tag, mut rx) = consume_manual(&cch, &queue, "").await;
    let (deliver, props, body) = recv(&mut rx, "the 16 MiB message").await;
    assert_eq!(props.message_id().map(String::as_str), Some("large"));
    assert_eq!(body.len(), LARGE, "large body length");
    assert_eq!(fnv1a_hex(&body), large_digest, "large body digest");
    assert!(body == large, "large body differs");
    drop((large, body));
    cch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
        .await
        .expect("basic.ack");

    // 10,000 small messages, published while the consumer is attached.
    let mut bodies = Vec::with_capacity(SMALL as usize);
    for i in 0..SMALL {
        let len = (i % 101) as usize;
        let body = rng.bytes(len);
        let mut headers = FieldTable::new();
        headers.insert(key("seq"), FieldValue::l(i as i64));
        ch.basic_publish(
            BasicProperties::default().with_headers(headers).finish(),
            body.clone(),
            BasicPublishArguments::new("", &queue),
        )
        .await
        .expect("publish small");
        confirms.published();
        bodies.push(body);
    }
    confirms.wait_all(&mut events).await;
    assert_eq!(confirms.acked, SMALL + 1, "everything confirmed");
    assert!(bodies[0].is_empty() && bodies[100].len() == 100);

    for (i, want) in bodies.iter().enumerate() {
        let (deliver, props, body) = recv(&mut rx, "a small message").await;
        let seq = match props.headers().and_then(|h| h.get(&key("seq"))) {
            Some(FieldValue::l(v)) => *v,
            other => panic!("seq header {other:?}"),
        };
        assert_eq!(seq, i as i64, "order");
        assert_eq!(&body, want, "body of message {i}");
        assert!(!deliver.redelivered());
        if (i + 1) % 100 == 0 {
            cch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), true))
                .await
                .expect("basic.ack multiple");
        }
    }
    cch.basic_cancel(BasicCancelArguments::new(&tag))
        .await
        .expect("basic.cancel");
    assert!(rx.try_recv().is_err(), "nothing beyond the 10,000");
    assert_eq!(message_count(&cch, &queue).await, 0, "queue empty");
    delete_empty(&ch, &[&queue], &[]).await;
    cch.close().await.expect("channel close");
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    println!("amqprs large and small: 16 MiB byte-exact, {SMALL} small in order");
}
