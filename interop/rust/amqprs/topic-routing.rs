//! amqprs: topic routing with exchange-to-exchange bindings. A topic exchange routes to
//! queues and to a second (fanout) exchange bound with `*.critical`; each queue must hold
//! exactly the keys that match it, in publish order, counted with basic.get.

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicGetArguments, BasicPublishArguments, ConfirmSelectArguments, ExchangeBindArguments,
    ExchangeDeclareArguments, ExchangeDeleteArguments, QueueBindArguments, QueueDeclareArguments,
    QueueDeleteArguments,
};
use interop::rs::{Event, channel, connect, next_event};
use interop::unique;

const KEYS: &[&str] = &[
    "kern.critical",
    "kern.info",
    "cron.critical",
    "cron.warning.disk",
    "auth.info",
    "critical",
    "a.b.c.critical",
];

#[tokio::main]
async fn main() {
    let conn = connect().await;
    let (ch, mut events) = channel(&conn).await;
    let topic = unique("amqprs.topic");
    let fanout = unique("amqprs.alerts");
    ch.exchange_declare(ExchangeDeclareArguments::new(&topic, "topic"))
        .await
        .expect("exchange.declare topic");
    ch.exchange_declare(ExchangeDeclareArguments::new(&fanout, "fanout"))
        .await
        .expect("exchange.declare fanout");
    ch.exchange_bind(ExchangeBindArguments::new(&fanout, &topic, "*.critical"))
        .await
        .expect("exchange.bind");

    // (queue, exchange, binding keys, expected keys in order)
    let plan: Vec<(&str, &str, Vec<&str>, Vec<&str>)> = vec![
        (
            "kern",
            &topic,
            vec!["kern.*"],
            vec!["kern.critical", "kern.info"],
        ),
        (
            "cron-deep",
            &topic,
            vec!["cron.#"],
            vec!["cron.critical", "cron.warning.disk"],
        ),
        (
            "info",
            &topic,
            vec!["#.info"],
            vec!["kern.info", "auth.info"],
        ),
        (
            "deep-critical",
            &topic,
            vec!["#.critical"],
            vec![
                "kern.critical",
                "cron.critical",
                "critical",
                "a.b.c.critical",
            ],
        ),
        // Through the exchange-to-exchange binding only.
        (
            "pager",
            &fanout,
            vec![""],
            vec!["kern.critical", "cron.critical"],
        ),
        (
            "pager-2",
            &fanout,
            vec!["ignored-by-fanout"],
            vec!["kern.critical", "cron.critical"],
        ),
    ];
    let mut queues = Vec::new();
    for (suffix, exchange, keys, _) in &plan {
        let name = unique(&format!("amqprs.topic.{suffix}"));
        ch.queue_declare(QueueDeclareArguments::new(&name))
            .await
            .expect("queue.declare");
        for key in keys {
            ch.queue_bind(QueueBindArguments::new(&name, exchange, key))
                .await
                .expect("queue.bind");
        }
        queues.push(name);
    }

    ch.confirm_select(ConfirmSelectArguments::default())
        .await
        .expect("confirm.select");
    for key in KEYS {
        ch.basic_publish(
            BasicProperties::default(),
            key.as_bytes().to_vec(),
            BasicPublishArguments::new(&topic, key),
        )
        .await
        .expect("basic.publish");
    }
    let mut covered = 0;
    while covered < KEYS.len() as u64 {
        match next_event(&mut events, "confirms").await {
            Event::Ack { tag, .. } => covered = tag,
            other => panic!("expected an ack, got {other:?}"),
        }
    }

    for ((suffix, _, _, expected), q) in plan.iter().zip(&queues) {
        let mut got = Vec::new();
        while let Some((get_ok, _props, body)) = ch
            .basic_get(BasicGetArguments::new(q).no_ack(true).finish())
            .await
            .expect("basic.get")
        {
            assert_eq!(
                get_ok.exchange(),
                &topic,
                "exchange of a message routed via e2e"
            );
            assert_eq!(get_ok.routing_key().as_bytes(), body.as_slice());
            assert_eq!(
                get_ok.message_count() as usize,
                expected.len() - got.len() - 1
            );
            got.push(String::from_utf8_lossy(&body).into_owned());
        }
        assert_eq!(got, *expected, "keys in queue {suffix}");
        let left = ch
            .queue_delete(QueueDeleteArguments::new(q))
            .await
            .expect("queue.delete");
        assert_eq!(left, Some(0));
    }
    ch.exchange_delete(ExchangeDeleteArguments::new(&fanout))
        .await
        .expect("exchange.delete");
    ch.exchange_delete(ExchangeDeleteArguments::new(&topic))
        .await
        .expect("exchange.delete");
    ch.close().await.expect("channel close");
    conn.close().await.expect("close");
    println!("amqprs topic routing: {} queues exact", queues.len());
}
