//! lapin: RPC as in RabbitMQ's tutorial 6. A server (its own connection, prefetch 1)
//! answers fib(n) to `reply_to` with the request's `correlation_id`; the client uses an
//! exclusive server-named callback queue, makes sequential calls and 25 concurrent ones,
//! ignores a stray reply, and its callback queue is gone once its connection closes.

use std::collections::HashMap;

use futures_lite::StreamExt;
use interop::{bounded, unique, uri};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ErrorKind};

fn fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

async fn connect() -> Connection {
    bounded(
        "connect",
        Connection::connect(&uri(), ConnectionProperties::default()),
    )
    .await
    .expect("connect")
}

/// Serves fib requests until its consumer is cancelled; returns the requests served.
async fn server(ch: Channel, rpc_queue: String) -> Vec<u64> {
    ch.basic_qos(1, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let mut consumer = ch
        .basic_consume(
            rpc_queue.as_str().into(),
            "rpc-server".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");
    let mut served = Vec::new();
    while let Some(delivery) = consumer.next().await {
        let d = delivery.expect("server delivery");
        let n: u64 = String::from_utf8_lossy(&d.data).parse().expect("a number");
        let reply_to = d.properties.reply_to().clone().expect("reply_to");
        let correlation_id = d
            .properties
            .correlation_id()
            .clone()
            .expect("correlation_id");
        ch.basic_publish(
            "".into(),
            reply_to,
            BasicPublishOptions::default(),
            fib(n).to_string().as_bytes(),
            BasicProperties::default().with_correlation_id(correlation_id),
        )
        .await
        .expect("reply publish");
        d.ack(BasicAckOptions::default()).await.expect("basic.ack");
        served.push(n);
    }
    // Close explicitly: a dropped lapin channel closes itself in the background, which
    // races with the connection close at the end.
    ch.close(200, "bye".into())
        .await
        .expect("server channel close");
    served
}

#[tokio::main]
async fn main() {
    let rpc_queue = unique("lapin.rpc");
    let server_conn = connect().await;
    let setup = server_conn.create_channel().await.expect("channel");
    setup
        .queue_declare(
            rpc_queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("rpc queue.declare");
    let server_ch = server_conn.create_channel().await.expect("server channel");
    let server_task = tokio::spawn(server(server_ch, rpc_queue.clone()));

    let client = connect().await;
    let ch = client.create_channel().await.expect("client channel");
    let callback = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions::exclusive(),
            FieldTable::default(),
        )
        .await
        .expect("callback queue.declare");
    let callback_name = callback.name().to_string();
    assert!(
        callback_name.starts_with("amq.gen-"),
        "server-named queue: {callback_name}"
    );
    let mut replies = ch
        .basic_consume(
            callback.name().clone(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("callback basic.consume");

    // A stray reply with an unknown correlation id must be ignored by the client.
    ch.basic_publish(
        "".into(),
        callback.name().clone(),
        BasicPublishOptions::default(),
        b"stray",
        BasicProperties::default().with_correlation_id("nobody".into()),
    )
    .await
    .expect("stray publish");

    let call = |n: u64, id: String| {
        let ch = ch.clone();
        let rpc_queue = rpc_queue.clone();
        let reply_to = callback_name.clone();
        async move {
            ch.basic_publish(
                "".into(),
                rpc_queue.as_str().into(),
                BasicPublishOptions::default(),
                n.to_string().as_bytes(),
                BasicProperties::default()
                    .with_reply_to(reply_to.into())
                    .with_correlation_id(id.into()),
            )
            .await
            .expect("request publish");
        }
    };

    let mut stray_seen = false;
    let mut requests = Vec::new();
    // Sequential calls.
    for n in [0u64, 1, 10, 30] {
        let id = format!("seq-{n}");
        call(n, id.clone()).await;
        requests.push(n);
        loop {
            let d = bounded("an RPC reply", replies.next())
                .await
                .expect("stream")
                .expect("reply");
            match d
                .properties
                .correlation_id()
                .as_ref()
                .map(|s| s.to_string())
            {
                Some(got) if got == id => {
                    assert_eq!(String::from_utf8_lossy(&d.data), fib(n).to_string());
                    break;
                }
                Some(got) if got == "nobody" => stray_seen = true,
                other => panic!("unexpected reply correlation id {other:?}"),
            }
        }
    }
    assert!(stray_seen, "the stray reply was delivered (and ignored)");

    // 25 calls in flight at once, answered in order by the prefetch-1 server.
    let mut pending = HashMap::new();
    for i in 0..25u64 {
        let n = i % 40;
        let id = format!("batch-{i}");
        call(n, id.clone()).await;
        requests.push(n);
        pending.insert(id, n);
    }
    let mut order = Vec::new();
    while !pending.is_empty() {
        let d = bounded("a batch reply", replies.next())
            .await
            .expect("stream")
            .expect("reply");
        let id = d
            .properties
            .correlation_id()
            .as_ref()
            .map(|s| s.to_string())
            .expect("id");
        let n = pending
            .remove(&id)
            .unwrap_or_else(|| panic!("unknown or duplicate reply {id}"));
        assert_eq!(String::from_utf8_lossy(&d.data), fib(n).to_string());
        order.push(id);
    }
    let expected: Vec<String> = (0..25).map(|i| format!("batch-{i}")).collect();
    assert_eq!(order, expected, "replies in request order");

    client.close(200, "bye".into()).await.expect("client close");

    // The exclusive callback queue went with its connection.
    // (On a connection of its own: lapin may still be closing the probe channel after the
    // 404 when a connection close is requested, so that connection is just dropped.)
    let probe_conn = connect().await;
    let probe = probe_conn.create_channel().await.expect("probe channel");
    let err = probe
        .queue_declare(
            callback_name.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect_err("the callback queue must be gone");
    match err.kind() {
        ErrorKind::ProtocolError(e) => assert_eq!(e.get_id(), 404, "{e:?}"),
        other => panic!("expected 404, got {other:?}"),
    }

    // Deleting the RPC queue cancels the server's consumer, which ends its loop.
    let admin = server_conn.create_channel().await.expect("channel");
    admin
        .queue_delete(rpc_queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("queue.delete");
    let served = bounded("the server to stop", server_task)
        .await
        .expect("server task");
    assert_eq!(
        served, requests,
        "the server saw every request once, in order"
    );
    server_conn.close(200, "bye".into()).await.expect("close");
    println!("lapin rpc: {} calls", requests.len());
}
