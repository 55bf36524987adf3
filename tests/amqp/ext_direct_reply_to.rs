//! Direct reply-to: the pseudo-queue amq.rabbitmq.reply-to.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{Args, Frame, RawConn, describe};
use common::unique;

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

fn consume_method(queue: &str, no_ack: bool) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr("")
        .bits(&[false, no_ack, false, false])
        .empty_table()
        .build()
}

/// A server consuming (no-ack) from a fresh request queue, a client consuming direct
/// reply-to, and the reply address the server got with the client's request.
async fn rpc_pair(broker: &TestBroker, name: &str) -> (RawConn, RawConn, String) {
    let mut server = open1(broker).await;
    let rpc_q = unique(name);
    declare(&mut server, 1, &rpc_q, &[]).await;
    consume_args(&mut server, 1, &rpc_q, true, &[]).await;
    let mut client = open1(broker).await;
    consume_args(&mut client, 1, REPLY_TO, true, &[]).await;
    let request = Props {
        reply_to: Some(REPLY_TO.into()),
        ..Default::default()
    };
    publish_msg(&mut client, 1, "", &rpc_q, &request, b"ping").await;
    let reply_to = next_msg(&mut server)
        .await
        .props
        .reply_to
        .expect("reply_to");
    (server, client, reply_to)
}

#[tokio::test]
async fn an_rpc_over_direct_reply_to_round_trips() {
    let broker = TestBroker::start().await;
    let mut server = open1(&broker).await;
    let rpc_q = unique("rpc");
    declare(&mut server, 1, &rpc_q, &[]).await;
    consume_args(&mut server, 1, &rpc_q, true, &[]).await;

    let mut client = open1(&broker).await;
    let ctag = consume_args(&mut client, 1, REPLY_TO, true, &[]).await;
    let request = Props {
        reply_to: Some(REPLY_TO.into()),
        correlation_id: Some("c-1".into()),
        ..Default::default()
    };
    publish_msg(&mut client, 1, "", &rpc_q, &request, b"ping").await;

    let req = next_msg(&mut server).await;
    assert_eq!(req.text(), "ping");
    assert_eq!(req.props.correlation_id.as_deref(), Some("c-1"));
    let reply_to = req.props.reply_to.clone().expect("a reply_to");
    assert!(
        reply_to.starts_with("amq.rabbitmq.reply-to.") && reply_to.len() > REPLY_TO.len() + 1,
        "rewritten reply_to: {reply_to:?}"
    );
    let reply = Props {
        correlation_id: Some("c-1".into()),
        ..Default::default()
    };
    publish_msg(&mut server, 1, "", &reply_to, &reply, b"pong").await;

    let got = next_msg(&mut client).await;
    assert_eq!(
        (
            got.consumer_tag.as_str(),
            got.exchange.as_str(),
            got.routing_key.as_str(),
            got.text().as_str(),
            got.redelivered
        ),
        (ctag.as_str(), "", reply_to.as_str(), "pong", false)
    );
    assert_eq!(got.props.correlation_id.as_deref(), Some("c-1"));
}

#[tokio::test]
async fn consuming_direct_reply_to_with_manual_acks_is_refused_with_406() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    c.send_method(1, 60, 20, &consume_method(REPLY_TO, false))
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
            "PRECONDITION_FAILED - reply consumer cannot acknowledge",
            60,
            20
        )
    );
}

#[tokio::test]
async fn publishing_with_reply_to_direct_reply_to_without_consuming_it_is_refused_with_406() {
    let broker = TestBroker::start().await;
    // In a transaction too, the refusal comes at basic.publish, as in RabbitMQ.
    for in_tx in [false, true] {
        let mut c = open1(&broker).await;
        let q = unique("rpc-noconsumer");
        declare(&mut c, 1, &q, &[]).await;
        if in_tx {
            c.send_method(1, 90, 10, &[]).await;
            c.expect_method(90, 11).await;
        }
        let props = Props {
            reply_to: Some(REPLY_TO.into()),
            ..Default::default()
        };
        publish_msg(&mut c, 1, "", &q, &props, b"ping").await;
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
                "PRECONDITION_FAILED - fast reply consumer does not exist",
                60,
                40
            )
        );
    }
}

#[tokio::test]
async fn a_passive_declare_of_direct_reply_to_succeeds_with_one_consumer() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let a = Args::new()
        .u16(0)
        .shortstr(REPLY_TO)
        .bits(&[true, false, false, false, false])
        .empty_table()
        .build();
    c.send_method(1, 50, 10, &a).await;
    match c.next_frame().await {
        Frame::Method {
            class: 50,
            method: 11,
            args,
            ..
        } => {
            let mut r = common::raw::Reader::new(&args);
            assert_eq!(
                (r.shortstr(), r.u32(), r.u32()),
                (REPLY_TO.to_string(), 0, 1)
            );
        }
        other => panic!("expected declare-ok, got {}", describe(&other)),
    }
}

#[tokio::test]
async fn a_reply_to_an_unknown_reply_to_name_is_dropped_silently() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    publish_body(&mut c, 1, "", "amq.rabbitmq.reply-to.bogus", "lost").await;
    c.sync(1).await;
    let q = unique("after");
    declare(&mut c, 1, &q, &[]).await;
    publish_body(&mut c, 1, "", &q, "fine").await;
    assert_eq!(
        get_msg(&mut c, 1, &q, true)
            .await
            .map(|m| m.text())
            .as_deref(),
        Some("fine")
    );
}

#[tokio::test]
async fn declaring_the_pseudo_queue_or_a_live_reply_address_answers_one_consumer() {
    let broker = TestBroker::start().await;
    // A plain (non-passive) declare, as RPC helpers do before consuming.
    let mut c = open1(&broker).await;
    assert_eq!(declare_with(&mut c, 1, REPLY_TO, false, &[]).await, (0, 1));
    let (mut server, _client, reply_to) = rpc_pair(&broker, "rpc-declare").await;
    // The server may declare the address it was given.
    assert_eq!(
        declare_with(&mut server, 1, &reply_to, false, &[]).await,
        (0, 1)
    );
    // An address nobody handed out is 404.
    let bogus = format!("{REPLY_TO}.{}", unique("bogus"));
    let close = declare_refused(&mut server, 1, &bogus, &[]).await;
    assert_eq!(
        (close.code, close.text),
        (404, format!("NOT_FOUND - no queue '{bogus}' in vhost '/'"))
    );
}

#[tokio::test]
async fn a_reply_address_is_no_queue_to_get_from_or_delete() {
    let broker = TestBroker::start().await;
    let (mut server, mut client, reply_to) = rpc_pair(&broker, "rpc-not-a-queue").await;
    // queue.delete of it is delete-ok(0) and changes nothing.
    let delete = Args::new()
        .u16(0)
        .shortstr(&reply_to)
        .bits(&[false, false, false])
        .build();
    server.send_method(1, 50, 40, &delete).await;
    let (mut ok, _) = server.expect_method(50, 41).await;
    assert_eq!(ok.u32(), 0);
    // basic.get from it is 404.
    let get = Args::new().u16(0).shortstr(&reply_to).bits(&[true]).build();
    server.send_method(1, 60, 70, &get).await;
    let close = server.expect_channel_close(1).await;
    assert_eq!(
        (close.code, close.text),
        (
            404,
            format!("NOT_FOUND - no queue '{reply_to}' in vhost '/'")
        )
    );
    // The reply still reaches the requester.
    server.open_channel(1).await;
    publish_msg(&mut server, 1, "", &reply_to, &Props::default(), b"pong").await;
    assert_eq!(next_msg(&mut client).await.text(), "pong");
}

#[tokio::test]
async fn a_mandatory_reply_is_delivered_and_also_returned_as_rabbitmq_does() {
    let broker = TestBroker::start().await;
    let (mut server, mut client, reply_to) = rpc_pair(&broker, "rpc-mandatory").await;
    let mut bytes = common::raw::publish_frame(1, "", &reply_to, true);
    bytes.extend(common::raw::header_frame(1, 4));
    bytes.extend(common::raw::frame(common::raw::FRAME_BODY, 1, b"pong"));
    server.send(&bytes).await;
    let (mut ret, _) = server.expect_method(60, 50).await;
    assert_eq!((ret.u16(), ret.shortstr()), (312, "NO_ROUTE".to_string()));
    assert_eq!(server.read_content().await, b"pong");
    assert_eq!(next_msg(&mut client).await.text(), "pong");
}
