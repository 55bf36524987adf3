//! Consumers: tags, exclusivity, no-ack, cancel (client and server side), basic.get,
//! ordering and round-robin dispatch.

use crate::common;

use common::raw::Args;
use common::{
    TestBroker, assert_amqp_error, body, consume, consume_tagged, fresh_queue, get_body, guard,
    publish, publish_all, unique,
};
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;

fn no_ack() -> BasicConsumeOptions {
    BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn server_generated_consumer_tags_start_with_amq_ctag() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "ctag").await;
    let a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let b = consume(&ch, &q, BasicConsumeOptions::default()).await;
    assert!(a.tag.starts_with("amq.ctag-"), "{}", a.tag);
    assert!(b.tag.starts_with("amq.ctag-"), "{}", b.tag);
    assert_ne!(a.tag, b.tag);
}

#[tokio::test]
async fn explicit_consumer_tag_is_echoed_in_consume_ok_and_deliveries() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    assert_eq!(c.consume(1, &q, "my-tag", true).await, "my-tag");
    c.publish(1, "", &q, b"hi").await;
    let d = c.expect_delivery().await;
    assert_eq!(d.consumer_tag, "my-tag");
    assert_eq!(d.delivery_tag, 1);
    assert!(!d.redelivered);
    assert_eq!(
        (d.exchange.as_str(), d.routing_key.as_str()),
        ("", q.as_str())
    );
    assert_eq!(d.body, b"hi");
}

#[tokio::test]
async fn reusing_a_consumer_tag_on_a_channel_closes_the_connection_with_530() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    c.consume(1, &q, "dup", false).await;
    let args = Args::new()
        .u16(0)
        .shortstr(&q)
        .shortstr("dup")
        .bits(&[false; 4])
        .empty_table()
        .build();
    c.send_method(1, 60, 20, &args).await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 530);
    assert_eq!(
        close.text,
        "NOT_ALLOWED - attempt to reuse consumer tag 'dup'"
    );
    assert_eq!((close.class_id, close.method_id), (60, 20));
}

#[tokio::test]
async fn the_same_consumer_tag_may_be_used_on_two_channels() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "tag-2ch").await;
    let ch2 = guard(conn.create_channel()).await.unwrap();
    let a = consume_tagged(&ch, &q, "shared", BasicConsumeOptions::default()).await;
    let b = consume_tagged(&ch2, &q, "shared", BasicConsumeOptions::default()).await;
    assert_eq!((a.tag.as_str(), b.tag.as_str()), ("shared", "shared"));
}

#[tokio::test]
async fn a_second_consumer_on_an_exclusively_consumed_queue_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "excl-consume").await;
    let _a = consume(
        &ch,
        &q,
        BasicConsumeOptions {
            exclusive: true,
            ..Default::default()
        },
    )
    .await;
    let (_c2, ch2) = broker.lapin_channel().await;
    let res = guard(ch2.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        format!("ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use")
    );
}

#[tokio::test]
async fn an_exclusive_consume_on_a_queue_with_consumers_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "excl-late").await;
    let _a = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let (_c2, ch2) = broker.lapin_channel().await;
    let opts = BasicConsumeOptions {
        exclusive: true,
        ..Default::default()
    };
    let res =
        guard(ch2.basic_consume(q.as_str().into(), "".into(), opts, FieldTable::default())).await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        format!("ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use")
    );
}

#[tokio::test]
async fn consuming_from_a_missing_queue_fails_with_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = unique("no-queue");
    let res = guard(ch.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await;
    let text = assert_amqp_error(res, 404, "NOT_FOUND - ");
    assert_eq!(text, format!("NOT_FOUND - no queue '{q}' in vhost '/'"));
}

#[tokio::test]
async fn no_ack_deliveries_are_not_requeued_when_the_channel_closes() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "noack").await;
    let ch2 = guard(conn.create_channel()).await.unwrap();
    let mut d = consume(&ch2, &q, no_ack()).await;
    publish_all(&ch, &q, &["a", "b"]).await;
    assert_eq!(d.bodies(2).await, vec!["a", "b"]);
    guard(ch2.close(200, "bye".into())).await.unwrap();
    publish(&ch, "", &q, b"sentinel").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("sentinel"));
}

#[tokio::test]
async fn cancel_stops_deliveries_and_ends_the_consumer() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "cancel").await;
    let mut d = consume(&ch, &q, no_ack()).await;
    publish(&ch, "", &q, b"before").await;
    assert_eq!(body(&d.next().await), "before");
    guard(ch.basic_cancel(d.tag.as_str().into(), BasicCancelOptions::default()))
        .await
        .unwrap();
    assert!(
        matches!(d.next_event().await, Ok(None)),
        "consumer should end"
    );
    publish(&ch, "", &q, b"after").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("after"));
}

#[tokio::test]
async fn cancelling_an_unknown_consumer_tag_succeeds() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let args = Args::new().shortstr("never-existed").bits(&[false]).build();
    c.send_method(1, 60, 30, &args).await;
    let (mut r, _) = c.expect_method(60, 31).await;
    assert_eq!(r.shortstr(), "never-existed");
}

#[tokio::test]
async fn deleting_a_consumed_queue_sends_basic_cancel_to_the_consumer() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.open_channel(2).await;
    let q = c.queue_declare(1, &unique("cancel-notify"), false).await;
    c.consume(1, &q, "watcher", false).await;
    let del = Args::new()
        .u16(0)
        .shortstr(&q)
        .bits(&[false, false, false])
        .build();
    c.send_method(2, 50, 40, &del).await;
    let mut saw_cancel = false;
    let mut saw_delete_ok = false;
    while !(saw_cancel && saw_delete_ok) {
        match c.next_frame().await {
            common::raw::Frame::Method {
                channel: 1,
                class: 60,
                method: 30,
                args,
            } => {
                let mut r = common::raw::Reader::new(&args);
                assert_eq!(r.shortstr(), "watcher");
                saw_cancel = true;
            }
            common::raw::Frame::Method {
                channel: 2,
                class: 50,
                method: 41,
                ..
            } => saw_delete_ok = true,
            other => panic!("unexpected {}", common::raw::describe(&other)),
        }
    }
}

#[tokio::test]
async fn lapin_consumer_ends_when_its_queue_is_deleted() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "cancel-lapin").await;
    let mut d = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let ch2 = guard(conn.create_channel()).await.unwrap();
    guard(ch2.queue_delete(q.as_str().into(), QueueDeleteOptions::default()))
        .await
        .unwrap();
    assert!(
        matches!(d.next_event().await, Ok(None)),
        "consumer should be cancelled"
    );
    assert!(ch.status().connected(), "the channel stays open");
}

#[tokio::test]
async fn basic_get_returns_messages_with_the_remaining_count_then_get_empty() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "get").await;
    publish_all(&ch, &q, &["one", "two"]).await;
    let first = guard(ch.basic_get(q.as_str().into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (body(&first.delivery), first.message_count),
        ("one".to_string(), 1)
    );
    assert_eq!(first.delivery.delivery_tag, 1);
    assert!(!first.delivery.redelivered);
    assert_eq!(first.delivery.routing_key.as_str(), q);
    let second = guard(ch.basic_get(q.as_str().into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (body(&second.delivery), second.message_count),
        ("two".to_string(), 0)
    );
    assert_eq!(second.delivery.delivery_tag, 2);
    let empty = guard(ch.basic_get(q.as_str().into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap();
    assert!(empty.is_none());
}

#[tokio::test]
async fn basic_get_empty_is_sent_with_an_empty_cluster_id() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    let get = Args::new().u16(0).shortstr(&q).bits(&[true]).build();
    c.send_method(1, 60, 70, &get).await;
    let (mut r, ch) = c.expect_method(60, 72).await;
    assert_eq!(ch, 1);
    assert_eq!(r.shortstr(), "");
}

#[tokio::test]
async fn a_single_consumer_receives_messages_in_publish_order() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "order").await;
    let mut d = consume(&ch, &q, no_ack()).await;
    let expected: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    for b in &expected {
        publish(&ch, "", &q, b.as_bytes()).await;
    }
    let got = d.take(200).await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, expected);
    let tags: Vec<u64> = got.iter().map(|x| x.delivery_tag).collect();
    assert_eq!(tags, (1..=200).collect::<Vec<u64>>());
}

#[tokio::test]
async fn two_consumers_on_one_queue_receive_messages_round_robin() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "rr").await;
    let mut a = consume(&ch, &q, no_ack()).await;
    let mut b = consume(&ch, &q, no_ack()).await;
    publish_all(&ch, &q, &["1", "2", "3", "4", "5", "6"]).await;
    assert_eq!(a.bodies(3).await, vec!["1", "3", "5"]);
    assert_eq!(b.bodies(3).await, vec!["2", "4", "6"]);
}
