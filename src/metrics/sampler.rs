//! The rate sampler: every [`SAMPLE_INTERVAL`] (RabbitMQ's `collect_statistics_interval`,
//! 5 s) it walks every queue, exchange and channel and turns the change of each counter
//! since the previous sample into a per-second rate (`*_details.rate` in the API).
//!
//! It also keeps the broker-wide totals (the sum of every channel's counters, and of every
//! queue's message gauges) so the overview has rates too. Tests call [`Sampler::sample`]
//! directly instead of waiting for the task.

use super::counters::{RateCounters, channel as ch};
use crate::broker::Broker;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
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

/// Broker-wide totals with their rates, and when the last sample was taken.
#[derive(Debug, Default)]
pub struct Sampler {
    last: Mutex<Option<Instant>>,
    /// Global message counters (sum over channels), as of the last sample.
    pub messages: RateCounters<{ ch::COUNT }>,
    /// Global queue totals ([`totals`] indices), as of the last sample.
    pub queue_totals: RateCounters<{ totals::COUNT }>,
}

impl Sampler {
    /// Takes one sample of every object now.
    pub fn sample(&self, broker: &Broker) {
        let now = Instant::now();
        let seconds = {
            let mut last = self.last.lock();
            let seconds = last.map_or(0.0, |t| now.duration_since(t).as_secs_f64());
            *last = Some(now);
            seconds
        };
        let mut sums = [0u64; totals::COUNT];
        // Wall time of the previous sample: a queue unchanged since then is idle since then.
        let previous_ms =
            crate::broker::message::unix_millis_now().saturating_sub((seconds * 1000.0) as u64);
        for vhost in broker.vhosts() {
            for q in vhost.queues() {
                let counted = q.stats.counters.sample(seconds);
                let changed = q.stats.gauges.sample(seconds) || counted;
                mark_idle(&q.stats.idle_since_ms, changed, previous_ms);
                use super::counters::queue as g;
                sums[totals::READY] += q.stats.gauges.get(g::READY);
                sums[totals::UNACKED] += q.stats.gauges.get(g::UNACKED);
            }
            for x in vhost.exchanges() {
                x.stats.counters.sample(seconds);
            }
        }
        sums[totals::MESSAGES] = sums[totals::READY] + sums[totals::UNACKED];
        for (i, v) in sums.iter().enumerate() {
            self.queue_totals.set(i, *v);
        }
        self.queue_totals.sample(seconds);
        for conn in broker.connections.list() {
            conn.details.io.sample(seconds);
            for channel in conn.channels() {
                let changed = channel.counters.sample(seconds);
                mark_idle(&channel.idle_since_ms, changed, previous_ms);
            }
        }
        for (i, v) in broker.connections.message_totals().iter().enumerate() {
            self.messages.set(i, *v);
        }
        self.messages.sample(seconds);
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
            _ = tick.tick() => broker.sampler.sample(&broker),
        }
    }
}
