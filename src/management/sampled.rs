//! Adds `samples` to rendered objects when a request asks for ranges ([`super::ranges`]):
//! which `*_details` of a queue, exchange, channel, connection and the overview come from
//! which values of their [`crate::metrics::history::History`].

use super::ranges::{Pick, Ranges, put_sampled};
use crate::broker::connections::{ChannelInfo, ConnectionEntry};
use crate::broker::exchange::Exchange;
use crate::broker::queue::Queue;
use crate::broker::vhost::VHost;
use crate::metrics::counters::{channel as c, connection as sock, exchange as x, queue as q};
use crate::metrics::sampler::{GLOBAL_HISTORY, Sampler, totals, vhost as vh};
use serde_json::Value;

const QUEUE_LENGTHS: [Pick<{ q::HISTORY }>; 3] = [
    ("messages", |v| v[q::HISTORY_READY] + v[q::HISTORY_UNACKED]),
    ("messages_ready", |v| v[q::HISTORY_READY]),
    ("messages_unacknowledged", |v| v[q::HISTORY_UNACKED]),
];

const QUEUE_RATES: [Pick<{ q::HISTORY }>; 9] = [
    ("publish", |v| v[q::PUBLISH]),
    ("deliver", |v| v[q::DELIVER]),
    ("deliver_no_ack", |v| v[q::DELIVER_NO_ACK]),
    ("get", |v| v[q::GET]),
    ("get_no_ack", |v| v[q::GET_NO_ACK]),
    ("ack", |v| v[q::ACK]),
    ("redeliver", |v| v[q::REDELIVER]),
    ("deliver_get", |v| {
        v[q::DELIVER] + v[q::DELIVER_NO_ACK] + v[q::GET] + v[q::GET_NO_ACK]
    }),
    ("get_empty", |_| 0),
];

/// The channel message rates as `(field, pick)` entries, for any history whose first
/// [`c::COUNT`] values are the channel counters (channels, vhosts, the whole broker);
/// `$extra` entries follow them.
macro_rules! channel_rates {
    ($($extra:expr),* $(,)?) => {
        [
            ("publish", |v| v[c::PUBLISH]),
            ("confirm", |v| v[c::CONFIRM]),
            ("return_unroutable", |v| v[c::RETURN_UNROUTABLE]),
            ("drop_unroutable", |v| v[c::DROP_UNROUTABLE]),
            ("deliver", |v| v[c::DELIVER]),
            ("deliver_no_ack", |v| v[c::DELIVER_NO_ACK]),
            ("get", |v| v[c::GET]),
            ("get_no_ack", |v| v[c::GET_NO_ACK]),
            ("get_empty", |v| v[c::GET_EMPTY]),
            ("ack", |v| v[c::ACK]),
            ("redeliver", |v| v[c::REDELIVER]),
            ("deliver_get", |v| {
                v[c::DELIVER] + v[c::DELIVER_NO_ACK] + v[c::GET] + v[c::GET_NO_ACK]
            }),
            $($extra,)*
        ]
    };
}

const CHANNEL_RATES: [Pick<{ c::COUNT }>; 12] = channel_rates!();

const GLOBAL_RATES: [Pick<GLOBAL_HISTORY>; 14] =
    channel_rates!(("disk_reads", |_| 0), ("disk_writes", |_| 0));

const GLOBAL_LENGTHS: [Pick<GLOBAL_HISTORY>; 3] = [
    ("messages", |v| v[c::COUNT + totals::MESSAGES]),
    ("messages_ready", |v| v[c::COUNT + totals::READY]),
    ("messages_unacknowledged", |v| v[c::COUNT + totals::UNACKED]),
];

const EXCHANGE_RATES: [Pick<{ x::COUNT }>; 2] = [
    ("publish_in", |v| v[x::PUBLISH_IN]),
    ("publish_out", |v| v[x::PUBLISH_OUT]),
];

const DATA_RATES: [Pick<2>; 2] = [("recv_oct", |v| v[0]), ("send_oct", |v| v[1])];

const VHOST_LENGTHS: [Pick<{ vh::COUNT }>; 3] = [
    ("messages", |v| v[vh::READY] + v[vh::UNACKED]),
    ("messages_ready", |v| v[vh::READY]),
    ("messages_unacknowledged", |v| v[vh::UNACKED]),
];

const VHOST_DATA_RATES: [Pick<{ vh::COUNT }>; 2] = [
    ("recv_oct", |v| v[vh::RECV_OCT]),
    ("send_oct", |v| v[vh::SEND_OCT]),
];

const VHOST_RATES: [Pick<{ vh::COUNT }>; 12] = channel_rates!();

/// The object `key` of `out`, if there is one.
fn object<'a>(out: &'a mut Value, key: &str) -> Option<&'a mut serde_json::Map<String, Value>> {
    out.get_mut(key).and_then(Value::as_object_mut)
}

/// A rendered queue's samples.
pub(super) fn queue(out: &mut Value, queue: &Queue, ranges: &Ranges, sampler: &Sampler) {
    let s = &queue.stats;
    let current = || {
        let (c, g) = (s.counters.sampled(), s.gauges.sampled());
        std::array::from_fn(|i| match i {
            q::HISTORY_READY => g[q::READY],
            q::HISTORY_UNACKED => g[q::UNACKED],
            _ => c.get(i).copied().unwrap_or(0),
        })
    };
    if let (Some(r), Some(map)) = (ranges.lengths, out.as_object_mut()) {
        put_sampled(map, sampler, &s.history, current(), &r, &QUEUE_LENGTHS);
    }
    if let (Some(r), Some(map)) = (ranges.msg_rates, object(out, "message_stats")) {
        put_sampled(map, sampler, &s.history, current(), &r, &QUEUE_RATES);
    }
}

/// A rendered exchange's samples.
pub(super) fn exchange(out: &mut Value, x: &Exchange, ranges: &Ranges, sampler: &Sampler) {
    let s = &x.stats;
    if let (Some(r), Some(map)) = (ranges.msg_rates, object(out, "message_stats")) {
        put_sampled(
            map,
            sampler,
            &s.history,
            s.counters.sampled(),
            &r,
            &EXCHANGE_RATES,
        );
    }
}

/// A rendered channel's samples.
pub(super) fn channel(out: &mut Value, ch: &ChannelInfo, ranges: &Ranges, sampler: &Sampler) {
    if let (Some(r), Some(map)) = (ranges.msg_rates, object(out, "message_stats")) {
        put_sampled(
            map,
            sampler,
            &ch.history,
            ch.counters.sampled(),
            &r,
            &CHANNEL_RATES,
        );
    }
}

/// A rendered connection's samples.
pub(super) fn connection(
    out: &mut Value,
    conn: &ConnectionEntry,
    ranges: &Ranges,
    sampler: &Sampler,
) {
    if let (Some(r), Some(map)) = (ranges.data_rates, out.as_object_mut()) {
        let io = conn.details.io.sampled();
        let current = [io[sock::RECV_OCT], io[sock::SEND_OCT]];
        put_sampled(map, sampler, &conn.history, current, &r, &DATA_RATES);
    }
}

/// A rendered vhost's samples.
pub(super) fn vhost(out: &mut Value, v: &VHost, ranges: &Ranges, sampler: &Sampler) {
    let current = sampler.vhost_sampled(&v.name);
    if let (Some(r), Some(map)) = (ranges.lengths, out.as_object_mut()) {
        put_sampled(map, sampler, &v.history, current, &r, &VHOST_LENGTHS);
    }
    if let (Some(r), Some(map)) = (ranges.data_rates, out.as_object_mut()) {
        put_sampled(map, sampler, &v.history, current, &r, &VHOST_DATA_RATES);
    }
    if let (Some(r), Some(map)) = (ranges.msg_rates, object(out, "message_stats")) {
        put_sampled(map, sampler, &v.history, current, &r, &VHOST_RATES);
    }
}

/// The overview's `message_stats` and `queue_totals` samples.
pub(super) fn overview(
    message_stats: &mut Value,
    queue_totals: &mut Value,
    ranges: &Ranges,
    sampler: &Sampler,
) {
    let current = || {
        let (m, t) = (sampler.messages.sampled(), sampler.queue_totals.sampled());
        std::array::from_fn(|i| {
            if i < c::COUNT {
                m.get(i).copied().unwrap_or(0)
            } else {
                t.get(i - c::COUNT).copied().unwrap_or(0)
            }
        })
    };
    if let (Some(r), Some(map)) = (ranges.msg_rates, message_stats.as_object_mut())
        && !map.is_empty()
    {
        put_sampled(map, sampler, &sampler.history, current(), &r, &GLOBAL_RATES);
    }
    if let (Some(r), Some(map)) = (ranges.lengths, queue_totals.as_object_mut())
        && !map.is_empty()
    {
        put_sampled(
            map,
            sampler,
            &sampler.history,
            current(),
            &r,
            &GLOBAL_LENGTHS,
        );
    }
}
