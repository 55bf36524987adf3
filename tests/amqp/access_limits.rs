//! Per-vhost `max-connections` / `max-queues` and per-user `max-connections` /
//! `max-channels`, refused with RabbitMQ 3.10.8's codes and texts (observed live with
//! pika). Warren only: limits are set through the in-process broker.

use crate::common;

use common::TestBroker;
use common::access::*;
use common::raw::RawConn;

/// Closes `c` from the client side and waits for the socket to close: by then the broker
/// has given the connection's place back.
async fn close_fully(mut c: RawConn) {
    let close = common::raw::Args::new()
        .u16(200)
        .shortstr("bye")
        .u16(0)
        .u16(0)
        .build();
    c.send_method(0, 10, 50, &close).await;
    c.expect_method(10, 51).await;
    // Hanging up, as clients do after close-ok: the server then ends its side.
    c.shutdown_write().await;
    c.expect_eof().await;
}

#[tokio::test]
async fn vhost_max_connections_refuses_at_connection_open() {
    skip_if_external!();
    let b = TestBroker::start().await;
    add_user(&b, "u", Some(perms(".*", ".*", ".*")));
    access(&b)
        .set_vhost_limit("/", "max-connections", Some(1))
        .unwrap();
    let first = login(&b, "u", "/").await;
    let close = refused_at_open(&b, "u", "/").await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            530,
            "NOT_ALLOWED - access to vhost '/' refused for user 'u': connection limit (1) is reached",
            10,
            40
        )
    );
    close_fully(first).await;
    let again = login(&b, "u", "/").await;
    // Cleared: no limit.
    access(&b)
        .set_vhost_limit("/", "max-connections", None)
        .unwrap();
    let mut more = login(&b, "u", "/").await;
    more.sync(1).await;
    drop(again);
    // 0 refuses every connection.
    access(&b)
        .set_vhost_limit("/", "max-connections", Some(0))
        .unwrap();
    assert_eq!(refused_at_open(&b, "u", "/").await.code, 530);
}

#[tokio::test]
async fn vhost_max_queues_refuses_a_new_queue_but_not_a_redeclare() {
    skip_if_external!();
    let b = TestBroker::start().await;
    access(&b)
        .set_vhost_limit("/", "max-queues", Some(1))
        .unwrap();
    let mut c = b.raw().await;
    c.open_channel(1).await;
    c.queue_declare(1, "lq1", false).await;
    c.queue_declare(1, "lq1", false).await;
    c.send_method(1, 50, 10, &queue_declare("lq2", false, &[]))
        .await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            406,
            "PRECONDITION_FAILED - cannot declare queue 'lq2': queue limit in vhost '/' (1) is reached",
            50,
            10
        )
    );
    // Raised: allowed at once.
    access(&b)
        .set_vhost_limit("/", "max-queues", Some(2))
        .unwrap();
    c.open_channel(2).await;
    c.queue_declare(2, "lq2", false).await;
}

#[tokio::test]
async fn user_max_connections_refuses_at_connection_open() {
    skip_if_external!();
    let b = TestBroker::start().await;
    add_user(&b, "u", Some(perms(".*", ".*", ".*")));
    access(&b)
        .set_user_limit("u", "max-connections", Some(1))
        .unwrap();
    let first = login(&b, "u", "/").await;
    let close = refused_at_open(&b, "u", "/").await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            530,
            "NOT_ALLOWED - connection refused for user 'u': user connection limit (1) is reached",
            10,
            40
        )
    );
    // Other users are not counted.
    let mut guest = b.raw().await;
    guest.open_channel(1).await;
    close_fully(first).await;
    let mut again = login(&b, "u", "/").await;
    again.sync(1).await;
}

#[tokio::test]
async fn user_max_channels_counts_every_connection_of_the_user() {
    skip_if_external!();
    let b = TestBroker::start().await;
    add_user(&b, "u", Some(perms(".*", ".*", ".*")));
    access(&b)
        .set_user_limit("u", "max-channels", Some(3))
        .unwrap();
    // Channel 1 on each connection, then a second one: three of three.
    let mut a = login(&b, "u", "/").await;
    let mut c = login(&b, "u", "/").await;
    // A closed channel gives its place back.
    a.open_channel(2).await;
    a.send_method(
        2,
        20,
        40,
        &common::raw::Args::new()
            .u16(200)
            .shortstr("")
            .u16(0)
            .u16(0)
            .build(),
    )
    .await;
    a.expect_method(20, 41).await;
    c.send_method(2, 20, 10, &common::raw::Args::new().shortstr("").build())
        .await;
    c.expect_method(20, 11).await;
    a.send_method(3, 20, 10, &common::raw::Args::new().shortstr("").build())
        .await;
    let close = a.expect_connection_close().await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            530,
            "NOT_ALLOWED - number of channels opened for user 'u' has reached the maximum \
             allowed user limit of (3)",
            0,
            0
        )
    );
    // The closed connection's channel went back: the other connection may open one more.
    c.send_method(3, 20, 10, &common::raw::Args::new().shortstr("").build())
        .await;
    c.expect_method(20, 11).await;
}
