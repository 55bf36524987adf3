//! lapin: publish with publisher confirms, consume with manual acks, nack with requeue,
//! and a mandatory unroutable publish that comes back returned and then confirmed.

use futures_lite::StreamExt;
use interop::{bounded, unique, uri};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

const COUNT: usize = 200;

#[tokio::main]
async fn main() {
    let conn = bounded(
        "connect",
        Connection::connect(&uri(), ConnectionProperties::default()),
    )
    .await
    .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");

    let qname = unique("lapin.round-trip");
    let queue = ch
        .queue_declare(
            qname.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .expect("queue.declare");
    assert_eq!(queue.name().as_str(), qname);
    assert_eq!(queue.message_count(), 0);

    // Publish COUNT persistent messages; await every confirm individually.
    let mut confirms = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let mut headers = FieldTable::default();
        headers.insert("seq".into(), AMQPValue::LongLongInt(i as i64));
        headers.insert("origin".into(), AMQPValue::LongString("lapin".into()));
        let props = BasicProperties::default()
            .with_content_type("text/plain".into())
            .with_delivery_mode(2)
            .with_message_id(format!("m-{i}").into())
            .with_correlation_id(format!("c-{i}").into())
            .with_headers(headers);
        let confirm = ch
            .basic_publish(
                "".into(),
                qname.as_str().into(),
                BasicPublishOptions::default(),
                format!("message {i}").as_bytes(),
                props,
            )
            .await
            .expect("basic.publish");
        confirms.push(confirm);
    }
    for (i, confirm) in confirms.into_iter().enumerate() {
        let c = bounded("a publisher confirm", confirm)
            .await
            .expect("confirm");
        assert!(c.is_ack(), "publish {i} not acked: {c:?}");
        assert!(c.take_message().is_none(), "publish {i} returned");
    }
    assert!(
        ch.wait_for_confirms()
            .await
            .expect("wait_for_confirms")
            .is_empty()
    );

    let declared = ch
        .queue_declare(
            qname.as_str().into(),
            QueueDeclareOptions::durable().passive(),
            FieldTable::default(),
        )
        .await
        .expect("passive queue.declare");
    assert_eq!(
        declared.message_count() as usize,
        COUNT,
        "queue depth after confirms"
    );

    // Mandatory and unroutable: returned (312) first, then acked.
    let confirm = ch
        .basic_publish(
            "".into(),
            unique("lapin.nowhere").as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            b"unroutable",
            BasicProperties::default().with_message_id("lost".into()),
        )
        .await
        .expect("mandatory publish");
    let c = bounded("the mandatory confirm", confirm)
        .await
        .expect("confirm");
    assert!(c.is_ack(), "an unroutable message is still acked: {c:?}");
    let returned = c.take_message().expect("the unroutable message comes back");
    assert_eq!(returned.reply_code, 312);
    assert_eq!(returned.reply_text.as_str(), "NO_ROUTE");
    assert_eq!(returned.delivery.data, b"unroutable");
    assert_eq!(
        returned
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("lost")
    );

    // Consume on a second channel with prefetch 10 and manual acks.
    let consume_ch = conn.create_channel().await.expect("channel");
    consume_ch
        .basic_qos(10, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let mut consumer = consume_ch
        .basic_consume(
            qname.as_str().into(),
            "lapin-round-trip".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");
    // Message 7 is nacked with requeue the first time. It comes back once, marked
    // redelivered, after some of the deliveries already in flight (exactly where depends
    // on timing, with RabbitMQ too); every other message arrives once, in order.
    let mut next = 0usize; // the next first-time delivery expected
    let mut requeued_back = false;
    let mut seen = 0usize;
    while seen < COUNT {
        let d = bounded("a delivery", consumer.next())
            .await
            .expect("consumer stream ended")
            .expect("delivery");
        let body = String::from_utf8_lossy(&d.data).into_owned();
        if d.redelivered {
            assert_eq!(body, "message 7", "only the nacked message is redelivered");
            assert!(!requeued_back, "the nacked message comes back once");
            assert!(next > 7, "the nacked message comes back after its nack");
            requeued_back = true;
            check_properties(&d, &qname, 7);
            d.ack(BasicAckOptions::default()).await.expect("basic.ack");
            seen += 1;
            continue;
        }
        assert_eq!(
            body,
            format!("message {next}"),
            "first deliveries in publish order"
        );
        check_properties(&d, &qname, next);
        if next == 7 {
            d.nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            })
            .await
            .expect("basic.nack");
        } else {
            d.ack(BasicAckOptions::default()).await.expect("basic.ack");
            seen += 1;
        }
        next += 1;
    }
    assert!(requeued_back, "the nacked message came back");
    consume_ch
        .basic_cancel("lapin-round-trip".into(), BasicCancelOptions::default())
        .await
        .expect("basic.cancel");

    let remaining = ch
        .queue_delete(qname.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("queue.delete");
    assert_eq!(remaining, 0, "queue empty after every ack");
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin round trip: {COUNT} confirmed, consumed in order, nack/requeue, return ok");
}

fn check_properties(d: &lapin::message::Delivery, qname: &str, n: usize) {
    assert_eq!(d.routing_key.as_str(), qname);
    assert_eq!(d.exchange.as_str(), "");
    let p = &d.properties;
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("text/plain")
    );
    assert_eq!(*p.delivery_mode(), Some(2));
    assert_eq!(
        p.message_id().as_ref().map(|s| s.to_string()),
        Some(format!("m-{n}"))
    );
    assert_eq!(
        p.correlation_id().as_ref().map(|s| s.to_string()),
        Some(format!("c-{n}"))
    );
    let headers = p.headers().as_ref().expect("headers");
    assert_eq!(
        headers.inner().get("seq"),
        Some(&AMQPValue::LongLongInt(n as i64))
    );
    match headers.inner().get("origin") {
        Some(AMQPValue::LongString(s)) => assert_eq!(s.as_bytes(), b"lapin"),
        other => panic!("origin header: {other:?}"),
    }
}
