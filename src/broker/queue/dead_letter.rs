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
//!   [`original-expiration`], in that order.
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

use super::args::type_name;
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
}

impl DeathReason {
    /// The reason as it appears in x-death: "rejected" | "expired" | "maxlen".
    pub fn as_str(self) -> &'static str {
        match self {
            DeathReason::Rejected => "rejected",
            DeathReason::Expired => "expired",
            DeathReason::MaxLen => "maxlen",
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
fn set_table_value(table: &mut FieldTable, key: &'static str, value: FieldValue) {
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
            type_name(other)
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
mod tests {
    use super::DeathReason::*;
    use super::*;

    fn hex(s: &str) -> Bytes {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
            .into()
    }

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    struct Step {
        queue: &'static str,
        reason: DeathReason,
        exchange: &'static str,
        keys: &'static [&'static str],
        dlrk: Option<&'static str>,
        now: u64,
    }

    const fn step(
        queue: &'static str,
        reason: DeathReason,
        exchange: &'static str,
        keys: &'static [&'static str],
        dlrk: Option<&'static str>,
        now: u64,
    ) -> Step {
        Step {
            queue,
            reason,
            exchange,
            keys,
            dlrk,
            now,
        }
    }

    fn die(raw: &Bytes, s: &Step) -> Bytes {
        let dlrk = s.dlrk.map(ShortStr::from_static);
        let ctx = DeathContext {
            queue: s.queue,
            reason: s.reason,
            exchange: s.exchange.as_bytes(),
            routing_keys: s
                .keys
                .iter()
                .map(|k| Bytes::from_static(k.as_bytes()))
                .collect(),
            dead_letter_routing_key: dlrk.as_ref(),
            now_secs: s.now,
        };
        dead_letter_properties(raw, &ctx).unwrap()
    }

    struct Fixture {
        label: &'static str,
        input: &'static str,
        steps: &'static [Step],
        output: &'static str,
    }

    /// Property bytes captured on RabbitMQ 3.10.8 (a raw AMQP client): `input` as a consumer
    /// got the message before rejecting it (or as published, for expiry and maxlen), `output`
    /// as the dead-letter queue delivered the copy. `now` is the `time` RabbitMQ wrote.
    const FIXTURES: &[Fixture] = &[
        Fixture {
            label: "reject, no dlrk: headers sorted, CC kept",
            input: "b9c80a746578742f706c61696e0000003d047a65746153000000017a024343410000001853000000076578742e63633153000000076578742e63633205416c7068614900000007046265746174010203053630303030036d6964000000000000303903617070",
            steps: &[step(
                "ext.src",
                Rejected,
                "",
                &["ext.src", "ext.cc1", "ext.cc2"],
                None,
                1795489593,
            )],
            output: "b8c80a746578742f706c61696e0000015205416c7068614900000007024343410000001853000000076578742e63633153000000076578742e6363320462657461740107782d646561746841000000aa46000000a505636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000076578742e7372630474696d6554000000006b04ff390865786368616e676553000000000c726f7574696e672d6b657973410000002453000000076578742e73726353000000076578742e63633153000000076578742e636332136f726967696e616c2d65787069726174696f6e5300000005363030303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000076578742e73726314782d66697273742d64656174682d726561736f6e530000000872656a6563746564047a65746153000000017a0203036d6964000000000000303903617070",
        },
        Fixture {
            label: "reject with dlrk: CC removed",
            input: "b9c80a746578742f706c61696e0000003d047a65746153000000017a024343410000001853000000076578742e63633153000000076578742e63633205416c7068614900000007046265746174010203053630303030036d6964000000000000303903617070",
            steps: &[step(
                "ext.src2",
                Rejected,
                "",
                &["ext.src2", "ext.cc1", "ext.cc2"],
                Some("newkey"),
                1795489593,
            )],
            output: "b8c80a746578742f706c61696e0000013505416c70686149000000070462657461740107782d646561746841000000ac46000000a705636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000086578742e737263320474696d6554000000006b04ff390865786368616e676553000000000c726f7574696e672d6b657973410000002553000000086578742e7372633253000000076578742e63633153000000076578742e636332136f726967696e616c2d65787069726174696f6e5300000005363030303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000086578742e7372633214782d66697273742d64656174682d726561736f6e530000000872656a6563746564047a65746153000000017a0203036d6964000000000000303903617070",
        },
        Fixture {
            label: "expired by message expiration, no headers",
            input: "0100023230",
            steps: &[step("ext.ttl", Expired, "", &["ext.ttl"], None, 1795489594)],
            output: "2000000000f807782d6465617468410000008e460000008905636f756e746c000000000000000106726561736f6e53000000076578706972656405717565756553000000076578742e74746c0474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000000c53000000076578742e74746c136f726967696e616c2d65787069726174696f6e5300000002323016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000076578742e74746c14782d66697273742d64656174682d726561736f6e530000000765787069726564",
        },
        Fixture {
            label: "expired by queue ttl",
            input: "2000000000080168530000000176",
            steps: &[step(
                "ext.ttl2",
                Expired,
                "",
                &["ext.ttl2"],
                None,
                1795489594,
            )],
            output: "2000000000e8016853000000017607782d64656174684100000075460000007005636f756e746c000000000000000106726561736f6e53000000076578706972656405717565756553000000086578742e74746c320474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000000d53000000086578742e74746c3216782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000086578742e74746c3214782d66697273742d64656174682d726561736f6e530000000765787069726564",
        },
        Fixture {
            label: "maxlen drop-head",
            input: "010006313030303030",
            steps: &[step("ext.max", MaxLen, "", &["ext.max"], None, 1795489594)],
            output: "2000000000fa07782d64656174684100000091460000008c05636f756e746c000000000000000106726561736f6e53000000066d61786c656e05717565756553000000076578742e6d61780474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000000c53000000076578742e6d6178136f726967696e616c2d65787069726174696f6e530000000631303030303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000076578742e6d617814782d66697273742d64656174682d726561736f6e53000000066d61786c656e",
        },
        Fixture {
            label: "ring hop 1: reject at ext.r2",
            input: "2000000000e807782d6465617468410000007e460000007905636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000066578742e72310474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000001753000000066578742e723153000000076e6f776865726516782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e723114782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
            steps: &[step(
                "ext.r2",
                Rejected,
                "ext.ring",
                &["ext.r2"],
                Some("ext.r3"),
                1795489595,
            )],
            output: "20000000016207782d646561746841000000f8460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723206726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72320474696d6554000000006b04ff3b460000007905636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000066578742e72310474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000001753000000066578742e723153000000076e6f776865726516782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e723114782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "ring hop 2: reject at ext.r3",
            input: "20000000016207782d646561746841000000f8460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723206726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72320474696d6554000000006b04ff3b460000007905636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000066578742e72310474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000001753000000066578742e723153000000076e6f776865726516782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e723114782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
            steps: &[step(
                "ext.r3",
                Rejected,
                "ext.ring",
                &["ext.r3"],
                Some("ext.r1"),
                1795489596,
            )],
            output: "2000000001dc07782d64656174684100000172460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723306726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72330474696d6554000000006b04ff3c460000007905636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000066578742e72310474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000001753000000066578742e723153000000076e6f7768657265460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723206726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72320474696d6554000000006b04ff3b16782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e723114782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "ring hop 3: reject at ext.r1",
            input: "2000000001dc07782d64656174684100000172460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723306726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72330474696d6554000000006b04ff3c460000007905636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000066578742e72310474696d6554000000006b04ff3a0865786368616e676553000000000c726f7574696e672d6b657973410000001753000000066578742e723153000000076e6f7768657265460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723206726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72320474696d6554000000006b04ff3b16782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e723114782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
            steps: &[step(
                "ext.r1",
                Rejected,
                "ext.ring",
                &["ext.r1"],
                Some("ext.r2"),
                1795489594,
            )],
            output: "2000000001dc07782d64656174684100000172460000007905636f756e746c00000000000000020865786368616e6765530000000005717565756553000000066578742e723106726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000001753000000066578742e723153000000076e6f77686572650474696d6554000000006b04ff3a460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723206726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72320474696d6554000000006b04ff3b460000007505636f756e746c00000000000000010865786368616e676553000000086578742e72696e6705717565756553000000066578742e723306726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e72330474696d6554000000006b04ff3c16782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e723114782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "expiry cycle: expire at e3",
            input: "01000435303030",
            steps: &[step(
                "ext.e3",
                Expired,
                "",
                &["ext.e3"],
                Some("ext.e4"),
                1795489602,
            )],
            output: "2000000000f707782d6465617468410000008e460000008905636f756e746c000000000000000106726561736f6e53000000076578706972656405717565756553000000066578742e65330474696d6554000000006b04ff420865786368616e676553000000000c726f7574696e672d6b657973410000000b53000000066578742e6533136f726967696e616c2d65787069726174696f6e53000000043530303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e653314782d66697273742d64656174682d726561736f6e530000000765787069726564",
        },
        Fixture {
            label: "expiry cycle: reject at e4 then expire at e3 (0)",
            input: "2000000000f707782d6465617468410000008e460000008905636f756e746c000000000000000106726561736f6e53000000076578706972656405717565756553000000066578742e65330474696d6554000000006b04ff420865786368616e676553000000000c726f7574696e672d6b657973410000000b53000000066578742e6533136f726967696e616c2d65787069726174696f6e53000000043530303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e653314782d66697273742d64656174682d726561736f6e530000000765787069726564",
            steps: &[
                step(
                    "ext.e4",
                    Rejected,
                    "",
                    &["ext.e4"],
                    Some("ext.e3"),
                    1795489603,
                ),
                step("ext.e3", Expired, "", &["ext.e3"], Some("ext.e4"), 0),
            ],
            output: "20000000016907782d64656174684100000100460000008905636f756e746c00000000000000020865786368616e67655300000000136f726967696e616c2d65787069726174696f6e53000000043530303005717565756553000000066578742e653306726561736f6e5300000007657870697265640c726f7574696e672d6b657973410000000b53000000066578742e65330474696d6554000000006b04ff42460000006d05636f756e746c00000000000000010865786368616e6765530000000005717565756553000000066578742e653406726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000b53000000066578742e65340474696d6554000000006b04ff4316782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000066578742e653314782d66697273742d64656174682d726561736f6e530000000765787069726564",
        },
        Fixture {
            label: "foreign entries: others reversed",
            input: "2100000000a907782d6465617468410000009c460000003005636f756e746c00000000000000050571756575655300000002716106726561736f6e530000000872656a6563746564460000002f05636f756e746c00000000000000010571756575655300000002716206726561736f6e530000000765787069726564460000002e05636f756e746c00000000000000020571756575655300000002716306726561736f6e53000000066d61786c656e06313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 1795489604)],
            output: "20000000013807782d6465617468410000012b460000008a05636f756e746c00000000000000010865786368616e67655300000000136f726967696e616c2d65787069726174696f6e530000000631303030303005717565756553000000056578742e6806726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000a53000000056578742e680474696d6554000000006b04ff44460000002e05636f756e746c00000000000000020571756575655300000002716306726561736f6e53000000066d61786c656e460000002f05636f756e746c00000000000000010571756575655300000002716206726561736f6e530000000765787069726564460000003005636f756e746c00000000000000050571756575655300000002716106726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "duplicates merged, missing counts",
            input: "2100000000c207782d646561746841000000b546000000210571756575655300000002716106726561736f6e530000000872656a6563746564460000003005717565756553000000056578742e6806726561736f6e530000000872656a6563746564027a7a53000000046b656570460000003005636f756e746c00000000000000090571756575655300000002716106726561736f6e530000000872656a656374656446000000200571756575655300000002716206726561736f6e53000000076578706972656406313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 0)],
            output: "2000000000ba07782d646561746841000000ad460000003f05636f756e746c000000000000000205717565756553000000056578742e6806726561736f6e530000000872656a6563746564027a7a53000000046b656570460000002f05636f756e746c00000000000000010571756575655300000002716206726561736f6e530000000765787069726564460000003005636f756e746c00000000000000020571756575655300000002716106726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "signedint count incremented as long",
            input: "21000000007107782d64656174684100000064460000002f05636f756e74490000000405717565756553000000056578742e6806726561736f6e530000000872656a6563746564460000002b05636f756e7449000000010571756575655300000002716206726561736f6e53000000076578706972656406313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 0)],
            output: "20000000007507782d64656174684100000068460000003305636f756e746c000000000000000505717565756553000000056578742e6806726561736f6e530000000872656a6563746564460000002b05636f756e7449000000010571756575655300000002716206726561736f6e530000000765787069726564",
        },
        Fixture {
            label: "x-death not an array: reset",
            input: "21000000001c016153000000013107782d646561746853000000076761726261676506313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 1795489605)],
            output: "2000000000a4016153000000013107782d6465617468410000008f460000008a05636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000056578742e680474696d6554000000006b04ff450865786368616e676553000000000c726f7574696e672d6b657973410000000a53000000056578742e68136f726967696e616c2d65787069726174696f6e5300000006313030303030",
        },
        Fixture {
            label: "x-first-death overwritten when no x-death",
            input: "21000000005813782d66697273742d64656174682d717565756553000000036f6c6414782d66697273742d64656174682d726561736f6e53000000036f6c6416782d66697273742d64656174682d65786368616e676553000000036f6c6406313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 1795489605)],
            output: "2000000000f807782d6465617468410000008f460000008a05636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000056578742e680474696d6554000000006b04ff450865786368616e676553000000000c726f7574696e672d6b657973410000000a53000000056578742e68136f726967696e616c2d65787069726174696f6e530000000631303030303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000056578742e6814782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "empty x-death array",
            input: "21000000000d07782d6465617468410000000006313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 1795489605)],
            output: "20000000009c07782d6465617468410000008f460000008a05636f756e746c00000000000000010865786368616e67655300000000136f726967696e616c2d65787069726174696f6e530000000631303030303005717565756553000000056578742e6806726561736f6e530000000872656a65637465640c726f7574696e672d6b657973410000000a53000000056578742e680474696d6554000000006b04ff45",
        },
        Fixture {
            label: "duplicate header keys: stable sort",
            input: "21000000001801625300000001310161530000000132016253000000013306313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 1795489605)],
            output: "20000000011001615300000001320162530000000131016253000000013307782d6465617468410000008f460000008a05636f756e746c000000000000000106726561736f6e530000000872656a656374656405717565756553000000056578742e680474696d6554000000006b04ff450865786368616e676553000000000c726f7574696e672d6b657973410000000a53000000056578742e68136f726967696e616c2d65787069726174696f6e530000000631303030303016782d66697273742d64656174682d65786368616e6765530000000013782d66697273742d64656174682d717565756553000000056578742e6814782d66697273742d64656174682d726561736f6e530000000872656a6563746564",
        },
        Fixture {
            label: "single matching entry without count",
            input: "21000000004407782d64656174684100000037460000003205717565756553000000056578742e6806726561736f6e530000000872656a65637465640474696d6554000000000000000506313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 5)],
            output: "20000000005307782d64656174684100000046460000004105636f756e746c000000000000000105717565756553000000056578742e6806726561736f6e530000000872656a65637465640474696d65540000000000000005",
        },
        Fixture {
            label: "match in the middle",
            input: "2100000000af07782d646561746841000000a2460000003005636f756e746c00000000000000010571756575655300000002716106726561736f6e530000000872656a6563746564460000003305636f756e746c000000000000000105717565756553000000056578742e6806726561736f6e530000000872656a6563746564460000003005636f756e746c00000000000000010571756575655300000002716306726561736f6e530000000872656a656374656406313030303030",
            steps: &[step("ext.h", Rejected, "", &["ext.h"], None, 0)],
            output: "2000000000af07782d646561746841000000a2460000003305636f756e746c000000000000000205717565756553000000056578742e6806726561736f6e530000000872656a6563746564460000003005636f756e746c00000000000000010571756575655300000002716306726561736f6e530000000872656a6563746564460000003005636f756e746c00000000000000010571756575655300000002716106726561736f6e530000000872656a6563746564",
        },
    ];

    #[test]
    fn dead_lettered_properties_match_rabbitmq_byte_for_byte() {
        for f in FIXTURES {
            let mut raw = hex(f.input);
            for s in f.steps {
                raw = die(&raw, s);
            }
            assert_eq!(to_hex(&raw), f.output, "{}", f.label);
        }
    }

    fn x_death(raw: &Bytes) -> Vec<FieldTable> {
        let headers = BasicProperties::decode(raw).unwrap().headers.unwrap();
        match headers.get("x-death") {
            Some(FieldValue::Array(items)) => items
                .iter()
                .map(|i| match i {
                    FieldValue::Table(t) => t.clone(),
                    other => panic!("not a table: {other:?}"),
                })
                .collect(),
            other => panic!("no x-death array: {other:?}"),
        }
    }

    fn s(v: &str) -> FieldValue {
        FieldValue::LongStr(Bytes::copy_from_slice(v.as_bytes()))
    }

    #[test]
    fn first_death_layout_and_types() {
        let props = BasicProperties {
            expiration: Some("60000".into()),
            headers: Some(FieldTable(vec![("b".into(), s("1")), ("A".into(), s("2"))])),
            ..Default::default()
        };
        let out = die(
            &props.to_raw(),
            &step("q", Expired, "ex", &["k", "cc"], None, 77),
        );
        let decoded = BasicProperties::decode(&out).unwrap();
        assert_eq!(decoded.expiration, None);
        let keys: Vec<String> = decoded
            .headers
            .unwrap()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        let expected = [
            "A",
            "b",
            "x-death",
            "x-first-death-exchange",
            "x-first-death-queue",
            "x-first-death-reason",
        ];
        assert_eq!(keys, expected);
        let entry = &x_death(&out)[0];
        let expected = FieldTable(vec![
            ("count".into(), FieldValue::I64(1)),
            ("reason".into(), s("expired")),
            ("queue".into(), s("q")),
            ("time".into(), FieldValue::Timestamp(77)),
            ("exchange".into(), s("ex")),
            (
                "routing-keys".into(),
                FieldValue::Array(vec![s("k"), s("cc")]),
            ),
            ("original-expiration".into(), s("60000")),
        ]);
        assert_eq!(entry, &expected);
        // Second death in the same queue for the same reason: count 2 as a long, fields
        // sorted, time and keys of the first death, first-death headers unchanged.
        let again = die(&out, &step("q", Expired, "other", &["z"], None, 99));
        let entry = &x_death(&again)[0];
        let keys: Vec<String> = entry.iter().map(|(k, _)| k.to_string()).collect();
        let sorted = [
            "count",
            "exchange",
            "original-expiration",
            "queue",
            "reason",
            "routing-keys",
            "time",
        ];
        assert_eq!(keys, sorted);
        assert_eq!(entry.get("count"), Some(&FieldValue::I64(2)));
        assert_eq!(entry.get("time"), Some(&FieldValue::Timestamp(77)));
        assert_eq!(entry.get("exchange"), Some(&s("ex")));
        let headers = BasicProperties::decode(&again).unwrap().headers.unwrap();
        assert_eq!(headers.get("x-first-death-exchange"), Some(&s("ex")));
        assert_eq!(headers.get("x-first-death-reason"), Some(&s("expired")));
    }

    #[test]
    fn cycles() {
        let start = BasicProperties::default().to_raw();
        // A queue dead-lettering expired messages to itself: dropped at once.
        let once = die(&start, &step("a", Expired, "", &["a"], None, 1));
        assert!(is_cycle(&once, "a", Expired));
        assert!(!is_cycle(&once, "b", Expired));
        assert!(!is_cycle(&once, "a", Rejected));
        // a (ttl) -> b (ttl) -> a: the second hop back to a is a cycle.
        let twice = die(&once, &step("b", Expired, "", &["b"], None, 2));
        assert!(is_cycle(&twice, "a", Expired));
        assert!(is_cycle(&twice, "b", MaxLen));
        // a (ttl) -> b, rejected in b -> a, expires again -> b: the reject breaks the cycle.
        let rejected = die(&once, &step("b", Rejected, "", &["b"], None, 2));
        let again = die(&rejected, &step("a", Expired, "", &["a"], None, 3));
        assert!(!is_cycle(&again, "b", Expired));
        assert!(is_cycle(&again, "a", Expired));
        // No headers, no x-death, or an x-death that is not an array: never a cycle.
        assert!(!is_cycle(&start, "a", Expired));
        let junk = BasicProperties {
            headers: Some(FieldTable(vec![("x-death".into(), s("a"))])),
            ..Default::default()
        };
        assert!(!is_cycle(&junk.to_raw(), "a", Expired));
    }

    #[test]
    fn cc_and_bcc() {
        let headers = FieldTable(vec![
            (
                "CC".into(),
                FieldValue::Array(vec![FieldValue::I32(1), s("a"), s("b")]),
            ),
            ("BCC".into(), FieldValue::Array(vec![s("c")])),
            ("CC".into(), s("ignored: only the first CC counts")),
        ]);
        let (cc, bcc) = cc_bcc(&headers).unwrap();
        assert_eq!(cc, vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        assert_eq!(bcc, vec![Bytes::from_static(b"c")]);
        assert_eq!(cc_bcc(&FieldTable::new()), Ok((vec![], vec![])));
        let bad = FieldTable(vec![("CC".into(), s("a"))]);
        assert_eq!(
            cc_bcc(&bad),
            Err("invalid message: {unacceptable_type_in_header,\"CC\",longstr}".into())
        );
        let bad = FieldTable(vec![("BCC".into(), FieldValue::I32(1))]);
        assert_eq!(
            cc_bcc(&bad),
            Err("invalid message: {unacceptable_type_in_header,\"BCC\",signedint}".into())
        );
    }

    #[test]
    fn strip_bcc_removes_the_first_bcc_only() {
        let props = BasicProperties {
            headers: Some(FieldTable(vec![
                ("BCC".into(), FieldValue::Array(vec![s("x")])),
                ("z".into(), s("1")),
                ("BCC".into(), FieldValue::Array(vec![s("y")])),
            ])),
            app_id: Some("app".into()),
            ..Default::default()
        };
        let stripped = strip_bcc(&props.to_raw()).unwrap().unwrap();
        let expected = BasicProperties {
            headers: Some(FieldTable(vec![
                ("z".into(), s("1")),
                ("BCC".into(), FieldValue::Array(vec![s("y")])),
            ])),
            app_id: Some("app".into()),
            ..Default::default()
        };
        assert_eq!(BasicProperties::decode(&stripped).unwrap(), expected);
        assert_eq!(strip_bcc(&BasicProperties::default().to_raw()), Ok(None));
        assert!(strip_bcc(&Bytes::from_static(b"\x20")).is_err());
    }

    /// The properties a publisher sent with a BCC header, and what RabbitMQ 3.10.8 stored
    /// (and delivered to the queue, the CC and the BCC recipients alike).
    #[test]
    fn strip_bcc_matches_rabbitmq() {
        let published = hex(
            "b9c80a746578742f706c61696e00000053047a65746153000000017a024343410000001853000000076578742e63633153000000076578742e63633205416c706861490000000703424343410000000d53000000086578742e62636331046265746174010203053630303030036d6964000000000000303903617070",
        );
        let stored = strip_bcc(&published).unwrap().unwrap();
        assert_eq!(to_hex(&stored), FIXTURES[0].input);
        let headers = BasicProperties::decode(&published)
            .unwrap()
            .headers
            .unwrap();
        let (cc, bcc) = cc_bcc(&headers).unwrap();
        assert_eq!(
            cc,
            vec![
                Bytes::from_static(b"ext.cc1"),
                Bytes::from_static(b"ext.cc2")
            ]
        );
        assert_eq!(bcc, vec![Bytes::from_static(b"ext.bcc1")]);
    }

    #[test]
    fn routing_keys_for_the_copy() {
        let original = [
            Bytes::from_static(b"k"),
            Bytes::from_static(b"cc"),
            Bytes::from_static(b"bcc"),
        ];
        assert_eq!(dead_letter_routing_keys(None, &original), original.to_vec());
        let dlrk = ShortStr::from_static("new");
        assert_eq!(
            dead_letter_routing_keys(Some(&dlrk), &original),
            vec![Bytes::from_static(b"new")]
        );
        assert_eq!(Rejected.as_str(), "rejected");
        assert_eq!(Expired.as_str(), "expired");
        assert_eq!(MaxLen.as_str(), "maxlen");
    }
}
