//! lapin: a topic exchange with the RabbitMQ tutorial's bindings plus `#`/`*` edge cases;
//! every queue must hold exactly the keys that match it, each once, in publish order.

use interop::{lp, unique};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};

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
    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("channel");
    let exchange = unique("lapin.topic");
    lp::declare_exchange(
        &ch,
        &exchange,
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
    )
    .await;

    let plan = plan();
    let mut queues = Vec::new();
    for (suffix, bindings, _) in &plan {
        let name = unique(&format!("lapin.topic.{suffix}"));
        let q = lp::declare_queue(&ch, &name, QueueDeclareOptions::default()).await;
        for key in bindings {
            lp::bind(
                &ch,
                q.name().as_str(),
                &exchange,
                key,
                FieldTable::default(),
            )
            .await;
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
        lp::acked(confirm, "confirm").await;
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
    }
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    lp::delete(&ch, &queues, &[&exchange]).await;
    conn.close(200, "bye".into()).await.expect("close");
    println!("lapin topic routing: {} queues exact", queues.len());
}
