//! Counters that live where their events happen: a fixed array of relaxed atomics per
//! object (queue, channel, exchange), each with the rate the sampler last computed.
//!
//! Writers pay one `fetch_add(Relaxed)` per event; readers (the HTTP API, the Prometheus
//! scrape) load without locking. [`RateCounters::sample`] is called only by the sampler
//! task (or a test forcing a sample) and turns the change since the previous sample into a
//! per-second rate, as RabbitMQ's management agent does every `collect_statistics_interval`.

use super::history::History;
use std::sync::atomic::{AtomicU64, Ordering};

/// `N` counters (or gauges) with their last sampled values and rates.
#[derive(Debug)]
pub struct RateCounters<const N: usize> {
    values: [AtomicU64; N],
    last: [AtomicU64; N],
    rates: [AtomicU64; N],
}

impl<const N: usize> Default for RateCounters<N> {
    fn default() -> Self {
        RateCounters {
            values: std::array::from_fn(|_| AtomicU64::new(0)),
            last: std::array::from_fn(|_| AtomicU64::new(0)),
            rates: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl<const N: usize> RateCounters<N> {
    /// Adds `n` to counter `i` (ignored when out of range).
    #[inline]
    pub fn add(&self, i: usize, n: u64) {
        if let Some(v) = self.values.get(i) {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sets gauge `i` to `v`.
    #[inline]
    pub fn set(&self, i: usize, v: u64) {
        if let Some(slot) = self.values.get(i) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    /// The current value of counter `i`.
    pub fn get(&self, i: usize) -> u64 {
        self.values.get(i).map_or(0, |v| v.load(Ordering::Relaxed))
    }

    /// Every current value.
    pub fn snapshot(&self) -> [u64; N] {
        std::array::from_fn(|i| self.get(i))
    }

    /// Every value as of the last sample.
    pub fn sampled(&self) -> [u64; N] {
        std::array::from_fn(|i| self.last.get(i).map_or(0, |v| v.load(Ordering::Relaxed)))
    }

    /// The per-second rate of counter `i` over the last sampling interval.
    pub fn rate(&self, i: usize) -> f64 {
        self.rates
            .get(i)
            .map_or(0.0, |r| f64::from_bits(r.load(Ordering::Relaxed)))
    }

    /// Records a sample `seconds` after the previous one: each rate becomes the change
    /// since then divided by `seconds` (gauges may fall, giving negative rates, as in
    /// RabbitMQ's `messages_details.rate`). Returns whether any value changed.
    pub fn sample(&self, seconds: f64) -> bool {
        let mut changed = false;
        for i in 0..N {
            let (Some(value), Some(last), Some(rate)) =
                (self.values.get(i), self.last.get(i), self.rates.get(i))
            else {
                continue;
            };
            let now = value.load(Ordering::Relaxed);
            let before = last.swap(now, Ordering::Relaxed);
            changed |= now != before;
            let delta = now as f64 - before as f64;
            let r = if seconds > 0.0 { delta / seconds } else { 0.0 };
            rate.store(r.to_bits(), Ordering::Relaxed);
        }
        changed
    }

    /// Adds every value of `other` to this one (a closing channel's totals kept globally).
    pub fn absorb(&self, other: &RateCounters<N>) {
        for i in 0..N {
            self.add(i, other.get(i));
        }
    }
}

/// Per-queue message counters (indices into a [`QueueStats`]' `counters`).
pub mod queue {
    /// Messages enqueued.
    pub const PUBLISH: usize = 0;
    /// Delivered to consumers that acknowledge.
    pub const DELIVER: usize = 1;
    /// Delivered to no-ack consumers.
    pub const DELIVER_NO_ACK: usize = 2;
    /// Fetched by basic.get with acknowledgement.
    pub const GET: usize = 3;
    /// Fetched by basic.get without acknowledgement.
    pub const GET_NO_ACK: usize = 4;
    /// Acknowledged.
    pub const ACK: usize = 5;
    /// Delivered again (the redelivered flag set).
    pub const REDELIVER: usize = 6;
    /// How many counters.
    pub const COUNT: usize = 7;

    /// Ready messages (gauge).
    pub const READY: usize = 0;
    /// Delivered, not yet acknowledged (gauge).
    pub const UNACKED: usize = 1;
    /// Ready plus unacknowledged (gauge).
    pub const MESSAGES: usize = 2;
    /// Consumers (gauge).
    pub const CONSUMERS: usize = 3;
    /// Body bytes of ready messages (gauge).
    pub const READY_BYTES: usize = 4;
    /// Body bytes of unacknowledged messages (gauge).
    pub const UNACKED_BYTES: usize = 5;
    /// Persistent messages, ready or unacknowledged, in a durable queue (gauge).
    pub const PERSISTENT: usize = 6;
    /// Their body bytes (gauge).
    pub const PERSISTENT_BYTES: usize = 7;
    /// Ready messages kept only in the store (paged out, gauge).
    pub const PAGED_OUT: usize = 8;
    /// Their body bytes (gauge).
    pub const PAGED_OUT_BYTES: usize = 9;
    /// How many gauges.
    pub const GAUGES: usize = 10;

    /// In a queue's history: the counters first, then ready and unacknowledged.
    pub const HISTORY_READY: usize = COUNT;
    /// In a queue's history: unacknowledged messages.
    pub const HISTORY_UNACKED: usize = COUNT + 1;
    /// Values in a queue's history.
    pub const HISTORY: usize = COUNT + 2;
}

/// Per-connection socket counters, as RabbitMQ reads them from `inet:getstat`.
pub mod connection {
    /// Bytes read from the socket.
    pub const RECV_OCT: usize = 0;
    /// Socket reads that returned data.
    pub const RECV_CNT: usize = 1;
    /// Bytes written to the socket.
    pub const SEND_OCT: usize = 2;
    /// Socket writes (one per batch of frames).
    pub const SEND_CNT: usize = 3;
    /// How many counters.
    pub const COUNT: usize = 4;
}

/// A connection's socket counters ([`connection`] indices), shared by its reader (the
/// connection task) and its writer task.
pub type SocketStats = RateCounters<{ connection::COUNT }>;

/// Per-channel message counters.
pub mod channel {
    /// basic.publish received.
    pub const PUBLISH: usize = 0;
    /// Publishes received in confirm mode.
    pub const PUBLISH_CONFIRM: usize = 1;
    /// Publishes routed to at least one queue.
    pub const ROUTED: usize = 2;
    /// Publisher confirms (acks) sent.
    pub const CONFIRM: usize = 3;
    /// Unroutable mandatory publishes returned.
    pub const RETURN_UNROUTABLE: usize = 4;
    /// Unroutable publishes dropped.
    pub const DROP_UNROUTABLE: usize = 5;
    /// Deliveries to consumers that acknowledge.
    pub const DELIVER: usize = 6;
    /// Deliveries to no-ack consumers.
    pub const DELIVER_NO_ACK: usize = 7;
    /// basic.get answered with a message, acknowledgement required.
    pub const GET: usize = 8;
    /// basic.get answered with a message, no-ack.
    pub const GET_NO_ACK: usize = 9;
    /// basic.get answered get-empty.
    pub const GET_EMPTY: usize = 10;
    /// Messages acknowledged.
    pub const ACK: usize = 11;
    /// Redeliveries.
    pub const REDELIVER: usize = 12;
    /// How many counters.
    pub const COUNT: usize = 13;
}

/// Per-exchange message counters.
pub mod exchange {
    /// Messages published into the exchange.
    pub const PUBLISH_IN: usize = 0;
    /// Messages the exchange routed to at least one queue.
    pub const PUBLISH_OUT: usize = 1;
    /// How many counters.
    pub const COUNT: usize = 2;
}

/// A queue's counters and gauges.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Message counters ([`queue`] indices).
    pub counters: RateCounters<{ queue::COUNT }>,
    /// Message gauges ([`queue::READY`] and the rest), refreshed under the queue's own lock
    /// whenever its contents change, so readers never take that lock.
    pub gauges: RateCounters<{ queue::GAUGES }>,
    /// Since when (Unix milliseconds) the sampler has seen none of the queue's counters and
    /// gauges change, or 0 while it is active: RabbitMQ's `idle_since`. Kept by the sampler
    /// alone, so the message path pays nothing for it.
    pub idle_since_ms: AtomicU64,
    /// Its counters, ready and unacknowledged at each recent sample
    /// ([`queue::HISTORY_READY`] and the rest).
    pub history: History<{ queue::HISTORY }>,
}

/// An exchange's counters.
#[derive(Debug, Default)]
pub struct ExchangeStats {
    /// Message counters ([`exchange`] indices).
    pub counters: RateCounters<{ exchange::COUNT }>,
    /// Its counters at each recent sample.
    pub history: History<{ exchange::COUNT }>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_change_per_second_since_the_last_sample() {
        let c = RateCounters::<2>::default();
        c.add(0, 10);
        c.sample(5.0);
        assert_eq!(c.rate(0), 2.0);
        c.add(0, 5);
        c.set(1, 7);
        c.sample(5.0);
        assert_eq!((c.get(0), c.rate(0), c.rate(1)), (15, 1.0, 1.4));
        c.set(1, 2);
        c.sample(1.0);
        assert_eq!(c.rate(1), -5.0);
        c.add(9, 1);
        assert_eq!(c.get(9), 0);
    }
}
