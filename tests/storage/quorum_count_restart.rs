//! Quorum queues' delivery counts survive a crash: the `warren` binary runs as a child
//! process, messages are returned three times, the child is SIGKILLed and restarted on the
//! same data directory, and `x-delivery-count` and `x-delivery-limit` carry on from 3 (as
//! RabbitMQ, which keeps the count in the queue's Raft log).

use crate::common;

use common::process::{kill, spawn_broker};
use common::quorum::*;
use common::{consume, guard};
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const COUNTED: &str = "qq-count-restart";
const LIMITED: &str = "qq-count-restart-limited";
const DEAD: &str = "qq-count-restart-dead";
const BARRIER: &str = "qq-count-restart-barrier";

/// A confirm-mode channel on `uri`.
async fn confirm_channel(uri: &str) -> (Connection, Channel) {
    let conn = guard(Connection::connect(uri, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = guard(conn.create_channel()).await.unwrap();
    guard(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    (conn, ch)
}

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

#[tokio::test]
async fn delivery_counts_and_the_delivery_limit_carry_on_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (child, uri) = spawn_broker(dir.path()).await;
    {
        let (_conn, ch) = confirm_channel(&uri).await;
        declare(&ch, DEAD, DURABLE, FieldTable::default()).await;
        declare(&ch, BARRIER, DURABLE, FieldTable::default()).await;
        declare(&ch, COUNTED, DURABLE, quorum_args(&[])).await;
        let limited = quorum_args(&[
            ("x-delivery-limit", int(3)),
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s(DEAD)),
        ]);
        declare(&ch, LIMITED, DURABLE, limited).await;
        for q in [COUNTED, LIMITED] {
            publish_props(&ch, q, q.as_bytes(), persistent()).await;
            let seen = get_and_reject_all(&ch, q, 3).await;
            let counts: Vec<_> = seen.iter().map(|(_, _, c)| *c).collect();
            assert_eq!(counts, [Some(0), Some(1), Some(2)], "{q}: {seen:?}");
        }
        // The store's writer is FIFO and the rejects were handled before this publish on
        // the same channel: once it is confirmed, the counts are on disk.
        publish_props(&ch, BARRIER, b"barrier", persistent()).await;
    }
    kill(child).await;

    let (_child, uri) = spawn_broker(dir.path()).await;
    let (_conn, ch) = confirm_channel(&uri).await;
    // A consumer delivery carries the count only once the message was returned: 3 here.
    let mut deliveries = consume(&ch, COUNTED, BasicConsumeOptions::default()).await;
    let d = deliveries.next().await;
    assert_eq!(common::body(&d), COUNTED);
    assert!(d.redelivered);
    assert_eq!(delivery_count(&d.properties), Some(3));

    // At the limit (3 returns): delivered once more, and its next return dead-letters it.
    let m = get(&ch, LIMITED).await.expect("kept across the crash");
    assert_eq!(delivery_count(&m.delivery.properties), Some(3));
    reject(&ch, m.delivery.delivery_tag).await;
    let deadline = std::time::Instant::now() + common::HANG_GUARD;
    let dead = loop {
        if let Some(m) = get(&ch, DEAD).await {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing dead-lettered"
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(body(&dead), LIMITED);
    assert!(get(&ch, DEAD).await.is_none(), "dead-lettered exactly once");
    assert!(get(&ch, LIMITED).await.is_none(), "gone from its queue");
}
