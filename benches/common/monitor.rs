//! A once-a-second sampler for the durability bench: publish / delivery counters and the
//! broker's resident memory (VmRSS, split into RssAnon: heap and stacks, and RssFile:
//! mapped file pages such as LMDB's), with a hang guard.

use super::durable::{ConsStats, PubStats};
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
    /// Highest VmRSS and RssFile seen in the current phase, KiB.
    pub phase_peak_rss_file: (u64, u64),
}

/// A process's resident memory from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mem {
    /// VmRSS: everything resident.
    pub rss: u64,
    /// RssAnon: anonymous pages (heap, stacks).
    pub anon: u64,
    /// RssFile: file pages mapped into the process (LMDB's map, the binary).
    pub file: u64,
}

impl Mem {
    /// Reads `/proc/PID/status`.
    pub fn of(pid: u32) -> io::Result<Mem> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{pid}/status")))
        };
        Ok(Mem {
            rss: field("VmRSS:")?,
            anon: field("RssAnon:")?,
            file: field("RssFile:")?,
        })
    }
}

impl std::fmt::Display for Mem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VmRSS {:.1} MiB (RssAnon {:.1}, RssFile {:.1})",
            mib(self.rss),
            mib(self.anon),
            mib(self.file)
        )
    }
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
            phase_peak_rss_file: (0, 0),
        }
    }

    /// Reads the broker's memory (zeros without a pid) and updates the peaks.
    pub fn mem(&mut self) -> Mem {
        let m = self.pid.and_then(|p| Mem::of(p).ok()).unwrap_or_default();
        self.phase_peak = self.phase_peak.max(m.anon);
        self.peak = self.peak.max(m.anon);
        let (rss, file) = self.phase_peak_rss_file;
        self.phase_peak_rss_file = (rss.max(m.rss), file.max(m.file));
        m
    }

    /// Reads RssAnon (KiB, 0 without a pid) and updates the peaks.
    pub fn rss(&mut self) -> u64 {
        self.mem().anon
    }

    /// The current phase's peaks, for a summary line.
    pub fn phase_peaks(&self) -> String {
        format!(
            "peak VmRSS {:.1} MiB, RssAnon {:.1} MiB, RssFile {:.1} MiB",
            mib(self.phase_peak_rss_file.0),
            mib(self.phase_peak),
            mib(self.phase_peak_rss_file.1)
        )
    }

    /// Runs `fut`, printing a sample line every second; an error if neither the confirmed
    /// nor the delivered count moves for `--stall` seconds (a hang).
    pub async fn watch<T>(
        &mut self,
        phase: &str,
        fut: impl Future<Output = io::Result<T>>,
    ) -> io::Result<(T, Duration)> {
        self.phase_peak = 0;
        self.phase_peak_rss_file = (0, 0);
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
                    self.mem();
                    return out.map(|v| (v, began.elapsed()));
                }
                _ = tick.tick() => {
                    let now = counts(self);
                    let m = self.mem();
                    println!(
                        "  t={:7.1}s {phase:<10} confirmed {:>9} (+{:>7}/s) delivered {:>9} (+{:>7}/s) nacked {} blocked {} VmRSS {:>7.1} RssAnon {:>7.1} RssFile {:>7.1} MiB",
                        self.start.elapsed().as_secs_f64(),
                        now.0,
                        now.0 - last.0,
                        now.1,
                        now.1 - last.1,
                        self.pubs.nacked.load(Ordering::Relaxed),
                        self.pubs.blocked.load(Ordering::Relaxed),
                        mib(m.rss),
                        mib(m.anon),
                        mib(m.file)
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

/// Samples `pid`'s memory once a second for `seconds`, printing each sample under `label`;
/// returns the last one (how quickly memory goes back after a workload).
pub async fn settle(pid: Option<u32>, label: &str, seconds: u64) -> Mem {
    let mut last = Mem::default();
    let Some(pid) = pid else { return last };
    for s in 0..=seconds {
        if s > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if let Ok(m) = Mem::of(pid) {
            println!("  {label} +{s:>2}s: {m}");
            last = m;
        }
    }
    last
}
