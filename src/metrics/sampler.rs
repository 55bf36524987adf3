//! The rate sampler: every [`SAMPLE_INTERVAL`] (RabbitMQ's `collect_statistics_interval`,
//! 5 s) it walks every queue, exchange and channel and turns the change of each counter
//! since the previous sample into a per-second rate (`*_details.rate` in the API).
//!
//! It also keeps the broker-wide totals (the sum of every channel's counters, and of every
//! queue's message gauges) so the overview has rates too. Tests call [`Sampler::sample`]
//! directly instead of waiting for the task.
//!
//! Each sample also goes into the objects' [`History`], with its time in [`SampleClock`].

use super::counters::{RateCounters, channel as ch};
use super::history::{History, SampleClock};
use crate::broker::Broker;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How often rates are computed.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// Queue totals: ready, unacknowledged, both.
pub mod totals {
    /// Ready messages in every queue.
    pub const READY: usize = 0;
    /// Unacknowledged messages in every queue.
    pub const UNACKED: usize = 1;
    /// Both.
    pub const MESSAGES: usize = 2;
    /// How many.
    pub const COUNT: usize = 3;
}

/// A vhost's totals in its history: its open channels' message counters (the
/// [`super::counters::channel`] indices), then these.
pub mod vhost {
    use super::ch;
    /// Bytes received by its open connections.
    pub const RECV_OCT: usize = ch::COUNT;
    /// Bytes sent by its open connections.
    pub const SEND_OCT: usize = ch::COUNT + 1;
    /// Ready messages in its queues.
    pub const READY: usize = ch::COUNT + 2;
    /// Unacknowledged messages in its queues.
    pub const UNACKED: usize = ch::COUNT + 3;
    /// How many values.
    pub const COUNT: usize = ch::COUNT + 4;
}

/// Values in the broker-wide history: the channel message totals, then the queue totals.
pub const GLOBAL_HISTORY: usize = ch::COUNT + totals::COUNT;

/// Broker-wide totals with their rates, and when the last sample was taken.
#[derive(Debug, Default)]
pub struct Sampler {
    last_ms: Mutex<Option<u64>>,
    seq: AtomicU64,
    manual: AtomicBool,
    /// Global message counters (sum over channels), as of the last sample.
    pub messages: RateCounters<{ ch::COUNT }>,
    /// Global queue totals ([`totals`] indices), as of the last sample.
    pub queue_totals: RateCounters<{ totals::COUNT }>,
    /// The times of the recent samples, shared by every object's [`History`].
    pub clock: SampleClock,
    /// The global totals at each recent sample (`messages`, then `queue_totals`).
    pub history: History<GLOBAL_HISTORY>,
    /// Each vhost's totals at the last sample (the baseline of its next history entry).
    vhost_last: Mutex<HashMap<Arc<str>, [u64; vhost::COUNT]>>,
    /// The number of the last complete sample (scrape bodies are cached per tick).
    ticks: watch::Sender<u64>,
}

fn joined<const A: usize, const B: usize, const N: usize>(a: [u64; A], b: [u64; B]) -> [u64; N] {
    std::array::from_fn(|i| {
        if i < A {
            a.get(i).copied().unwrap_or(0)
        } else {
            b.get(i - A).copied().unwrap_or(0)
        }
    })
}

impl Sampler {
    /// Takes one sample of every object now.
    pub fn sample(&self, broker: &Broker) {
        self.sample_at(broker, crate::broker::message::unix_millis_now());
    }

    /// Test hook: while on, the periodic task takes no samples, so a test drives the
    /// sampler alone through [`Sampler::sample_at`].
    pub fn set_manual(&self, manual: bool) {
        self.manual.store(manual, Ordering::Relaxed);
    }

    /// Takes one sample of every object as at `unix_ms` (tests pass chosen times).
    pub fn sample_at(&self, broker: &Broker, unix_ms: u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.clock.tick(seq, unix_ms);
        let seconds = {
            let mut last = self.last_ms.lock();
            let seconds = last.map_or(0.0, |t| now.saturating_sub(t) as f64 / 1000.0);
            *last = Some(now);
            seconds
        };
        let mut sums = [0u64; totals::COUNT];
        let mut per_vhost: HashMap<Arc<str>, [u64; vhost::COUNT]> = HashMap::new();
        // Wall time of the previous sample: a queue unchanged since then is idle since then.
        let previous_ms = now.saturating_sub((seconds * 1000.0) as u64);
        for vhost in broker.vhosts() {
            let mut vhost_sums = [0u64; vhost::COUNT];
            for q in vhost.queues() {
                use super::counters::queue as g;
                let s = &q.stats;
                let before: [u64; g::HISTORY] = joined(
                    s.counters.sampled(),
                    [s.gauges.sampled()[g::READY], s.gauges.sampled()[g::UNACKED]],
                );
                let counted = s.counters.sample(seconds);
                let changed = s.gauges.sample(seconds) || counted;
                mark_idle(&s.idle_since_ms, changed, previous_ms);
                let (ready, unacked) = (s.gauges.get(g::READY), s.gauges.get(g::UNACKED));
                s.history
                    .record(seq, before, joined(s.counters.sampled(), [ready, unacked]));
                sums[totals::READY] += ready;
                sums[totals::UNACKED] += unacked;
                vhost_sums[vhost::READY] += ready;
                vhost_sums[vhost::UNACKED] += unacked;
            }
            per_vhost.insert(Arc::clone(&vhost.name), vhost_sums);
            for x in vhost.exchanges() {
                let before = x.stats.counters.sampled();
                x.stats.counters.sample(seconds);
                x.stats
                    .history
                    .record(seq, before, x.stats.counters.sampled());
            }
        }
        sums[totals::MESSAGES] = sums[totals::READY] + sums[totals::UNACKED];
        for (i, v) in sums.iter().enumerate() {
            self.queue_totals.set(i, *v);
        }
        for conn in broker.connections.list() {
            use super::counters::connection as sock;
            let io = &conn.details.io;
            let pick = |v: [u64; sock::COUNT]| [v[sock::RECV_OCT], v[sock::SEND_OCT]];
            let before = pick(io.sampled());
            io.sample(seconds);
            let after = pick(io.sampled());
            conn.history.record(seq, before, after);
            let mut vhost_sums = per_vhost.get_mut(conn.details.vhost.as_str());
            for channel in conn.channels() {
                let before = channel.counters.sampled();
                let changed = channel.counters.sample(seconds);
                mark_idle(&channel.idle_since_ms, changed, previous_ms);
                let after = channel.counters.sampled();
                channel.history.record(seq, before, after);
                if let Some(v) = vhost_sums.as_deref_mut() {
                    for (slot, n) in v.iter_mut().zip(after) {
                        *slot += n;
                    }
                }
            }
            if let Some(v) = vhost_sums {
                v[vhost::RECV_OCT] += after[0];
                v[vhost::SEND_OCT] += after[1];
            }
        }
        for (i, v) in broker.connections.message_totals().iter().enumerate() {
            self.messages.set(i, *v);
        }
        self.record_vhosts(broker, seq, per_vhost);
        let before = joined(self.messages.sampled(), self.queue_totals.sampled());
        self.queue_totals.sample(seconds);
        self.messages.sample(seconds);
        self.history.record(
            seq,
            before,
            joined(self.messages.sampled(), self.queue_totals.sampled()),
        );
        self.ticks.send_replace(seq);
    }

    /// The number of the last complete sample, changing at each tick: what scrapes are
    /// cached by (see [`crate::management::render_cache`]).
    pub fn ticks(&self) -> watch::Receiver<u64> {
        self.ticks.subscribe()
    }
}

impl Sampler {
    /// Records each vhost's totals, against its totals at the previous sample.
    fn record_vhosts(
        &self,
        broker: &Broker,
        seq: u64,
        mut sums: HashMap<Arc<str>, [u64; vhost::COUNT]>,
    ) {
        let mut last = self.vhost_last.lock();
        for v in broker.vhosts() {
            let now = sums.remove(&v.name).unwrap_or([0; vhost::COUNT]);
            let before = last.insert(Arc::clone(&v.name), now).unwrap_or(now);
            v.history.record(seq, before, now);
        }
        last.retain(|name, _| broker.vhost(name).is_some());
    }

    /// A vhost's totals as of the last sample.
    pub fn vhost_sampled(&self, name: &str) -> [u64; vhost::COUNT] {
        self.vhost_last
            .lock()
            .get(name)
            .copied()
            .unwrap_or([0; vhost::COUNT])
    }
}

/// Keeps a queue's `idle_since`: cleared while it changes, set to the previous sample's
/// time the first time a sample finds it unchanged.
fn mark_idle(idle_since_ms: &AtomicU64, changed: bool, previous_ms: u64) {
    if changed {
        idle_since_ms.store(0, Ordering::Relaxed);
    } else if idle_since_ms.load(Ordering::Relaxed) == 0 {
        idle_since_ms.store(previous_ms.max(1), Ordering::Relaxed);
    }
}

/// Samples every [`SAMPLE_INTERVAL`] until shutdown.
pub async fn run(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {
                if !broker.sampler.manual.load(Ordering::Relaxed) {
                    broker.sampler.sample(&broker);
                }
            }
        }
    }
}
