//! Exchange and binding corner cases where RabbitMQ's answer is not the obvious one: which
//! error wins when several apply, `amq.rabbitmq.trace`, the wording for unknown exchange
//! types, and another connection's exclusive queue as a binding end.

use crate::common;

use common::{TestBroker, amqp_error, assert_amqp_error, guard, unique};
use lapin::options::{
    BasicPublishOptions, ExchangeBindOptions, ExchangeDeclareOptions, ExchangeUnbindOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ExchangeKind};

fn no_args() -> FieldTable {
    FieldTable::default()
}

async fn declare_exchange(
    ch: &Channel,
    name: &str,
    kind: ExchangeKind,
    opts: ExchangeDeclareOptions,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    guard(ch.exchange_declare(name.into(), kind, opts, args)).await
}

/// Declares an exclusive queue (server-named when `name` is empty) and returns its name.
async fn exclusive_queue(ch: &Channel, name: &str) -> String {
    let opts = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    let q = guard(ch.queue_declare(name.into(), opts, no_args()))
        .await
        .unwrap();
    q.name().to_string()
}

async fn queue_bind(ch: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    guard(ch.queue_bind(
        queue.into(),
        exchange.into(),
        key.into(),
        QueueBindOptions::default(),
        no_args(),
    ))
    .await
}

async fn queue_unbind(ch: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    guard(ch.queue_unbind(queue.into(), exchange.into(), key.into(), no_args())).await
}

#[tokio::test]
async fn amq_rabbitmq_trace_exists_as_a_durable_internal_topic_exchange() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_confirm_channel().await;
    let trace = "amq.rabbitmq.trace";
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..Default::default()
    };
    declare_exchange(&ch, trace, ExchangeKind::Topic, passive, no_args())
        .await
        .unwrap();
    let same = ExchangeDeclareOptions {
        durable: true,
        internal: true,
        ..Default::default()
    };
    declare_exchange(&ch, trace, ExchangeKind::Topic, same, no_args())
        .await
        .unwrap();
    let q = exclusive_queue(&ch, "").await;
    queue_bind(&ch, &q, trace, "#").await.unwrap();
    let confirm = guard(ch.basic_publish(
        trace.into(),
        "k".into(),
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    // The refusal closes the channel, which fails the pending confirm.
    let err = guard(confirm).await.unwrap_err();
    assert_eq!(
        amqp_error(&err),
        (
            403,
            "ACCESS_REFUSED - cannot publish to internal exchange 'amq.rabbitmq.trace' in vhost '/'"
                .to_string()
        )
    );
}

#[tokio::test]
async fn an_unknown_exchange_type_is_named_like_rabbitmq_names_it() {
    let broker = TestBroker::start().await;
    for (kind, text) in [
        ("foo", "COMMAND_INVALID - invalid exchange type 'foo'"),
        (
            "x-no-such-type",
            "COMMAND_INVALID - unknown exchange type 'x-no-such-type'",
        ),
    ] {
        let (_c, ch) = broker.lapin_channel().await;
        let res = declare_exchange(
            &ch,
            &unique("badtype"),
            ExchangeKind::Custom(kind.into()),
            ExchangeDeclareOptions::default(),
            no_args(),
        )
        .await;
        assert_eq!(assert_amqp_error(res, 503, "COMMAND_INVALID"), text);
    }
}

#[tokio::test]
async fn the_type_is_checked_before_the_default_exchange_name() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let res = declare_exchange(
        &ch,
        "",
        ExchangeKind::Custom("x-bogus".into()),
        ExchangeDeclareOptions::default(),
        no_args(),
    )
    .await;
    assert_amqp_error(
        res,
        503,
        "COMMAND_INVALID - unknown exchange type 'x-bogus'",
    );
}

#[tokio::test]
async fn an_alternate_exchange_argument_that_is_not_a_string_is_406() {
    let broker = TestBroker::start().await;
    for (value, type_name) in [
        (AMQPValue::LongInt(7), "signedint"),
        (AMQPValue::LongLongInt(7), "long"),
        (AMQPValue::Boolean(true), "bool"),
    ] {
        let (_c, ch) = broker.lapin_channel().await;
        let name = unique("ae-type");
        let mut args = FieldTable::default();
        args.insert("alternate-exchange".into(), value);
        let res = declare_exchange(
            &ch,
            &name,
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            args,
        )
        .await;
        let text = assert_amqp_error(res, 406, "PRECONDITION_FAILED");
        assert_eq!(
            text,
            format!(
                "PRECONDITION_FAILED - invalid type '{type_name}' for arg 'alternate-exchange' \
                 in exchange '{name}' in vhost '/'"
            )
        );
    }
}

#[tokio::test]
async fn exchange_unbind_from_the_default_exchange_as_destination_is_403() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.lapin_channel().await;
    let source = unique("unbind-src");
    declare_exchange(
        &ch,
        &source,
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        no_args(),
    )
    .await
    .unwrap();
    let res = guard(ch.exchange_unbind(
        "".into(),
        source.as_str().into(),
        "k".into(),
        ExchangeUnbindOptions::default(),
        no_args(),
    ))
    .await;
    assert_amqp_error(
        res,
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
}

#[tokio::test]
async fn when_both_ends_of_a_binding_are_missing_the_source_is_reported() {
    let broker = TestBroker::start().await;
    let (missing_x, missing_q) = (unique("no-src"), unique("no-dest"));
    let (_c, ch) = broker.lapin_channel().await;
    let text = assert_amqp_error(
        queue_bind(&ch, &missing_q, &missing_x, "k").await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        text,
        format!("NOT_FOUND - no exchange '{missing_x}' in vhost '/'")
    );
    let (_c, ch) = broker.lapin_channel().await;
    let res = guard(ch.exchange_bind(
        missing_q.as_str().into(),
        missing_x.as_str().into(),
        "k".into(),
        ExchangeBindOptions::default(),
        no_args(),
    ))
    .await;
    let text = assert_amqp_error(res, 404, "NOT_FOUND");
    assert_eq!(
        text,
        format!("NOT_FOUND - no exchange '{missing_x}' in vhost '/'")
    );
}

#[tokio::test]
async fn another_connections_exclusive_queue_is_only_locked_when_a_binding_would_change() {
    let broker = TestBroker::start().await;
    let (_owner, owner_ch) = broker.lapin_channel().await;
    let q = unique("excl-bind");
    exclusive_queue(&owner_ch, &q).await;
    queue_bind(&owner_ch, &q, "amq.direct", &q).await.unwrap();

    let (_other, ch) = broker.lapin_channel().await;
    // Nothing to remove: unbind-ok, whether the exchange exists or not.
    queue_unbind(&ch, &q, "amq.direct", "never-bound")
        .await
        .unwrap();
    queue_unbind(&ch, &q, &unique("no-such-x"), &q)
        .await
        .unwrap();
    // A missing exchange is reported before the lock.
    let missing = unique("no-such-x");
    let text = assert_amqp_error(queue_bind(&ch, &q, &missing, "k").await, 404, "NOT_FOUND");
    assert_eq!(
        text,
        format!("NOT_FOUND - no exchange '{missing}' in vhost '/'")
    );
    // Adding or removing a real binding is refused, and the owner's binding stays.
    for unbind in [false, true] {
        let (_c, ch) = broker.lapin_channel().await;
        let res = if unbind {
            queue_unbind(&ch, &q, "amq.direct", &q).await
        } else {
            queue_bind(&ch, &q, "amq.direct", "k").await
        };
        assert_amqp_error(res, 405, "RESOURCE_LOCKED");
    }
    common::publish(&owner_ch, "amq.direct", &q, b"still bound").await;
    assert_eq!(
        common::get_body(&owner_ch, &q).await.as_deref(),
        Some("still bound")
    );
    // The owner itself may unbind.
    queue_unbind(&owner_ch, &q, "amq.direct", &q).await.unwrap();
}
