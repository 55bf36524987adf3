//! The result of a run (serialised with `--json`) and the human-readable lines.

use std::fmt::Write as _;

use serde::Serialize;

use super::args::{ExchangeKind, PerfArgs};
use super::stats::{Percentiles, Snapshot};

/// The result document of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The broker's product and version, from its connection.start properties.
    pub broker: String,
    /// The load that was applied.
    pub options: Options,
    /// Length of the measured period, in seconds.
    pub duration_s: f64,
    /// Rates over the measured period.
    pub rates: Rates,
    /// Counts over the whole run (warm-up and drain included).
    pub totals: Totals,
    /// Publish-to-delivery latency of the measured period, in microseconds.
    pub latency_us: Option<Percentiles>,
    /// Publish-to-confirm latency of the measured period, in microseconds.
    pub confirm_latency_us: Option<Percentiles>,
}

/// The options of a run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Producers.
    pub producers: usize,
    /// Consumers.
    pub consumers: usize,
    /// Queues.
    pub queues: u32,
    /// Exchange ("" is the default exchange).
    pub exchange: String,
    /// "direct" or "fanout".
    pub kind: &'static str,
    /// Body size in bytes.
    pub size: u32,
    /// Messages per second per producer (0: flat out).
    pub rate: f64,
    /// Confirm window, when confirming.
    pub confirm: Option<u32>,
    /// Prefetch count (0: unlimited).
    pub prefetch: u16,
    /// Persistent messages on durable queues.
    pub persistent: bool,
    /// no-ack consumers.
    pub auto_ack: bool,
    /// Deliveries per acknowledgement.
    pub multi_ack: u32,
    /// Measured seconds asked for.
    pub time: f64,
    /// Warm-up seconds.
    pub warmup: f64,
    /// Messages per producer, in fixed-count mode.
    pub pmessages: Option<u64>,
    /// Deliveries per consumer, in fixed-count mode.
    pub cmessages: Option<u64>,
    /// Whether the queues were left in place at the end.
    pub keep_queues: bool,
}

impl Options {
    /// The reported form of `args`.
    pub fn of(args: &PerfArgs) -> Options {
        Options {
            producers: args.producers,
            consumers: args.consumers,
            queues: args.queues,
            exchange: args.exchange.clone(),
            kind: match args.kind {
                ExchangeKind::Direct => "direct",
                ExchangeKind::Fanout => "fanout",
            },
            size: args.size,
            rate: args.rate,
            confirm: args.confirm,
            prefetch: args.prefetch,
            persistent: args.persistent,
            auto_ack: args.auto_ack,
            multi_ack: args.multi_ack,
            time: args.time,
            warmup: args.warmup,
            pmessages: args.pmessages,
            cmessages: args.cmessages,
            keep_queues: args.keep_queues,
        }
    }
}

/// Messages per second over the measured period.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    /// Published by producers.
    pub published_msg_s: f64,
    /// Confirmed by the broker.
    pub confirmed_msg_s: f64,
    /// Received by consumers.
    pub delivered_msg_s: f64,
}

impl Rates {
    /// The rates between two snapshots `secs` apart.
    pub fn between(from: Snapshot, to: Snapshot, secs: f64) -> Rates {
        let rate = |a: u64, b: u64| {
            if secs > 0.0 {
                b.saturating_sub(a) as f64 / secs
            } else {
                0.0
            }
        };
        Rates {
            published_msg_s: rate(from.published, to.published),
            confirmed_msg_s: rate(from.confirmed, to.confirmed),
            delivered_msg_s: rate(from.delivered, to.delivered),
        }
    }
}

/// Message counts of the whole run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Totals {
    /// Published.
    pub published: u64,
    /// Confirmed (basic.ack).
    pub confirmed: u64,
    /// Refused (basic.nack).
    pub nacked: u64,
    /// Delivered to consumers.
    pub delivered: u64,
    /// Deliveries the published messages should make (copies to consumed queues).
    pub expected_deliveries: u64,
}

/// One progress line: the rates of the last interval and its latencies.
pub fn progress_line(
    elapsed: f64,
    rates: &Rates,
    latency: Option<Percentiles>,
    confirming: bool,
) -> String {
    let mut line = format!(
        "time {elapsed:.1} s, published {:.0} msg/s",
        rates.published_msg_s
    );
    if confirming {
        let _ = write!(line, ", confirmed {:.0} msg/s", rates.confirmed_msg_s);
    }
    let _ = write!(line, ", delivered {:.0} msg/s", rates.delivered_msg_s);
    if let Some(p) = latency {
        let _ = write!(line, ", latency p50/p99 {}/{} µs", p.p50, p.p99);
    }
    line
}

impl Report {
    /// The human-readable summary.
    pub fn summary(&self) -> String {
        let o = &self.options;
        let mut s = format!(
            "broker {}: {} producer(s), {} consumer(s), {} queue(s), {} B, {}{}{}\n",
            self.broker,
            o.producers,
            o.consumers,
            o.queues,
            o.size,
            if o.persistent {
                "persistent"
            } else {
                "transient"
            },
            if o.auto_ack {
                ", auto-ack"
            } else {
                ", manual acks"
            },
            o.confirm
                .map(|n| format!(", confirms ({n} in flight)"))
                .unwrap_or_default(),
        );
        let r = &self.rates;
        let _ = writeln!(
            s,
            "over {:.1} s: published {:.0} msg/s, confirmed {:.0} msg/s, delivered {:.0} msg/s",
            self.duration_s, r.published_msg_s, r.confirmed_msg_s, r.delivered_msg_s
        );
        for (name, p) in [
            ("latency", self.latency_us),
            ("confirm latency", self.confirm_latency_us),
        ] {
            if let Some(p) = p {
                let _ = writeln!(
                    s,
                    "{name}: p50 {} µs, p95 {} µs, p99 {} µs, p99.9 {} µs, max {} µs ({} samples)",
                    p.p50, p.p95, p.p99, p.p99_9, p.max, p.count
                );
            }
        }
        let t = &self.totals;
        let _ = writeln!(
            s,
            "totals: published {}, confirmed {}, nacked {}, delivered {} (expected {})",
            t.published, t.confirmed, t.nacked, t.delivered, t.expected_deliveries
        );
        s
    }
}
