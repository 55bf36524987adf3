//! A message that left its queue stays gone after a crash: Warren runs as a child process,
//! messages are acked, expired on arrival (x-message-ttl 0, dead-lettered) and dropped over
//! a length limit (x-max-length 0), then — after an idle gap made observable by a confirmed
//! publish on the acking connection, which the store's FIFO writer commits after the acks —
//! the broker is SIGKILLed and restarted. Only what was still in a queue may come back.

use crate::common;

use common::guard;
use common::process::{kill, spawn_broker};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const WORK: &str = "settle-work";
const EXPIRING: &str = "settle-expiring";
const CAPPED: &str = "settle-capped";
const DEAD: &str = "settle-dead";
const BARRIER: &str = "settle-barrier";

async fn declare(ch: &Channel, name: &str, args: FieldTable) {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(ch.queue_declare(name.into(), durable, args))
        .await
        .unwrap();
}

async fn publish(ch: &Channel, queue: &str, body: &str) {
    let confirm = guard(ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body.as_bytes(),
        BasicProperties::default().with_delivery_mode(2),
    ))
    .await
    .unwrap();
    assert!(guard(confirm).await.unwrap().is_ack(), "{body} confirmed");
}

/// Every message left in `queue` (no-ack gets): (body, redelivered).
async fn drain(ch: &Channel, queue: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        let d = m.delivery;
        out.push((String::from_utf8_lossy(&d.data).into_owned(), d.redelivered));
    }
    out
}

async fn declare_all(ch: &Channel) {
    declare(ch, WORK, FieldTable::default()).await;
    declare(ch, DEAD, FieldTable::default()).await;
    declare(ch, BARRIER, FieldTable::default()).await;
    let mut expiring = FieldTable::default();
    expiring.insert("x-message-ttl".into(), AMQPValue::LongInt(0));
    expiring.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    expiring.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(DEAD.into()),
    );
    declare(ch, EXPIRING, expiring).await;
    let mut capped = FieldTable::default();
    capped.insert("x-max-length".into(), AMQPValue::LongInt(0));
    declare(ch, CAPPED, capped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_expired_and_dropped_messages_stay_gone_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (child, uri) = spawn_broker(dir.path()).await;
    let conn = guard(Connection::connect(&uri, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = guard(conn.create_channel()).await.unwrap();
    guard(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare_all(&ch).await;
    for i in 0..100 {
        publish(&ch, WORK, &format!("w{i}")).await;
    }

    // A consumer on the same connection takes all 100 and acks the first 60.
    let consumer_ch = guard(conn.create_channel()).await.unwrap();
    guard(consumer_ch.basic_qos(100, BasicQosOptions::default()))
        .await
        .unwrap();
    let consumer = guard(consumer_ch.basic_consume(
        WORK.into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut deliveries = common::Deliveries::of(&consumer);
    let got = deliveries.take(100).await;
    for d in &got[..60] {
        guard(d.acker.ack(BasicAckOptions::default()))
            .await
            .unwrap();
    }

    // Messages that leave their queue while they are being published.
    for i in 0..20 {
        publish(&ch, EXPIRING, &format!("e{i}")).await;
        publish(&ch, CAPPED, &format!("c{i}")).await;
    }

    // The acks were read before this publish on the same connection, and the store commits
    // in order: once it is confirmed, they are on disk. Nothing happens until the kill.
    publish(&ch, BARRIER, "barrier").await;
    std::mem::forget(conn);
    kill(child).await;

    let (child, uri) = spawn_broker(dir.path()).await;
    let conn = guard(Connection::connect(&uri, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = guard(conn.create_channel()).await.unwrap();
    let work = drain(&ch, WORK).await;
    let expected: Vec<(String, bool)> = (60..100).map(|i| (format!("w{i}"), true)).collect();
    assert_eq!(
        work, expected,
        "only the unacked deliveries come back, marked redelivered"
    );
    assert_eq!(
        drain(&ch, EXPIRING).await,
        vec![],
        "expired messages stay gone"
    );
    assert_eq!(
        drain(&ch, CAPPED).await,
        vec![],
        "dropped messages stay gone"
    );
    let dead: Vec<String> = drain(&ch, DEAD).await.into_iter().map(|(b, _)| b).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("e{i}")).collect();
    assert_eq!(dead, expected, "each expired message dead-lettered once");
    assert_eq!(drain(&ch, BARRIER).await.len(), 1);
    let _ = guard(conn.close(200, "done".into())).await;
    kill(child).await;
}
