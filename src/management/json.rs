//! JSON in RabbitMQ's shapes: AMQP field tables as JSON objects, counters with their
//! `*_details.rate`, and the request-body extractor that answers malformed bodies with
//! RabbitMQ's 400 `not_json`.

use super::error::ApiError;
use crate::protocol::{FieldTable, FieldValue};
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value, json};

/// A field table as RabbitMQ renders it: an object, strings as text, numbers as numbers.
pub fn table(t: &FieldTable) -> Value {
    Value::Object(
        t.iter()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), field_value(v)))
            .collect(),
    )
}

/// A Unix time in milliseconds as RabbitMQ's API prints instants such as `idle_since`:
/// `"2022-10-05T12:34:56.789+00:00"` (UTC).
pub fn timestamp(unix_ms: u64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// One field value as JSON.
pub fn field_value(v: &FieldValue) -> Value {
    match v {
        FieldValue::Bool(b) => json!(b),
        FieldValue::I8(n) => json!(n),
        FieldValue::U8(n) => json!(n),
        FieldValue::I16(n) => json!(n),
        FieldValue::U16(n) => json!(n),
        FieldValue::I32(n) => json!(n),
        FieldValue::U32(n) => json!(n),
        FieldValue::I64(n) => json!(n),
        FieldValue::F32(n) => json!(n),
        FieldValue::F64(n) => json!(n),
        FieldValue::Decimal { scale, value } => {
            json!(f64::from(*value) / 10f64.powi(i32::from(*scale)))
        }
        FieldValue::LongStr(b) | FieldValue::ByteArray(b) => {
            json!(String::from_utf8_lossy(b))
        }
        FieldValue::Array(items) => Value::Array(items.iter().map(field_value).collect()),
        FieldValue::Timestamp(t) => json!(t),
        FieldValue::Table(t) => table(t),
        FieldValue::Void => Value::Null,
        // Nesting deeper than the decoder unfolds (hostile input) is shown as its bytes.
        FieldValue::Undecoded { .. } => json!("<nested too deep>"),
    }
}

/// A JSON value as a field value, as RabbitMQ converts declare arguments and message
/// headers given over HTTP: integers as signed 64-bit, other numbers as doubles, strings
/// as long strings, objects as tables, arrays as arrays, null as void.
pub fn to_field_value(v: &Value) -> FieldValue {
    match v {
        Value::Null => FieldValue::Void,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::I64(i),
            None => FieldValue::F64(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => FieldValue::LongStr(bytes::Bytes::copy_from_slice(s.as_bytes())),
        Value::Array(items) => FieldValue::Array(items.iter().map(to_field_value).collect()),
        Value::Object(map) => FieldValue::Table(to_table(map)),
    }
}

/// A JSON object as a field table.
pub fn to_table(map: &Map<String, Value>) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in map {
        t.insert(crate::protocol::ShortStr::truncated(k), to_field_value(v));
    }
    t
}

/// Adds `"key": value` and `"key_details": {"rate": r}` to `out`.
pub fn put_counter(out: &mut Map<String, Value>, key: &str, value: u64, rate: f64) {
    out.insert(key.to_string(), json!(value));
    out.insert(format!("{key}_details"), json!({ "rate": rate }));
}

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A JSON request body; an empty body is an empty object (RabbitMQ accepts a bare PUT).
/// Malformed JSON is 400 `not_json`; an oversized body 413.
#[derive(Debug)]
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::not_json()
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            _ => Err(ApiError::not_json()),
        }
    }
}
