//! lapin: publish/subscribe through a fanout and a headers exchange.
//!
//! Fanout: three subscribers, each on its own channel with an exclusive server-named queue
//! (`amq.gen-` prefix) bound to a fanout exchange and its own consumer; 100 confirmed
//! messages and an end marker are published; each subscriber must get exactly the 100, in
//! order, then the marker.
//!
//! Headers: queue A bound with `x-match=all` {format: pdf, type: report}, queue B with
//! `x-match=any` {format: zip, type: log}. Six mandatory, confirmed messages with the
//! header sets {pdf, report}, {pdf, log}, {zip}, {pdf}, {pdf, report, extra: 1} and none;
//! the two that match no binding ({pdf} and no headers) come back 312 NO_ROUTE with their
//! confirms, the others do not; basic.get until empty finds exactly [1, 5] in A and
//! [2, 3] in B. Everything is deleted.

use interop::lp;
use interop::unique;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ExchangeDeclareOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};

const FANOUT_MESSAGES: usize = 100;

fn table(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

async fn fanout(conn: &Connection, ch: &Channel) {
    let exchange = unique("lapin.pubsub-fanout");
    lp::declare_exchange(
        ch,
        &exchange,
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
    )
    .await;

    let mut subscribers = Vec::new();
    for i in 0..3 {
        let sub = conn.create_channel().await.expect("subscriber channel");
        let q = lp::declare_queue(&sub, "", QueueDeclareOptions::exclusive()).await;
        let name = q.name().to_string();
        assert!(name.starts_with("amq.gen-"), "server-named queue: {name}");
        lp::bind(&sub, &name, &exchange, "", FieldTable::default()).await;
        let consumer = sub
            .basic_consume(
                name.as_str().into(),
                format!("subscriber-{i}").as_str().into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("basic.consume");
        subscribers.push((sub, name, consumer));
    }

    let expected: Vec<String> = (0..FANOUT_MESSAGES).map(|i| format!("news {i}")).collect();
    let mut confirms = Vec::new();
    for body in expected.iter().map(String::as_str).chain(["end"]) {
        confirms.push(
            ch.basic_publish(
                exchange.as_str().into(),
                "ignored.by.fanout".into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default(),
            )
            .await
            .expect("basic.publish"),
        );
    }
    for confirm in confirms {
        lp::acked(confirm, "a fanout confirm").await;
    }

    let mut queues = Vec::new();
    for (i, (sub, name, mut consumer)) in subscribers.into_iter().enumerate() {
        let mut got = Vec::new();
        loop {
            let d = lp::next(&mut consumer, "a fanout message").await;
            assert_eq!(d.exchange.as_str(), exchange, "delivery exchange");
            assert_eq!(d.routing_key.as_str(), "ignored.by.fanout");
            let body = String::from_utf8(d.data).expect("UTF-8");
            if body == "end" {
                break;
            }
            got.push(body);
        }
        assert_eq!(got, expected, "subscriber {i} got every message, in order");
        sub.close(200, "bye".into())
            .await
            .expect("subscriber close");
        queues.push(name);
    }
    // Exclusive to this connection: deleted explicitly rather than left to the close.
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    lp::delete(ch, &queues, &[&exchange]).await;
}

async fn get_all(ch: &Channel, queue: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        bodies.push(String::from_utf8(m.delivery.data.clone()).expect("UTF-8"));
        if m.message_count == 0 {
            break;
        }
    }
    // Nothing else behind the last message.
    assert!(
        ch.basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
            .is_none(),
        "{queue} empty"
    );
    bodies
}

async fn headers(ch: &Channel) {
    let exchange = unique("lapin.pubsub-headers");
    lp::declare_exchange(
        ch,
        &exchange,
        ExchangeKind::Headers,
        ExchangeDeclareOptions::default(),
    )
    .await;
    let qa = unique("lapin.pubsub-all");
    let qb = unique("lapin.pubsub-any");
    let bindings = [
        (
            &qa,
            table(&[
                ("x-match", s("all")),
                ("format", s("pdf")),
                ("type", s("report")),
            ]),
        ),
        (
            &qb,
            table(&[
                ("x-match", s("any")),
                ("format", s("zip")),
                ("type", s("log")),
            ]),
        ),
    ];
    for (q, args) in bindings {
        lp::declare_queue(ch, q, QueueDeclareOptions::default()).await;
        lp::bind(ch, q, &exchange, "", args).await;
    }

    let messages: [(&str, Option<FieldTable>); 6] = [
        (
            "1",
            Some(table(&[("format", s("pdf")), ("type", s("report"))])),
        ),
        (
            "2",
            Some(table(&[("format", s("pdf")), ("type", s("log"))])),
        ),
        ("3", Some(table(&[("format", s("zip"))]))),
        ("4", Some(table(&[("format", s("pdf"))]))),
        (
            "5",
            Some(table(&[
                ("format", s("pdf")),
                ("type", s("report")),
                ("extra", AMQPValue::LongInt(1)),
            ])),
        ),
        ("6", None),
    ];
    let mut returned = Vec::new();
    for (body, hdrs) in messages {
        let props = match hdrs {
            Some(h) => BasicProperties::default().with_headers(h),
            None => BasicProperties::default(),
        };
        // One at a time, so a returned message belongs to this publish's confirm.
        let confirm = ch
            .basic_publish(
                exchange.as_str().into(),
                "".into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body.as_bytes(),
                props,
            )
            .await
            .expect("basic.publish");
        let c = lp::acked(confirm, &format!("the confirm of headers publish {body}")).await;
        if let Some(r) = c.take_message() {
            assert_eq!(r.reply_code, 312, "reply code of returned message {body}");
            assert_eq!(String::from_utf8_lossy(&r.delivery.data), body);
            returned.push(body);
        }
    }
    assert_eq!(returned, ["4", "6"], "messages matching no binding");
    assert_eq!(
        get_all(ch, &qa).await,
        ["1", "5"],
        "queue bound x-match=all"
    );
    assert_eq!(
        get_all(ch, &qb).await,
        ["2", "3"],
        "queue bound x-match=any"
    );

    lp::delete(ch, &[&qa, &qb], &[&exchange]).await;
}

#[tokio::main]
async fn main() {
    let conn = lp::connect().await;
    let ch = lp::confirm_channel(&conn).await;
    fanout(&conn, &ch).await;
    headers(&ch).await;
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin pubsub: fanout to 3 subscribers, headers exchange all/any");
}
