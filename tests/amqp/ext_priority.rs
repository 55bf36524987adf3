//! Priority queues (x-max-priority): higher priorities first, FIFO within a priority,
//! priorities above the maximum count as the maximum, no priority counts as 0.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{RawConn, Value};
use common::unique;

/// Publishes `(body, priority)` pairs on a confirm channel and waits for every ack.
async fn publish_prioritised(c: &mut RawConn, q: &str, msgs: &[(&str, Option<u8>)]) {
    confirm_select(c, 1).await;
    for (b, p) in msgs {
        let props = Props {
            priority: *p,
            ..Default::default()
        };
        publish_msg(c, 1, "", q, &props, b.as_bytes()).await;
    }
    let acks = confirms(c, 1, msgs.len() as u64).await;
    assert!(acks.iter().all(|(_, ok)| *ok));
}

/// Drains `q` with no-ack basic.get, returning (body, priority property).
async fn drain(c: &mut RawConn, q: &str) -> Vec<(String, Option<u8>)> {
    let mut out = Vec::new();
    while let Some(m) = get_msg(c, 1, q, true).await {
        out.push((m.text(), m.props.priority));
    }
    out
}

fn owned(items: &[(&str, Option<u8>)]) -> Vec<(String, Option<u8>)> {
    items.iter().map(|(b, p)| (b.to_string(), *p)).collect()
}

#[tokio::test]
async fn higher_priorities_are_delivered_first_and_fifo_within_a_priority() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("prio");
    declare(&mut c, 1, &q, &[("x-max-priority", Value::I32(10))]).await;
    let msgs = [
        ("1a", Some(1)),
        ("5a", Some(5)),
        ("1b", Some(1)),
        ("9a", Some(9)),
        ("5b", Some(5)),
        ("9b", Some(9)),
    ];
    publish_prioritised(&mut c, &q, &msgs).await;
    assert_eq!(
        drain(&mut c, &q).await,
        owned(&[
            ("9a", Some(9)),
            ("9b", Some(9)),
            ("5a", Some(5)),
            ("5b", Some(5)),
            ("1a", Some(1)),
            ("1b", Some(1)),
        ])
    );
}

#[tokio::test]
async fn a_priority_above_the_maximum_counts_as_the_maximum_and_keeps_its_property() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("prio-over");
    declare(&mut c, 1, &q, &[("x-max-priority", Value::I32(5))]).await;
    let msgs = [
        ("4", Some(4)),
        ("5", Some(5)),
        ("200", Some(200)),
        ("9", Some(9)),
    ];
    publish_prioritised(&mut c, &q, &msgs).await;
    assert_eq!(
        drain(&mut c, &q).await,
        owned(&[
            ("5", Some(5)),
            ("200", Some(200)),
            ("9", Some(9)),
            ("4", Some(4))
        ])
    );
}

#[tokio::test]
async fn a_message_without_priority_counts_as_priority_0() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("prio-none");
    declare(&mut c, 1, &q, &[("x-max-priority", Value::I32(3))]).await;
    let msgs = [
        ("none-1", None),
        ("zero", Some(0)),
        ("none-2", None),
        ("one", Some(1)),
    ];
    publish_prioritised(&mut c, &q, &msgs).await;
    assert_eq!(
        drain(&mut c, &q).await,
        owned(&[
            ("one", Some(1)),
            ("none-1", None),
            ("zero", Some(0)),
            ("none-2", None)
        ])
    );
}

#[tokio::test]
async fn a_consumer_receives_queued_messages_in_priority_order() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("prio-consume");
    declare(&mut c, 1, &q, &[("x-max-priority", Value::I32(10))]).await;
    let msgs = [
        ("low", Some(1)),
        ("high", Some(8)),
        ("mid", Some(4)),
        ("high-2", Some(8)),
    ];
    publish_prioritised(&mut c, &q, &msgs).await;
    consume_args(&mut c, 1, &q, true, &[]).await;
    let mut got = Vec::new();
    for _ in 0..msgs.len() {
        got.push(next_msg(&mut c).await.text());
    }
    assert_eq!(got, ["high", "high-2", "mid", "low"]);
}

#[tokio::test]
async fn a_requeued_message_goes_back_ahead_of_its_priority_peers() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("prio-requeue");
    declare(&mut c, 1, &q, &[("x-max-priority", Value::I32(10))]).await;
    let msgs = [("p2-a", Some(2)), ("p2-b", Some(2)), ("p7", Some(7))];
    publish_prioritised(&mut c, &q, &msgs).await;
    let p7 = get_msg(&mut c, 1, &q, false).await.expect("p7");
    let p2a = get_msg(&mut c, 1, &q, false).await.expect("p2-a");
    assert_eq!((p7.text().as_str(), p2a.text().as_str()), ("p7", "p2-a"));
    reject(&mut c, 1, p2a.delivery_tag, true).await;
    reject(&mut c, 1, p7.delivery_tag, true).await;
    assert_eq!(
        drain(&mut c, &q).await,
        owned(&[("p7", Some(7)), ("p2-a", Some(2)), ("p2-b", Some(2))])
    );
}

#[tokio::test]
async fn a_queue_without_x_max_priority_ignores_priorities() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("no-prio");
    declare(&mut c, 1, &q, &[]).await;
    let msgs = [("a", Some(1)), ("b", Some(9)), ("c", None)];
    publish_prioritised(&mut c, &q, &msgs).await;
    assert_eq!(drain(&mut c, &q).await, owned(&msgs));
}
