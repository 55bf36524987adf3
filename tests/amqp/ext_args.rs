//! Invalid queue and consumer arguments are refused with 406 PRECONDITION_FAILED and a
//! reply text naming the argument, worded as RabbitMQ 3.10 words it.

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{Args, Value};
use common::unique;

/// Declares an exclusive queue with one argument and returns the reply text of the
/// channel.close it must cause (asserting 406 and the queue.declare method id).
async fn refused(broker: &TestBroker, name: &str, key: &str, value: Value) -> String {
    let mut c = open1(broker).await;
    let close = declare_refused(&mut c, 1, name, &[(key, value)]).await;
    assert_eq!(
        (close.code, close.class_id, close.method_id),
        (406, 50, 10),
        "{}",
        close.text
    );
    close.text
}

fn invalid_arg(key: &str, queue: &str, detail: &str) -> String {
    format!("PRECONDITION_FAILED - invalid arg '{key}' for queue '{queue}' in vhost '/': {detail}")
}

#[tokio::test]
async fn a_negative_x_message_ttl_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("ttl-neg");
    let text = refused(&broker, &q, "x-message-ttl", Value::I32(-1)).await;
    assert_eq!(
        text,
        invalid_arg("x-message-ttl", &q, "{value_negative,-1}")
    );
}

#[tokio::test]
async fn a_string_x_message_ttl_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("ttl-str");
    let text = refused(&broker, &q, "x-message-ttl", vstr("10")).await;
    assert_eq!(
        text,
        invalid_arg("x-message-ttl", &q, "\"expected integer, got longstr\"")
    );
}

#[tokio::test]
async fn a_floating_point_x_message_ttl_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("ttl-double");
    let text = refused(&broker, &q, "x-message-ttl", Value::F64(1.5)).await;
    assert_eq!(
        text,
        invalid_arg("x-message-ttl", &q, "\"expected integer, got double\"")
    );
}

#[tokio::test]
async fn an_x_message_ttl_above_the_32_bit_range_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("ttl-big");
    let text = refused(&broker, &q, "x-message-ttl", Value::I64(1 << 40)).await;
    assert_eq!(
        text,
        invalid_arg("x-message-ttl", &q, "{value_too_large,1099511627776}")
    );
}

#[tokio::test]
async fn an_x_expires_of_zero_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("expires-zero");
    let text = refused(&broker, &q, "x-expires", Value::I32(0)).await;
    assert_eq!(text, invalid_arg("x-expires", &q, "{value_zero,0}"));
}

#[tokio::test]
async fn a_negative_x_expires_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("expires-neg");
    let text = refused(&broker, &q, "x-expires", Value::I32(-5)).await;
    assert_eq!(text, invalid_arg("x-expires", &q, "{value_negative,-5}"));
}

#[tokio::test]
async fn a_negative_x_max_length_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("maxlen-neg");
    let text = refused(&broker, &q, "x-max-length", Value::I32(-1)).await;
    assert_eq!(text, invalid_arg("x-max-length", &q, "{value_negative,-1}"));
}

#[tokio::test]
async fn a_string_x_max_length_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("maxlen-str");
    let text = refused(&broker, &q, "x-max-length", vstr("1")).await;
    assert_eq!(
        text,
        invalid_arg("x-max-length", &q, "\"expected integer, got longstr\"")
    );
}

#[tokio::test]
async fn a_negative_x_max_length_bytes_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("maxbytes-neg");
    let text = refused(&broker, &q, "x-max-length-bytes", Value::I32(-1)).await;
    assert_eq!(
        text,
        invalid_arg("x-max-length-bytes", &q, "{value_negative,-1}")
    );
}

#[tokio::test]
async fn an_x_max_priority_of_256_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("prio-256");
    let text = refused(&broker, &q, "x-max-priority", Value::I32(256)).await;
    assert_eq!(
        text,
        invalid_arg("x-max-priority", &q, "{max_value_exceeded,256}")
    );
}

#[tokio::test]
async fn a_negative_x_max_priority_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("prio-neg");
    let text = refused(&broker, &q, "x-max-priority", Value::I32(-1)).await;
    assert_eq!(
        text,
        invalid_arg("x-max-priority", &q, "{value_negative,-1}")
    );
}

#[tokio::test]
async fn a_string_x_max_priority_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("prio-str");
    let text = refused(&broker, &q, "x-max-priority", vstr("5")).await;
    assert_eq!(
        text,
        invalid_arg("x-max-priority", &q, "\"expected integer, got longstr\"")
    );
}

#[tokio::test]
async fn x_max_priority_255_and_0_are_accepted() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    for p in [255, 0] {
        let q = unique("prio-ok");
        assert_eq!(
            declare(&mut c, 1, &q, &[("x-max-priority", Value::I32(p))]).await,
            (0, 0)
        );
    }
}

#[tokio::test]
async fn an_unknown_x_overflow_value_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("overflow-bogus");
    let text = refused(&broker, &q, "x-overflow", vstr("bogus")).await;
    assert_eq!(text, invalid_arg("x-overflow", &q, "invalid_overflow"));
}

#[tokio::test]
async fn a_non_string_x_overflow_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("overflow-int");
    let text = refused(&broker, &q, "x-overflow", Value::I32(1)).await;
    assert_eq!(
        text,
        invalid_arg("x-overflow", &q, "{unacceptable_type,signedint}")
    );
}

#[tokio::test]
async fn x_dead_letter_routing_key_without_x_dead_letter_exchange_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("dlrk-only");
    let text = refused(&broker, &q, "x-dead-letter-routing-key", vstr("k")).await;
    assert_eq!(
        text,
        invalid_arg(
            "x-dead-letter-routing-key",
            &q,
            "routing_key_but_no_dlx_defined"
        )
    );
}

#[tokio::test]
async fn a_non_string_x_dead_letter_exchange_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("dlx-int");
    let text = refused(&broker, &q, "x-dead-letter-exchange", Value::I32(1)).await;
    assert_eq!(
        text,
        format!(
            "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue '{q}' in vhost '/'"
        )
    );
}

#[tokio::test]
async fn a_string_x_single_active_consumer_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("sac-str");
    let text = refused(&broker, &q, "x-single-active-consumer", vstr("true")).await;
    assert_eq!(
        text,
        invalid_arg(
            "x-single-active-consumer",
            &q,
            "{unacceptable_type,longstr}"
        )
    );
}

#[tokio::test]
async fn an_integer_x_single_active_consumer_is_refused() {
    let broker = TestBroker::start().await;
    let q = unique("sac-int");
    let text = refused(&broker, &q, "x-single-active-consumer", Value::I32(1)).await;
    assert_eq!(
        text,
        invalid_arg(
            "x-single-active-consumer",
            &q,
            "{unacceptable_type,signedint}"
        )
    );
}

#[tokio::test]
async fn unknown_x_arguments_are_accepted() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("unknown-arg");
    assert_eq!(
        declare(&mut c, 1, &q, &[("x-unknown-thing", vstr("bogus"))]).await,
        (0, 0)
    );
}

#[tokio::test]
async fn a_string_x_priority_consumer_argument_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("xprio-str");
    declare(&mut c, 1, &q, &[]).await;
    let a = Args::new()
        .u16(0)
        .shortstr(&q)
        .shortstr("")
        .bits(&[false, false, false, false])
        .table_bytes(&encode_table(&table(&[("x-priority", vstr("high"))])))
        .build();
    c.send_method(1, 60, 20, &a).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!((close.code, close.class_id, close.method_id), (406, 60, 20));
    assert_eq!(
        close.text,
        invalid_arg("x-priority", &q, "\"expected integer, got longstr\"")
    );
}

#[tokio::test]
async fn a_boolean_x_priority_consumer_argument_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = open1(&broker).await;
    let q = unique("xprio-bool");
    declare(&mut c, 1, &q, &[]).await;
    let a = Args::new()
        .u16(0)
        .shortstr(&q)
        .shortstr("")
        .bits(&[false, false, false, false])
        .table_bytes(&encode_table(&table(&[("x-priority", Value::Bool(true))])))
        .build();
    c.send_method(1, 60, 20, &a).await;
    let close = c.expect_channel_close(1).await;
    assert_eq!((close.code, close.class_id, close.method_id), (406, 60, 20));
    assert_eq!(
        close.text,
        invalid_arg("x-priority", &q, "\"expected integer, got bool\"")
    );
}

/// Declares `name` with `first`, then redeclares it with `second`; the reply text of the
/// 406 the redeclare must cause.
async fn redeclare_refused(
    broker: &TestBroker,
    name: &str,
    first: &[(&str, Value)],
    second: &[(&str, Value)],
) -> String {
    let mut c = open1(broker).await;
    declare(&mut c, 1, name, first).await;
    let close = declare_refused(&mut c, 1, name, second).await;
    assert_eq!((close.code, close.class_id, close.method_id), (406, 50, 10));
    close.text
}

fn inequivalent(queue: &str, detail: &str) -> String {
    format!(
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '{queue}' in vhost '/': {detail}"
    )
}

#[tokio::test]
async fn a_redeclare_with_another_value_names_both_values() {
    let broker = TestBroker::start().await;
    let q = unique("redeclare-value");
    let five = [("x-max-length", Value::I32(5))];
    let text = redeclare_refused(&broker, &q, &five, &[("x-max-length", Value::I64(6))]).await;
    assert_eq!(text, inequivalent(&q, "received '6' but current is '5'"));
}

#[tokio::test]
async fn a_redeclare_without_the_argument_names_its_type() {
    let broker = TestBroker::start().await;
    let q = unique("redeclare-missing");
    let five = [("x-max-length", Value::I32(5))];
    let text = redeclare_refused(&broker, &q, &five, &[]).await;
    assert_eq!(
        text,
        inequivalent(
            &q,
            "received none but current is the value '5' of type 'signedint'"
        )
    );
}

#[tokio::test]
async fn a_redeclare_with_another_type_is_refused_even_for_an_equal_looking_value() {
    let broker = TestBroker::start().await;
    let q = unique("redeclare-type");
    let five = [("x-max-length", Value::I64(5))];
    let text = redeclare_refused(&broker, &q, &five, &[("x-max-length", vstr("5"))]).await;
    assert_eq!(text, inequivalent(&q, "received '5' but current is '5'"));
}

#[tokio::test]
async fn a_redeclare_with_the_same_value_in_another_integer_width_is_accepted() {
    let broker = TestBroker::start().await;
    let q = unique("redeclare-width");
    let mut c = open1(&broker).await;
    declare(&mut c, 1, &q, &[("x-max-length", Value::I32(5))]).await;
    declare(&mut c, 1, &q, &[("x-max-length", Value::I64(5))]).await;
}
