//! lapin -> pika: one message carrying every basic property and a header of every AMQP
//! field type, published by lapin (confirmed) to a fresh durable queue through the default
//! exchange, then read and checked by the Python checker
//! (`cross/helpers/check_properties.py`, pika). lapin's `AMQPValue` has a variant for each
//! field type (b B s u I i l f d D S T t x V F A), so nothing is skipped. The checker's exit
//! status is this program's; the queue is deleted afterwards either way.

use std::path::PathBuf;
use std::process::Command;

use interop::{bounded, lp, unique, uri_parts};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, ByteArray, DecimalValue, FieldArray, FieldTable};

const APP_ID: &str = "interop-lapin";
const BODY: &[u8] = br#"{"order": 42, "note": "properties"}"#;

fn headers() -> FieldTable {
    let mut nested = FieldTable::default();
    nested.insert("nested".into(), AMQPValue::LongString("yes".into()));
    nested.insert("n".into(), AMQPValue::LongInt(7));
    let array = FieldArray::from(vec![
        AMQPValue::LongInt(1),
        AMQPValue::LongString("two".into()),
        AMQPValue::Boolean(true),
    ]);
    let mut h = FieldTable::default();
    for (key, value) in [
        ("string", AMQPValue::LongString("héllo, wörld ✓".into())),
        ("empty_string", AMQPValue::LongString("".into())),
        ("i8", AMQPValue::ShortShortInt(-8)),
        ("u8", AMQPValue::ShortShortUInt(200)),
        ("i16", AMQPValue::ShortInt(-1600)),
        ("u16", AMQPValue::ShortUInt(60000)),
        ("i32", AMQPValue::LongInt(-320_000)),
        ("u32", AMQPValue::LongUInt(4_000_000_000)),
        ("i64", AMQPValue::LongLongInt(-6_400_000_000)),
        ("f32", AMQPValue::Float(1.5)),
        ("f64", AMQPValue::Double(3.25)),
        (
            "decimal",
            AMQPValue::DecimalValue(DecimalValue {
                scale: 2,
                value: 1234,
            }),
        ),
        ("timestamp", AMQPValue::Timestamp(1_700_000_000)),
        ("bool_true", AMQPValue::Boolean(true)),
        ("bool_false", AMQPValue::Boolean(false)),
        (
            "bytes",
            AMQPValue::ByteArray(ByteArray::from(vec![0x00, 0x01, 0xfe, 0xff])),
        ),
        ("void", AMQPValue::Void),
        ("table", AMQPValue::FieldTable(nested)),
        ("array", AMQPValue::FieldArray(array)),
    ] {
        h.insert(key.into(), value);
    }
    h
}

#[tokio::main]
async fn main() {
    let queue = unique("lapin.properties");
    let conn = lp::connect().await;
    let ch = lp::confirm_channel(&conn).await;
    lp::declare_queue(&ch, &queue, QueueDeclareOptions::durable()).await;

    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2)
        .with_priority(5)
        .with_correlation_id("corr-7f3a".into())
        .with_reply_to("interop.reply".into())
        .with_expiration("600000".into())
        .with_message_id("msg-0042".into())
        .with_timestamp(1_700_000_000)
        .with_type("order.created".into())
        .with_user_id(uri_parts().user.as_str().into())
        .with_app_id(APP_ID.into())
        .with_headers(headers());
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            BODY,
            props,
        )
        .await
        .expect("basic.publish");
    let c = lp::acked(confirm, "the publish confirm").await;
    assert!(c.take_message().is_none(), "publish returned");

    let dir = PathBuf::from(std::env::var("INTEROP_DIR").expect("INTEROP_DIR (set by run.sh)"));
    let python = std::env::var("INTEROP_PYTHON").expect("INTEROP_PYTHON (set by run.sh)");
    let checker = dir.join("cross/helpers/check_properties.py");
    // Runs while this program waits; the checker has its own bounded connection.
    let status = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(checker)
            .args(["--queue", &queue, "--app-id", APP_ID])
            .status()
            .map(|s| (s, queue))
    });
    let (status, queue) = bounded("the Python checker", status)
        .await
        .expect("checker task")
        .expect("run the Python checker");

    lp::delete(&ch, &[&queue], &[]).await;
    conn.close(200, "bye".into()).await.expect("close");
    if !status.success() {
        eprintln!("lapin properties-to-python: the Python checker failed ({status})");
        std::process::exit(status.code().unwrap_or(1));
    }
    println!("lapin properties-to-python: pika read every property and header as sent");
}
