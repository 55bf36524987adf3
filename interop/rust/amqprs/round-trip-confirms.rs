//! amqprs: publisher confirms collected through a `ChannelCallback` (single and multiple
//! acks covering every tag), a mandatory unroutable publish returned before its ack,
//! then consumption through `basic_consume_rx` with manual acks (some `multiple`).

use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicPublishArguments, BasicQosArguments,
    ConfirmSelectArguments, QueueDeclareArguments, QueueDeleteArguments,
};
use amqprs::{BasicProperties, FieldTable, FieldValue};
use interop::rs::{Event, channel, connect, next_event};
use interop::{bounded, unique};

const COUNT: u64 = 200;

#[tokio::main]
async fn main() {
    let conn = connect().await;
    let (ch, mut events) = channel(&conn).await;
    let qname = unique("amqprs.round-trip");
    let (name, messages, consumers) = ch
        .queue_declare(QueueDeclareArguments::durable_client_named(&qname))
        .await
        .expect("queue.declare")
        .expect("declare-ok");
    assert_eq!((name.as_str(), messages, consumers), (qname.as_str(), 0, 0));
    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .expect("confirm.select");

    for i in 0..COUNT {
        let mut headers = FieldTable::new();
        headers.insert("seq".try_into().unwrap(), FieldValue::l(i as i64));
        headers.insert(
            "origin".try_into().unwrap(),
            FieldValue::S("amqprs".try_into().unwrap()),
        );
        let props = BasicProperties::default()
            .with_content_type("application/octet-stream")
            .with_persistence(true)
            .with_message_id(&format!("m-{i}"))
            .with_headers(headers)
            .finish();
        ch.basic_publish(
            props,
            format!("payload {i}").into_bytes(),
            BasicPublishArguments::new("", &qname),
        )
        .await
        .expect("basic.publish");
    }
    // Acks arrive in tag order; a multiple ack covers everything up to its tag.
    let mut covered = 0u64;
    while covered < COUNT {
        match next_event(&mut events, "publisher confirms").await {
            Event::Ack { tag, multiple } => {
                assert!(
                    tag > covered,
                    "ack {tag} covers nothing new (covered {covered})"
                );
                assert!(
                    multiple || tag == covered + 1,
                    "single ack {tag} skips a tag"
                );
                covered = tag;
            }
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    assert_eq!(covered, COUNT);

    // Mandatory and unroutable: basic.return (312), then the ack for tag COUNT + 1.
    let nowhere = unique("amqprs.nowhere");
    ch.basic_publish(
        BasicProperties::default().with_message_id("lost").finish(),
        b"unroutable".to_vec(),
        BasicPublishArguments::new("", &nowhere)
            .mandatory(true)
            .finish(),
    )
    .await
    .expect("mandatory publish");
    match next_event(&mut events, "the return").await {
        Event::Return {
            code,
            text,
            properties,
            body,
            ..
        } => {
            assert_eq!((code, text.as_str()), (312, "NO_ROUTE"));
            assert_eq!(body, b"unroutable");
            assert_eq!(properties.message_id().map(String::as_str), Some("lost"));
        }
        other => panic!("expected the return first, got {other:?}"),
    }
    match next_event(&mut events, "the ack after the return").await {
        // Every earlier tag is already confirmed, so `multiple` makes no difference here
        // (RabbitMQ sends false, Warren true): either way exactly tag COUNT + 1 is acked.
        Event::Ack { tag, .. } => assert_eq!(tag, COUNT + 1),
        other => panic!("expected ack {}, got {other:?}", COUNT + 1),
    }

    // Consume on a second channel, prefetch 20, acking every 10th delivery with multiple.
    let (cch, _cevents) = channel(&conn).await;
    cch.basic_qos(BasicQosArguments::new(0, 20, false))
        .await
        .expect("basic.qos");
    let (tag, mut rx) = cch
        .basic_consume_rx(
            BasicConsumeArguments::new(&qname, "amqprs-round-trip")
                .manual_ack(true)
                .finish(),
        )
        .await
        .expect("basic.consume");
    assert_eq!(tag, "amqprs-round-trip");
    for i in 0..COUNT {
        let msg = bounded("a delivery", rx.recv())
            .await
            .expect("consumer closed");
        let deliver = msg.deliver.expect("deliver");
        let props = msg.basic_properties.expect("properties");
        let body = msg.content.expect("content");
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!("payload {i}"),
            "order"
        );
        assert_eq!(deliver.delivery_tag(), i + 1, "delivery tags count from 1");
        assert!(!deliver.redelivered());
        assert_eq!(deliver.routing_key(), &qname);
        assert_eq!(
            props.content_type().map(String::as_str),
            Some("application/octet-stream")
        );
        assert_eq!(props.delivery_mode(), Some(2));
        assert_eq!(props.message_id().cloned(), Some(format!("m-{i}")));
        let headers = props.headers().expect("headers");
        match headers.get(&"seq".try_into().unwrap()) {
            Some(FieldValue::l(v)) => assert_eq!(*v, i as i64),
            other => panic!("seq header {other:?}"),
        }
        match headers.get(&"origin".try_into().unwrap()) {
            Some(FieldValue::S(v)) => assert_eq!(v.as_ref(), "amqprs"),
            other => panic!("origin header {other:?}"),
        }
        if (i + 1) % 10 == 0 {
            cch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), true))
                .await
                .expect("basic.ack multiple");
        }
    }
    let left = ch
        .queue_delete(QueueDeleteArguments::new(&qname))
        .await
        .expect("queue.delete");
    assert_eq!(left, Some(0), "every message acked");
    cch.close().await.ok();
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    println!("amqprs round trip: {COUNT} confirmed and consumed, return before ack");
}
