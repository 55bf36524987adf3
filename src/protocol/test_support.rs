//! Proptest strategies for the hand-written types (strings, field values, tables,
//! properties), used by the generated method strategies and the codec unit tests.

#![allow(clippy::unwrap_used)]

use super::field_table::{FieldTable, FieldValue};
use super::primitives::ShortStr;
use super::properties::BasicProperties;
use bytes::Bytes;
use proptest::prelude::*;

/// Short strings of arbitrary bytes, up to the 255-byte limit.
pub(crate) fn shortstr() -> impl Strategy<Value = ShortStr> {
    prop::collection::vec(any::<u8>(), 0..=255)
        .prop_map(|v| ShortStr::from_bytes(Bytes::from(v)).unwrap())
}

/// Long strings of arbitrary bytes (kept small for speed).
pub(crate) fn longstr() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from)
}

fn scalar() -> impl Strategy<Value = FieldValue> {
    use prop::num::{f32 as pf32, f64 as pf64};
    prop_oneof![
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i8>().prop_map(FieldValue::I8),
        any::<u8>().prop_map(FieldValue::U8),
        any::<i16>().prop_map(FieldValue::I16),
        any::<u16>().prop_map(FieldValue::U16),
        any::<i32>().prop_map(FieldValue::I32),
        any::<u32>().prop_map(FieldValue::U32),
        any::<i64>().prop_map(FieldValue::I64),
        // NaN != NaN would break equality checks; every other float class is covered.
        (pf32::NORMAL | pf32::SUBNORMAL | pf32::ZERO | pf32::INFINITE).prop_map(FieldValue::F32),
        (pf64::NORMAL | pf64::SUBNORMAL | pf64::ZERO | pf64::INFINITE).prop_map(FieldValue::F64),
        (any::<u8>(), any::<u32>()).prop_map(|(scale, value)| FieldValue::Decimal { scale, value }),
        longstr().prop_map(FieldValue::LongStr),
        longstr().prop_map(FieldValue::ByteArray),
        any::<u64>().prop_map(FieldValue::Timestamp),
        Just(FieldValue::Void),
    ]
}

/// Field values of every type code, nested up to a few levels.
pub(crate) fn field_value() -> impl Strategy<Value = FieldValue> {
    scalar().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(FieldValue::Array),
            prop::collection::vec((shortstr(), inner), 0..6)
                .prop_map(|entries| FieldValue::Table(FieldTable(entries))),
        ]
    })
}

/// Field tables with values of every type code, nested.
pub(crate) fn table() -> impl Strategy<Value = FieldTable> {
    prop::collection::vec((shortstr(), field_value()), 0..6).prop_map(FieldTable)
}

/// Basic properties with any subset set.
pub(crate) fn properties() -> impl Strategy<Value = BasicProperties> {
    let s = || proptest::option::of(shortstr());
    (
        (
            s(),
            s(),
            proptest::option::of(table()),
            proptest::option::of(any::<u8>()),
        ),
        (proptest::option::of(any::<u8>()), s(), s(), s(), s()),
        (proptest::option::of(any::<u64>()), s(), s(), s(), s()),
    )
        .prop_map(
            |(
                (content_type, content_encoding, headers, delivery_mode),
                (priority, correlation_id, reply_to, expiration, message_id),
                (timestamp, kind, user_id, app_id, cluster_id),
            )| BasicProperties {
                content_type,
                content_encoding,
                headers,
                delivery_mode,
                priority,
                correlation_id,
                reply_to,
                expiration,
                message_id,
                timestamp,
                kind,
                user_id,
                app_id,
                cluster_id,
            },
        )
}
