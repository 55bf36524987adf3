//! Durability: what survives a restart of the broker on the same data directory, and
//! backlogs paged to the store. Warren-only (each test restarts its own broker).

use crate::common;

use common::{Deliveries, body, guard};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::path::Path;
use std::sync::Arc;
use warren::config::Settings;
use warren::server::ServerHandle;

/// A Warren on `dir`, with a client connection and a confirming channel.
struct Node {
    handle: ServerHandle,
    conn: Connection,
    ch: Channel,
}

async fn start(dir: &Path) -> Node {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".to_string();
    settings.management.listen.clear();
    settings.prometheus.listen.clear();
    settings.server.data_dir = dir.to_path_buf();
    let handle = guard(warren::server::start(Arc::new(settings)))
        .await
        .expect("broker starts");
    let uri = format!("amqp://guest:guest@{}/%2f", handle.local_addr());
    let conn = guard(Connection::connect(&uri, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = guard(conn.create_channel()).await.unwrap();
    guard(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    Node { handle, conn, ch }
}

impl Node {
    async fn stop(self) {
        let _ = guard(self.conn.close(200, "bye".into())).await;
        guard(self.handle.shutdown()).await;
    }
}

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

async fn publish(ch: &Channel, exchange: &str, key: &str, body: &[u8], props: BasicProperties) {
    let confirm = guard(ch.basic_publish(
        exchange.into(),
        key.into(),
        BasicPublishOptions::default(),
        body,
        props,
    ))
    .await
    .unwrap();
    assert!(guard(confirm).await.unwrap().is_ack());
}

async fn declare_durable(ch: &Channel, name: &str) {
    let opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(ch.queue_declare(name.into(), opts, FieldTable::default()))
        .await
        .unwrap();
}

async fn count(ch: &Channel, name: &str) -> u32 {
    let opts = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    guard(ch.queue_declare(name.into(), opts, FieldTable::default()))
        .await
        .unwrap()
        .message_count()
}

/// Gets every message with basic.get (no-ack): (body, redelivered).
async fn drain(ch: &Channel, queue: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        out.push((body(&m.delivery), m.delivery.redelivered));
    }
    out
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

#[tokio::test]
async fn persistent_messages_in_a_durable_queue_survive_a_restart_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    declare_durable(&node.ch, "orders").await;
    for b in numbered(100) {
        publish(&node.ch, "", "orders", b.as_bytes(), persistent()).await;
    }
    publish(
        &node.ch,
        "",
        "orders",
        b"transient",
        BasicProperties::default(),
    )
    .await;
    node.stop().await;

    let node = start(dir.path()).await;
    assert_eq!(count(&node.ch, "orders").await, 100);
    let got: Vec<String> = drain(&node.ch, "orders")
        .await
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(got, numbered(100));
    node.stop().await;
}

#[tokio::test]
async fn durable_definitions_survive_a_restart_and_transient_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(node.ch.exchange_declare(
        "events".into(),
        ExchangeKind::Topic,
        durable,
        FieldTable::default(),
    ))
    .await
    .unwrap();
    guard(node.ch.exchange_declare(
        "scratch".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongInt(50));
    let opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(node.ch.queue_declare("audit".into(), opts, args.clone()))
        .await
        .unwrap();
    declare_durable(&node.ch, "plain").await;
    guard(node.ch.queue_declare(
        "temp".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    guard(node.ch.queue_bind(
        "audit".into(),
        "events".into(),
        "order.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    node.stop().await;

    let node = start(dir.path()).await;
    // The binding came back: a message routed through it arrives.
    publish(&node.ch, "events", "order.created", b"o1", persistent()).await;
    assert_eq!(
        drain(&node.ch, "audit").await,
        vec![("o1".to_string(), false)]
    );
    // The queue kept its arguments: redeclaring with them is equivalent, without them is not.
    let opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(node.ch.queue_declare("audit".into(), opts, args))
        .await
        .unwrap();
    assert_eq!(count(&node.ch, "plain").await, 0);
    let ch = guard(node.conn.create_channel()).await.unwrap();
    let missing = guard(ch.queue_declare(
        "temp".into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await;
    assert_eq!(common::amqp_error(&missing.unwrap_err()).0, 404);
    let ch = guard(node.conn.create_channel()).await.unwrap();
    let missing = guard(ch.exchange_declare(
        "scratch".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await;
    assert_eq!(common::amqp_error(&missing.unwrap_err()).0, 404);
    node.stop().await;
}

#[tokio::test]
async fn acked_messages_stay_gone_and_unacked_ones_come_back_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    declare_durable(&node.ch, "work").await;
    for b in numbered(6) {
        publish(&node.ch, "", "work", b.as_bytes(), persistent()).await;
    }
    let ch = guard(node.conn.create_channel()).await.unwrap();
    let mut tags = Vec::new();
    for _ in 0..4 {
        let m = guard(ch.basic_get("work".into(), BasicGetOptions { no_ack: false }))
            .await
            .unwrap()
            .expect("a message");
        tags.push(m.delivery.delivery_tag);
    }
    // Ack the first two; leave the next two delivered but unacked.
    for tag in &tags[..2] {
        guard(ch.basic_ack(*tag, BasicAckOptions::default()))
            .await
            .unwrap();
    }
    // A synchronous round trip on the same channel makes sure the acks were processed.
    guard(ch.basic_qos(100, Default::default())).await.unwrap();
    node.stop().await;

    let node = start(dir.path()).await;
    let got = drain(&node.ch, "work").await;
    assert_eq!(
        got,
        vec![
            ("m2".to_string(), true),
            ("m3".to_string(), true),
            ("m4".to_string(), false),
            ("m5".to_string(), false),
        ]
    );
    node.stop().await;
}

#[tokio::test]
async fn a_backlog_beyond_the_memory_window_is_paged_and_drained_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    guard(node.ch.queue_declare(
        "burst".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let n = 5000;
    let mut confirms = Vec::with_capacity(n);
    for b in numbered(n) {
        let c = guard(node.ch.basic_publish(
            "".into(),
            "burst".into(),
            BasicPublishOptions::default(),
            b.as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        confirms.push(c);
    }
    for c in confirms {
        assert!(guard(c).await.unwrap().is_ack());
    }
    assert_eq!(count(&node.ch, "burst").await, n as u32);
    let consumer_ch = guard(node.conn.create_channel()).await.unwrap();
    guard(consumer_ch.basic_qos(200, Default::default()))
        .await
        .unwrap();
    let consumer = guard(consumer_ch.basic_consume(
        "burst".into(),
        "c".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut deliveries = Deliveries::of(&consumer);
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        let d = deliveries.next().await;
        got.push(body(&d));
        guard(d.acker.ack(BasicAckOptions::default()))
            .await
            .unwrap();
    }
    assert_eq!(got, numbered(n));
    assert_eq!(count(&node.ch, "burst").await, 0);
    node.stop().await;
}

#[tokio::test]
async fn a_paged_durable_backlog_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    declare_durable(&node.ch, "big").await;
    let n = 3000;
    let mut confirms = Vec::with_capacity(n);
    for b in numbered(n) {
        let c = guard(node.ch.basic_publish(
            "".into(),
            "big".into(),
            BasicPublishOptions::default(),
            b.as_bytes(),
            persistent(),
        ))
        .await
        .unwrap();
        confirms.push(c);
    }
    for c in confirms {
        assert!(guard(c).await.unwrap().is_ack());
    }
    node.stop().await;

    let node = start(dir.path()).await;
    assert_eq!(count(&node.ch, "big").await, n as u32);
    let got: Vec<String> = drain(&node.ch, "big")
        .await
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(got, numbered(n));
    node.stop().await;
}

#[tokio::test]
async fn a_second_broker_cannot_open_the_same_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".to_string();
    settings.management.listen.clear();
    settings.prometheus.listen.clear();
    settings.server.data_dir = dir.path().to_path_buf();
    let second = warren::server::start(Arc::new(settings)).await;
    let err = second.expect_err("the data directory is locked");
    assert!(
        err.to_string().contains("cannot open the data directory"),
        "{err}"
    );
    node.stop().await;
}

#[tokio::test]
async fn a_data_directory_of_an_unknown_format_stops_start_up_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = vec![0xAB_u8; 64 * 1024];
    std::fs::write(dir.path().join("data.mdb"), &garbage).unwrap();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".to_string();
    settings.management.listen.clear();
    settings.prometheus.listen.clear();
    settings.server.data_dir = dir.path().to_path_buf();
    let err = warren::server::start(Arc::new(settings))
        .await
        .expect_err("a corrupt data file is refused");
    assert!(
        err.to_string().contains("cannot open the data directory"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), garbage);
}

/// Returns once `ms` milliseconds of wall-clock time have passed, observed as an event: a
/// message with that TTL on a separate broker expires into a consumed sink.
async fn wall_clock_passes(ms: i32) {
    let timer = common::TestBroker::start().await;
    let (_c, ch) = timer.lapin_confirm_channel().await;
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    let sink = guard(ch.queue_declare("".into(), exclusive, FieldTable::default()))
        .await
        .unwrap();
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let consumer = guard(ch.basic_consume(
        sink.name().as_str().into(),
        "".into(),
        no_ack,
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), AMQPValue::LongInt(ms));
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(sink.name().as_str().into()),
    );
    let clock = guard(ch.queue_declare("".into(), exclusive, args))
        .await
        .unwrap();
    publish(
        &ch,
        "",
        clock.name().as_str(),
        b"tick",
        BasicProperties::default(),
    )
    .await;
    assert_eq!(body(&Deliveries::of(&consumer).next().await), "tick");
}

#[tokio::test]
async fn message_ttls_still_apply_to_messages_recovered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    declare_durable(&node.ch, "expired").await;
    let dead_letter_to_sink = |ttl: Option<i32>| {
        let mut args = FieldTable::default();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString("expired".into()),
        );
        if let Some(ms) = ttl {
            args.insert("x-message-ttl".into(), AMQPValue::LongInt(ms));
        }
        args
    };
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (name, ttl) in [("queue-ttl", Some(1000)), ("own-expiration", None)] {
        guard(
            node.ch
                .queue_declare(name.into(), durable, dead_letter_to_sink(ttl)),
        )
        .await
        .unwrap();
    }
    publish(&node.ch, "", "queue-ttl", b"by queue ttl", persistent()).await;
    let expiring = persistent().with_expiration("1000".into());
    publish(&node.ch, "", "own-expiration", b"by expiration", expiring).await;
    node.stop().await;
    // The TTLs run out while the broker is down.
    wall_clock_passes(1000).await;

    // Recovered messages keep their TTLs, counted from publication: both are already
    // expired when the broker comes back (not a full TTL later), and go to the sink.
    let node = start(dir.path()).await;
    for queue in ["queue-ttl", "own-expiration"] {
        let got = guard(
            node.ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: true }),
        )
        .await
        .unwrap();
        assert!(
            got.is_none(),
            "{queue} still holds its message after its TTL"
        );
    }
    let consumer = guard(node.ch.basic_consume(
        "expired".into(),
        "sink".into(),
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut got = Deliveries::of(&consumer).bodies(2).await;
    got.sort();
    assert_eq!(got, ["by expiration", "by queue ttl"]);
    assert_eq!(count(&node.ch, "queue-ttl").await, 0);
    assert_eq!(count(&node.ch, "own-expiration").await, 0);
    node.stop().await;
}
