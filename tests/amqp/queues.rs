//! Queue declaration, exclusivity, auto-delete, bindings, purge and delete.

use crate::common;

use common::{
    TestBroker, assert_amqp_error, consume, fresh_queue, get_body, guard, message_count, publish,
    publish_all, unique,
};
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Queue};

fn no_args() -> FieldTable {
    FieldTable::default()
}

async fn declare(
    ch: &Channel,
    name: &str,
    opts: QueueDeclareOptions,
) -> Result<Queue, lapin::Error> {
    guard(ch.queue_declare(name.into(), opts, no_args())).await
}

fn passive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        passive: true,
        ..Default::default()
    }
}

fn exclusive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn server_named_queue_gets_an_amq_gen_name() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = declare(&ch, "", exclusive()).await.unwrap();
    let name = q.name().as_str();
    assert!(name.starts_with("amq.gen-"), "{name}");
    assert!(name.len() > "amq.gen-".len() + 8, "{name}");
    assert_eq!((q.message_count(), q.consumer_count()), (0, 0));
    let again = declare(&ch, "", exclusive()).await.unwrap();
    assert_ne!(again.name(), q.name());
}

#[tokio::test]
async fn declare_ok_reports_ready_messages_and_consumers() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&ch, "counts").await;
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    let decl = declare(&ch, &q, QueueDeclareOptions::default())
        .await
        .unwrap();
    assert_eq!((decl.message_count(), decl.consumer_count()), (3, 0));

    let ch2 = guard(_conn.create_channel()).await.unwrap();
    guard(ch2.basic_qos(1, BasicQosOptions::default()))
        .await
        .unwrap();
    let mut d = consume(&ch2, &q, BasicConsumeOptions::default()).await;
    assert_eq!(common::body(&d.next().await), "1");
    // One delivery is unacknowledged; only ready messages are counted.
    let decl = declare(&ch, &q, passive()).await.unwrap();
    assert_eq!((decl.message_count(), decl.consumer_count()), (2, 1));
}

#[tokio::test]
async fn passive_declare_of_a_missing_queue_fails_with_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("missing-q");
    let text = assert_amqp_error(declare(&ch, &name, passive()).await, 404, "NOT_FOUND - ");
    assert_eq!(text, format!("NOT_FOUND - no queue '{name}' in vhost '/'"));
}

#[tokio::test]
async fn redeclaring_a_queue_with_different_durability_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = fresh_queue(&ch, "redurable-q").await;
    let res = declare(
        &ch,
        &name,
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
    )
    .await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!(
            "PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{name}' in vhost '/': received 'true' but current is 'false'"
        )
    );
}

#[tokio::test]
async fn redeclaring_a_queue_with_different_auto_delete_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = fresh_queue(&ch, "reauto-q").await;
    let res = declare(
        &ch,
        &name,
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
    )
    .await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!(
            "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '{name}' in vhost '/': received 'true' but current is 'false'"
        )
    );
}

#[tokio::test]
async fn declaring_an_amq_prefixed_queue_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = format!("amq.{}", unique("q"));
    let res = declare(&ch, &name, QueueDeclareOptions::default()).await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        format!("ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'")
    );
}

#[tokio::test]
async fn exclusive_queue_is_locked_to_other_connections_with_405() {
    let broker = TestBroker::start().await;
    let (_owner, ch) = broker.lapin_channel().await;
    let name = unique("excl");
    declare(&ch, &name, exclusive()).await.unwrap();
    let (_other, ch2) = broker.lapin_channel().await;
    let res = declare(&ch2, &name, exclusive()).await;
    let text = assert_amqp_error(res, 405, "RESOURCE_LOCKED - ");
    assert!(
        text.starts_with(&format!(
            "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{name}' in vhost '/'"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn consuming_another_connections_exclusive_queue_fails_with_405() {
    let broker = TestBroker::start().await;
    let (_owner, ch) = broker.lapin_channel().await;
    let name = unique("excl-consume");
    declare(&ch, &name, exclusive()).await.unwrap();
    let (_other, ch2) = broker.lapin_channel().await;
    let res = guard(ch2.basic_consume(
        name.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        no_args(),
    ))
    .await;
    assert_amqp_error(
        res,
        405,
        "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue",
    );
}

#[tokio::test]
async fn exclusive_queue_is_usable_by_its_owner_on_another_channel() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.lapin_channel().await;
    let name = unique("excl-own");
    declare(&ch, &name, exclusive()).await.unwrap();
    let ch2 = guard(conn.create_channel()).await.unwrap();
    publish(&ch2, "", &name, b"mine").await;
    assert_eq!(get_body(&ch2, &name).await.as_deref(), Some("mine"));
}

#[tokio::test]
async fn exclusive_queue_is_deleted_when_its_connection_closes() {
    let broker = TestBroker::start().await;
    let (owner, ch) = broker.lapin_channel().await;
    let name = unique("excl-gone");
    declare(&ch, &name, exclusive()).await.unwrap();
    guard(owner.close(200, "bye".into())).await.unwrap();
    let (_other, ch2) = broker.lapin_channel().await;
    assert_amqp_error(declare(&ch2, &name, passive()).await, 404, "NOT_FOUND - ");
}

#[tokio::test]
async fn auto_delete_queue_survives_until_it_has_had_a_consumer() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let name = unique("autodel-fresh");
    declare(
        &ch,
        &name,
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    publish(&ch, "", &name, b"kept").await;
    assert_eq!(message_count(&ch, &name).await, 1);
}

#[tokio::test]
async fn auto_delete_queue_is_removed_when_its_last_consumer_cancels() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("autodel");
    declare(
        &ch,
        &name,
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let a = consume(&ch, &name, BasicConsumeOptions::default()).await;
    let b = consume(&ch, &name, BasicConsumeOptions::default()).await;
    guard(ch.basic_cancel(a.tag.as_str().into(), BasicCancelOptions::default()))
        .await
        .unwrap();
    assert_eq!(
        declare(&ch, &name, passive())
            .await
            .unwrap()
            .consumer_count(),
        1
    );
    guard(ch.basic_cancel(b.tag.as_str().into(), BasicCancelOptions::default()))
        .await
        .unwrap();
    assert_amqp_error(declare(&ch, &name, passive()).await, 404, "NOT_FOUND - ");
}

#[tokio::test]
async fn bound_queue_receives_matching_messages_until_unbound() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "bind").await;
    let key = unique("key");
    guard(ch.queue_bind(
        q.as_str().into(),
        "amq.direct".into(),
        key.as_str().into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
    publish(&ch, "amq.direct", &key, b"bound").await;
    publish(&ch, "amq.direct", "other-key", b"other").await;
    guard(ch.queue_unbind(
        q.as_str().into(),
        "amq.direct".into(),
        key.as_str().into(),
        no_args(),
    ))
    .await
    .unwrap();
    publish(&ch, "amq.direct", &key, b"after-unbind").await;
    publish(&ch, "", &q, b"sentinel").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("bound"));
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("sentinel"));
    assert_eq!(get_body(&ch, &q).await, None);
}

#[tokio::test]
async fn binding_to_a_missing_exchange_fails_with_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "bind-nox").await;
    let x = unique("nox");
    let res = guard(ch.queue_bind(
        q.as_str().into(),
        x.as_str().into(),
        "k".into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await;
    let text = assert_amqp_error(res, 404, "NOT_FOUND - ");
    assert_eq!(text, format!("NOT_FOUND - no exchange '{x}' in vhost '/'"));
}

#[tokio::test]
async fn binding_a_missing_queue_fails_with_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = unique("noq");
    let res = guard(ch.queue_bind(
        q.as_str().into(),
        "amq.direct".into(),
        "k".into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await;
    let text = assert_amqp_error(res, 404, "NOT_FOUND - ");
    assert_eq!(text, format!("NOT_FOUND - no queue '{q}' in vhost '/'"));
}

#[tokio::test]
async fn unbinding_a_binding_that_does_not_exist_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "unbind-none").await;
    guard(ch.queue_unbind(
        q.as_str().into(),
        "amq.direct".into(),
        "never-bound".into(),
        no_args(),
    ))
    .await
    .unwrap();
    assert!(ch.status().connected());
}

#[tokio::test]
async fn purge_reports_and_removes_ready_messages() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&ch, "purge").await;
    publish_all(&ch, &q, &["a", "b", "c", "d"]).await;
    let purged = guard(ch.queue_purge(q.as_str().into(), QueuePurgeOptions::default()))
        .await
        .unwrap();
    assert_eq!(purged, 4);
    assert_eq!(message_count(&ch, &q).await, 0);
    publish(&ch, "", &q, b"after").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("after"));
}

#[tokio::test]
async fn delete_if_unused_with_a_consumer_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "del-unused").await;
    let _d = consume(&ch, &q, BasicConsumeOptions::default()).await;
    let (_c2, ch2) = broker.lapin_channel().await;
    let res = guard(ch2.queue_delete(
        q.as_str().into(),
        QueueDeleteOptions {
            if_unused: true,
            ..Default::default()
        },
    ))
    .await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!("PRECONDITION_FAILED - queue '{q}' in vhost '/' in use")
    );
}

#[tokio::test]
async fn delete_if_empty_with_messages_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&ch, "del-empty").await;
    publish(&ch, "", &q, b"x").await;
    let res = guard(ch.queue_delete(
        q.as_str().into(),
        QueueDeleteOptions {
            if_empty: true,
            ..Default::default()
        },
    ))
    .await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!("PRECONDITION_FAILED - queue '{q}' in vhost '/' not empty")
    );
}

#[tokio::test]
async fn delete_reports_the_message_count_and_removes_the_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = fresh_queue(&ch, "del-count").await;
    publish_all(&ch, &q, &["a", "b", "c"]).await;
    let n = guard(ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()))
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_amqp_error(declare(&ch, &q, passive()).await, 404, "NOT_FOUND - ");
}

#[tokio::test]
async fn deleting_a_missing_queue_succeeds_with_zero_messages() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = unique("never-q");
    let n = guard(ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn deleting_a_queue_removes_its_bindings() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "del-binds").await;
    let key = unique("k");
    guard(ch.queue_bind(
        q.as_str().into(),
        "amq.direct".into(),
        key.as_str().into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
    guard(ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()))
        .await
        .unwrap();
    declare(&ch, &q, QueueDeclareOptions::default())
        .await
        .unwrap();
    publish(&ch, "amq.direct", &key, b"stale-binding").await;
    publish(&ch, "", &q, b"sentinel").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("sentinel"));
}

#[tokio::test]
async fn an_empty_queue_name_in_bind_means_the_last_declared_queue_and_key() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let q = c.queue_declare(1, "", true).await;
    // queue.bind with empty queue and empty routing key: both default to that queue.
    let bind = common::raw::Args::new()
        .u16(0)
        .shortstr("")
        .shortstr("amq.direct")
        .shortstr("")
        .bits(&[false])
        .empty_table()
        .build();
    c.send_method(1, 50, 20, &bind).await;
    c.expect_method(50, 21).await;
    c.publish(1, "amq.direct", &q, b"via-default-key").await;
    c.consume(1, &q, "t", true).await;
    let d = c.expect_delivery().await;
    assert_eq!(
        (d.exchange.as_str(), d.body.as_slice()),
        ("amq.direct", &b"via-default-key"[..])
    );
}

#[tokio::test]
async fn an_empty_queue_name_without_a_declared_queue_fails_with_404() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let purge = common::raw::Args::new()
        .u16(0)
        .shortstr("")
        .bits(&[false])
        .build();
    c.send_method(1, 50, 30, &purge).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 404);
    assert_eq!(close.text, "NOT_FOUND - no previously declared queue");
    assert_eq!((close.class_id, close.method_id), (50, 30));
}

#[tokio::test]
async fn a_server_named_quorum_queue_is_refused_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let mut args = lapin::types::FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    let res = guard(ch.queue_declare(
        "".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    ))
    .await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue"
    );
}
