//! Message TTL (x-message-ttl, per-message expiration) and queue expiry (x-expires).
//!
//! No sleeps: expiry is observed through dead-lettering (a consumer on the dead-letter queue
//! receives the expired message), and "time has passed" through a timer queue whose single
//! message is dead-lettered to a consumer once its own TTL is over.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{
    Args, FRAME_BODY, Frame, RawConn, Value, describe, frame, header_frame, publish_frame,
};
use common::unique;

/// A consumer (no-ack) on a fresh exclusive queue, as the target of dead letters.
async fn sink(broker: &TestBroker) -> (RawConn, String) {
    let mut c = open1(broker).await;
    let q = unique("sink");
    declare(&mut c, 1, &q, &[]).await;
    consume_args(&mut c, 1, &q, true, &[]).await;
    (c, q)
}

/// Arguments making a queue dead-letter into `sink_q` via the default exchange.
fn dl_to(sink_q: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("x-dead-letter-exchange", vstr("")),
        ("x-dead-letter-routing-key", vstr(sink_q)),
    ]
}

/// Waits until at least `ms` milliseconds have passed, as an event: a message with that TTL
/// in a fresh queue expires into a fresh sink.
async fn wait_ms(broker: &TestBroker, ops: &mut RawConn, ms: i32) {
    let (mut s, sq) = sink(broker).await;
    let t = unique("timer");
    let mut args = dl_to(&sq);
    args.push(("x-message-ttl", Value::I32(ms)));
    declare(ops, 1, &t, &args).await;
    publish_body(ops, 1, "", &t, "tick").await;
    assert_eq!(next_msg(&mut s).await.text(), "tick");
}

fn with_expiration(e: &str) -> Props {
    Props {
        expiration: Some(e.into()),
        ..Default::default()
    }
}

/// The reason and queue of a dead-lettered message's first death.
fn first_death(m: &Msg) -> (String, String) {
    let s = |k: &str| match m.props.header(k) {
        Some(Value::Str(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("{k}: {other:?}"),
    };
    (s("x-first-death-reason"), s("x-first-death-queue"))
}

#[tokio::test]
async fn x_message_ttl_expires_unconsumed_messages_in_order_as_dead_letters() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let (mut s, sq) = sink(&broker).await;
    let q = unique("ttl");
    let mut args = dl_to(&sq);
    args.push(("x-message-ttl", Value::I32(10)));
    declare(&mut ops, 1, &q, &args).await;
    for b in ["a", "b", "c"] {
        publish_body(&mut ops, 1, "", &q, b).await;
    }
    for b in ["a", "b", "c"] {
        let m = next_msg(&mut s).await;
        assert_eq!(m.text(), b);
        assert_eq!(first_death(&m), ("expired".to_string(), q.clone()));
    }
    assert!(get_msg(&mut ops, 1, &q, true).await.is_none());
}

#[tokio::test]
async fn a_per_message_expiration_expires_the_message() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let (mut s, sq) = sink(&broker).await;
    let q = unique("exp");
    declare(&mut ops, 1, &q, &dl_to(&sq)).await;
    publish_msg(&mut ops, 1, "", &q, &with_expiration("10"), b"m").await;
    let m = next_msg(&mut s).await;
    assert_eq!(m.text(), "m");
    assert_eq!(first_death(&m), ("expired".to_string(), q.clone()));
    assert!(get_msg(&mut ops, 1, &q, true).await.is_none());
}

#[tokio::test]
async fn a_short_expiration_wins_over_a_long_queue_ttl() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let (mut s, sq) = sink(&broker).await;
    let q = unique("exp-short");
    let mut args = dl_to(&sq);
    args.push(("x-message-ttl", Value::I32(600_000)));
    declare(&mut ops, 1, &q, &args).await;
    publish_msg(&mut ops, 1, "", &q, &with_expiration("10"), b"m").await;
    let m = next_msg(&mut s).await;
    assert_eq!(first_death(&m), ("expired".to_string(), q.clone()));
}

#[tokio::test]
async fn a_short_queue_ttl_wins_over_a_long_expiration() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let (mut s, sq) = sink(&broker).await;
    let q = unique("ttl-short");
    let mut args = dl_to(&sq);
    args.push(("x-message-ttl", Value::I32(10)));
    declare(&mut ops, 1, &q, &args).await;
    publish_msg(&mut ops, 1, "", &q, &with_expiration("600000"), b"m").await;
    let m = next_msg(&mut s).await;
    assert_eq!(first_death(&m), ("expired".to_string(), q.clone()));
    assert_eq!(m.props.expiration, None);
}

#[tokio::test]
async fn an_expired_message_behind_a_live_one_goes_as_soon_as_it_reaches_the_head() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let (mut s, sq) = sink(&broker).await;
    let q = unique("behind");
    declare(&mut ops, 1, &q, &dl_to(&sq)).await;
    publish_body(&mut ops, 1, "", &q, "live-1").await;
    publish_msg(&mut ops, 1, "", &q, &with_expiration("5"), b"expiring").await;
    publish_body(&mut ops, 1, "", &q, "live-2").await;
    wait_ms(&broker, &mut ops, 50).await;
    // As in RabbitMQ, taking the head drops the expired message behind it at once: it is
    // not in the count left behind, and it is dead-lettered.
    let a = get_msg(&mut ops, 1, &q, true).await.expect("live-1");
    assert_eq!((a.text().as_str(), a.message_count), ("live-1", Some(1)));
    let dead = next_msg(&mut s).await;
    assert_eq!(dead.text(), "expiring");
    assert_eq!(first_death(&dead), ("expired".to_string(), q.clone()));
    let b = get_msg(&mut ops, 1, &q, true).await.expect("live-2");
    assert_eq!((b.text().as_str(), b.message_count), ("live-2", Some(0)));
    assert!(get_msg(&mut ops, 1, &q, true).await.is_none());
}

#[tokio::test]
async fn basic_get_returns_empty_once_the_queue_ttl_is_over() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("ttl-get");
    declare(&mut ops, 1, &q, &[("x-message-ttl", Value::I32(5))]).await;
    publish_body(&mut ops, 1, "", &q, "m").await;
    wait_ms(&broker, &mut ops, 50).await;
    assert!(get_msg(&mut ops, 1, &q, true).await.is_none());
}

#[tokio::test]
async fn ttl_0_delivers_to_a_waiting_consumer() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let mut cons = open1(&broker).await;
    let q = unique("ttl0-consumer");
    declare(&mut cons, 1, &q, &[("x-message-ttl", Value::I32(0))]).await;
    consume_args(&mut cons, 1, &q, false, &[]).await;
    publish_body(&mut ops, 1, "", &q, "m").await;
    let m = next_msg(&mut cons).await;
    assert_eq!((m.text().as_str(), m.redelivered), ("m", false));
}

#[tokio::test]
async fn ttl_0_expires_a_message_nobody_is_waiting_for() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let (mut s, sq) = sink(&broker).await;
    let q = unique("ttl0");
    let mut args = dl_to(&sq);
    args.push(("x-message-ttl", Value::I32(0)));
    declare(&mut ops, 1, &q, &args).await;
    publish_body(&mut ops, 1, "", &q, "m").await;
    assert!(get_msg(&mut ops, 1, &q, true).await.is_none());
    let m = next_msg(&mut s).await;
    assert_eq!(first_death(&m), ("expired".to_string(), q.clone()));
}

#[tokio::test]
async fn expiration_0_delivers_to_a_waiting_consumer_and_expires_otherwise() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let mut cons = open1(&broker).await;
    let q = unique("exp0");
    declare(&mut cons, 1, &q, &[]).await;
    publish_msg(&mut cons, 1, "", &q, &with_expiration("0"), b"nobody").await;
    assert!(get_msg(&mut cons, 1, &q, true).await.is_none());
    consume_args(&mut cons, 1, &q, true, &[]).await;
    publish_msg(&mut ops, 1, "", &q, &with_expiration("0"), b"waited-for").await;
    let m = next_msg(&mut cons).await;
    assert_eq!(m.text(), "waited-for");
    assert_eq!(m.props.expiration.as_deref(), Some("0"));
}

async fn publish_with_bad_expiration(broker: &TestBroker, e: &str) -> (u16, String, u16, u16) {
    let mut ops = open1(broker).await;
    let q = unique("bad-exp");
    declare(&mut ops, 1, &q, &[]).await;
    publish_msg(&mut ops, 1, "", &q, &with_expiration(e), b"m").await;
    let close = ops.expect_channel_close(1).await;
    (close.code, close.text, close.class_id, close.method_id)
}

#[tokio::test]
async fn a_non_numeric_expiration_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    assert_eq!(
        publish_with_bad_expiration(&broker, "abc").await,
        (
            406,
            "PRECONDITION_FAILED - invalid expiration 'abc': no_integer".to_string(),
            60,
            40
        )
    );
}

#[tokio::test]
async fn a_negative_expiration_closes_the_channel_with_406() {
    let broker = TestBroker::start().await;
    assert_eq!(
        publish_with_bad_expiration(&broker, "-1").await,
        (
            406,
            "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}".to_string(),
            60,
            40
        )
    );
}

/// Whether `q` exists, by passive declare on `channel` (reopened after a 404).
async fn exists(c: &mut RawConn, channel: u16, q: &str) -> bool {
    let a = Args::new()
        .u16(0)
        .shortstr(q)
        .bits(&[true, false, false, false, false])
        .empty_table()
        .build();
    c.send_method(channel, 50, 10, &a).await;
    match c.next_frame().await {
        Frame::Method {
            class: 50,
            method: 11,
            ..
        } => true,
        Frame::Method {
            class: 20,
            method: 40,
            args,
            ..
        } => {
            let mut r = common::raw::Reader::new(&args);
            assert_eq!(r.u16(), 404);
            assert_eq!(
                r.shortstr(),
                format!("NOT_FOUND - no queue '{q}' in vhost '/'")
            );
            c.send_method(channel, 20, 41, &[]).await;
            c.open_channel(channel).await;
            false
        }
        other => panic!("expected declare-ok or close, got {}", describe(&other)),
    }
}

/// Waits until `q` is gone without renewing its x-expires lease (a passive declare or
/// basic.get would): publishes mandatory messages to it on a confirm channel until one comes
/// back unroutable; then checks a passive declare gets 404.
async fn wait_until_gone(c: &mut RawConn, q: &str) {
    confirm_select(c, 1).await;
    common::guard(async {
        loop {
            let mut bytes = publish_frame(1, "", q, true);
            bytes.extend(header_frame(1, 5));
            bytes.extend(frame(FRAME_BODY, 1, b"probe"));
            c.send(&bytes).await;
            match c.next_frame().await {
                Frame::Method {
                    class: 60,
                    method: 80,
                    ..
                } => continue,
                Frame::Method {
                    class: 60,
                    method: 50,
                    args,
                    ..
                } => {
                    let mut r = common::raw::Reader::new(&args);
                    assert_eq!((r.u16(), r.shortstr()), (312, "NO_ROUTE".to_string()));
                    read_content(c).await;
                    c.expect_method(60, 80).await;
                    break;
                }
                other => panic!("expected ack or return, got {}", describe(&other)),
            }
        }
    })
    .await;
    assert!(!exists(c, 1, q).await);
}

#[tokio::test]
async fn x_expires_deletes_a_queue_nobody_uses() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("expires");
    declare_with(&mut ops, 1, &q, false, &[("x-expires", Value::I32(20))]).await;
    let mut probe = open1(&broker).await;
    wait_until_gone(&mut probe, &q).await;
}

#[tokio::test]
async fn x_expires_does_not_delete_a_queue_with_a_consumer_and_does_once_it_cancels() {
    let broker = TestBroker::start().await;
    let mut cons = open1(&broker).await;
    let q = unique("expires-used");
    declare_with(&mut cons, 1, &q, false, &[("x-expires", Value::I32(20))]).await;
    let tag = consume_args(&mut cons, 1, &q, true, &[]).await;
    let mut ops = open1(&broker).await;
    wait_ms(&broker, &mut ops, 200).await;
    assert!(exists(&mut ops, 1, &q).await);
    cons.send_method(
        1,
        60,
        30,
        &Args::new().shortstr(&tag).bits(&[false]).build(),
    )
    .await;
    cons.expect_method(60, 31).await;
    wait_until_gone(&mut ops, &q).await;
}
