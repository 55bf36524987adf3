//! amqprs: mandatory publishing and basic.return, seen through a `ChannelCallback`.
//!
//! - mandatory to a missing queue through the default exchange: returned with 312
//!   NO_ROUTE, the exchange and routing key it was published with, body and properties
//!   (message_id, content_type, headers) intact;
//! - mandatory through a direct exchange with no matching binding: returned likewise;
//! - mandatory and routable: delivered, not returned;
//! - not mandatory and unroutable: dropped silently, the channel stays usable;
//! - with publisher confirms: an unroutable mandatory publish is returned and then acked
//!   (not nacked), the return before the ack; routable and unroutable non-mandatory
//!   publishes are simply acked;
//! - publishing to a missing exchange closes the channel with 404 NOT_FOUND while the
//!   connection's other channel stays open.

#[path = "helpers/util.rs"]
mod util;

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicCancelArguments, BasicConsumeArguments, BasicPublishArguments, ExchangeDeclareArguments,
    QueueBindArguments, QueueDeclareArguments,
};
use amqprs::{FieldTable, FieldValue};
use interop::rs::connect;
use interop::unique;
use util::{
    Confirms, Event, channel, confirm_channel, delete_empty, get_str, key, message_count,
    next_event, recv, s,
};

#[tokio::main]
async fn main() {
    let exchange = unique("amqprs.mandatory-ex");
    let queue = unique("amqprs.mandatory-q");
    util::run(
        vec![queue.clone()],
        vec![exchange.clone()],
        scenario(exchange, queue),
    )
    .await;
}

fn publish(exchange: &str, key: &str, mandatory: bool) -> BasicPublishArguments {
    BasicPublishArguments::new(exchange, key)
        .mandatory(mandatory)
        .finish()
}

async fn scenario(exchange: String, queue: String) {
    let conn = connect().await;
    let (ch, mut events) = channel(&conn).await;
    ch.exchange_declare(ExchangeDeclareArguments::new(&exchange, "direct"))
        .await
        .expect("exchange.declare");
    ch.queue_declare(QueueDeclareArguments::new(&queue))
        .await
        .expect("queue.declare");
    ch.queue_bind(QueueBindArguments::new(&queue, &exchange, "bound"))
        .await
        .expect("queue.bind");

    let missing = unique("amqprs.no-such-queue");
    let mut headers = FieldTable::new();
    headers.insert(key("why"), s("no queue"));
    headers.insert(key("n"), FieldValue::I(7));
    let props = BasicProperties::default()
        .with_message_id("r-1")
        .with_content_type("text/plain")
        .with_headers(headers)
        .finish();
    ch.basic_publish(props, b"to nowhere".to_vec(), publish("", &missing, true))
        .await
        .expect("publish");
    ch.basic_publish(
        BasicProperties::default(),
        b"unbound key".to_vec(),
        publish(&exchange, "unbound", true),
    )
    .await
    .expect("publish");
    ch.basic_publish(
        BasicProperties::default(),
        b"routable".to_vec(),
        publish(&exchange, "bound", true),
    )
    .await
    .expect("publish");
    ch.basic_publish(
        BasicProperties::default(),
        b"dropped quietly".to_vec(),
        publish(&exchange, "unbound", false),
    )
    .await
    .expect("publish");
    // A synchronous round trip on the same channel: the broker sends each return while
    // handling its publish, and amqprs runs the callback before handling the declare-ok,
    // so every return for the publishes above has been recorded by now. (The queue's
    // message count is no such barrier: RabbitMQ may count the routed message later.)
    message_count(&ch, &queue).await;
    let mut returns = Vec::new();
    while let Ok(ev) = events.try_recv() {
        returns.push(ev);
    }
    assert_eq!(returns.len(), 2, "two returns: {returns:?}");
    match &returns[0] {
        Event::Return {
            code,
            text,
            exchange: x,
            routing_key,
            properties,
            body,
        } => {
            assert_eq!((*code, text.as_str()), (312, "NO_ROUTE"));
            assert_eq!((x.as_str(), routing_key.as_str()), ("", missing.as_str()));
            assert_eq!(body, b"to nowhere");
            assert_eq!(properties.message_id().map(String::as_str), Some("r-1"));
            assert_eq!(
                properties.content_type().map(String::as_str),
                Some("text/plain")
            );
            let h = properties.headers().expect("returned headers");
            assert_eq!(get_str(h, "why"), Some("no queue"));
            assert_eq!(h.get(&key("n")), Some(&FieldValue::I(7)));
        }
        other => panic!("first event {other:?}"),
    }
    match &returns[1] {
        Event::Return {
            code,
            exchange: x,
            routing_key,
            body,
            ..
        } => {
            assert_eq!(*code, 312);
            assert_eq!(
                (x.as_str(), routing_key.as_str()),
                (exchange.as_str(), "unbound")
            );
            assert_eq!(body, b"unbound key");
        }
        other => panic!("second event {other:?}"),
    }
    // The routable mandatory message arrives; nothing else was routed.
    let (qch, _qevents) = channel(&conn).await;
    let (ctag, mut deliveries) = qch
        .basic_consume_rx(
            BasicConsumeArguments::new(&queue, "")
                .auto_ack(true)
                .finish(),
        )
        .await
        .expect("basic.consume");
    let (deliver, _, body) = recv(&mut deliveries, "the routable message").await;
    assert_eq!(body, b"routable");
    assert_eq!(
        (deliver.exchange().as_str(), deliver.routing_key().as_str()),
        (exchange.as_str(), "bound")
    );

    // With publisher confirms.
    let (cch, mut cevents) = confirm_channel(&conn).await;
    cch.basic_publish(
        BasicProperties::default().with_message_id("c-1").finish(),
        b"confirm+return".to_vec(),
        publish(&exchange, "unbound", true),
    )
    .await
    .expect("publish");
    match next_event(&mut cevents, "the return").await {
        Event::Return {
            code,
            body,
            properties,
            ..
        } => {
            assert_eq!(code, 312);
            assert_eq!(body, b"confirm+return");
            assert_eq!(properties.message_id().map(String::as_str), Some("c-1"));
        }
        other => panic!("expected the return before the ack, got {other:?}"),
    }
    match next_event(&mut cevents, "the ack after the return").await {
        Event::Ack { tag, .. } => assert_eq!(tag, 1),
        other => panic!("expected ack 1 (not a nack), got {other:?}"),
    }
    cch.basic_publish(
        BasicProperties::default(),
        b"confirmed".to_vec(),
        publish(&exchange, "bound", true),
    )
    .await
    .expect("publish");
    cch.basic_publish(
        BasicProperties::default(),
        b"confirmed, dropped".to_vec(),
        publish(&exchange, "unbound", false),
    )
    .await
    .expect("publish");
    // Acks 2 and 3 (RabbitMQ may ack the dropped one first: confirms can come out of
    // order); a nack or a return fails here.
    let mut confirms = Confirms::default();
    for _ in 0..3 {
        confirms.published();
    }
    confirms.apply(Event::Ack {
        tag: 1,
        multiple: false,
    });
    confirms.wait_all(&mut cevents).await;
    // Acked means enqueued: the routable one is delivered, then nothing else.
    let (_, _, body) = recv(&mut deliveries, "the confirmed routable message").await;
    assert_eq!(body, b"confirmed");
    qch.basic_cancel(BasicCancelArguments::new(&ctag))
        .await
        .expect("basic.cancel");
    assert!(
        deliveries.try_recv().is_err(),
        "an unroutable message was delivered"
    );
    assert_eq!(message_count(&qch, &queue).await, 0, "nothing else queued");
    qch.close().await.expect("channel close");

    // A missing exchange: channel.close 404 from the broker.
    cch.basic_publish(
        BasicProperties::default(),
        b"x".to_vec(),
        publish(&unique("amqprs.no-such-exchange"), "k", false),
    )
    .await
    .expect("publish");
    match next_event(&mut cevents, "the channel close").await {
        Event::Closed { code, text } => {
            assert_eq!(code, 404, "{text}");
            assert!(text.starts_with("NOT_FOUND"), "{text}");
        }
        other => panic!("expected channel.close 404, got {other:?}"),
    }
    assert!(conn.is_open(), "the connection survives a channel error");
    assert!(ch.is_open(), "the other channel stays open");
    delete_empty(&ch, &[&queue], &[&exchange]).await;
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    println!("amqprs mandatory returns: 3 returns, 404 for a missing exchange");
}
