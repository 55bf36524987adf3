//! Proptest strategies for the hand-written types (strings, field values, tables,
//! properties), used by the generated method strategies and the codec unit tests.
#![allow(clippy::unwrap_used)]

use super::field_table::{FieldTable, FieldValue};
use super::primitives::ShortStr;
use super::properties::BasicProperties;
use bytes::Bytes;
use proptest::prelude::*;

/// How strings and tables are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Anything the wire allows: binary short strings, tables in any key order with
    /// duplicate keys.
    Any,
    /// What amq-protocol can represent, for differential tests: UTF-8 short strings and
    /// tables with sorted, unique keys (it keeps tables in a `BTreeMap`).
    Canonical,
}

impl Flavor {
    /// Short strings up to the 255-byte limit.
    pub(crate) fn shortstr(self) -> BoxedStrategy<ShortStr> {
        match self {
            Flavor::Any => prop::collection::vec(any::<u8>(), 0..=255)
                .prop_map(|v| ShortStr::from_bytes(Bytes::from(v)).unwrap())
                .boxed(),
            Flavor::Canonical => "[a-zA-Z0-9._ é€-]{0,60}"
                .prop_map(|s| ShortStr::from_bytes(Bytes::from(s)).unwrap())
                .boxed(),
        }
    }

    /// Short strings that are valid UTF-8 (what RabbitMQ accepts in the short strings of
    /// methods without content), up to the 255-byte limit.
    pub(crate) fn utf8_shortstr(self) -> BoxedStrategy<ShortStr> {
        match self {
            Flavor::Any => "\\PC{0,100}".prop_map(|s| ShortStr::truncated(&s)).boxed(),
            Flavor::Canonical => self.shortstr(),
        }
    }

    /// Long strings of arbitrary bytes (kept small for speed).
    pub(crate) fn longstr(self) -> BoxedStrategy<Bytes> {
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(Bytes::from)
            .boxed()
    }

    fn scalar(self) -> BoxedStrategy<FieldValue> {
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
            (pf32::NORMAL | pf32::SUBNORMAL | pf32::ZERO | pf32::INFINITE)
                .prop_map(FieldValue::F32),
            (pf64::NORMAL | pf64::SUBNORMAL | pf64::ZERO | pf64::INFINITE)
                .prop_map(FieldValue::F64),
            (any::<u8>(), any::<u32>())
                .prop_map(|(scale, value)| FieldValue::Decimal { scale, value }),
            self.longstr().prop_map(FieldValue::LongStr),
            self.longstr().prop_map(FieldValue::ByteArray),
            any::<u64>().prop_map(FieldValue::Timestamp),
            Just(FieldValue::Void),
        ]
        .boxed()
    }

    /// Field values of every type code, nested a few levels.
    pub(crate) fn field_value(self) -> BoxedStrategy<FieldValue> {
        self.scalar()
            .prop_recursive(4, 64, 6, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(FieldValue::Array),
                    self.entries(inner).prop_map(FieldValue::Table),
                ]
            })
            .boxed()
    }

    fn entries(self, value: BoxedStrategy<FieldValue>) -> BoxedStrategy<FieldTable> {
        let entries = prop::collection::vec((self.shortstr(), value), 0..6);
        match self {
            Flavor::Any => entries.prop_map(FieldTable).boxed(),
            Flavor::Canonical => entries
                .prop_map(|mut entries| {
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    entries.dedup_by(|a, b| a.0 == b.0);
                    FieldTable(entries)
                })
                .boxed(),
        }
    }

    /// Field tables with values of every type code, nested.
    pub(crate) fn table(self) -> BoxedStrategy<FieldTable> {
        self.entries(self.field_value())
    }

    /// Basic properties with any subset set.
    pub(crate) fn properties(self) -> BoxedStrategy<BasicProperties> {
        let s = move || proptest::option::of(self.shortstr());
        (
            (
                s(),
                s(),
                proptest::option::of(self.table()),
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
            .boxed()
    }
}
