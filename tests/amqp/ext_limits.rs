//! Queue length limits: x-max-length, x-max-length-bytes and the x-overflow behaviours
//! drop-head (default), reject-publish and reject-publish-dlx.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{RawConn, Value};
use common::unique;

/// Drains `q` with no-ack basic.get, returning the bodies.
async fn drain(c: &mut RawConn, q: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(m) = get_msg(c, 1, q, true).await {
        out.push(m.text());
    }
    out
}

fn overflow(max_len: i32, mode: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("x-max-length", Value::I32(max_len)),
        ("x-overflow", vstr(mode)),
    ]
}

#[tokio::test]
async fn x_max_length_drops_the_oldest_messages_and_keeps_the_order_of_the_rest() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("maxlen");
    let args = [("x-max-length", Value::I32(2))];
    declare(&mut c, 1, &q, &args).await;
    // Confirms make RabbitMQ's declare-ok counts reflect every publish.
    confirm_select(&mut c, 1).await;
    for b in ["1", "2", "3", "4", "5"] {
        publish_body(&mut c, 1, "", &q, b).await;
    }
    confirms(&mut c, 1, 5).await;
    assert_eq!(declare(&mut c, 1, &q, &args).await, (2, 0));
    assert_eq!(drain(&mut c, &q).await, ["4", "5"]);
}

#[tokio::test]
async fn x_max_length_bytes_counts_body_bytes_and_drops_from_the_head() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("maxbytes");
    let args = [("x-max-length-bytes", Value::I32(10))];
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    for b in ["aaaa", "bbbb", "cccc"] {
        publish_body(&mut c, 1, "", &q, b).await;
    }
    confirms(&mut c, 1, 3).await;
    assert_eq!(declare(&mut c, 1, &q, &args).await, (2, 0));
    publish_body(&mut c, 1, "", &q, "dd").await;
    confirms(&mut c, 4, 4).await;
    assert_eq!(declare(&mut c, 1, &q, &args).await, (3, 0));
    assert_eq!(drain(&mut c, &q).await, ["bbbb", "cccc", "dd"]);
}

#[tokio::test]
async fn a_message_larger_than_x_max_length_bytes_is_dropped_itself() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("maxbytes-big");
    let args = [("x-max-length-bytes", Value::I32(4))];
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    publish_body(&mut c, 1, "", &q, "ok").await;
    publish_body(&mut c, 1, "", &q, "too-big").await;
    assert_eq!(confirms(&mut c, 1, 2).await, [(1, true), (2, true)]);
    assert_eq!(declare(&mut c, 1, &q, &args).await, (0, 0));
    publish_body(&mut c, 1, "", &q, "fits").await;
    confirms(&mut c, 3, 3).await;
    assert_eq!(drain(&mut c, &q).await, ["fits"]);
}

#[tokio::test]
async fn reject_publish_nacks_the_publish_that_does_not_fit_on_a_confirm_channel() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("reject-publish");
    let args = overflow(1, "reject-publish");
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    publish_body(&mut c, 1, "", &q, "first").await;
    assert_eq!(confirms(&mut c, 1, 1).await, [(1, true)]);
    publish_body(&mut c, 1, "", &q, "second").await;
    assert_eq!(confirms(&mut c, 2, 2).await, [(2, false)]);
    assert_eq!(declare(&mut c, 1, &q, &args).await, (1, 0));
    assert_eq!(drain(&mut c, &q).await, ["first"]);
    publish_body(&mut c, 1, "", &q, "third").await;
    assert_eq!(confirms(&mut c, 3, 3).await, [(3, true)]);
    assert_eq!(drain(&mut c, &q).await, ["third"]);
}

#[tokio::test]
async fn reject_publish_silently_drops_without_confirms() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("reject-publish-quiet");
    let args = overflow(2, "reject-publish");
    declare(&mut c, 1, &q, &args).await;
    for b in ["1", "2", "3", "4"] {
        publish_body(&mut c, 1, "", &q, b).await;
    }
    assert_eq!(drain(&mut c, &q).await, ["1", "2"]);
}

#[tokio::test]
async fn reject_publish_dlx_nacks_and_dead_letters_the_refused_message_with_reason_maxlen() {
    let broker = TestBroker::start().await;
    let mut sink = open1(&broker).await;
    let sq = unique("sink");
    declare(&mut sink, 1, &sq, &[]).await;
    consume_args(&mut sink, 1, &sq, true, &[]).await;
    let mut c = open1(&broker).await;
    let q = unique("reject-publish-dlx");
    let mut args = overflow(1, "reject-publish-dlx");
    args.push(("x-dead-letter-exchange", vstr("")));
    args.push(("x-dead-letter-routing-key", vstr(&sq)));
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    publish_body(&mut c, 1, "", &q, "kept").await;
    assert_eq!(confirms(&mut c, 1, 1).await, [(1, true)]);
    publish_body(&mut c, 1, "", &q, "refused").await;
    assert_eq!(confirms(&mut c, 2, 2).await, [(2, false)]);
    let m = next_msg(&mut sink).await;
    assert_eq!(
        (m.text().as_str(), m.routing_key.as_str()),
        ("refused", sq.as_str())
    );
    assert_eq!(
        render_headers(&m),
        format!(
            "{{x-death: [{{count: 1l, reason: \"maxlen\", queue: {q:?}, time: T, exchange: \"\", routing-keys: [{q:?}]}}], x-first-death-exchange: \"\", x-first-death-queue: {q:?}, x-first-death-reason: \"maxlen\"}}"
        )
    );
    assert_eq!(drain(&mut c, &q).await, ["kept"]);
}

#[tokio::test]
async fn drop_head_publishes_are_acked_on_a_confirm_channel() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("drop-head-confirm");
    let args = overflow(1, "drop-head");
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    for (i, b) in ["1", "2", "3"].iter().enumerate() {
        publish_body(&mut c, 1, "", &q, b).await;
        let tag = i as u64 + 1;
        assert_eq!(confirms(&mut c, tag, tag).await, [(tag, true)]);
    }
    assert_eq!(drain(&mut c, &q).await, ["3"]);
}

#[tokio::test]
async fn unacked_messages_do_not_count_towards_x_max_length() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("maxlen-unacked");
    let args = overflow(2, "reject-publish");
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    publish_body(&mut c, 1, "", &q, "1").await;
    publish_body(&mut c, 1, "", &q, "2").await;
    assert_eq!(confirms(&mut c, 1, 2).await, [(1, true), (2, true)]);
    let held = get_msg(&mut c, 1, &q, false).await.expect("message 1");
    assert_eq!(held.text(), "1");
    publish_body(&mut c, 1, "", &q, "3").await;
    assert_eq!(confirms(&mut c, 3, 3).await, [(3, true)]);
    assert_eq!(declare(&mut c, 1, &q, &args).await, (2, 0));
    publish_body(&mut c, 1, "", &q, "4").await;
    assert_eq!(confirms(&mut c, 4, 4).await, [(4, false)]);
    assert_eq!(drain(&mut c, &q).await, ["2", "3"]);
}

#[tokio::test]
async fn requeued_messages_count_again_and_drop_head_dead_letters_them_with_reason_maxlen() {
    let broker = TestBroker::start().await;
    let mut sink = open1(&broker).await;
    let sq = unique("sink");
    declare(&mut sink, 1, &sq, &[]).await;
    let mut c = open1(&broker).await;
    let q = unique("drop-head-requeue");
    let mut args = overflow(2, "drop-head");
    args.push(("x-dead-letter-exchange", vstr("")));
    args.push(("x-dead-letter-routing-key", vstr(&sq)));
    declare(&mut c, 1, &q, &args).await;
    confirm_select(&mut c, 1).await;
    publish_body(&mut c, 1, "", &q, "m0").await;
    publish_body(&mut c, 1, "", &q, "m1").await;
    confirms(&mut c, 1, 2).await;
    let held: Vec<u64> = [
        get_msg(&mut c, 1, &q, false).await,
        get_msg(&mut c, 1, &q, false).await,
    ]
    .into_iter()
    .map(|m| m.expect("held").delivery_tag)
    .collect();
    publish_body(&mut c, 1, "", &q, "m2").await;
    publish_body(&mut c, 1, "", &q, "m3").await;
    confirms(&mut c, 3, 4).await;
    // Both back at the head: the queue holds 4 for a limit of 2, so the head goes.
    for tag in held {
        reject(&mut c, 1, tag, true).await;
    }
    assert_eq!(declare(&mut c, 1, &q, &args).await, (2, 0));
    assert_eq!(drain(&mut c, &q).await, ["m2", "m3"]);
    assert_eq!(drain(&mut sink, &sq).await, ["m0", "m1"]);
}

#[tokio::test]
async fn a_tx_commit_with_a_publish_a_reject_publish_queue_refused_closes_the_channel_406() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("reject-publish-tx");
    let args = overflow(1, "reject-publish");
    declare(&mut c, 1, &q, &args).await;
    c.send_method(1, 90, 10, &[]).await;
    c.expect_method(90, 11).await;
    publish_body(&mut c, 1, "", &q, "fits").await;
    publish_body(&mut c, 1, "", &q, "refused").await;
    c.send_method(1, 90, 20, &[]).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (406, "PRECONDITION_FAILED - partial tx completion", 90, 20)
    );
    c.open_channel(1).await;
    assert_eq!(drain(&mut c, &q).await, ["fits"]);
}

#[tokio::test]
async fn requeued_messages_over_the_limit_are_dropped_before_another_consumer_gets_them() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("drop-head-handoff");
    let args = overflow(1, "drop-head");
    declare_with(&mut ops, 1, &q, false, &args).await;
    let mut holder = open1(&broker).await;
    consume_args(&mut holder, 1, &q, false, &[]).await;
    for b in ["m0", "m1", "m2"] {
        publish_body(&mut ops, 1, "", &q, b).await;
    }
    for b in ["m0", "m1", "m2"] {
        assert_eq!(next_msg(&mut holder).await.text(), b);
    }
    let mut other = open1(&broker).await;
    consume_args(&mut other, 1, &q, false, &[]).await;
    // The holder's channel closes: all three go back, the limit keeps only the newest.
    let close = common::raw::Args::new()
        .u16(200)
        .shortstr("")
        .u16(0)
        .u16(0)
        .build();
    holder.send_method(1, 20, 40, &close).await;
    holder.expect_method(20, 41).await;
    let m = next_msg(&mut other).await;
    assert_eq!((m.text().as_str(), m.redelivered), ("m2", true));
    assert_eq!(declare_with(&mut ops, 1, &q, false, &args).await, (0, 1));
}
