//! A transaction whose publishes cannot be stored (a full store: a small
//! `limits.max_store_size`) never gets tx.commit-ok: the channel is closed with 406
//! PRECONDITION_FAILED (as for a transaction a queue partly refused), and the connection
//! keeps serving.

use crate::common;

use common::{TestBroker, guard};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_publishes_were_not_stored_is_refused() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.max_store_size = 8 * 1024 * 1024).await;
    let conn = broker.lapin().await;
    let ch = guard(conn.create_channel()).await.unwrap();
    let q = common::unique("txfull");
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(ch.queue_declare(q.as_str().into(), durable, FieldTable::default()))
        .await
        .unwrap();
    guard(ch.tx_select()).await.unwrap();
    // 40 MiB of persistent messages in one transaction: more than the store can hold.
    let body = vec![7u8; 4096];
    let persistent = BasicProperties::default().with_delivery_mode(2);
    for _ in 0..10_000 {
        guard(ch.basic_publish(
            "".into(),
            q.as_str().into(),
            BasicPublishOptions::default(),
            &body,
            persistent.clone(),
        ))
        .await
        .unwrap();
    }
    let err = guard(ch.tx_commit())
        .await
        .expect_err("a commit whose messages were not stored must not be confirmed");
    let text = err.to_string();
    assert!(text.contains("PRECONDITION"), "{text}");
    assert!(text.contains("tx.commit failed"), "{text}");
    // The connection still serves: the queue is there and answers a passive declare.
    let ch2 = guard(conn.create_channel()).await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    guard(ch2.queue_declare(q.as_str().into(), passive, FieldTable::default()))
        .await
        .unwrap();
}
