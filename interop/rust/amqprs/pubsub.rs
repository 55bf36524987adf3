//! amqprs: publish/subscribe through a fanout and a headers exchange.
//!
//! Fanout: 3 subscribers, each on its own channel with an exclusive server-named queue
//! (`amq.gen-` prefix) bound to a fanout exchange and its own consumer; 100 confirmed
//! messages and an end marker are published; each subscriber gets all 100 in order and
//! nothing else before the marker.
//! Headers: queue A bound `x-match=all` {format: pdf, type: report}, queue B bound
//! `x-match=any` {format: zip, type: log}; messages with {pdf,report}, {pdf,log}, {zip},
//! {pdf}, {pdf,report,extra:1} and no headers are published with confirms; basic.get then
//! finds exactly [{pdf,report}, {pdf,report,extra}] in A and [{pdf,log}, {zip}] in B, with
//! the right message counts. Everything is deleted.

#[path = "helpers/util.rs"]
mod util;

use amqprs::channel::{
    BasicConsumeArguments, BasicGetArguments, BasicPublishArguments, ConfirmSelectArguments,
    ExchangeDeclareArguments, ExchangeDeleteArguments, QueueBindArguments, QueueDeclareArguments,
    QueueDeleteArguments,
};
use amqprs::{BasicProperties, FieldTable, FieldValue};
use interop::rs::connect;
use interop::{bounded, unique};
use util::{Confirms, channel, key, recv, s};

const MESSAGES: usize = 100;

fn table(pairs: &[(&str, FieldValue)]) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in pairs {
        t.insert(key(k), v.clone());
    }
    t
}

#[tokio::main]
async fn main() {
    let fanout = unique("amqprs.pubsub-fanout");
    let headers = unique("amqprs.pubsub-headers");
    let qa = unique("amqprs.pubsub-all");
    let qb = unique("amqprs.pubsub-any");
    util::run(
        vec![qa.clone(), qb.clone()],
        vec![fanout.clone(), headers.clone()],
        scenario(fanout, headers, qa, qb),
    )
    .await;
}

async fn scenario(fanout: String, headers_x: String, qa: String, qb: String) {
    let conn = connect().await;
    let (ch, mut events) = channel(&conn).await;
    ch.exchange_declare(ExchangeDeclareArguments::new(&fanout, "fanout"))
        .await
        .expect("exchange.declare fanout");

    // Three subscribers, each its own channel, queue and consumer.
    let mut subscribers = Vec::new();
    for i in 0..3 {
        let (sch, _sev) = channel(&conn).await;
        let (queue, _, _) = sch
            .queue_declare(QueueDeclareArguments::exclusive_server_named())
            .await
            .expect("queue.declare")
            .expect("declare-ok");
        assert!(queue.starts_with("amq.gen-"), "server-named queue {queue}");
        sch.queue_bind(QueueBindArguments::new(&queue, &fanout, ""))
            .await
            .expect("queue.bind");
        let (_, rx) = sch
            .basic_consume_rx(
                BasicConsumeArguments::new(&queue, &format!("subscriber-{i}"))
                    .auto_ack(true)
                    .finish(),
            )
            .await
            .expect("basic.consume");
        subscribers.push((sch, _sev, queue, rx));
    }
    let names: Vec<&String> = subscribers.iter().map(|s| &s.2).collect();
    assert!(
        names[0] != names[1] && names[1] != names[2] && names[0] != names[2],
        "distinct server-named queues: {names:?}"
    );

    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .expect("confirm.select");
    let mut confirms = Confirms::default();
    for i in 0..=MESSAGES {
        let body = if i == MESSAGES {
            "end".to_string()
        } else {
            format!("news {i}")
        };
        ch.basic_publish(
            BasicProperties::default(),
            body.into_bytes(),
            BasicPublishArguments::new(&fanout, "ignored"),
        )
        .await
        .expect("basic.publish");
        confirms.published();
    }
    confirms.wait_all(&mut events).await;

    let mut tasks = Vec::new();
    for (i, (sch, sev, queue, mut rx)) in subscribers.into_iter().enumerate() {
        let fanout = fanout.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let (deliver, _props, body) = recv(&mut rx, "a fanout message").await;
                assert_eq!(deliver.exchange(), &fanout);
                assert_eq!(deliver.consumer_tag(), &format!("subscriber-{i}"));
                let body = String::from_utf8(body).expect("utf-8");
                if body == "end" {
                    break;
                }
                got.push(body);
            }
            let want: Vec<String> = (0..MESSAGES).map(|i| format!("news {i}")).collect();
            assert_eq!(
                got, want,
                "subscriber {i}: every message, in order, nothing else"
            );
            // Closing the channel leaves the exclusive queue to the connection; delete it.
            sch.queue_delete(QueueDeleteArguments::new(&queue))
                .await
                .expect("queue.delete");
            sch.close().await.expect("channel close");
            drop(sev);
        }));
    }
    for t in tasks {
        bounded("a subscriber", t).await.expect("subscriber");
    }
    ch.exchange_delete(ExchangeDeleteArguments::new(&fanout))
        .await
        .expect("exchange.delete");

    // Headers exchange.
    ch.exchange_declare(ExchangeDeclareArguments::new(&headers_x, "headers"))
        .await
        .expect("exchange.declare headers");
    for q in [&qa, &qb] {
        ch.queue_declare(QueueDeclareArguments::new(q))
            .await
            .expect("queue.declare");
    }
    ch.queue_bind(
        QueueBindArguments::new(&qa, &headers_x, "")
            .arguments(table(&[
                ("x-match", s("all")),
                ("format", s("pdf")),
                ("type", s("report")),
            ]))
            .finish(),
    )
    .await
    .expect("queue.bind all");
    ch.queue_bind(
        QueueBindArguments::new(&qb, &headers_x, "")
            .arguments(table(&[
                ("x-match", s("any")),
                ("format", s("zip")),
                ("type", s("log")),
            ]))
            .finish(),
    )
    .await
    .expect("queue.bind any");

    let cases: Vec<(&str, Option<FieldTable>)> = vec![
        (
            "pdf+report",
            Some(table(&[("format", s("pdf")), ("type", s("report"))])),
        ),
        (
            "pdf+log",
            Some(table(&[("format", s("pdf")), ("type", s("log"))])),
        ),
        ("zip", Some(table(&[("format", s("zip"))]))),
        ("pdf", Some(table(&[("format", s("pdf"))]))),
        (
            "pdf+report+extra",
            Some(table(&[
                ("format", s("pdf")),
                ("type", s("report")),
                ("extra", FieldValue::I(1)),
            ])),
        ),
        ("no headers", None),
    ];
    for (label, headers) in cases {
        let mut props = BasicProperties::default();
        if let Some(h) = headers {
            props.with_headers(h);
        }
        ch.basic_publish(
            props.finish(),
            label.as_bytes().to_vec(),
            BasicPublishArguments::new(&headers_x, "any-key"),
        )
        .await
        .expect("basic.publish");
        confirms.published();
    }
    confirms.wait_all(&mut events).await;

    for (q, want) in [
        (&qa, vec!["pdf+report", "pdf+report+extra"]),
        (&qb, vec!["pdf+log", "zip"]),
    ] {
        let mut got = Vec::new();
        while let Some((get_ok, _props, body)) = ch
            .basic_get(BasicGetArguments::new(q).no_ack(true).finish())
            .await
            .expect("basic.get")
        {
            assert_eq!(get_ok.exchange(), &headers_x);
            assert_eq!(get_ok.routing_key(), "any-key");
            got.push(String::from_utf8(body).expect("utf-8"));
            assert_eq!(
                get_ok.message_count() as usize,
                want.len().saturating_sub(got.len()),
                "message count after {got:?}"
            );
        }
        assert_eq!(got, want, "messages in {q}");
        let left = ch
            .queue_delete(QueueDeleteArguments::new(q))
            .await
            .expect("queue.delete");
        assert_eq!(left, Some(0));
    }
    ch.exchange_delete(ExchangeDeleteArguments::new(&headers_x))
        .await
        .expect("exchange.delete headers");
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    println!("amqprs pubsub: 3 fanout subscribers x {MESSAGES}; headers all/any exact");
}
