//! Counters and latency histograms shared by the load tasks and the reporter.
//!
//! Each producer and consumer owns a [`Recorder`] behind its own mutex, so recording a
//! latency never contends with another task; the reporter merges them once a second.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// Nanoseconds since the first call in this process: the clock of the body timestamps
/// (producers and consumers run in one process).
pub fn now_nanos() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The most deliveries a [`LatencyLog`] keeps (16 bytes each); later ones are not logged.
pub const LATENCY_LOG_MAX: usize = 10_000_000;

/// Every measured delivery's send stamp (the body's first 8 bytes) and publish-to-delivery
/// latency, for `--latency-log`: `benches/residence.py` pairs them with a packet capture to
/// split each message's latency into the broker's share and the clients'.
#[derive(Debug, Default)]
pub struct LatencyLog {
    entries: Mutex<Vec<(u64, u64)>>,
}

impl LatencyLog {
    /// An empty log to share between consumers.
    pub fn shared() -> Arc<LatencyLog> {
        Arc::new(LatencyLog::default())
    }

    /// Logs one delivery (up to [`LATENCY_LOG_MAX`]).
    pub fn push(&self, sent: u64, latency_ns: u64) {
        let mut entries = self.entries.lock();
        if entries.len() < LATENCY_LOG_MAX {
            entries.push((sent, latency_ns));
        }
    }

    /// Writes one line per delivery: the send stamp as 16 hex digits (the body's first 8
    /// bytes) and the latency in nanoseconds.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for (sent, latency) in self.entries.lock().iter() {
            writeln!(out, "{sent:016x} {latency}")?;
        }
        Ok(())
    }
}

/// Message counts of the whole run, updated by the load tasks.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages handed to the client library by producers.
    pub published: AtomicU64,
    /// Messages the broker confirmed (basic.ack in confirm mode).
    pub confirmed: AtomicU64,
    /// Messages the broker refused (basic.nack in confirm mode).
    pub nacked: AtomicU64,
    /// Messages received by consumers.
    pub delivered: AtomicU64,
    /// True once the warm-up is over: latencies are kept for the result from then on.
    pub measuring: AtomicBool,
}

/// A copy of the counts at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// See [`Counters::published`].
    pub published: u64,
    /// See [`Counters::confirmed`].
    pub confirmed: u64,
    /// See [`Counters::nacked`].
    pub nacked: u64,
    /// See [`Counters::delivered`].
    pub delivered: u64,
}

impl Counters {
    /// The current counts.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            published: self.published.load(Ordering::Relaxed),
            confirmed: self.confirmed.load(Ordering::Relaxed),
            nacked: self.nacked.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
        }
    }
}

/// Latencies of one task, in microseconds: since the last progress line, and for the
/// result.
#[derive(Debug)]
pub struct Recorder {
    interval: Histogram<u64>,
    total: Histogram<u64>,
}

/// A recorder shared between its task and the reporter.
pub type SharedRecorder = Arc<Mutex<Recorder>>;

impl Recorder {
    /// An empty recorder behind a mutex.
    pub fn shared() -> SharedRecorder {
        Arc::new(Mutex::new(Recorder {
            interval: new_histogram(),
            total: new_histogram(),
        }))
    }

    /// Records one latency; `measuring` says whether it counts for the result.
    pub fn record(&mut self, micros: u64, measuring: bool) {
        record(&mut self.interval, micros);
        if measuring {
            record(&mut self.total, micros);
        }
    }
}

/// Records `v`, growing the histogram as needed (`saturating_record` would clamp to the
/// current upper bound instead of growing).
fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

fn new_histogram() -> Histogram<u64> {
    // Three significant figures, growing as needed; `new` only fails above five.
    let mut h = Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures"));
    h.auto(true);
    h
}

/// Takes and clears the interval histograms of `recorders`, merged.
pub fn take_interval(recorders: &[SharedRecorder]) -> Histogram<u64> {
    let mut merged = new_histogram();
    for r in recorders {
        let mut r = r.lock();
        let _ = merged.add(&r.interval);
        r.interval.reset();
    }
    merged
}

/// The result histograms of `recorders`, merged.
pub fn merge_total(recorders: &[SharedRecorder]) -> Histogram<u64> {
    let mut merged = new_histogram();
    for r in recorders {
        let _ = merged.add(&r.lock().total);
    }
    merged
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// Largest sample.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `h`, or `None` when it is empty.
    pub fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        (!h.is_empty()).then(|| Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_resets_intervals() {
        let a = Recorder::shared();
        let b = Recorder::shared();
        for v in 1..=100 {
            a.lock().record(v, true);
        }
        a.lock().record(5_000_000, false);
        b.lock().record(1000, false);
        let interval = take_interval(&[a.clone(), b.clone()]);
        assert_eq!(interval.len(), 102);
        assert!(interval.max() >= 4_990_000, "{}", interval.max());
        assert!(take_interval(&[a.clone(), b.clone()]).is_empty());
        let total = Percentiles::of(&merge_total(&[a, b])).unwrap();
        assert_eq!(total.count, 100);
        assert_eq!(total.p50, 50);
        assert_eq!(total.max, 100);
    }
}
