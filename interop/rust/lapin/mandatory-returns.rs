//! lapin: mandatory publishing and basic.return.
//!
//! Without confirms (lapin hands back returned messages from `wait_for_confirms`):
//! - mandatory to a missing queue name through the default exchange: returned with 312
//!   NO_ROUTE, the exchange and routing key it was published with, body and properties
//!   (message_id, content_type, headers) intact;
//! - mandatory through a direct exchange with no matching binding: returned likewise;
//! - mandatory and routable: delivered (to a consumer on the bound queue), not returned;
//! - not mandatory and unroutable: dropped silently, the channel stays usable.
//!
//! With confirms (lapin attaches a return to the ack that follows it, so a confirmation
//! carrying the message shows the return arrived before its ack): an unroutable mandatory
//! publish is acked (not nacked) carrying the returned message; routable mandatory and
//! unroutable non-mandatory publishes are acked with nothing returned. Finally a publish
//! to a missing exchange closes that channel with 404 NOT_FOUND, and the other channel
//! keeps working. Everything is deleted.

use futures_lite::StreamExt;
use interop::lp::{self, depth};
use interop::{bounded, unique};
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Consumer, ErrorKind, ExchangeKind};

const MANDATORY: BasicPublishOptions = BasicPublishOptions {
    mandatory: true,
    immediate: false,
};

async fn publish(
    ch: &Channel,
    exchange: &str,
    key: &str,
    options: BasicPublishOptions,
    body: &[u8],
    props: BasicProperties,
) -> Confirmation {
    let confirm = ch
        .basic_publish(exchange.into(), key.into(), options, body, props)
        .await
        .expect("basic.publish");
    bounded("a publish confirmation", confirm)
        .await
        .expect("confirmation")
}

async fn next_body(consumer: &mut Consumer) -> String {
    let d = lp::next(consumer, "a routed message").await;
    String::from_utf8(d.data).expect("UTF-8")
}

#[tokio::main]
async fn main() {
    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("channel");
    let exchange = unique("lapin.mandatory-ex");
    let queue = unique("lapin.mandatory-q");
    lp::declare_exchange(
        &ch,
        &exchange,
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
    )
    .await;
    lp::declare_queue(&ch, &queue, QueueDeclareOptions::default()).await;
    lp::bind(&ch, &queue, &exchange, "bound", FieldTable::default()).await;
    // Everything routed to the bound queue arrives here (RabbitMQ counts a routed
    // mandatory message in the queue depth only a little later, so this consumes instead).
    let reader = conn.create_channel().await.expect("channel");
    let mut routed = reader
        .basic_consume(
            queue.as_str().into(),
            "mandatory-reader".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");

    // --- without confirms ---------------------------------------------------------------
    let missing = unique("lapin.no-such-queue");
    let mut headers = FieldTable::default();
    headers.insert("why".into(), AMQPValue::LongString("no queue".into()));
    let props = BasicProperties::default()
        .with_message_id("r-1".into())
        .with_content_type("text/plain".into())
        .with_headers(headers.clone());
    let default = BasicPublishOptions::default();
    publish(&ch, "", &missing, MANDATORY, b"to nowhere", props).await;
    let none = BasicProperties::default();
    publish(
        &ch,
        &exchange,
        "unbound",
        MANDATORY,
        b"unbound key",
        none.clone(),
    )
    .await;
    publish(
        &ch,
        &exchange,
        "bound",
        MANDATORY,
        b"routable",
        none.clone(),
    )
    .await;
    publish(
        &ch,
        &exchange,
        "unbound",
        default,
        b"dropped quietly",
        none.clone(),
    )
    .await;
    // A synchronous round trip: every return for the publishes above has arrived by now.
    depth(&ch, &queue).await;
    let returns = ch.wait_for_confirms().await.expect("returned messages");
    assert_eq!(returns.len(), 2, "returned messages: {returns:?}");
    let r = &returns[0];
    assert_eq!((r.reply_code, r.reply_text.as_str()), (312, "NO_ROUTE"));
    assert_eq!(r.delivery.exchange.as_str(), "", "first return's exchange");
    assert_eq!(
        r.delivery.routing_key.as_str(),
        missing,
        "first return's key"
    );
    assert_eq!(r.delivery.data, b"to nowhere");
    let p = &r.delivery.properties;
    assert_eq!(p.message_id().as_ref().map(|s| s.as_str()), Some("r-1"));
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("text/plain")
    );
    assert_eq!(p.headers().as_ref(), Some(&headers), "returned headers");
    let r = &returns[1];
    assert_eq!((r.reply_code, r.reply_text.as_str()), (312, "NO_ROUTE"));
    assert_eq!(
        r.delivery.exchange.as_str(),
        exchange,
        "second return's exchange"
    );
    assert_eq!(r.delivery.routing_key.as_str(), "unbound");
    assert_eq!(r.delivery.data, b"unbound key");
    assert_eq!(
        next_body(&mut routed).await,
        "routable",
        "the routable mandatory message"
    );

    // --- with confirms ------------------------------------------------------------------
    let confirm_ch = lp::confirm_channel(&conn).await;
    let c = publish(
        &confirm_ch,
        &exchange,
        "unbound",
        MANDATORY,
        b"confirm+return",
        BasicProperties::default().with_message_id("r-2".into()),
    )
    .await;
    assert!(c.is_ack(), "a returned message is still acked: {c:?}");
    let r = c
        .take_message()
        .expect("the return arrives before its ack (carried by the ack)");
    assert_eq!((r.reply_code, r.reply_text.as_str()), (312, "NO_ROUTE"));
    assert_eq!(r.delivery.exchange.as_str(), exchange);
    assert_eq!(r.delivery.routing_key.as_str(), "unbound");
    assert_eq!(r.delivery.data, b"confirm+return");
    assert_eq!(
        r.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("r-2")
    );
    let c = publish(
        &confirm_ch,
        &exchange,
        "bound",
        MANDATORY,
        b"confirmed",
        none.clone(),
    )
    .await;
    assert!(c.is_ack(), "routable mandatory acked: {c:?}");
    assert!(
        c.take_message().is_none(),
        "routable mandatory not returned"
    );
    let c = publish(
        &confirm_ch,
        &exchange,
        "unbound",
        default,
        b"dropped",
        none.clone(),
    )
    .await;
    assert!(c.is_ack(), "unroutable non-mandatory acked: {c:?}");
    assert!(c.take_message().is_none(), "non-mandatory not returned");
    assert!(
        confirm_ch
            .wait_for_confirms()
            .await
            .expect("wait_for_confirms")
            .is_empty(),
        "no other returns"
    );
    assert_eq!(
        next_body(&mut routed).await,
        "confirmed",
        "the confirmed routable message"
    );

    // --- a missing exchange closes the channel with 404 ---------------------------------
    let confirm = confirm_ch
        .basic_publish(
            unique("lapin.no-such-exchange").as_str().into(),
            "k".into(),
            default,
            b"x",
            none,
        )
        .await
        .expect("basic.publish is asynchronous");
    let err = bounded("the channel close", confirm)
        .await
        .expect_err("a publish to a missing exchange is not confirmed");
    match err.kind() {
        ErrorKind::ProtocolError(e) => assert_eq!(e.get_id(), 404, "{e:?}"),
        other => panic!("expected 404 NOT_FOUND, got {other:?}"),
    }
    assert!(!confirm_ch.status().connected(), "the channel is closed");
    assert_eq!(depth(&ch, &queue).await, 0, "the other channel still works");
    reader
        .basic_cancel("mandatory-reader".into(), BasicCancelOptions::default())
        .await
        .expect("basic.cancel");
    // Nothing else was routed: the stream ends right after the cancel.
    assert!(
        bounded("the reader to end", routed.next()).await.is_none(),
        "only the two routable messages reached the queue"
    );

    lp::delete(&ch, &[&queue], &[&exchange]).await;
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin mandatory returns: 312 returns, confirms, silent drop, 404");
}
