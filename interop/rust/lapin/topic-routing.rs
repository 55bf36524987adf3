//! lapin: a topic exchange with the RabbitMQ tutorial's bindings plus `#`/`*` edge cases;
//! every queue must hold exactly the keys that match it, each once, in publish order.

use interop::{bounded, unique, uri};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

const KEYS: &[&str] = &[
    "quick.orange.rabbit",
    "lazy.orange.elephant",
    "quick.orange.fox",
    "lazy.brown.fox",
    "lazy.pink.rabbit",
    "quick.brown.fox",
    "orange",
    "quick.orange.male.rabbit",
    "lazy.orange.male.rabbit",
    "lazy",
    "..",
    "audit.log",
    "audit",
];

/// (queue suffix, binding keys, keys expected in it, in publish order)
fn plan() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (
            "q1",
            vec!["*.orange.*"],
            vec![
                "quick.orange.rabbit",
                "lazy.orange.elephant",
                "quick.orange.fox",
            ],
        ),
        (
            "q2",
            // Two bindings that both match "lazy.pink.rabbit": delivered once.
            vec!["*.*.rabbit", "lazy.#"],
            vec![
                "quick.orange.rabbit",
                "lazy.orange.elephant",
                "lazy.brown.fox",
                "lazy.pink.rabbit",
                "lazy.orange.male.rabbit",
                "lazy",
            ],
        ),
        ("all", vec!["#"], KEYS.to_vec()),
        (
            "empty-words",
            vec!["*.*.*"],
            vec![
                "quick.orange.rabbit",
                "lazy.orange.elephant",
                "quick.orange.fox",
                "lazy.brown.fox",
                "lazy.pink.rabbit",
                "quick.brown.fox",
                "..",
            ],
        ),
        ("audit", vec!["audit.#"], vec!["audit.log", "audit"]),
    ]
}

#[tokio::main]
async fn main() {
    let conn = bounded(
        "connect",
        Connection::connect(&uri(), ConnectionProperties::default()),
    )
    .await
    .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    let exchange = unique("lapin.topic");
    ch.exchange_declare(
        exchange.as_str().into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("exchange.declare");

    let plan = plan();
    let mut queues = Vec::new();
    for (suffix, bindings, _) in &plan {
        let q = ch
            .queue_declare(
                unique(&format!("lapin.topic.{suffix}")).as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue.declare");
        for key in bindings {
            ch.queue_bind(
                q.name().clone(),
                exchange.as_str().into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue.bind");
        }
        queues.push(q.name().to_string());
    }

    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    for key in KEYS {
        let confirm = ch
            .basic_publish(
                exchange.as_str().into(),
                (*key).into(),
                BasicPublishOptions::default(),
                key.as_bytes(),
                BasicProperties::default(),
            )
            .await
            .expect("basic.publish");
        assert!(bounded("confirm", confirm).await.expect("confirm").is_ack());
    }

    for ((suffix, _, expected), q) in plan.iter().zip(&queues) {
        let mut got = Vec::new();
        while let Some(m) = ch
            .basic_get(q.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            assert_eq!(m.delivery.exchange.as_str(), exchange);
            assert_eq!(
                m.delivery.routing_key.as_str().as_bytes(),
                m.delivery.data.as_slice()
            );
            assert_eq!(m.message_count as usize, expected.len() - got.len() - 1);
            got.push(String::from_utf8_lossy(&m.delivery.data).into_owned());
        }
        assert_eq!(got, *expected, "keys routed to queue {suffix}");
        ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("queue.delete");
    }
    ch.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .expect("exchange.delete");
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin topic routing: {} queues exact", queues.len());
}
