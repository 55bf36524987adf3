//! amqprs: RabbitMQ's direct reply-to. The client consumes the pseudo-queue
//! `amq.rabbitmq.reply-to` without acks and publishes requests with that `reply_to`; the
//! server sees a generated `amq.rabbitmq.reply-to.<token>` address and replies to it
//! through the default exchange. Misuse is refused as RabbitMQ refuses it: a consumer
//! that wants acks, and a request published before any reply consumer exists (406).

use std::collections::HashMap;

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicConsumeArguments, BasicPublishArguments, Channel,
    QueueDeclareArguments, QueueDeleteArguments,
};
use interop::rs::{Event, channel, connect, next_event};
use interop::{bounded, unique};

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// Echoes `count` requests upper-cased to their reply address; returns the addresses seen.
async fn server(ch: Channel, queue: String, count: usize) -> Vec<String> {
    let (tag, mut rx) = ch
        .basic_consume_rx(
            BasicConsumeArguments::new(&queue, "echo")
                .manual_ack(true)
                .finish(),
        )
        .await
        .expect("server basic.consume");
    let mut seen = Vec::new();
    while seen.len() < count {
        let msg = bounded("a request", rx.recv())
            .await
            .expect("server consumer closed");
        let deliver = msg.deliver.expect("deliver");
        let props = msg.basic_properties.expect("properties");
        let body = msg.content.expect("content");
        let reply_to = props.reply_to().expect("reply_to").clone();
        let id = props.correlation_id().expect("correlation_id").clone();
        ch.basic_publish(
            BasicProperties::default().with_correlation_id(&id).finish(),
            String::from_utf8_lossy(&body).to_uppercase().into_bytes(),
            BasicPublishArguments::new("", &reply_to),
        )
        .await
        .expect("reply");
        ch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
            .await
            .expect("basic.ack");
        seen.push(reply_to);
    }
    ch.basic_cancel(BasicCancelArguments::new(&tag))
        .await
        .expect("basic.cancel");
    seen
}

#[tokio::main]
async fn main() {
    const CALLS: usize = 20;
    let server_conn = connect().await;
    let (sch, _sev) = channel(&server_conn).await;
    let queue = unique("amqprs.direct-reply-to");
    sch.queue_declare(QueueDeclareArguments::new(&queue))
        .await
        .expect("queue.declare");
    let server_task = tokio::spawn(server(sch, queue.clone(), CALLS));

    let client = connect().await;
    let (ch, _events) = channel(&client).await;
    let (ctag, mut replies) = ch
        .basic_consume_rx(
            BasicConsumeArguments::new(REPLY_TO, "direct")
                .auto_ack(true)
                .finish(),
        )
        .await
        .expect("consume amq.rabbitmq.reply-to");
    assert_eq!(ctag, "direct");

    let mut pending = HashMap::new();
    for i in 0..CALLS {
        let id = format!("req-{i}");
        ch.basic_publish(
            BasicProperties::default()
                .with_reply_to(REPLY_TO)
                .with_correlation_id(&id)
                .finish(),
            format!("hello {i}").into_bytes(),
            BasicPublishArguments::new("", &queue),
        )
        .await
        .expect("request publish");
        pending.insert(id, i);
    }
    while !pending.is_empty() {
        let msg = bounded("a direct reply", replies.recv())
            .await
            .expect("reply consumer closed");
        let deliver = msg.deliver.expect("deliver");
        assert_eq!(deliver.consumer_tag(), "direct");
        assert!(
            deliver.routing_key().starts_with(REPLY_TO),
            "reply routing key {}",
            deliver.routing_key()
        );
        let props = msg.basic_properties.expect("properties");
        let id = props.correlation_id().expect("correlation_id").clone();
        let i = pending
            .remove(&id)
            .unwrap_or_else(|| panic!("unknown or duplicate reply {id}"));
        assert_eq!(
            msg.content.expect("content"),
            format!("HELLO {i}").into_bytes()
        );
    }
    let seen = bounded("the server", server_task)
        .await
        .expect("server task");
    for addr in &seen {
        let token = addr
            .strip_prefix("amq.rabbitmq.reply-to.")
            .unwrap_or_else(|| panic!("the server sees a generated reply address, not {addr}"));
        assert!(!token.is_empty());
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "one address per channel: {seen:?}"
    );
    ch.basic_cancel(BasicCancelArguments::new("direct"))
        .await
        .expect("basic.cancel");

    // A request naming amq.rabbitmq.reply-to on a channel with no reply consumer: 406.
    let (bad, mut bad_events) = channel(&client).await;
    bad.basic_publish(
        BasicProperties::default().with_reply_to(REPLY_TO).finish(),
        b"no consumer".to_vec(),
        BasicPublishArguments::new("", &queue),
    )
    .await
    .expect("publish");
    match next_event(&mut bad_events, "the channel close").await {
        Event::Closed { code, text } => {
            assert_eq!(code, 406, "{text}");
            assert!(text.starts_with("PRECONDITION_FAILED"), "{text}");
            println!("no reply consumer: {code} {text}");
        }
        other => panic!("expected channel.close 406, got {other:?}"),
    }

    // The reply consumer must be in no-ack mode: 406.
    let (bad, mut bad_events) = channel(&client).await;
    let res = bounded(
        "consume with acks",
        bad.basic_consume_rx(
            BasicConsumeArguments::new(REPLY_TO, "acking")
                .manual_ack(true)
                .finish(),
        ),
    )
    .await;
    assert!(res.is_err(), "a reply consumer with acks is refused");
    match next_event(&mut bad_events, "the channel close").await {
        Event::Closed { code, text } => {
            assert_eq!(code, 406, "{text}");
            println!("acking reply consumer: {code} {text}");
        }
        other => panic!("expected channel.close 406, got {other:?}"),
    }

    let left = ch
        .queue_delete(QueueDeleteArguments::new(&queue))
        .await
        .expect("queue.delete");
    assert_eq!(left, Some(0));
    client.close().await.expect("client close");
    server_conn.close().await.expect("server close");
    println!("amqprs direct reply-to: {CALLS} calls");
}
