//! Permissions over AMQP, each rule with RabbitMQ 3.10.8's reply code, text and method ids
//! (observed live with pika against a user holding configure `^c`, write `^w`, read `^r`).
//! Warren only: users and permissions are set through the in-process broker.

use crate::common;

use common::TestBroker;
use common::access::*;
use common::raw::Close;
use warren::access::TopicPermissionSpec;

/// A broker where guest made queues `cq`, `wq`, `rq`, exchanges `cx`, `wx`, `rx` (direct)
/// and `rt` (topic), and user `u` has configure `^c`, write `^w`, read `^r` on `/`.
async fn setup() -> TestBroker {
    let b = TestBroker::start().await;
    add_user(&b, "u", Some(perms("^c", "^w", "^r")));
    let mut g = b.raw().await;
    g.open_channel(1).await;
    for q in ["cq", "wq", "rq"] {
        g.queue_declare(1, q, false).await;
    }
    for (x, kind) in [
        ("cx", "direct"),
        ("wx", "direct"),
        ("rx", "direct"),
        ("rt", "topic"),
    ] {
        g.send_method(1, 40, 10, &exchange_declare(x, kind, false, &[]))
            .await;
        g.expect_method(40, 11).await;
    }
    b
}

fn refused(kind: &str, name: &str) -> String {
    format!("ACCESS_REFUSED - access to {kind} '{name}' in vhost '/' refused for user 'u'")
}

/// Sends one method as `u` on a fresh connection and returns the channel.close.
async fn close_after(b: &TestBroker, class: u16, method: u16, args: &[u8]) -> Close {
    let mut c = login(b, "u", "/").await;
    c.send_method(1, class, method, args).await;
    c.expect_channel_close(1).await
}

async fn publish_refusal(b: &TestBroker, exchange: &str, rk: &str) -> Close {
    let mut c = login(b, "u", "/").await;
    c.publish(1, exchange, rk, b"x").await;
    c.expect_channel_close(1).await
}

fn assert_close(close: &Close, code: u16, text: &str, ids: (u16, u16)) {
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (code, text, ids.0, ids.1)
    );
}

#[tokio::test]
async fn declaring_and_deleting_need_configure() {
    skip_if_external!();
    let b = setup().await;
    let c = close_after(&b, 40, 10, &exchange_declare("x1", "direct", false, &[])).await;
    assert_close(&c, 403, &refused("exchange", "x1"), (40, 10));
    // amq.* names and existing system exchanges are checked for configure first.
    let c = close_after(
        &b,
        40,
        10,
        &exchange_declare("amq.foo", "direct", false, &[]),
    )
    .await;
    assert_close(&c, 403, &refused("exchange", "amq.foo"), (40, 10));
    let c = close_after(&b, 40, 20, &named("zzx", &[false, false])).await;
    assert_close(&c, 403, &refused("exchange", "zzx"), (40, 20));
    let c = close_after(&b, 50, 10, &queue_declare("q1", false, &[])).await;
    assert_close(&c, 403, &refused("queue", "q1"), (50, 10));
    // A missing queue is refused for its permission before it is looked up.
    let c = close_after(&b, 50, 40, &named("zzq", &[false, false, false])).await;
    assert_close(&c, 403, &refused("queue", "zzq"), (50, 40));

    // Granted: declare and delete what configure matches.
    let mut c = login(&b, "u", "/").await;
    c.send_method(1, 40, 10, &exchange_declare("cx1", "direct", false, &[]))
        .await;
    c.expect_method(40, 11).await;
    c.send_method(1, 40, 20, &named("cx1", &[false, false]))
        .await;
    c.expect_method(40, 21).await;
    c.queue_declare(1, "cq1", false).await;
    c.send_method(1, 50, 40, &named("cq1", &[false, false, false]))
        .await;
    c.expect_method(50, 41).await;
}

#[tokio::test]
async fn passive_declares_need_no_permission() {
    skip_if_external!();
    let b = setup().await;
    let mut c = login(&b, "u", "/").await;
    c.send_method(1, 40, 10, &exchange_declare("wx", "direct", true, &[]))
        .await;
    c.expect_method(40, 11).await;
    c.send_method(1, 50, 10, &queue_declare("rq", true, &[]))
        .await;
    c.expect_method(50, 11).await;
    let c = close_after(&b, 40, 10, &exchange_declare("x1", "direct", true, &[])).await;
    assert_close(
        &c,
        404,
        "NOT_FOUND - no exchange 'x1' in vhost '/'",
        (40, 10),
    );
    let c = close_after(&b, 50, 10, &queue_declare("q1", true, &[])).await;
    assert_close(&c, 404, "NOT_FOUND - no queue 'q1' in vhost '/'", (50, 10));
}

#[tokio::test]
async fn reserved_and_server_named_queues_follow_rabbitmq() {
    skip_if_external!();
    let b = setup().await;
    // The reserved prefix is refused before any permission.
    let c = close_after(&b, 50, 10, &queue_declare("amq.q1", false, &[])).await;
    assert_close(
        &c,
        403,
        "ACCESS_REFUSED - queue name 'amq.q1' contains reserved prefix 'amq.*'",
        (50, 10),
    );
    // A server-named queue is checked under its generated amq.gen- name.
    let c = close_after(&b, 50, 10, &queue_declare("", false, &[])).await;
    let prefix = "ACCESS_REFUSED - access to queue 'amq.gen-";
    assert!(c.text.starts_with(prefix), "{}", c.text);
    assert!(
        c.text.ends_with("' in vhost '/' refused for user 'u'"),
        "{}",
        c.text
    );
    assert_eq!((c.code, c.class_id, c.method_id), (403, 50, 10));
}

#[tokio::test]
async fn alternate_and_dead_letter_exchanges_need_read_on_the_new_object() {
    skip_if_external!();
    let b = setup().await;
    let ae = [("alternate-exchange", "zz")];
    let c = close_after(&b, 40, 10, &exchange_declare("cx2", "topic", false, &ae)).await;
    assert_close(&c, 403, &refused("exchange", "cx2"), (40, 10));
    let dlx = [("x-dead-letter-exchange", "zz")];
    let c = close_after(&b, 50, 10, &queue_declare("cq2", false, &dlx)).await;
    assert_close(&c, 403, &refused("queue", "cq2"), (50, 10));
    // With read on the new object, write is needed on the alternate / dead-letter exchange.
    add_user(&b, "v", Some(perms(".*", "^w", ".*")));
    let mut c = login(&b, "v", "/").await;
    c.send_method(1, 50, 10, &queue_declare("q2", false, &dlx))
        .await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(
        close.text,
        "ACCESS_REFUSED - access to exchange 'zz' in vhost '/' refused for user 'v'"
    );
    let wdlx = [("x-dead-letter-exchange", "wx")];
    c.open_channel(2).await;
    c.send_method(2, 50, 10, &queue_declare("q2", false, &wdlx))
        .await;
    c.expect_method(50, 11).await;
}

#[tokio::test]
async fn publishing_needs_write_on_the_exchange_and_the_default_is_amq_default() {
    skip_if_external!();
    let b = setup().await;
    let c = publish_refusal(&b, "", "cq").await;
    assert_close(&c, 403, &refused("exchange", "amq.default"), (60, 40));
    // Checked before the exchange is looked up.
    let c = publish_refusal(&b, "zzx", "cq").await;
    assert_close(&c, 403, &refused("exchange", "zzx"), (60, 40));
    let c = publish_refusal(&b, "amq.direct", "cq").await;
    assert_close(&c, 403, &refused("exchange", "amq.direct"), (60, 40));
    // Granted: the message arrives.
    let mut c = login(&b, "u", "/").await;
    let mut g = b.raw().await;
    g.open_channel(1).await;
    g.send_method(1, 50, 20, &queue_binding("rq", "wx", "k", false))
        .await;
    g.expect_method(50, 21).await;
    c.publish(1, "wx", "k", b"hello").await;
    c.consume(1, "rq", "t", true).await;
    let d = c.expect_delivery().await;
    assert_eq!(d.body, b"hello");
}

#[tokio::test]
async fn consume_get_and_purge_need_read_on_the_queue() {
    skip_if_external!();
    let b = setup().await;
    let c = close_after(&b, 60, 20, &consume("cq")).await;
    assert_close(&c, 403, &refused("queue", "cq"), (60, 20));
    let c = close_after(&b, 60, 70, &named("cq", &[true])).await;
    assert_close(&c, 403, &refused("queue", "cq"), (60, 70));
    let c = close_after(&b, 60, 70, &named("zzq", &[true])).await;
    assert_close(&c, 403, &refused("queue", "zzq"), (60, 70));
    let c = close_after(&b, 50, 30, &named("cq", &[false])).await;
    assert_close(&c, 403, &refused("queue", "cq"), (50, 30));
    let mut c = login(&b, "u", "/").await;
    c.send_method(1, 60, 70, &named("rq", &[true])).await;
    c.expect_method(60, 72).await;
    c.send_method(1, 50, 30, &named("rq", &[false])).await;
    c.expect_method(50, 31).await;
}

#[tokio::test]
async fn binding_needs_write_on_the_destination_and_read_on_the_source() {
    skip_if_external!();
    let b = setup().await;
    let c = close_after(&b, 50, 20, &queue_binding("cq", "cx", "k", false)).await;
    assert_close(&c, 403, &refused("queue", "cq"), (50, 20));
    let c = close_after(&b, 50, 20, &queue_binding("wq", "", "k", false)).await;
    assert_close(
        &c,
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
        (50, 20),
    );
    let c = close_after(&b, 50, 20, &queue_binding("wq", "zzx", "k", false)).await;
    assert_close(&c, 403, &refused("exchange", "zzx"), (50, 20));
    let c = close_after(&b, 50, 50, &queue_binding("cq", "cx", "k", true)).await;
    assert_close(&c, 403, &refused("queue", "cq"), (50, 50));
    let c = close_after(&b, 40, 30, &exchange_binding("cx", "amq.direct", "k")).await;
    assert_close(&c, 403, &refused("exchange", "cx"), (40, 30));
    let mut c = login(&b, "u", "/").await;
    c.send_method(1, 50, 20, &queue_binding("wq", "rx", "k", false))
        .await;
    c.expect_method(50, 21).await;
    c.send_method(1, 40, 30, &exchange_binding("wx", "rx", "k"))
        .await;
    c.expect_method(40, 31).await;
}

#[tokio::test]
async fn connection_open_needs_some_permission_on_the_vhost() {
    skip_if_external!();
    let b = setup().await;
    add_user(&b, "none", None);
    let close = refused_at_open(&b, "none", "/").await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            530,
            "NOT_ALLOWED - access to vhost '/' refused for user 'none'",
            10,
            40
        )
    );
    // Empty patterns still admit the user to the vhost.
    add_user(&b, "empty", Some(perms("", "", "")));
    let mut c = login(&b, "empty", "/").await;
    c.sync(1).await;
}

#[tokio::test]
async fn topic_permissions_apply_to_routing_keys_on_topic_exchanges() {
    skip_if_external!();
    let b = setup().await;
    add_user(&b, "t", Some(perms(".*", ".*", ".*")));
    let topic = TopicPermissionSpec {
        exchange: "amq.topic".into(),
        write: "^a\\.".into(),
        read: "^b\\.".into(),
    };
    access(&b).set_topic_permission("t", "/", topic).unwrap();
    let text = "ACCESS_REFUSED - access to topic 'c.x' in exchange 'amq.topic' in vhost '/' \
                refused for user 't'";
    let mut c = login(&b, "t", "/").await;
    c.publish(1, "amq.topic", "a.x", b"").await;
    // Other exchanges, topic ones included, are unrestricted.
    c.publish(1, "rt", "c.x", b"").await;
    c.publish(1, "amq.direct", "c.x", b"").await;
    c.sync(1).await;
    c.publish(1, "amq.topic", "c.x", b"").await;
    assert_close(&c.expect_channel_close(1).await, 403, text, (60, 40));
    c.open_channel(2).await;
    c.send_method(2, 50, 20, &queue_binding("rq", "amq.topic", "b.x", false))
        .await;
    c.expect_method(50, 21).await;
    c.send_method(2, 50, 20, &queue_binding("rq", "amq.topic", "c.x", false))
        .await;
    assert_close(&c.expect_channel_close(2).await, 403, text, (50, 20));
    c.open_channel(3).await;
    c.send_method(3, 50, 50, &queue_binding("rq", "amq.topic", "c.x", true))
        .await;
    assert_close(&c.expect_channel_close(3).await, 403, text, (50, 50));
}

#[tokio::test]
async fn changed_and_revoked_permissions_apply_to_the_next_operation() {
    skip_if_external!();
    let b = setup().await;
    let mut c = login(&b, "u", "/").await;
    c.publish(1, "wx", "k", b"").await;
    c.sync(1).await;
    // Revoked while the channel holds a cached grant: the next publish is refused.
    access(&b)
        .set_permissions("u", "/", perms("^c", "", "^r"))
        .unwrap();
    c.publish(1, "wx", "k", b"").await;
    assert_close(
        &c.expect_channel_close(1).await,
        403,
        &refused("exchange", "wx"),
        (60, 40),
    );
    // Granted again: allowed at once.
    access(&b)
        .set_permissions("u", "/", perms("^c", "^w", "^r"))
        .unwrap();
    c.open_channel(2).await;
    c.publish(2, "wx", "k", b"").await;
    c.sync(2).await;
    // Cleared entirely: the open connection's next operation is refused, new ones too.
    assert!(access(&b).clear_permissions("u", "/"));
    c.publish(2, "wx", "k", b"").await;
    assert_close(
        &c.expect_channel_close(2).await,
        403,
        &refused("exchange", "wx"),
        (60, 40),
    );
    let close = refused_at_open(&b, "u", "/").await;
    assert_eq!(close.code, 530);
}
