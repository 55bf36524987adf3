//! A full store (a small `limits.max_store_size`): publishes that need the store are nacked,
//! never dropped silently and never a panic; the broker keeps serving; once the queue is
//! drained the freed space is reused and publishing is confirmed again.

use crate::common;

use common::{TestBroker, guard};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueuePurgeOptions};
use lapin::types::FieldTable;
use std::collections::VecDeque;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_nacks_publishes_and_accepts_them_again_once_drained() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.max_store_size = 8 * 1024 * 1024).await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = common::unique("full");
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(ch.queue_declare(q.as_str().into(), durable, FieldTable::default()))
        .await
        .unwrap();
    let body = vec![7u8; 4096];
    let persistent = BasicProperties::default().with_delivery_mode(2);
    let mut in_flight = VecDeque::new();
    let mut acked = 0u32;
    let mut nacked = false;
    for _ in 0..10_000 {
        let c = guard(ch.basic_publish(
            "".into(),
            q.as_str().into(),
            BasicPublishOptions::default(),
            &body,
            persistent.clone(),
        ))
        .await
        .unwrap();
        in_flight.push_back(c);
        if in_flight.len() >= 64 {
            let c = in_flight.pop_front().unwrap();
            if guard(c).await.unwrap().is_nack() {
                nacked = true;
                break;
            }
            acked += 1;
        }
    }
    assert!(
        nacked,
        "8 MiB of store cannot hold 40 MiB of messages: expected a nack"
    );
    assert!(
        acked > 100,
        "the store held something before it filled ({acked} acked)"
    );
    // Whatever was confirmed is in the queue; the broker still answers.
    let purged = guard(ch.queue_purge(q.as_str().into(), QueuePurgeOptions::default()))
        .await
        .unwrap();
    assert!(purged >= acked, "purged {purged} < acked {acked}");
    // Space is reused: publishing is confirmed again (after the alarm clears).
    let c = guard(ch.basic_publish(
        "".into(),
        q.as_str().into(),
        BasicPublishOptions::default(),
        b"after",
        persistent.clone(),
    ))
    .await
    .unwrap();
    // Earlier publishes still in flight settle first (acked or nacked).
    for earlier in in_flight {
        let _ = guard(earlier).await.unwrap();
    }
    assert!(guard(c).await.unwrap().is_ack());
}
