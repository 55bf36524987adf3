//! amqprs: RPC with an exclusive server-named callback queue and correlation ids. The
//! server runs on its own connection with prefetch 1 and manual acks; the client sends
//! 30 requests at once and matches every reply by correlation id.

use std::collections::HashMap;

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicConsumeArguments, BasicPublishArguments,
    BasicQosArguments, Channel, QueueDeclareArguments, QueueDeleteArguments,
};
use interop::rs::{channel, connect};
use interop::{bounded, unique};

fn fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// Serves `count` requests, then cancels its consumer; returns the numbers served.
async fn server(ch: Channel, rpc_queue: String, count: usize) -> Vec<u64> {
    ch.basic_qos(BasicQosArguments::new(0, 1, false))
        .await
        .expect("basic.qos");
    let (tag, mut rx) = ch
        .basic_consume_rx(
            BasicConsumeArguments::new(&rpc_queue, "")
                .manual_ack(true)
                .finish(),
        )
        .await
        .expect("server basic.consume");
    assert!(
        tag.starts_with("amq.ctag-"),
        "server-generated consumer tag: {tag}"
    );
    let mut served = Vec::new();
    while served.len() < count {
        let msg = bounded("a request", rx.recv())
            .await
            .expect("server consumer closed");
        let deliver = msg.deliver.expect("deliver");
        let props = msg.basic_properties.expect("properties");
        let n: u64 = String::from_utf8_lossy(&msg.content.expect("content"))
            .parse()
            .expect("n");
        let reply_to = props.reply_to().expect("reply_to").clone();
        let id = props.correlation_id().expect("correlation_id").clone();
        ch.basic_publish(
            BasicProperties::default().with_correlation_id(&id).finish(),
            fib(n).to_string().into_bytes(),
            BasicPublishArguments::new("", &reply_to),
        )
        .await
        .expect("reply");
        ch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
            .await
            .expect("basic.ack");
        served.push(n);
    }
    ch.basic_cancel(BasicCancelArguments::new(&tag))
        .await
        .expect("basic.cancel");
    served
}

#[tokio::main]
async fn main() {
    const CALLS: u64 = 30;
    let server_conn = connect().await;
    let (sch, _sev) = channel(&server_conn).await;
    let rpc_queue = unique("amqprs.rpc");
    sch.queue_declare(QueueDeclareArguments::new(&rpc_queue))
        .await
        .expect("queue.declare");
    let server_task = tokio::spawn(server(sch, rpc_queue.clone(), CALLS as usize));

    let client = connect().await;
    let (ch, _events) = channel(&client).await;
    let (callback, _, _) = ch
        .queue_declare(QueueDeclareArguments::exclusive_server_named())
        .await
        .expect("callback queue.declare")
        .expect("declare-ok");
    assert!(
        callback.starts_with("amq.gen-"),
        "server-named queue: {callback}"
    );
    let (_, mut replies) = ch
        .basic_consume_rx(
            BasicConsumeArguments::new(&callback, "replies")
                .auto_ack(true)
                .finish(),
        )
        .await
        .expect("callback basic.consume");

    let mut pending = HashMap::new();
    for i in 0..CALLS {
        let id = format!("call-{i}");
        ch.basic_publish(
            BasicProperties::default()
                .with_reply_to(&callback)
                .with_correlation_id(&id)
                .finish(),
            i.to_string().into_bytes(),
            BasicPublishArguments::new("", &rpc_queue),
        )
        .await
        .expect("request publish");
        pending.insert(id, i);
    }
    let mut order = Vec::new();
    while !pending.is_empty() {
        let msg = bounded("a reply", replies.recv())
            .await
            .expect("reply consumer closed");
        let props = msg.basic_properties.expect("properties");
        let id = props.correlation_id().expect("correlation_id").clone();
        let n = pending
            .remove(&id)
            .unwrap_or_else(|| panic!("unknown or duplicate reply {id}"));
        let body = msg.content.expect("content");
        assert_eq!(
            String::from_utf8_lossy(&body),
            fib(n).to_string(),
            "fib({n})"
        );
        order.push(n);
    }
    assert_eq!(
        order,
        (0..CALLS).collect::<Vec<_>>(),
        "prefetch-1 server answers in order"
    );
    let served = bounded("the server", server_task)
        .await
        .expect("server task");
    assert_eq!(served, (0..CALLS).collect::<Vec<_>>());

    let (admin, _aev) = channel(&server_conn).await;
    let left = admin
        .queue_delete(QueueDeleteArguments::new(&rpc_queue))
        .await
        .expect("queue.delete");
    assert_eq!(left, Some(0));
    client.close().await.expect("client close");
    server_conn.close().await.expect("server close");
    println!("amqprs rpc: {CALLS} calls");
}
