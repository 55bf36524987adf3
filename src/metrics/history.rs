//! Bounded sample history: what the management API's `msg_rates_age`, `lengths_age` and
//! `data_rates_age` read back as `*_details.samples`.
//!
//! RabbitMQ keeps the last 605 s at 5 s resolution for every object (its `basic` and
//! `detailed` retention policies start with `{605, 5}`); so does Warren, for the values the
//! API shows with samples. Every sampler tick has a sequence number and a wall-clock time,
//! kept once in the [`SampleClock`]; each object keeps only its values, in a [`History`]:
//!
//! - nothing (one empty `Option`) until a value changes, and again after [`KEPT`] ticks
//!   without a change, so idle objects cost 16 bytes;
//! - otherwise a ring of [`KEPT`] entries of 32-bit differences from the entry before,
//!   plus the newest values: `8 N + 4 N KEPT` bytes and a few words for `N` values.
//!
//! Reading reconstructs the values from the newest backwards; nothing is computed unless a
//! request asks for samples.

use parking_lot::Mutex;
use std::collections::VecDeque;

/// Ticks kept: 605 s at the 5 s sampling interval, as RabbitMQ's first retention tier.
pub const KEPT: usize = 121;

/// The times of the last [`KEPT`] sampler ticks, shared by every object's history.
#[derive(Debug, Default)]
pub struct SampleClock {
    ticks: Mutex<VecDeque<(u64, u64)>>,
}

impl SampleClock {
    /// Starts tick `seq` at `unix_ms`; returns `unix_ms`, raised above the previous tick's
    /// time if the wall clock stepped back, so times always increase.
    pub fn tick(&self, seq: u64, unix_ms: u64) -> u64 {
        let mut ticks = self.ticks.lock();
        let ms = match ticks.back() {
            Some(&(_, last)) if unix_ms <= last => last + 1,
            _ => unix_ms,
        };
        if ticks.len() == KEPT {
            ticks.pop_front();
        }
        ticks.push_back((seq, ms));
        ms
    }

    /// The kept ticks as (sequence, Unix ms), oldest first.
    pub fn ticks(&self) -> Vec<(u64, u64)> {
        self.ticks.lock().iter().copied().collect()
    }

    /// The time of the newest tick, if any.
    pub fn newest_ms(&self) -> Option<u64> {
        self.ticks.lock().back().map(|&(_, ms)| ms)
    }
}

/// The values of one object at each of its last ticks (see the module docs).
#[derive(Debug, Default)]
pub struct History<const N: usize> {
    ring: Mutex<Option<Box<Ring<N>>>>,
}

#[derive(Debug)]
struct Ring<const N: usize> {
    /// Sequence number of the newest entry.
    newest_seq: u64,
    /// Index of the newest entry in `deltas`.
    head: usize,
    /// Entries kept (at most [`KEPT`]).
    len: usize,
    /// Consecutive ticks without a change.
    quiet: usize,
    /// The values at the newest entry.
    newest: [u64; N],
    /// Each entry's values minus the entry before's (saturated to 32 bits).
    deltas: [[i32; N]; KEPT],
}

fn delta(now: u64, before: u64) -> i32 {
    let d = i128::from(now) - i128::from(before);
    i32::try_from(d).unwrap_or(if d < 0 { i32::MIN } else { i32::MAX })
}

fn apply_back(value: u64, delta: i32) -> u64 {
    let v = i128::from(value) - i128::from(delta);
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

impl<const N: usize> Ring<N> {
    fn starting(seq: u64, values: [u64; N]) -> Box<Ring<N>> {
        Box::new(Ring {
            newest_seq: seq,
            head: 0,
            len: 1,
            quiet: 0,
            newest: values,
            deltas: [[0; N]; KEPT],
        })
    }

    fn push(&mut self, seq: u64, values: [u64; N]) {
        let changed = values != self.newest;
        self.head = (self.head + 1) % KEPT;
        if let Some(slot) = self.deltas.get_mut(self.head) {
            *slot = std::array::from_fn(|i| delta(values[i], self.newest[i]));
        }
        self.newest = values;
        self.newest_seq = seq;
        self.len = (self.len + 1).min(KEPT);
        self.quiet = if changed { 0 } else { self.quiet + 1 };
    }

    /// (sequence, values), newest first.
    fn points(&self) -> Vec<(u64, [u64; N])> {
        let mut out = Vec::with_capacity(self.len);
        let mut values = self.newest;
        let mut index = self.head;
        for k in 0..self.len {
            out.push((self.newest_seq.saturating_sub(k as u64), values));
            if let Some(d) = self.deltas.get(index) {
                values = std::array::from_fn(|i| apply_back(values[i], d[i]));
            }
            index = (index + KEPT - 1) % KEPT;
        }
        out
    }
}

impl<const N: usize> History<N> {
    /// Records tick `seq`: `values` now, `previous` at the tick before. An object whose
    /// values never changed keeps no ring; one quiet for [`KEPT`] ticks drops it.
    pub fn record(&self, seq: u64, previous: [u64; N], values: [u64; N]) {
        let mut ring = self.ring.lock();
        if let Some(r) = ring.as_mut()
            && r.newest_seq + 1 == seq
        {
            r.push(seq, values);
            if r.quiet >= KEPT {
                *ring = None;
            }
            return;
        }
        if ring.is_none() && values == previous {
            return;
        }
        let mut r = Ring::starting(seq.saturating_sub(1), previous);
        r.push(seq, values);
        *ring = Some(r);
    }

    /// Whether a ring is allocated (the object changed within the last [`KEPT`] ticks).
    pub fn is_active(&self) -> bool {
        self.ring.lock().is_some()
    }

    /// The values at each of `times` (Unix ms): those of the newest tick at or before it,
    /// the oldest kept for earlier times, `current` when nothing is kept.
    pub fn values_at(
        &self,
        clock: &[(u64, u64)],
        current: [u64; N],
        times: &[u64],
    ) -> Vec<[u64; N]> {
        let points: Vec<(u64, [u64; N])> = {
            let ring = self.ring.lock();
            let Some(r) = ring.as_ref() else {
                return vec![current; times.len()];
            };
            r.points()
        };
        // (ms, values) oldest first, for the ticks the clock still knows.
        let mut timed: Vec<(u64, [u64; N])> = points
            .into_iter()
            .filter_map(|(seq, v)| {
                clock
                    .binary_search_by_key(&seq, |&(s, _)| s)
                    .ok()
                    .and_then(|i| clock.get(i))
                    .map(|&(_, ms)| (ms, v))
            })
            .collect();
        timed.reverse();
        let Some(&(_, oldest)) = timed.first() else {
            return vec![current; times.len()];
        };
        times
            .iter()
            .map(|&t| match timed.partition_point(|&(ms, _)| ms <= t) {
                0 => oldest,
                n => timed.get(n - 1).map_or(oldest, |&(_, v)| v),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(n: u64) -> Vec<(u64, u64)> {
        (1..=n).map(|s| (s, s * 5000)).collect()
    }

    #[test]
    fn idle_objects_keep_nothing_and_answer_their_current_values() {
        let h = History::<2>::default();
        h.record(1, [3, 4], [3, 4]);
        assert!(!h.is_active());
        assert_eq!(h.values_at(&clock(1), [3, 4], &[5000, 0]), vec![[3, 4]; 2]);
    }

    #[test]
    fn values_are_read_back_at_the_tick_at_or_before_each_time() {
        let h = History::<2>::default();
        h.record(2, [0, 10], [5, 8]);
        h.record(3, [5, 8], [9, 8]);
        h.record(4, [9, 8], [9, 2]);
        let got = h.values_at(
            &clock(4),
            [9, 2],
            &[25_000, 20_000, 17_000, 15_000, 10_000, 1],
        );
        assert_eq!(got, vec![[9, 2], [9, 2], [9, 8], [9, 8], [5, 8], [0, 10]]);
    }

    #[test]
    fn the_ring_keeps_the_last_ticks_and_drops_after_a_quiet_window() {
        let h = History::<1>::default();
        let mut v = 0;
        for seq in 1..=300u64 {
            let before = v;
            v += seq;
            h.record(seq, [before], [v]);
        }
        let ticks: Vec<(u64, u64)> = (180..=300).map(|s| (s, s * 10)).collect();
        let got = h.values_at(&ticks, [v], &[3000, 1800, 0]);
        let sum = |n: u64| n * (n + 1) / 2;
        assert_eq!(got, vec![[sum(300)], [sum(180)], [sum(180)]]);
        for seq in 301..=300 + KEPT as u64 {
            h.record(seq, [v], [v]);
        }
        assert!(!h.is_active());
    }

    #[test]
    fn huge_jumps_saturate_instead_of_wrapping() {
        let h = History::<1>::default();
        h.record(1, [0], [u64::MAX]);
        let got = h.values_at(&clock(1), [u64::MAX], &[5000, 0]);
        assert_eq!(got[0], [u64::MAX]);
        assert!(got[1][0] > 0);
    }

    #[test]
    fn the_clock_never_goes_back() {
        let c = SampleClock::default();
        assert_eq!(c.tick(1, 100), 100);
        assert_eq!(c.tick(2, 50), 101);
        assert_eq!(c.newest_ms(), Some(101));
    }
}
