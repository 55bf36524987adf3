//! Consumer extensions: single active consumer, consumer priorities (x-priority) and
//! exclusive consumers.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{Args, RawConn, Value};
use common::unique;

/// Declares a shared (non-exclusive) queue that cleans itself up a minute after last use.
async fn shared_queue(c: &mut RawConn, name: &str, extra: &[(&str, Value)]) {
    let mut args = vec![("x-expires", Value::I32(60_000))];
    args.extend(extra.iter().cloned());
    declare_with(c, 1, name, false, &args).await;
}

async fn qos(c: &mut RawConn, prefetch: u16) {
    let a = Args::new().u32(0).u16(prefetch).bits(&[false]).build();
    c.send_method(1, 60, 10, &a).await;
    c.expect_method(60, 11).await;
}

async fn cancel(c: &mut RawConn, tag: &str) {
    let a = Args::new().shortstr(tag).bits(&[false]).build();
    c.send_method(1, 60, 30, &a).await;
    c.expect_method(60, 31).await;
}

async fn ack(c: &mut RawConn, tag: u64) {
    c.ack(1, tag, false).await;
}

fn consume_method(queue: &str, exclusive: bool, args: &[(&str, Value)]) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr("")
        .bits(&[false, false, exclusive, false])
        .table_bytes(&encode_table(&table(args)))
        .build()
}

const SAC: (&str, Value) = ("x-single-active-consumer", Value::Bool(true));

#[tokio::test]
async fn with_single_active_consumer_only_the_first_consumer_gets_messages_until_it_cancels() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("sac");
    shared_queue(&mut ops, &q, &[SAC]).await;
    let mut a = open1(&broker).await;
    let mut b = open1(&broker).await;
    let tag_a = consume_args(&mut a, 1, &q, false, &[]).await;
    let tag_b = consume_args(&mut b, 1, &q, false, &[]).await;
    for body in ["m1", "m2", "m3"] {
        publish_body(&mut ops, 1, "", &q, body).await;
    }
    for body in ["m1", "m2", "m3"] {
        let m = next_msg(&mut a).await;
        assert_eq!(
            (m.text().as_str(), m.consumer_tag.as_str()),
            (body, tag_a.as_str())
        );
        ack(&mut a, m.delivery_tag).await;
    }
    cancel(&mut a, &tag_a).await;
    publish_body(&mut ops, 1, "", &q, "m4").await;
    // b's first delivery is m4: it received none of m1..m3.
    let m = next_msg(&mut b).await;
    assert_eq!(
        (m.text().as_str(), m.consumer_tag.as_str()),
        ("m4", tag_b.as_str())
    );
    assert!(!m.redelivered);
}

#[tokio::test]
async fn with_single_active_consumer_unacked_messages_of_a_closed_channel_go_to_the_next_consumer_in_order()
 {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("sac-close");
    shared_queue(&mut ops, &q, &[SAC]).await;
    let mut a = open1(&broker).await;
    let mut b = open1(&broker).await;
    consume_args(&mut a, 1, &q, false, &[]).await;
    consume_args(&mut b, 1, &q, false, &[]).await;
    for body in ["m1", "m2", "m3"] {
        publish_body(&mut ops, 1, "", &q, body).await;
    }
    for body in ["m1", "m2", "m3"] {
        assert_eq!(next_msg(&mut a).await.text(), body);
    }
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    a.send_method(1, 20, 40, &close).await;
    a.expect_method(20, 41).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = next_msg(&mut b).await;
        got.push((m.text(), m.redelivered));
    }
    assert_eq!(
        got,
        [
            ("m1".to_string(), true),
            ("m2".to_string(), true),
            ("m3".to_string(), true)
        ]
    );
    publish_body(&mut ops, 1, "", &q, "m4").await;
    let m = next_msg(&mut b).await;
    assert_eq!((m.text().as_str(), m.redelivered), ("m4", false));
}

#[tokio::test]
async fn a_higher_priority_consumer_gets_every_message_while_it_has_credit() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("cprio");
    shared_queue(&mut ops, &q, &[]).await;
    let mut low = open1(&broker).await;
    let mut high = open1(&broker).await;
    let tag_low = consume_args(&mut low, 1, &q, false, &[("x-priority", Value::I32(1))]).await;
    let tag_high = consume_args(&mut high, 1, &q, false, &[("x-priority", Value::I32(10))]).await;
    for body in ["m1", "m2", "m3", "m4"] {
        publish_body(&mut ops, 1, "", &q, body).await;
    }
    for body in ["m1", "m2", "m3", "m4"] {
        let m = next_msg(&mut high).await;
        assert_eq!(
            (m.text().as_str(), m.consumer_tag.as_str()),
            (body, tag_high.as_str())
        );
    }
    cancel(&mut high, &tag_high).await;
    publish_body(&mut ops, 1, "", &q, "after").await;
    let m = next_msg(&mut low).await;
    assert_eq!(
        (m.text().as_str(), m.consumer_tag.as_str()),
        ("after", tag_low.as_str())
    );
}

#[tokio::test]
async fn a_lower_priority_consumer_gets_messages_once_the_higher_ones_prefetch_is_full() {
    let broker = TestBroker::start().await;
    let mut ops = open1(&broker).await;
    let q = unique("cprio-prefetch");
    shared_queue(&mut ops, &q, &[]).await;
    let mut low = open1(&broker).await;
    let mut high = open1(&broker).await;
    qos(&mut high, 2).await;
    consume_args(&mut low, 1, &q, false, &[("x-priority", Value::I32(-5))]).await;
    consume_args(&mut high, 1, &q, false, &[("x-priority", Value::I32(5))]).await;
    for body in ["m1", "m2", "m3", "m4", "m5"] {
        publish_body(&mut ops, 1, "", &q, body).await;
    }
    let h1 = next_msg(&mut high).await;
    let h2 = next_msg(&mut high).await;
    assert_eq!((h1.text().as_str(), h2.text().as_str()), ("m1", "m2"));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_msg(&mut low).await.text());
    }
    assert_eq!(got, ["m3", "m4", "m5"]);
    // Credit again: the high-priority consumer takes the next message.
    ack(&mut high, h1.delivery_tag).await;
    // A round trip on the same channel: the ack has been handled before m6 is published.
    high.sync(1).await;
    publish_body(&mut ops, 1, "", &q, "m6").await;
    assert_eq!(next_msg(&mut high).await.text(), "m6");
}

#[tokio::test]
async fn a_second_consumer_on_a_queue_with_an_exclusive_consumer_is_refused_with_403() {
    let broker = TestBroker::start().await;
    let mut a = open1(&broker).await;
    let q = unique("excl-consumer");
    shared_queue(&mut a, &q, &[]).await;
    a.send_method(1, 60, 20, &consume_method(&q, true, &[]))
        .await;
    a.expect_method(60, 21).await;
    let mut b = open1(&broker).await;
    b.send_method(1, 60, 20, &consume_method(&q, false, &[]))
        .await;
    let close = b.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            403,
            format!("ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use").as_str(),
            60,
            20
        )
    );
}

#[tokio::test]
async fn an_exclusive_consume_on_a_queue_that_has_consumers_is_refused_with_403() {
    let broker = TestBroker::start().await;
    let mut a = open1(&broker).await;
    let q = unique("excl-late");
    shared_queue(&mut a, &q, &[]).await;
    consume_args(&mut a, 1, &q, false, &[]).await;
    let mut b = open1(&broker).await;
    b.send_method(1, 60, 20, &consume_method(&q, true, &[]))
        .await;
    let close = b.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            403,
            format!("ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use").as_str(),
            60,
            20
        )
    );
}

#[tokio::test]
async fn an_exclusive_consume_on_a_single_active_consumer_queue_is_always_refused_with_403() {
    let broker = TestBroker::start().await;
    let mut a = open1(&broker).await;
    let q = unique("excl-sac");
    shared_queue(&mut a, &q, &[SAC]).await;
    a.send_method(1, 60, 20, &consume_method(&q, true, &[]))
        .await;
    let close = a.expect_channel_close(1).await;
    assert_eq!(
        (close.code, close.text.clone()),
        (
            403,
            format!("ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use")
        )
    );
    // A plain consumer is still welcome.
    a.open_channel(1).await;
    consume_args(&mut a, 1, &q, false, &[]).await;
}
