//! Crash safety: the `warren` binary runs as a child process, a publisher sends persistent
//! messages with confirms, and the child is killed with SIGKILL at a random point. After a
//! restart on the same data directory every confirmed message must be in the queue exactly
//! once, in publish order (unconfirmed ones may or may not be there, but never twice or out
//! of order).

use crate::common;

use common::guard;
use common::process::{kill, spawn_broker};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::collections::VecDeque;

const QUEUE: &str = "crash-orders";

/// Publishes numbered persistent messages with up to 64 confirms in flight until `stop_after`
/// are confirmed; returns the confirmed numbers (in order).
async fn publish_until(uri: &str, start: u64, stop_after: usize) -> Vec<u64> {
    let conn = guard(Connection::connect(uri, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = guard(conn.create_channel()).await.unwrap();
    guard(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(ch.queue_declare(QUEUE.into(), durable, FieldTable::default()))
        .await
        .unwrap();
    let mut in_flight = VecDeque::new();
    let mut confirmed = Vec::new();
    let mut next = start;
    while confirmed.len() < stop_after {
        while in_flight.len() < 64 {
            let body = next.to_string();
            let c = guard(ch.basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            ))
            .await
            .unwrap();
            in_flight.push_back((next, c));
            next += 1;
        }
        if let Some((n, c)) = in_flight.pop_front() {
            assert!(guard(c).await.unwrap().is_ack());
            confirmed.push(n);
        }
    }
    // The connection is abandoned with confirms still in flight: the kill comes next.
    std::mem::forget(conn);
    confirmed
}

/// Reads the whole queue (no-ack) as numbers.
async fn read_all(uri: &str) -> Vec<u64> {
    let conn = guard(Connection::connect(uri, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = guard(conn.create_channel()).await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = guard(ch.basic_get(QUEUE.into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        out.push(String::from_utf8_lossy(&m.delivery.data).parse().unwrap());
    }
    let _ = guard(conn.close(200, "done".into())).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_confirmed_message_survives_sigkill_exactly_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut all_confirmed: Vec<u64> = Vec::new();
    let mut next = 0;
    for round in 0..3 {
        let (child, uri) = spawn_broker(dir.path()).await;
        let stop_after = 200 + rand::random_range(0..800usize);
        let confirmed = publish_until(&uri, next, stop_after).await;
        kill(child).await;
        next = confirmed.last().map_or(next, |n| n + 1000);
        all_confirmed.extend(confirmed);

        let (child, uri) = spawn_broker(dir.path()).await;
        let present = read_all(&uri).await;
        // Strictly increasing: nothing twice, nothing out of order.
        assert!(
            present.windows(2).all(|w| w[0] < w[1]),
            "round {round}: duplicates or reordering"
        );
        // Every confirmed message is there.
        let mut it = present.iter().peekable();
        for n in &all_confirmed {
            while it.peek().is_some_and(|p| *p < n) {
                it.next();
            }
            assert_eq!(
                it.next(),
                Some(n),
                "round {round}: confirmed message {n} lost"
            );
        }
        // Put them back for the next round (they were drained by the check).
        let conn = guard(Connection::connect(&uri, ConnectionProperties::default()))
            .await
            .unwrap();
        let ch = guard(conn.create_channel()).await.unwrap();
        guard(ch.confirm_select(ConfirmSelectOptions::default()))
            .await
            .unwrap();
        for n in &all_confirmed {
            let c = guard(ch.basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                n.to_string().as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            ))
            .await
            .unwrap();
            assert!(guard(c).await.unwrap().is_ack());
        }
        let _ = guard(conn.close(200, "done".into())).await;
        kill(child).await;
    }
}
