//! Helpers of the quorum-queue tests (`tests/storage/quorum_queues.rs`, `tests/storage/quorum_delivery.rs`):
//! durable `x-queue-type=quorum` declarations, refusals as (code, text), basic.get with the
//! `x-delivery-count` header read as RabbitMQ types it, and publishes that report ack/nack.

use super::{TestBroker, amqp_error, guard};
use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, BasicRejectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};

/// Durable, not exclusive, not auto-delete: what a quorum queue must be.
pub const DURABLE: QueueDeclareOptions = QueueDeclareOptions {
    passive: false,
    durable: true,
    exclusive: false,
    auto_delete: false,
    nowait: false,
};

/// A longstr value.
pub fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

/// A signed 32-bit value.
pub fn int(v: i32) -> AMQPValue {
    AMQPValue::LongInt(v)
}

/// `x-queue-type=quorum` plus `extra`.
pub fn quorum_args(extra: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert("x-queue-type".into(), s("quorum"));
    for (k, v) in extra {
        t.insert((*k).into(), v.clone());
    }
    t
}

/// Declares `name`, panicking if refused.
pub async fn declare(ch: &Channel, name: &str, opts: QueueDeclareOptions, args: FieldTable) {
    guard(ch.queue_declare(name.into(), opts, args))
        .await
        .unwrap();
}

/// Declares `name` on a fresh channel, returning the refusal's (code, text), or `None`.
pub async fn refusal(
    broker: &TestBroker,
    name: &str,
    opts: QueueDeclareOptions,
    args: FieldTable,
) -> Option<(u16, String)> {
    let (_conn, ch) = broker.lapin_channel().await;
    match guard(ch.queue_declare(name.into(), opts, args)).await {
        Ok(_) => {
            let _ = guard(ch.queue_delete(name.into(), Default::default())).await;
            None
        }
        Err(e) => Some(amqp_error(&e)),
    }
}

/// Deletes `name` on a fresh channel.
pub async fn delete(broker: &TestBroker, name: &str) {
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.queue_delete(name.into(), Default::default()))
        .await
        .unwrap();
}

/// Publishes on a confirm channel, asserting the ack.
pub async fn publish_props(ch: &Channel, queue: &str, body: &[u8], props: BasicProperties) {
    let confirm = guard(ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        props,
    ))
    .await
    .unwrap();
    assert!(guard(confirm).await.unwrap().is_ack(), "publish was nacked");
}

/// basic.get with acks.
pub async fn get(ch: &Channel, queue: &str) -> Option<BasicGetMessage> {
    guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
}

/// The `x-delivery-count` header: `None` when absent; panics unless it is a signed 64-bit
/// integer (RabbitMQ's `long`).
pub fn delivery_count(props: &BasicProperties) -> Option<i64> {
    let value = props.headers().as_ref()?.inner().get("x-delivery-count")?;
    match value {
        AMQPValue::LongLongInt(n) => Some(*n),
        other => panic!("x-delivery-count should be a long, got {other:?}"),
    }
}

/// The body as text.
pub fn body(m: &BasicGetMessage) -> String {
    String::from_utf8_lossy(&m.delivery.data).into_owned()
}

/// basic.reject with requeue.
pub async fn reject(ch: &Channel, tag: u64) {
    guard(ch.basic_reject(tag, BasicRejectOptions { requeue: true }))
        .await
        .unwrap();
}

/// basic.get then reject with requeue until the queue answers get-empty or `max` messages
/// were seen; returns (body, redelivered, x-delivery-count) per get.
pub async fn get_and_reject_all(
    ch: &Channel,
    queue: &str,
    max: usize,
) -> Vec<(String, bool, Option<i64>)> {
    let mut seen = Vec::new();
    while seen.len() < max {
        let Some(m) = get(ch, queue).await else { break };
        seen.push((
            body(&m),
            m.delivery.redelivered,
            delivery_count(&m.delivery.properties),
        ));
        reject(ch, m.delivery.delivery_tag).await;
    }
    seen
}

/// Like [`refusal`], without deleting the queue on success.
pub async fn refusal_keep(
    broker: &TestBroker,
    name: &str,
    opts: QueueDeclareOptions,
    args: FieldTable,
) -> Option<(u16, String)> {
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.queue_declare(name.into(), opts, args))
        .await
        .err()
        .map(|e| amqp_error(&e))
}

/// Publishes on a confirm channel; true when acked, false when nacked.
pub async fn acked(ch: &Channel, queue: &str, body: &[u8]) -> bool {
    let confirm = guard(ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    guard(confirm).await.unwrap().is_ack()
}
