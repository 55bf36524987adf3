//! The exact basic.ack / basic.nack frames a confirming channel gets, as RabbitMQ sends them:
//! an unroutable publish is confirmed at once on its own, acks go before nacks and never cover
//! a nacked tag, settled confirms go out before a channel.close or close-ok, and nothing
//! follows the server's channel.close. Publishes are pipelined in one write.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{Args, Frame, RawConn, Value, describe, header_frame, publish_frame};
use common::unique;

const ACK: bool = true;
const NACK: bool = false;

/// A publish of a one-byte body, as bytes to pipeline.
fn publish_bytes(exchange: &str, key: &str) -> Vec<u8> {
    let mut bytes = publish_frame(1, exchange, key, false);
    bytes.extend(header_frame(1, 1));
    bytes.extend(common::raw::frame(common::raw::FRAME_BODY, 1, b"x"));
    bytes
}

/// The next `n` confirms as (ack?, tag, multiple).
async fn next_confirms(c: &mut RawConn, n: usize) -> Vec<(bool, u64, bool)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (tag, multiple, ack) = expect_confirm(c).await;
        out.push((ack, tag, multiple));
    }
    out
}

/// Confirm frames until tags 1..=n are all settled: each tag's outcome (ack?) and the frames
/// as (ack?, tag, multiple).
async fn settle_all(c: &mut RawConn, n: u64) -> (Vec<(u64, bool)>, Vec<(bool, u64, bool)>) {
    let mut frames = Vec::new();
    let mut outcome = std::collections::BTreeMap::new();
    while (outcome.len() as u64) < n {
        let (tag, multiple, ack) = expect_confirm(c).await;
        let from = if multiple { 1 } else { tag };
        for t in from..=tag {
            outcome.entry(t).or_insert(ack);
        }
        frames.push((ack, tag, multiple));
    }
    (outcome.into_iter().collect(), frames)
}

async fn confirming(broker: &TestBroker) -> RawConn {
    let mut c = open1(broker).await;
    confirm_select(&mut c, 1).await;
    c
}

#[tokio::test]
async fn each_unroutable_publish_is_acked_on_its_own() {
    let broker = TestBroker::start().await;
    let mut c = confirming(&broker).await;
    let key = unique("nowhere");
    let bytes: Vec<u8> = (0..3)
        .flat_map(|_| publish_bytes("amq.direct", &key))
        .collect();
    c.send(&bytes).await;
    assert_eq!(
        next_confirms(&mut c, 3).await,
        [(ACK, 1, false), (ACK, 2, false), (ACK, 3, false)]
    );
}

#[tokio::test]
async fn acks_come_before_nacks_and_never_cover_a_nacked_tag() {
    let broker = TestBroker::start().await;
    let mut c = confirming(&broker).await;
    let q = unique("confirm-frames");
    let args = [
        ("x-max-length", Value::I32(1)),
        ("x-overflow", vstr("reject-publish")),
    ];
    declare(&mut c, 1, &q, &args).await;
    let bytes: Vec<u8> = (0..3).flat_map(|_| publish_bytes("", &q)).collect();
    c.send(&bytes).await;
    // How RabbitMQ batches these varies with its timing; what never varies: tag 1 is acked,
    // 2 and 3 nacked, acks come first, and no multiple-ack reaches a nacked tag.
    let (outcome, frames) = settle_all(&mut c, 3).await;
    assert_eq!(outcome, [(1, ACK), (2, NACK), (3, NACK)]);
    assert_eq!(frames[0], (ACK, 1, false), "{frames:?}");
    assert!(frames[1..].iter().all(|f| f.0 == NACK), "{frames:?}");
}
#[tokio::test]
async fn nacks_from_the_first_unconfirmed_tag_are_multiple_nacks() {
    let broker = TestBroker::start().await;
    let mut c = confirming(&broker).await;
    let q = unique("confirm-frames-full");
    let args = [
        ("x-max-length", Value::I32(0)),
        ("x-overflow", vstr("reject-publish")),
    ];
    declare(&mut c, 1, &q, &args).await;
    let bytes: Vec<u8> = (0..3).flat_map(|_| publish_bytes("", &q)).collect();
    c.send(&bytes).await;
    // Each nack covers everything up to it (batched differently as RabbitMQ's timing goes).
    let (outcome, frames) = settle_all(&mut c, 3).await;
    assert_eq!(outcome, [(1, NACK), (2, NACK), (3, NACK)]);
    assert!(
        frames.iter().all(|&(ack, _, multiple)| !ack && multiple),
        "{frames:?}"
    );
}

#[tokio::test]
async fn settled_confirms_go_out_before_the_servers_channel_close_and_none_after() {
    let broker = TestBroker::start().await;
    let mut c = confirming(&broker).await;
    let mut bytes = publish_bytes("amq.direct", &unique("nowhere"));
    bytes.extend(publish_bytes(&unique("no-such-exchange"), "k"));
    c.send(&bytes).await;
    assert_eq!(next_confirms(&mut c, 1).await, [(ACK, 1, false)]);
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 404);
    // Nothing else was sent on channel 1 after its close: the next frame answers channel 2.
    c.open_channel(2).await;
}

#[tokio::test]
async fn unroutable_publishes_pipelined_with_a_channel_close_are_acked_before_close_ok() {
    let broker = TestBroker::start().await;
    let mut c = confirming(&broker).await;
    let key = unique("nowhere");
    let mut bytes: Vec<u8> = (0..2)
        .flat_map(|_| publish_bytes("amq.direct", &key))
        .collect();
    let close = Args::new().u16(200).shortstr("").u16(0).u16(0).build();
    bytes.extend(common::raw::method_frame(1, 20, 40, &close));
    c.send(&bytes).await;
    assert_eq!(
        next_confirms(&mut c, 2).await,
        [(ACK, 1, false), (ACK, 2, false)]
    );
    match c.next_frame().await {
        Frame::Method {
            channel: 1,
            class: 20,
            method: 41,
            ..
        } => {}
        other => panic!("expected channel.close-ok, got {}", describe(&other)),
    }
}
