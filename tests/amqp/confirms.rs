//! Publisher confirms: ack sequencing, unroutable messages, returns before acks, and
//! the confirm/tx mode exclusion.

use crate::common;

use common::raw::{
    Args, FRAME_BODY, Frame, RawConn, Reader, describe, frame, header_frame, publish_frame,
};
use common::{TestBroker, fresh_queue, guard, unique};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation};

async fn confirm_select(c: &mut RawConn, channel: u16) {
    c.send_method(channel, 85, 10, &Args::new().bits(&[false]).build())
        .await;
    c.expect_method(85, 11).await;
}

/// Reads basic.ack frames until every tag up to `last` is covered; returns the
/// (tag, multiple) pairs seen. Panics on a nack or any other frame.
async fn collect_acks(c: &mut RawConn, channel: u16, last: u64) -> Vec<(u64, bool)> {
    let mut seen = Vec::new();
    let mut covered = 0u64;
    while covered < last {
        match c.next_frame().await {
            Frame::Method {
                channel: ch,
                class: 60,
                method: 80,
                args,
            } if ch == channel => {
                let mut r = Reader::new(&args);
                let tag = r.u64();
                let multiple = r.u8() & 1 == 1;
                if multiple {
                    assert!(tag > covered, "multiple ack {tag} covers nothing new");
                    covered = tag;
                } else {
                    assert_eq!(tag, covered + 1, "single acks arrive in order");
                    covered = tag;
                }
                seen.push((tag, multiple));
            }
            other => panic!("expected basic.ack, got {}", describe(&other)),
        }
    }
    assert_eq!(covered, last);
    seen
}

#[tokio::test]
async fn publishes_on_a_confirm_channel_are_acked_with_tags_one_to_n() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    confirm_select(&mut c, 1).await;
    for i in 0..10u8 {
        c.publish(1, "", &q, &[i]).await;
    }
    collect_acks(&mut c, 1, 10).await;
    // Nothing more is acked: the next frame is the reply to a round trip.
    c.sync(1).await;
}

#[tokio::test]
async fn a_lone_publish_is_acked_with_multiple_false_as_rabbitmq_does() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    confirm_select(&mut c, 1).await;
    for i in 1..=3u64 {
        c.publish(1, "", &q, b"one").await;
        match c.next_frame().await {
            Frame::Method {
                channel: 1,
                class: 60,
                method: 80,
                args,
            } => {
                let mut r = Reader::new(&args);
                assert_eq!((r.u64(), r.u8() & 1), (i, 0), "basic.ack tag and multiple");
            }
            other => panic!("expected basic.ack, got {}", describe(&other)),
        }
    }
    c.sync(1).await;
}

#[tokio::test]
async fn lapin_sees_every_publish_acked() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let q = fresh_queue(&ch, "confirm").await;
    let mut pending = Vec::new();
    for i in 0..20 {
        let confirm = guard(ch.basic_publish(
            "".into(),
            q.as_str().into(),
            BasicPublishOptions::default(),
            format!("{i}").as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        pending.push(confirm);
    }
    for confirm in pending {
        assert_eq!(guard(confirm).await.unwrap(), Confirmation::Ack(None));
    }
}

#[tokio::test]
async fn unroutable_messages_are_still_acked() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    confirm_select(&mut c, 1).await;
    c.publish(1, "amq.direct", &unique("nobody"), b"lost").await;
    c.publish(1, "", &unique("no-queue"), b"lost").await;
    assert_eq!(
        collect_acks(&mut c, 1, 2).await.last().map(|x| x.0),
        Some(2)
    );
}

#[tokio::test]
async fn a_mandatory_unroutable_message_is_returned_before_it_is_acked() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    confirm_select(&mut c, 1).await;
    let key = unique("nobody");
    let mut bytes = publish_frame(1, "amq.direct", &key, true);
    bytes.extend(header_frame(1, 3));
    bytes.extend(frame(FRAME_BODY, 1, b"ret"));
    c.send(&bytes).await;
    let (mut r, _) = c.expect_method(60, 50).await;
    assert_eq!((r.u16(), r.shortstr()), (312, "NO_ROUTE".to_string()));
    assert_eq!(c.read_content().await, b"ret");
    let (mut r, _) = c.expect_method(60, 80).await;
    assert_eq!(r.u64(), 1);
}

#[tokio::test]
async fn confirm_select_twice_is_allowed() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    confirm_select(&mut c, 1).await;
    confirm_select(&mut c, 1).await;
    let q = c.queue_declare(1, "", true).await;
    c.publish(1, "", &q, b"x").await;
    collect_acks(&mut c, 1, 1).await;
}

#[tokio::test]
async fn confirm_select_nowait_sends_no_reply_but_enables_acks() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send_method(1, 85, 10, &Args::new().bits(&[true]).build())
        .await;
    let q = c.queue_declare(1, "", true).await;
    c.publish(1, "", &q, b"x").await;
    collect_acks(&mut c, 1, 1).await;
}

#[tokio::test]
async fn tx_select_on_a_confirm_channel_fails_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    confirm_select(&mut c, 1).await;
    c.send_method(1, 90, 10, &[]).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    assert_eq!(
        close.text,
        "PRECONDITION_FAILED - cannot switch from confirm to tx mode"
    );
    assert_eq!((close.class_id, close.method_id), (90, 10));
}

#[tokio::test]
async fn confirm_select_on_a_tx_channel_fails_with_406() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send_method(1, 90, 10, &[]).await;
    c.expect_method(90, 11).await;
    c.send_method(1, 85, 10, &Args::new().bits(&[false]).build())
        .await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 406);
    assert_eq!(
        close.text,
        "PRECONDITION_FAILED - cannot switch from tx to confirm mode"
    );
    assert_eq!((close.class_id, close.method_id), (85, 10));
}

#[tokio::test]
async fn lapin_reports_406_for_tx_select_on_a_confirm_channel() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    common::assert_amqp_error(
        guard(ch.tx_select()).await,
        406,
        "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
    );
}
