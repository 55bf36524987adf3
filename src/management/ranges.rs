//! Sample ranges: RabbitMQ's `lengths_age`/`lengths_incr`, `msg_rates_age`/`msg_rates_incr`
//! and `data_rates_age`/`data_rates_incr` query parameters, and the `*_details` objects they
//! add `samples`, `avg` and `avg_rate` to.
//!
//! As RabbitMQ 3.10.8 does (checked live): a parameter that is not an integer, or an age
//! without its increment, asks for no samples; an age or increment of zero or less, or more
//! than 500 increments, is 400 `Invalid range parameters: age A, incr I`. A range gives
//! `age / incr + 1` samples, newest first, `incr` seconds apart, the newest at the current
//! time rounded up to a multiple of `incr`; each is the value at the newest sampler tick at
//! or before its time (Warren keeps 605 s, see [`crate::metrics::history`]; older times
//! repeat the oldest value kept). With samples, `rate` is the change between the two newest
//! per second, `avg_rate` the change from oldest to newest per second and `avg` the mean.

use super::error::{ApiError, ApiResult};
use crate::metrics::history::History;
use crate::metrics::sampler::Sampler;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The most increments one range may span.
const MAX_INCREMENTS: i64 = 500;

/// One requested range: `count` sample times, `incr_ms` apart, the newest at `last_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Time of the newest sample (Unix ms).
    pub last_ms: u64,
    /// Milliseconds between samples.
    pub incr_ms: u64,
    /// How many samples.
    pub count: u64,
}

impl Range {
    /// The sample times, newest first.
    pub fn times(&self) -> Vec<u64> {
        (0..self.count)
            .map(|k| self.last_ms.saturating_sub(k * self.incr_ms))
            .collect()
    }
}

/// The ranges a request asks for (all `None` for a plain request: rendering adds nothing).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ranges {
    /// `lengths_age`/`lengths_incr`: queue depths.
    pub lengths: Option<Range>,
    /// `msg_rates_age`/`msg_rates_incr`: message counters.
    pub msg_rates: Option<Range>,
    /// `data_rates_age`/`data_rates_incr`: bytes received and sent.
    pub data_rates: Option<Range>,
}

fn integer(params: &HashMap<String, String>, key: &str) -> Option<i64> {
    params.get(key).and_then(|v| v.parse::<i64>().ok())
}

fn range(params: &HashMap<String, String>, prefix: &str, now_ms: u64) -> ApiResult<Option<Range>> {
    let (Some(age), Some(incr)) = (
        integer(params, &format!("{prefix}_age")),
        integer(params, &format!("{prefix}_incr")),
    ) else {
        return Ok(None);
    };
    if age <= 0 || incr <= 0 || age / incr > MAX_INCREMENTS {
        return Err(ApiError::BadRequest(format!(
            "Invalid range parameters: age {age}, incr {incr}"
        )));
    }
    // Both are positive here, and incr is at most age.
    let incr_ms = incr.unsigned_abs().saturating_mul(1000);
    let last_ms = now_ms.div_ceil(incr_ms).saturating_mul(incr_ms);
    Ok(Some(Range {
        last_ms,
        incr_ms,
        count: (age / incr).unsigned_abs() + 1,
    }))
}

impl Ranges {
    /// Reads the ranges from a query, as of `now_ms`.
    pub fn parse_at(params: &HashMap<String, String>, now_ms: u64) -> ApiResult<Ranges> {
        Ok(Ranges {
            lengths: range(params, "lengths", now_ms)?,
            msg_rates: range(params, "msg_rates", now_ms)?,
            data_rates: range(params, "data_rates", now_ms)?,
        })
    }

    /// Reads the ranges from a query, as of now (or of the sampler's newest tick, if a test
    /// drove it ahead of the wall clock).
    pub fn parse(params: &HashMap<String, String>, sampler: &Sampler) -> ApiResult<Ranges> {
        if !params.keys().any(|k| k.ends_with("_age")) {
            return Ok(Ranges::default());
        }
        let wall = crate::broker::message::unix_millis_now();
        let now = sampler.clock.newest_ms().map_or(wall, |t| t.max(wall));
        Ranges::parse_at(params, now)
    }

    /// True when no samples are asked for.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_none() && self.msg_rates.is_none() && self.data_rates.is_none()
    }
}

/// How one `*_details` key is read from a history's values.
pub type Pick<const N: usize> = (&'static str, fn(&[u64; N]) -> u64);

/// Replaces `key_details` in `out` for each of `keys` with samples over `range` from
/// `history` (`current` when it keeps nothing).
pub fn put_sampled<const N: usize>(
    out: &mut Map<String, Value>,
    sampler: &Sampler,
    history: &History<N>,
    current: [u64; N],
    range: &Range,
    keys: &[Pick<N>],
) {
    let times = range.times();
    let values = history.values_at(&sampler.clock.ticks(), current, &times);
    for (key, pick) in keys {
        let samples: Vec<u64> = values.iter().map(pick).collect();
        out.insert(format!("{key}_details"), details(&samples, &times, range));
    }
}

/// One `*_details` object from samples (newest first) at `times`.
pub fn details(samples: &[u64], times: &[u64], range: &Range) -> Value {
    let incr_s = range.incr_ms as f64 / 1000.0;
    let newest = samples.first().copied().unwrap_or(0) as f64;
    let rate = match samples.get(1) {
        Some(&next) => (newest - next as f64) / incr_s,
        None => 0.0,
    };
    let oldest = samples.last().copied().unwrap_or(0) as f64;
    let span = (samples.len().saturating_sub(1)) as f64 * incr_s;
    let avg_rate = if span > 0.0 {
        (newest - oldest) / span
    } else {
        0.0
    };
    let avg = if samples.is_empty() {
        0.0
    } else {
        samples.iter().map(|&s| s as f64).sum::<f64>() / samples.len() as f64
    };
    let list: Vec<Value> = samples
        .iter()
        .zip(times)
        .map(|(s, t)| json!({"sample": s, "timestamp": t}))
        .collect();
    json!({"avg": avg, "avg_rate": avg_rate, "rate": rate, "samples": list})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges_round_up_to_the_increment_and_count_age_over_incr_plus_one() {
        let r = Ranges::parse_at(
            &params(&[("lengths_age", "60"), ("lengths_incr", "7")]),
            1_000_001,
        )
        .unwrap();
        let l = r.lengths.unwrap();
        assert_eq!((l.last_ms, l.incr_ms, l.count), (1_001_000, 7000, 9));
        assert_eq!(l.times()[1], 994_000);
        assert!(r.msg_rates.is_none() && r.data_rates.is_none());
    }

    #[test]
    fn non_numbers_and_lone_ages_ask_for_nothing() {
        for p in [
            vec![("msg_rates_age", "abc"), ("msg_rates_incr", "5")],
            vec![("msg_rates_age", "60")],
            vec![("msg_rates_age", "1.5"), ("msg_rates_incr", "5")],
        ] {
            assert!(Ranges::parse_at(&params(&p), 5).unwrap().is_empty());
        }
    }

    #[test]
    fn bad_ranges_are_refused_as_rabbitmq_refuses_them() {
        for (age, incr) in [
            ("60", "0"),
            ("0", "5"),
            ("-60", "5"),
            ("2505", "5"),
            ("501", "1"),
        ] {
            let err = Ranges::parse_at(
                &params(&[("data_rates_age", age), ("data_rates_incr", incr)]),
                5,
            )
            .unwrap_err();
            let reason = format!("Invalid range parameters: age {age}, incr {incr}");
            assert!(matches!(err, ApiError::BadRequest(ref r) if *r == reason));
        }
        assert!(
            Ranges::parse_at(
                &params(&[("data_rates_age", "2500"), ("data_rates_incr", "5")]),
                5
            )
            .is_ok()
        );
    }

    #[test]
    fn details_give_rate_avg_rate_and_avg_from_the_samples() {
        let range = Range {
            last_ms: 30_000,
            incr_ms: 5000,
            count: 4,
        };
        let d = details(&[50, 34, 18, 2], &range.times(), &range);
        assert_eq!(d["rate"], 16.0 / 5.0);
        assert_eq!(d["avg_rate"], 48.0 / 15.0);
        assert_eq!(d["avg"], 26.0);
        assert_eq!(d["samples"][0], json!({"sample": 50, "timestamp": 30_000}));
        assert_eq!(d["samples"][3], json!({"sample": 2, "timestamp": 15_000}));
    }
}
