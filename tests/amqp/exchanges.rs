//! Exchange declaration, deletion, reserved names, exchange-to-exchange bindings,
//! alternate exchanges and internal exchanges.

use crate::common;

use common::raw::Args;
use common::{TestBroker, assert_amqp_error, fresh_queue, get_body, guard, publish, unique};
use lapin::options::{
    ExchangeBindOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, ExchangeUnbindOptions,
    QueueBindOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

fn no_args() -> FieldTable {
    FieldTable::default()
}

async fn declare(ch: &Channel, name: &str, kind: ExchangeKind) -> Result<(), lapin::Error> {
    guard(ch.exchange_declare(
        name.into(),
        kind,
        ExchangeDeclareOptions::default(),
        no_args(),
    ))
    .await
}

async fn passive(ch: &Channel, name: &str) -> Result<(), lapin::Error> {
    let opts = ExchangeDeclareOptions {
        passive: true,
        ..Default::default()
    };
    guard(ch.exchange_declare(name.into(), ExchangeKind::Direct, opts, no_args())).await
}

async fn bind_queue(ch: &Channel, queue: &str, exchange: &str, key: &str) {
    guard(ch.queue_bind(
        queue.into(),
        exchange.into(),
        key.into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn declaring_the_default_exchange_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let res = declare(&ch, "", ExchangeKind::Direct).await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        "ACCESS_REFUSED - operation not permitted on the default exchange"
    );
}

#[tokio::test]
async fn deleting_the_default_exchange_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let res = guard(ch.exchange_delete("".into(), ExchangeDeleteOptions::default())).await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        "ACCESS_REFUSED - operation not permitted on the default exchange"
    );
}

#[tokio::test]
async fn binding_a_queue_to_the_default_exchange_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = fresh_queue(&ch, "bind-default").await;
    let res = guard(ch.queue_bind(
        q.as_str().into(),
        "".into(),
        "k".into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        "ACCESS_REFUSED - operation not permitted on the default exchange"
    );
}

#[tokio::test]
async fn passively_declaring_the_default_exchange_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let text = assert_amqp_error(passive(&ch, "").await, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        "ACCESS_REFUSED - operation not permitted on the default exchange"
    );
}

#[tokio::test]
async fn declaring_a_new_amq_prefixed_exchange_fails_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = format!("amq.{}", unique("reserved"));
    let res = declare(&ch, &name, ExchangeKind::Direct).await;
    let text = assert_amqp_error(res, 403, "ACCESS_REFUSED - ");
    assert_eq!(
        text,
        format!("ACCESS_REFUSED - exchange name '{name}' contains reserved prefix 'amq.*'")
    );
}

#[tokio::test]
async fn predeclared_amq_exchanges_exist() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    for name in [
        "amq.direct",
        "amq.fanout",
        "amq.topic",
        "amq.headers",
        "amq.match",
    ] {
        passive(&ch, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn redeclaring_amq_direct_with_its_own_settings_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let opts = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    guard(ch.exchange_declare("amq.direct".into(), ExchangeKind::Direct, opts, no_args()))
        .await
        .unwrap();
    assert!(ch.status().connected());
}

#[tokio::test]
async fn redeclaring_amq_direct_as_non_durable_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let res = declare(&ch, "amq.direct", ExchangeKind::Direct).await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.direct' in vhost '/': received 'false' but current is 'true'"
    );
}

#[tokio::test]
async fn passive_declare_of_a_missing_exchange_fails_with_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("missing-x");
    let text = assert_amqp_error(passive(&ch, &name).await, 404, "NOT_FOUND - ");
    assert_eq!(
        text,
        format!("NOT_FOUND - no exchange '{name}' in vhost '/'")
    );
}

#[tokio::test]
async fn redeclaring_an_exchange_with_a_different_type_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("retype");
    declare(&ch, &name, ExchangeKind::Direct).await.unwrap();
    let res = declare(&ch, &name, ExchangeKind::Fanout).await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!(
            "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '{name}' in vhost '/': received 'fanout' but current is 'direct'"
        )
    );
    let (_c2, ch2) = broker.lapin_channel().await;
    guard(ch2.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default()))
        .await
        .unwrap();
}

#[tokio::test]
async fn redeclaring_an_exchange_with_different_durability_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("redurable");
    declare(&ch, &name, ExchangeKind::Topic).await.unwrap();
    let opts = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let res =
        guard(ch.exchange_declare(name.as_str().into(), ExchangeKind::Topic, opts, no_args()))
            .await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!(
            "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '{name}' in vhost '/': received 'true' but current is 'false'"
        )
    );
}

#[tokio::test]
async fn redeclaring_an_exchange_with_identical_settings_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("same");
    declare(&ch, &name, ExchangeKind::Headers).await.unwrap();
    declare(&ch, &name, ExchangeKind::Headers).await.unwrap();
    passive(&ch, &name).await.unwrap();
}

#[tokio::test]
async fn declaring_an_unknown_exchange_type_closes_the_connection_with_503() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let name = unique("badtype");
    let args = Args::new()
        .u16(0)
        .shortstr(&name)
        .shortstr("no-such-type")
        .bits(&[false, false, false, false, false])
        .empty_table()
        .build();
    c.send_method(1, 40, 10, &args).await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 503);
    assert_eq!(
        close.text,
        "COMMAND_INVALID - unknown exchange type 'no-such-type'"
    );
    assert_eq!((close.class_id, close.method_id), (40, 10));
}

#[tokio::test]
async fn deleting_an_exchange_if_unused_while_it_has_bindings_fails_with_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("inuse");
    declare(&ch, &name, ExchangeKind::Direct).await.unwrap();
    let q = fresh_queue(&ch, "inuse-q").await;
    bind_queue(&ch, &q, &name, "k").await;
    let opts = ExchangeDeleteOptions {
        if_unused: true,
        ..Default::default()
    };
    let res = guard(ch.exchange_delete(name.as_str().into(), opts)).await;
    let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED - ");
    assert_eq!(
        text,
        format!("PRECONDITION_FAILED - exchange '{name}' in vhost '/' in use")
    );
}

#[tokio::test]
async fn deleting_an_unused_exchange_if_unused_removes_it() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("unused");
    declare(&ch, &name, ExchangeKind::Fanout).await.unwrap();
    let opts = ExchangeDeleteOptions {
        if_unused: true,
        ..Default::default()
    };
    guard(ch.exchange_delete(name.as_str().into(), opts))
        .await
        .unwrap();
    assert_amqp_error(passive(&ch, &name).await, 404, "NOT_FOUND - ");
}

#[tokio::test]
async fn deleting_a_missing_exchange_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("never-existed");
    guard(ch.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default()))
        .await
        .unwrap();
    assert!(ch.status().connected());
}

#[tokio::test]
async fn exchange_to_exchange_binding_routes_messages_to_the_destination_queues() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let src = unique("e2e-src");
    let dst = unique("e2e-dst");
    declare(&ch, &src, ExchangeKind::Direct).await.unwrap();
    declare(&ch, &dst, ExchangeKind::Fanout).await.unwrap();
    let q = fresh_queue(&ch, "e2e-q").await;
    bind_queue(&ch, &q, &dst, "").await;
    guard(ch.exchange_bind(
        dst.as_str().into(),
        src.as_str().into(),
        "route".into(),
        ExchangeBindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
    publish(&ch, &src, "other", b"dropped").await;
    publish(&ch, &src, "route", b"routed").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("routed"));
    assert_eq!(get_body(&ch, &q).await, None);
}

#[tokio::test]
async fn exchange_unbind_stops_routing_between_exchanges() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let src = unique("unbind-src");
    let dst = unique("unbind-dst");
    declare(&ch, &src, ExchangeKind::Fanout).await.unwrap();
    declare(&ch, &dst, ExchangeKind::Fanout).await.unwrap();
    let q = fresh_queue(&ch, "unbind-q").await;
    bind_queue(&ch, &q, &dst, "").await;
    guard(ch.exchange_bind(
        dst.as_str().into(),
        src.as_str().into(),
        "".into(),
        ExchangeBindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
    publish(&ch, &src, "", b"before").await;
    guard(ch.exchange_unbind(
        dst.as_str().into(),
        src.as_str().into(),
        "".into(),
        ExchangeUnbindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
    publish(&ch, &src, "", b"after-unbind").await;
    publish(&ch, "", &q, b"sentinel").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("before"));
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("sentinel"));
    assert_eq!(get_body(&ch, &q).await, None);
}

#[tokio::test]
async fn queue_unbind_stops_routing_to_that_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let x = unique("qunbind-x");
    declare(&ch, &x, ExchangeKind::Direct).await.unwrap();
    let q = fresh_queue(&ch, "qunbind-q").await;
    bind_queue(&ch, &q, &x, "k").await;
    publish(&ch, &x, "k", b"one").await;
    guard(ch.queue_unbind(q.as_str().into(), x.as_str().into(), "k".into(), no_args()))
        .await
        .unwrap();
    publish(&ch, &x, "k", b"two").await;
    publish(&ch, "", &q, b"sentinel").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("one"));
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("sentinel"));
}

#[tokio::test]
async fn alternate_exchange_receives_unroutable_messages() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let ae = unique("ae");
    let main = unique("ae-main");
    declare(&ch, &ae, ExchangeKind::Fanout).await.unwrap();
    let mut args = FieldTable::default();
    args.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString(ae.as_str().into()),
    );
    guard(ch.exchange_declare(
        main.as_str().into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        args,
    ))
    .await
    .unwrap();
    let routed = fresh_queue(&ch, "ae-routed").await;
    let caught = fresh_queue(&ch, "ae-caught").await;
    bind_queue(&ch, &routed, &main, "known").await;
    bind_queue(&ch, &caught, &ae, "").await;
    publish(&ch, &main, "known", b"to-main").await;
    publish(&ch, &main, "unknown", b"to-ae").await;
    assert_eq!(get_body(&ch, &routed).await.as_deref(), Some("to-main"));
    assert_eq!(get_body(&ch, &caught).await.as_deref(), Some("to-ae"));
    assert_eq!(get_body(&ch, &routed).await, None);
    assert_eq!(get_body(&ch, &caught).await, None);
}

#[tokio::test]
async fn publishing_to_an_internal_exchange_closes_the_channel_with_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("internal");
    let opts = ExchangeDeclareOptions {
        internal: true,
        ..Default::default()
    };
    guard(ch.exchange_declare(name.as_str().into(), ExchangeKind::Fanout, opts, no_args()))
        .await
        .unwrap();
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.publish(1, &name, "", b"nope").await;
    let close = c.expect_channel_close(1).await;
    assert_eq!(close.code, 403);
    assert_eq!(
        close.text,
        format!("ACCESS_REFUSED - cannot publish to internal exchange '{name}' in vhost '/'")
    );
    assert_eq!((close.class_id, close.method_id), (60, 40));
}

#[tokio::test]
async fn an_internal_exchange_still_routes_messages_from_a_bound_exchange() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let front = unique("front");
    let inner = unique("inner");
    declare(&ch, &front, ExchangeKind::Fanout).await.unwrap();
    let opts = ExchangeDeclareOptions {
        internal: true,
        ..Default::default()
    };
    guard(ch.exchange_declare(inner.as_str().into(), ExchangeKind::Fanout, opts, no_args()))
        .await
        .unwrap();
    let q = fresh_queue(&ch, "inner-q").await;
    bind_queue(&ch, &q, &inner, "").await;
    guard(ch.exchange_bind(
        inner.as_str().into(),
        front.as_str().into(),
        "".into(),
        ExchangeBindOptions::default(),
        no_args(),
    ))
    .await
    .unwrap();
    publish(&ch, &front, "", b"through").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("through"));
}

#[tokio::test]
async fn auto_delete_exchange_is_removed_when_its_last_binding_goes() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("autodel-x");
    let opts = ExchangeDeclareOptions {
        auto_delete: true,
        ..Default::default()
    };
    guard(ch.exchange_declare(name.as_str().into(), ExchangeKind::Direct, opts, no_args()))
        .await
        .unwrap();
    let q = fresh_queue(&ch, "autodel-xq").await;
    bind_queue(&ch, &q, &name, "k").await;
    passive(&ch, &name).await.unwrap();
    guard(ch.queue_unbind(
        q.as_str().into(),
        name.as_str().into(),
        "k".into(),
        no_args(),
    ))
    .await
    .unwrap();
    assert_amqp_error(passive(&ch, &name).await, 404, "NOT_FOUND - ");
}

#[tokio::test]
async fn deleting_an_exchange_removes_its_bindings() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.lapin_channel().await;
    let name = unique("delbind");
    declare(&ch, &name, ExchangeKind::Fanout).await.unwrap();
    let q = fresh_queue(&ch, "delbind-q").await;
    bind_queue(&ch, &q, &name, "").await;
    guard(ch.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default()))
        .await
        .unwrap();
    declare(&ch, &name, ExchangeKind::Fanout).await.unwrap();
    publish(&ch, &name, "", b"unbound").await;
    publish(&ch, "", &q, b"sentinel").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("sentinel"));
    assert_eq!(get_body(&ch, &q).await, None);
}
