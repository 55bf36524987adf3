//! amqprs -> pika: every basic property and a header of every AMQP field type.
//!
//! Publishes ONE message with the catalogue's canonical property and header set (each
//! header with its exact field type: amqprs's `FieldValue` has all of b B s u I i l f d D
//! T t x V F A S) to a fresh durable queue through the default exchange with a confirm,
//! then runs the Python checker (`cross/helpers/check_properties.py`), which basic.gets it
//! with pika and compares the body, every property and every header. The checker's exit
//! status is this program's; the queue is deleted afterwards either way. Nothing is skipped.

#[path = "helpers/util.rs"]
mod util;

use std::process::Command;

use amqprs::channel::{BasicPublishArguments, QueueDeclareArguments, QueueDeleteArguments};
use amqprs::{BasicProperties, ByteArray, DecimalValue, FieldArray, FieldTable, FieldValue};
use interop::rs::connect;
use interop::unique;
use util::{Confirms, confirm_channel, key, message_count, s};

const APP_ID: &str = "interop-amqprs";

fn headers() -> FieldTable {
    let mut nested = FieldTable::new();
    nested.insert(key("nested"), s("yes"));
    nested.insert(key("n"), FieldValue::I(7));
    let array =
        FieldArray::try_from(vec![FieldValue::I(1), s("two"), FieldValue::t(true)]).expect("array");
    let bytes = ByteArray::try_from(vec![0x00u8, 0x01, 0xfe, 0xff]).expect("bytes");
    let mut h = FieldTable::new();
    h.insert(key("string"), s("h\u{e9}llo, w\u{f6}rld \u{2713}"));
    h.insert(key("empty_string"), s(""));
    h.insert(key("i8"), FieldValue::b(-8));
    h.insert(key("u8"), FieldValue::B(200));
    h.insert(key("i16"), FieldValue::s(-1600));
    h.insert(key("u16"), FieldValue::u(60000));
    h.insert(key("i32"), FieldValue::I(-320_000));
    h.insert(key("u32"), FieldValue::i(4_000_000_000));
    h.insert(key("i64"), FieldValue::l(-6_400_000_000));
    h.insert(key("f32"), FieldValue::f(1.5));
    h.insert(key("f64"), FieldValue::d(3.25));
    h.insert(key("decimal"), FieldValue::D(DecimalValue::new(2, 1234)));
    h.insert(key("timestamp"), FieldValue::T(1_700_000_000));
    h.insert(key("bool_true"), FieldValue::t(true));
    h.insert(key("bool_false"), FieldValue::t(false));
    h.insert(key("bytes"), FieldValue::x(bytes));
    h.insert(key("void"), FieldValue::V);
    h.insert(key("table"), FieldValue::F(nested));
    h.insert(key("array"), FieldValue::A(array));
    h
}

#[tokio::main]
async fn main() {
    let queue = unique("amqprs.properties");
    util::run(vec![queue.clone()], vec![], scenario(queue)).await;
}

async fn scenario(queue: String) {
    let user = interop::uri_parts().user;
    let conn = connect().await;
    let (ch, mut events) = confirm_channel(&conn).await;
    ch.queue_declare(QueueDeclareArguments::durable_client_named(&queue))
        .await
        .expect("queue.declare");
    let props = BasicProperties::default()
        .with_content_type("application/json")
        .with_content_encoding("utf-8")
        .with_delivery_mode(2)
        .with_priority(5)
        .with_correlation_id("corr-7f3a")
        .with_reply_to("interop.reply")
        .with_expiration("600000")
        .with_message_id("msg-0042")
        .with_timestamp(1_700_000_000)
        .with_message_type("order.created")
        .with_user_id(&user)
        .with_app_id(APP_ID)
        .with_headers(headers())
        .finish();
    ch.basic_publish(
        props,
        br#"{"order": 42, "note": "properties"}"#.to_vec(),
        BasicPublishArguments::new("", &queue),
    )
    .await
    .expect("basic.publish");
    let mut confirms = Confirms::default();
    confirms.published();
    confirms.wait_all(&mut events).await;
    assert_eq!(message_count(&ch, &queue).await, 1, "the message is queued");

    let python = std::env::var("INTEROP_PYTHON").expect("INTEROP_PYTHON (set by run.sh)");
    let dir = std::env::var("INTEROP_DIR").expect("INTEROP_DIR (set by run.sh)");
    let checker = format!("{dir}/cross/helpers/check_properties.py");
    let q = queue.clone();
    let status = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([&checker, "--queue", &q, "--app-id", APP_ID])
            .status()
    });
    let status = interop::bounded("the Python checker", status)
        .await
        .expect("checker task")
        .expect("run the Python checker");

    let left = ch
        .queue_delete(QueueDeleteArguments::new(&queue))
        .await
        .expect("queue.delete");
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    assert!(status.success(), "the Python checker failed ({status})");
    assert_eq!(left, Some(0), "the checker took the one message");
    println!("amqprs properties to python: checked by pika");
}
