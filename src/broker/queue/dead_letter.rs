//! Dead-lettering: the properties of a dead-lettered copy, built exactly as RabbitMQ 3.10
//! (`rabbit_dead_letter`) builds them, its cycle rule, and the CC/BCC sender-selected
//! distribution headers. Pure: raw property bytes in, raw property bytes out.
//!
//! What RabbitMQ 3.10.8 was observed to do (and the tests pin byte for byte):
//! - The `expiration` property is removed; when it was set, the x-death entry records it as
//!   `original-expiration` (longstr). A queue TTL records nothing.
//! - The first time (no `x-death` header): `x-first-death-reason`, `-queue` and `-exchange`
//!   are set (overwriting any the publisher sent) and `x-death` becomes an array of one table
//!   `count` (long 1), `reason`, `queue`, `time` (timestamp, seconds), `exchange`,
//!   `routing-keys` (array of longstr: the publish routing key then the CC keys),
//!   `original-expiration` (only if the message had an expiration), in that order.
//! - Later deaths: an existing entry for the same queue and reason gets `count + 1` as a long
//!   and keeps its other fields (time, exchange, routing keys are those of its first death);
//!   otherwise a new entry with count 1 is made. That entry, its keys sorted, goes first;
//!   the other entries follow in REVERSED order (a quirk of RabbitMQ 3.x's regrouping of
//!   entries, which also merges entries with the same queue and reason, giving the first a
//!   count equal to their number when it had none). The x-first-death headers stay.
//! - An `x-death` that is not an array is replaced by a fresh one-entry array (no
//!   x-first-death headers are set then); an empty array counts as existing.
//! - The whole headers table ends up sorted by key (byte order, stable for duplicate keys).
//! - With x-dead-letter-routing-key set, the first `CC` header is removed (after the above).
//!
//! RabbitMQ 3.13/4.x differ: they add `x-last-death-reason/-queue/-exchange`, keep entries
//! in true recency order, and (4.x) ignore an `x-death` sent by a publisher.

use crate::protocol::{BasicProperties, DecodeError, FieldTable, FieldValue, ShortStr};
use bytes::Bytes;

/// Why a message was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathReason {
    /// basic.reject / basic.nack with requeue=false.
    Rejected,
    /// Its TTL ran out.
    Expired,
    /// Dropped (drop-head) or refused (reject-publish-dlx) by a full queue.
    MaxLen,
    /// Returned to a quorum queue more often than its delivery limit allows.
    DeliveryLimit,
}

impl DeathReason {
    /// The reason as it appears in x-death: "rejected" | "expired" | "maxlen" |
    /// "delivery_limit".
    pub fn as_str(self) -> &'static str {
        match self {
            DeathReason::Rejected => "rejected",
            DeathReason::Expired => "expired",
            DeathReason::MaxLen => "maxlen",
            DeathReason::DeliveryLimit => "delivery_limit",
        }
    }
}

/// Everything needed to dead-letter one message from one queue.
#[derive(Debug)]
pub struct DeathContext<'a> {
    /// The queue the message dies in.
    pub queue: &'a str,
    /// Why.
    pub reason: DeathReason,
    /// The exchange the message was last published to (for a dead-lettered message, the
    /// dead-letter exchange it was routed through).
    pub exchange: &'a [u8],
    /// The message's first routing key followed by the keys of its `CC` header (as
    /// `cc_bcc` returns them); recorded in x-death as `routing-keys`.
    pub routing_keys: Vec<Bytes>,
    /// The dying queue's x-dead-letter-routing-key: when set, the `CC` header is dropped.
    pub dead_letter_routing_key: Option<&'a ShortStr>,
    /// Now, in seconds since the epoch.
    pub now_secs: u64,
}

/// Returns the new raw property bytes (flags + list, as `BasicProperties::encode` writes)
/// for the dead-lettered copy (see the module docs for the exact layout).
pub fn dead_letter_properties(
    raw_properties: &Bytes,
    ctx: &DeathContext<'_>,
) -> Result<Bytes, DecodeError> {
    let mut props = BasicProperties::decode(raw_properties)?;
    let longstr = |b: &[u8]| FieldValue::LongStr(Bytes::copy_from_slice(b));
    let mut info = FieldTable(vec![
        (key("reason"), longstr(ctx.reason.as_str().as_bytes())),
        (key("queue"), longstr(ctx.queue.as_bytes())),
        (key("time"), FieldValue::Timestamp(ctx.now_secs)),
        (key("exchange"), longstr(ctx.exchange)),
        (
            key("routing-keys"),
            FieldValue::Array(
                ctx.routing_keys
                    .iter()
                    .cloned()
                    .map(FieldValue::LongStr)
                    .collect(),
            ),
        ),
    ]);
    if let Some(expiration) = props.expiration.take() {
        info.0.push((
            key("original-expiration"),
            FieldValue::LongStr(expiration.as_raw().clone()),
        ));
    }
    let mut headers = props.headers.take().unwrap_or_default();
    update_x_death(&mut headers, info, ctx);
    if ctx.dead_letter_routing_key.is_some() {
        headers.remove("CC");
    }
    props.headers = Some(headers);
    Ok(props.to_raw())
}

fn key(k: &'static str) -> ShortStr {
    ShortStr::from_static(k)
}

fn with_count(count: i64, info: FieldTable) -> FieldTable {
    let mut entry = FieldTable(Vec::with_capacity(info.len() + 1));
    entry.0.push((key("count"), FieldValue::I64(count)));
    entry.0.extend(info.0);
    entry
}

fn update_x_death(headers: &mut FieldTable, info: FieldTable, ctx: &DeathContext<'_>) {
    let deaths = match headers.get("x-death") {
        None => {
            let reason = Bytes::from_static(ctx.reason.as_str().as_bytes());
            let queue = Bytes::copy_from_slice(ctx.queue.as_bytes());
            let exchange = Bytes::copy_from_slice(ctx.exchange);
            set_table_value(headers, "x-first-death-reason", FieldValue::LongStr(reason));
            set_table_value(headers, "x-first-death-queue", FieldValue::LongStr(queue));
            set_table_value(
                headers,
                "x-first-death-exchange",
                FieldValue::LongStr(exchange),
            );
            vec![FieldValue::Table(with_count(1, info))]
        }
        Some(FieldValue::Array(tables)) => {
            let (matched, others): (Vec<_>, Vec<_>) = group_by_queue_and_reason(tables.clone())
                .into_iter()
                .partition(|t| is_event(t, ctx.queue.as_bytes(), ctx.reason.as_str().as_bytes()));
            let mut entry = match matched.into_iter().next() {
                Some(FieldValue::Table(existing)) => increment_count(existing),
                _ => with_count(1, info),
            };
            sort_field_table(&mut entry);
            let mut deaths = Vec::with_capacity(others.len() + 1);
            deaths.push(FieldValue::Table(entry));
            deaths.extend(others);
            deaths
        }
        Some(_) => vec![FieldValue::Table(with_count(1, info))],
    };
    set_table_value(headers, "x-death", FieldValue::Array(deaths));
}

/// RabbitMQ's `set_table_value`: replace the first entry with `key` (or append), then sort
/// the table by key.
pub(super) fn set_table_value(table: &mut FieldTable, key: &'static str, value: FieldValue) {
    table.insert(ShortStr::from_static(key), value);
    sort_field_table(table);
}

/// Stable sort by key bytes, as Erlang's `lists:keysort/2` on binaries.
fn sort_field_table(table: &mut FieldTable) {
    table.0.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
}

/// A field's value as Erlang compares it in `x_death_event_key`: the type is dropped, so a
/// missing field equals a void one and all integers compare by value.
#[derive(Debug, PartialEq)]
enum EventValue<'a> {
    Undefined,
    Bytes(&'a [u8]),
    Int(i128),
    Other(&'a FieldValue),
}

fn event_value<'a>(entry: &'a FieldTable, field: &str) -> EventValue<'a> {
    match entry.get(field) {
        None | Some(FieldValue::Void) => EventValue::Undefined,
        Some(FieldValue::LongStr(b) | FieldValue::ByteArray(b)) => EventValue::Bytes(b),
        Some(FieldValue::Timestamp(t)) => EventValue::Int(i128::from(*t)),
        Some(v) => {
            super::args::int_value(v).map_or(EventValue::Other(v), |n| EventValue::Int(n.into()))
        }
    }
}

fn is_event(entry: &FieldValue, queue: &[u8], reason: &[u8]) -> bool {
    matches!(entry, FieldValue::Table(t)
        if event_value(t, "queue") == EventValue::Bytes(queue)
            && event_value(t, "reason") == EventValue::Bytes(reason))
}

/// RabbitMQ 3.x's `group_by_queue_and_reason`: with two or more entries, keeps the first
/// entry of each (queue, reason), gives it a count (their number) when it has none, and
/// returns them in reverse order. Entries that are not tables (RabbitMQ would crash on them)
/// are kept.
fn group_by_queue_and_reason(tables: Vec<FieldValue>) -> Vec<FieldValue> {
    if tables.len() < 2 {
        return tables;
    }
    let keys: Vec<Option<(EventValue<'_>, EventValue<'_>)>> = tables
        .iter()
        .map(|t| match t {
            FieldValue::Table(t) => Some((event_value(t, "queue"), event_value(t, "reason"))),
            _ => None,
        })
        .collect();
    let mut grouped = Vec::with_capacity(tables.len());
    for (i, (table, k)) in tables.iter().zip(&keys).enumerate() {
        let (FieldValue::Table(entry), Some(k)) = (table, k) else {
            grouped.push(table.clone());
            continue;
        };
        if keys.iter().take(i).any(|seen| seen.as_ref() == Some(k)) {
            continue;
        }
        let n = keys
            .iter()
            .filter(|other| other.as_ref() == Some(k))
            .count();
        let mut entry = entry.clone();
        if matches!(event_value(&entry, "count"), EventValue::Undefined) {
            entry = with_count(i64::try_from(n).unwrap_or(i64::MAX), entry);
        }
        grouped.push(FieldValue::Table(entry));
    }
    grouped.reverse();
    grouped
}

/// Count + 1 as a long, in place (prepended as 1 when missing; a count that is not an
/// integer, on which RabbitMQ would crash, restarts at 1).
fn increment_count(mut entry: FieldTable) -> FieldTable {
    match event_value(&entry, "count") {
        EventValue::Undefined => with_count(1, entry),
        value => {
            let next = match value {
                EventValue::Int(n) => i64::try_from(n.saturating_add(1)).unwrap_or(i64::MAX),
                _ => 1,
            };
            entry.insert(key("count"), FieldValue::I64(next));
            entry
        }
    }
}

/// The routing keys to publish the dead-lettered copy with: the queue's
/// x-dead-letter-routing-key if set, else all the keys the message was routed with at
/// publish (its routing key, then CC, then BCC keys).
pub fn dead_letter_routing_keys(dlrk: Option<&ShortStr>, original: &[Bytes]) -> Vec<Bytes> {
    match dlrk {
        Some(k) => vec![k.as_raw().clone()],
        None => original.to_vec(),
    }
}

/// RabbitMQ's cycle rule: dead-lettering to `target_queue` is a cycle (and the message is
/// dropped) when the message's x-death has an entry for that queue and no entry from the
/// first back to (and including) it has reason "rejected"; reason `Rejected` is never a
/// cycle. Pass the properties returned by `dead_letter_properties`.
pub fn is_cycle(raw_properties: &Bytes, target_queue: &str, reason: DeathReason) -> bool {
    if reason == DeathReason::Rejected {
        return false;
    }
    let Ok(BasicProperties {
        headers: Some(headers),
        ..
    }) = BasicProperties::decode(raw_properties)
    else {
        return false;
    };
    let Some(FieldValue::Array(deaths)) = headers.get("x-death") else {
        return false;
    };
    let is_longstr = |v: Option<&FieldValue>, want: &[u8]| matches!(v, Some(FieldValue::LongStr(s)) if &s[..] == want);
    let Some(pos) = deaths.iter().position(
        |d| matches!(d, FieldValue::Table(t) if is_longstr(t.get("queue"), target_queue.as_bytes())),
    ) else {
        return false;
    };
    deaths.iter().take(pos + 1).all(|d| match d {
        FieldValue::Table(t) => !is_longstr(t.get("reason"), b"rejected"),
        // Something a client put there: the cycle was not fully automatic.
        _ => false,
    })
}

/// CC and BCC header keys (the longstr items of the first `CC` / `BCC` arrays; other items
/// are ignored) of a message, for sender-selected distribution. Err is the 406 text RabbitMQ
/// sends when either header is not an array: "invalid message:
/// {unacceptable_type_in_header,\"CC\",longstr}" (checked after the expiration property).
pub fn cc_bcc(headers: &FieldTable) -> Result<(Vec<Bytes>, Vec<Bytes>), String> {
    let routes = |name: &str| match headers.get(name) {
        None => Ok(Vec::new()),
        Some(FieldValue::Array(items)) => Ok(items
            .iter()
            .filter_map(|i| match i {
                FieldValue::LongStr(k) => Some(k.clone()),
                _ => None,
            })
            .collect()),
        Some(other) => Err(format!(
            "invalid message: {{unacceptable_type_in_header,\"{name}\",{}}}",
            other.rabbit_type_name()
        )),
    };
    Ok((routes("CC")?, routes("BCC")?))
}

/// Raw properties with the (first) `BCC` header removed, as RabbitMQ strips it before
/// enqueueing; other headers keep their order. None when there was none.
pub fn strip_bcc(raw_properties: &Bytes) -> Result<Option<Bytes>, DecodeError> {
    let mut props = BasicProperties::decode(raw_properties)?;
    match props.headers.as_mut().and_then(|h| h.remove("BCC")) {
        Some(_) => Ok(Some(props.to_raw())),
        None => Ok(None),
    }
}

#[cfg(test)]
#[path = "dead_letter_tests.rs"]
mod tests;
