//! Per-queue order when a consumer goes away holding unacknowledged messages: the messages
//! it held go back to their places (marked redelivered) before anything else is handed to
//! the next consumer. One test per way of returning them (channel close, connection loss,
//! cancel followed by nack, reject or recover, consumer timeout) and per dispatch mode
//! (single active consumer, consumer priorities, plain round robin).
//!
//! The scene: m0..m5 queued; consumer A (prefetch 2, priority 10 in the priority mode)
//! holds m0 and m1. Consumer B then attaches: with single active consumer it waits
//! (prefetch 10); otherwise it takes m2 under prefetch 1 and is served one message per ack.
//! The single-active-consumer sequences (after a channel close, and after a cancel followed
//! by nack, reject or recover) are those RabbitMQ 3.10.8 gave when probed. The file runs
//! against an external broker with `WARREN_TEST_URI`, except the consumer timeout (it needs
//! a short `limits.consumer_timeout_ms`) and the ack after a cancel (see that test).

use crate::common;

use common::ext::*;
use common::raw::{Args, RawConn, Value};
use common::{TestBroker, unique};

/// How the queue hands out messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `x-single-active-consumer`: B waits while A is active.
    SingleActive,
    /// `x-priority`: A 10, B 0.
    Priorities,
    /// Plain round robin.
    RoundRobin,
}

/// The three connections of a scene and the queue.
struct Scene {
    mode: Mode,
    queue: String,
    a_tag: String,
    ops: RawConn,
    a: RawConn,
    b: RawConn,
}

fn queue_args(mode: Mode) -> Vec<(&'static str, Value)> {
    match mode {
        Mode::SingleActive => vec![("x-single-active-consumer", Value::Bool(true))],
        _ => Vec::new(),
    }
}

async fn qos(c: &mut RawConn, prefetch: u16) {
    let args = Args::new().u32(0).u16(prefetch).bits(&[false]).build();
    c.send_method(1, 60, 10, &args).await;
    c.expect_method(60, 11).await;
}

/// The next delivery as (body, redelivered).
async fn next(c: &mut RawConn) -> (String, bool) {
    let m = next_msg(c).await;
    (m.text(), m.redelivered)
}

/// The next `n` deliveries as (body, redelivered), with their last delivery tag.
async fn next_n(c: &mut RawConn, n: usize) -> (Vec<(String, bool)>, u64) {
    let mut out = Vec::new();
    let mut last = 0;
    for _ in 0..n {
        let m = next_msg(c).await;
        last = m.delivery_tag;
        out.push((m.text(), m.redelivered));
    }
    (out, last)
}

fn expect(items: &[(&str, bool)]) -> Vec<(String, bool)> {
    items.iter().map(|(b, r)| (b.to_string(), *r)).collect()
}

/// m0..m5 queued, A holding m0 and m1; B attached (holding m2 unless single active).
async fn scene(broker: &TestBroker, mode: Mode, test: &str) -> Scene {
    let mut s = scene_without_b(broker, mode, test).await;
    attach_b(&mut s).await;
    s
}

/// B consumes: with single active consumer it waits behind A (prefetch 10); otherwise it
/// takes m2 under prefetch 1.
async fn attach_b(s: &mut Scene) {
    qos(&mut s.b, if s.mode == Mode::SingleActive { 10 } else { 1 }).await;
    consume_args(&mut s.b, 1, &s.queue, false, &[]).await;
    if s.mode != Mode::SingleActive {
        assert_eq!(next(&mut s.b).await, ("m2".to_string(), false));
    }
}

/// m0..m5 queued, A holding m0 and m1; B connected but not consuming.
async fn scene_without_b(broker: &TestBroker, mode: Mode, test: &str) -> Scene {
    let mut ops = open1(broker).await;
    let queue = unique(test);
    declare_with(&mut ops, 1, &queue, false, &queue_args(mode)).await;
    confirm_select(&mut ops, 1).await;
    for i in 0..6 {
        publish_body(&mut ops, 1, "", &queue, &format!("m{i}")).await;
    }
    assert!(confirms(&mut ops, 1, 6).await.iter().all(|(_, ok)| *ok));

    let mut a = open1(broker).await;
    qos(&mut a, 2).await;
    let a_args: &[(&str, Value)] = match mode {
        Mode::Priorities => &[("x-priority", Value::I32(10))],
        _ => &[],
    };
    let a_tag = consume_args(&mut a, 1, &queue, false, a_args).await;
    let (held, _) = next_n(&mut a, 2).await;
    assert_eq!(held, expect(&[("m0", false), ("m1", false)]));

    let b = open1(broker).await;
    Scene {
        mode,
        queue,
        a_tag,
        ops,
        a,
        b,
    }
}

/// What B receives once A's messages are back in the queue: with single active consumer
/// all six at once; otherwise one per ack of the previous (B's delivery tag 1 is m2).
async fn b_receives_the_rest(s: &mut Scene) -> Vec<(String, bool)> {
    if s.mode == Mode::SingleActive {
        return next_n(&mut s.b, 6).await.0;
    }
    let mut out = vec![("m2".to_string(), false)];
    for tag in 1..=5 {
        s.b.ack(1, tag, false).await;
        out.push(next(&mut s.b).await);
    }
    out
}

/// The order every path must give B: A's messages first, redelivered, then the rest.
fn returned_first(mode: Mode) -> Vec<(String, bool)> {
    if mode == Mode::SingleActive {
        expect(&[
            ("m0", true),
            ("m1", true),
            ("m2", false),
            ("m3", false),
            ("m4", false),
            ("m5", false),
        ])
    } else {
        // B had m2 before A went away.
        expect(&[
            ("m2", false),
            ("m0", true),
            ("m1", true),
            ("m3", false),
            ("m4", false),
            ("m5", false),
        ])
    }
}

/// Waits until the queue has only B as consumer (A's going has been processed; the queue
/// returns the messages of a consumer that goes in the same step).
async fn until_only_b_consumes(s: &mut Scene) {
    loop {
        let (_, consumers) =
            declare_with(&mut s.ops, 1, &s.queue, false, &queue_args(s.mode)).await;
        if consumers == 1 {
            return;
        }
    }
}

/// A cancels its consumer; as in RabbitMQ it keeps m0 and m1 until it settles them.
async fn cancel_a(s: &mut Scene) {
    let cancel = Args::new().shortstr(&s.a_tag).bits(&[false]).build();
    s.a.send_method(1, 60, 30, &cancel).await;
    s.a.expect_method(60, 31).await;
}

/// What B receives when A, after cancelling, rejects m0 and then m1 with requeue: with
/// single active consumer B is served as soon as m0 is back (RabbitMQ 3.10.8 hands B m0 and
/// everything never delivered, then m1); otherwise both are back before B acks m2.
fn after_rejects(mode: Mode) -> Vec<(String, bool)> {
    if mode == Mode::SingleActive {
        expect(&[
            ("m0", true),
            ("m2", false),
            ("m3", false),
            ("m4", false),
            ("m5", false),
            ("m1", true),
        ])
    } else {
        returned_first(mode)
    }
}

async fn channel_close(mode: Mode) {
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, mode, "handover-close").await;
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    s.a.send_method(1, 20, 40, &close).await;
    s.a.expect_method(20, 41).await;
    assert_eq!(b_receives_the_rest(&mut s).await, returned_first(mode));
}

async fn connection_loss(mode: Mode) {
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, mode, "handover-drop").await;
    let a = std::mem::replace(&mut s.a, open1(&broker).await);
    drop(a);
    if mode != Mode::SingleActive {
        until_only_b_consumes(&mut s).await;
    }
    assert_eq!(b_receives_the_rest(&mut s).await, returned_first(mode));
}

#[tokio::test]
async fn sac_channel_close_hands_the_held_messages_over_first() {
    channel_close(Mode::SingleActive).await;
}

#[tokio::test]
async fn priorities_channel_close_hands_the_held_messages_over_first() {
    channel_close(Mode::Priorities).await;
}

#[tokio::test]
async fn round_robin_channel_close_hands_the_held_messages_over_first() {
    channel_close(Mode::RoundRobin).await;
}

#[tokio::test]
async fn sac_connection_loss_hands_the_held_messages_over_first() {
    connection_loss(Mode::SingleActive).await;
}

#[tokio::test]
async fn priorities_connection_loss_hands_the_held_messages_over_first() {
    connection_loss(Mode::Priorities).await;
}

#[tokio::test]
async fn round_robin_connection_loss_hands_the_held_messages_over_first() {
    connection_loss(Mode::RoundRobin).await;
}

async fn cancel_then_nack(mode: Mode) {
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, mode, "handover-nack").await;
    cancel_a(&mut s).await;
    let nack = Args::new().u64(2).bits(&[true, true]).build();
    s.a.send_method(1, 60, 120, &nack).await;
    s.a.sync(1).await;
    assert_eq!(b_receives_the_rest(&mut s).await, returned_first(mode));
}

async fn cancel_then_reject(mode: Mode) {
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, mode, "handover-reject").await;
    cancel_a(&mut s).await;
    reject(&mut s.a, 1, 1, true).await;
    reject(&mut s.a, 1, 2, true).await;
    s.a.sync(1).await;
    assert_eq!(b_receives_the_rest(&mut s).await, after_rejects(mode));
}

async fn cancel_then_recover(mode: Mode) {
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, mode, "handover-recover").await;
    cancel_a(&mut s).await;
    s.a.send_method(1, 60, 110, &Args::new().bits(&[true]).build())
        .await;
    s.a.expect_method(60, 111).await;
    assert_eq!(b_receives_the_rest(&mut s).await, returned_first(mode));
}

/// A's delivery acknowledgement times out and its channel is closed with 406. With single
/// active consumer B waits behind A; otherwise B (whose own delivery would time out too)
/// attaches after the close, with prefetch 10.
async fn consumer_timeout(mode: Mode) {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.consumer_timeout_ms = 500).await;
    let mut s = scene_without_b(&broker, mode, "handover-timeout").await;
    if mode == Mode::SingleActive {
        attach_b(&mut s).await;
    }
    let close = s.a.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    if mode != Mode::SingleActive {
        qos(&mut s.b, 10).await;
        consume_args(&mut s.b, 1, &s.queue, false, &[]).await;
    }
    assert_eq!(
        next_n(&mut s.b, 6).await.0,
        returned_first(Mode::SingleActive)
    );
}

#[tokio::test]
async fn sac_cancel_then_nack_hands_the_held_messages_over_first() {
    cancel_then_nack(Mode::SingleActive).await;
}

#[tokio::test]
async fn priorities_cancel_then_nack_returns_the_held_messages_first() {
    cancel_then_nack(Mode::Priorities).await;
}

#[tokio::test]
async fn round_robin_cancel_then_nack_returns_the_held_messages_first() {
    cancel_then_nack(Mode::RoundRobin).await;
}

#[tokio::test]
async fn sac_cancel_then_reject_hands_over_each_returned_message_in_place() {
    cancel_then_reject(Mode::SingleActive).await;
}

#[tokio::test]
async fn priorities_cancel_then_reject_returns_the_held_messages_first() {
    cancel_then_reject(Mode::Priorities).await;
}

#[tokio::test]
async fn round_robin_cancel_then_reject_returns_the_held_messages_first() {
    cancel_then_reject(Mode::RoundRobin).await;
}

#[tokio::test]
async fn sac_cancel_then_recover_hands_the_held_messages_over_first() {
    cancel_then_recover(Mode::SingleActive).await;
}

#[tokio::test]
async fn priorities_cancel_then_recover_returns_the_held_messages_first() {
    cancel_then_recover(Mode::Priorities).await;
}

#[tokio::test]
async fn round_robin_cancel_then_recover_returns_the_held_messages_first() {
    cancel_then_recover(Mode::RoundRobin).await;
}

#[tokio::test]
async fn sac_consumer_timeout_hands_the_held_messages_over_first() {
    consumer_timeout(Mode::SingleActive).await;
}

#[tokio::test]
async fn priorities_consumer_timeout_returns_the_held_messages_first() {
    consumer_timeout(Mode::Priorities).await;
}

#[tokio::test]
async fn round_robin_consumer_timeout_returns_the_held_messages_first() {
    consumer_timeout(Mode::RoundRobin).await;
}

/// Deliveries the queue already sent to A's connection but that A's channel has not
/// written out yet (A acks m0 and m1 and closes in one write, so m2 and m3 are on their way
/// when the close is read) go back with what it held: B still receives everything in queue
/// order. (Whether RabbitMQ flags m2 and m3 redelivered depends on a race, so only the
/// bodies are compared.)
#[tokio::test]
async fn sac_channel_close_returns_deliveries_still_on_their_way_first() {
    use common::raw::method_frame;
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, Mode::SingleActive, "handover-in-flight").await;
    let mut bytes = method_frame(1, 60, 80, &Args::new().u64(2).bits(&[true]).build());
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    bytes.extend(method_frame(1, 20, 40, &close));
    s.a.send(&bytes).await;
    loop {
        // m2 and m3 may or may not reach the client before close-ok.
        if let (_, 41) = next_method(&mut s.a).await {
            break;
        }
    }
    let bodies: Vec<String> = next_n(&mut s.b, 4)
        .await
        .0
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(bodies, ["m2", "m3", "m4", "m5"]);
}

/// A acks m0 and cancels in one write, so m2 (sent for the credit the ack gave back) is
/// still on its way when the cancel is read, while A holds m1. B, now first in line, is
/// served only when A's channel closes, and then m1 comes first. (RabbitMQ may hand m2 to
/// A after the cancel, so only the bodies are compared.)
#[tokio::test]
async fn sac_cancel_keeps_the_next_consumer_waiting_for_deliveries_on_their_way() {
    use common::raw::method_frame;
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, Mode::SingleActive, "handover-cancel-in-flight").await;
    let mut bytes = method_frame(1, 60, 80, &Args::new().u64(1).bits(&[false]).build());
    let cancel = Args::new().shortstr(&s.a_tag).bits(&[false]).build();
    bytes.extend(method_frame(1, 60, 30, &cancel));
    s.a.send(&bytes).await;
    while next_method(&mut s.a).await != (60, 31) {}
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    s.a.send_method(1, 20, 40, &close).await;
    while next_method(&mut s.a).await != (20, 41) {}
    let got = next_n(&mut s.b, 5).await.0;
    let bodies: Vec<&str> = got.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(bodies, ["m1", "m2", "m3", "m4", "m5"]);
    assert!(got[0].1, "m1 was delivered to A: {got:?}");
}

/// The (class, method) of the next method frame, skipping content frames.
async fn next_method(c: &mut RawConn) -> (u16, u16) {
    loop {
        if let common::raw::Frame::Method { class, method, .. } = c.next_frame().await {
            return (class, method);
        }
    }
}

/// A's connection also has a waiting consumer C on another channel: when the connection
/// drops, C goes with it, and B (on another connection) receives A's messages first.
#[tokio::test]
async fn sac_connection_loss_skips_a_waiting_consumer_of_the_same_connection() {
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, Mode::SingleActive, "handover-sibling").await;
    s.a.open_channel(2).await;
    let prefetch = Args::new().u32(0).u16(10).bits(&[false]).build();
    s.a.send_method(2, 60, 10, &prefetch).await;
    s.a.expect_method(60, 11).await;
    consume_args(&mut s.a, 2, &s.queue, false, &[]).await;
    let a = std::mem::replace(&mut s.a, open1(&broker).await);
    drop(a);
    let got = next_n(&mut s.b, 6).await.0;
    let bodies: Vec<&str> = got.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    // A held m0 and m1; the others may have been on their way to C (RabbitMQ then flags
    // them redelivered too).
    assert!(got[0].1 && got[1].1, "{got:?}");
}

/// After cancelling, A acks what it held, one by one: once it holds nothing more, B is
/// served. (RabbitMQ 3.10.8 leaves B idle until something else wakes the queue, and its
/// queue process crashes on the next publish; Warren serves B without waiting for that.)
#[tokio::test]
async fn sac_cancel_then_ack_serves_the_next_consumer() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let mut s = scene(&broker, Mode::SingleActive, "handover-ack").await;
    cancel_a(&mut s).await;
    s.a.ack(1, 1, false).await;
    s.a.ack(1, 2, false).await;
    let (got, _) = next_n(&mut s.b, 4).await;
    assert_eq!(
        got,
        expect(&[("m2", false), ("m3", false), ("m4", false), ("m5", false)])
    );
}
