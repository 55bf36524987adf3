//! A once-a-second sampler for the durability bench: publish / delivery counters and the
//! broker's RssAnon, with a hang guard.

use super::durable::{ConsStats, PubStats};
use super::rss_anon_kib;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::time::{Duration, Instant};

/// Samples counters and the broker's RssAnon once a second while a phase runs.
#[derive(Debug)]
pub struct Monitor {
    /// The broker's pid (no memory readings without it).
    pub pid: Option<u32>,
    /// The current publisher's counters.
    pub pubs: Arc<PubStats>,
    /// The current consumer's counters.
    pub cons: Arc<ConsStats>,
    /// When sampling began.
    pub start: Instant,
    /// How long without progress counts as a hang.
    pub stall: Duration,
    /// Highest RssAnon seen in the current phase, KiB.
    pub phase_peak: u64,
    /// Highest RssAnon seen overall, KiB.
    pub peak: u64,
}

impl Monitor {
    /// A monitor of `pid` that calls `stall` without progress a hang.
    pub fn new(pid: Option<u32>, stall: Duration) -> Monitor {
        Monitor {
            pid,
            pubs: Arc::default(),
            cons: Arc::default(),
            start: Instant::now(),
            stall,
            phase_peak: 0,
            peak: 0,
        }
    }

    /// Reads RssAnon (KiB, 0 without a pid) and updates the peaks.
    pub fn rss(&mut self) -> u64 {
        let kib = self.pid.and_then(|p| rss_anon_kib(p).ok()).unwrap_or(0);
        self.phase_peak = self.phase_peak.max(kib);
        self.peak = self.peak.max(kib);
        kib
    }

    /// Runs `fut`, printing a sample line every second; an error if neither the confirmed
    /// nor the delivered count moves for `--stall` seconds (a hang).
    pub async fn watch<T>(
        &mut self,
        phase: &str,
        fut: impl Future<Output = io::Result<T>>,
    ) -> io::Result<(T, Duration)> {
        self.phase_peak = 0;
        let began = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut fut = std::pin::pin!(fut);
        let counts = |m: &Monitor| {
            (
                m.pubs.confirmed.load(Ordering::Relaxed),
                m.cons.delivered.load(Ordering::Relaxed),
            )
        };
        let (mut last, mut moved) = (counts(self), Instant::now());
        loop {
            tokio::select! {
                out = &mut fut => {
                    self.rss();
                    return out.map(|v| (v, began.elapsed()));
                }
                _ = tick.tick() => {
                    let now = counts(self);
                    let kib = self.rss();
                    println!(
                        "  t={:7.1}s {phase:<10} confirmed {:>9} (+{:>7}/s) delivered {:>9} (+{:>7}/s) nacked {} blocked {} RssAnon {:>7.1} MiB",
                        self.start.elapsed().as_secs_f64(),
                        now.0,
                        now.0 - last.0,
                        now.1,
                        now.1 - last.1,
                        self.pubs.nacked.load(Ordering::Relaxed),
                        self.pubs.blocked.load(Ordering::Relaxed),
                        kib as f64 / 1024.0
                    );
                    if now != last {
                        moved = Instant::now();
                    } else if moved.elapsed() >= self.stall {
                        return Err(io::Error::other(format!(
                            "{phase}: no progress for {} s (confirmed {}, delivered {})",
                            self.stall.as_secs(), now.0, now.1
                        )));
                    }
                    last = now;
                }
            }
        }
    }
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
