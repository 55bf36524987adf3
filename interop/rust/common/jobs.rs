//! Scenario B (`background-jobs`), client-independent: the job count and payloads, the
//! digest a worker computes, and the tally of collected results with its checks.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Workers in the pool.
pub const WORKERS: usize = 4;
/// Jobs worker 0 completes before it stalls (and is killed).
pub const STALL_AFTER: usize = 300;
/// Unconfirmed publishes the producer allows.
pub const WINDOW: usize = 500;

/// How many jobs to publish: `INTEROP_JOBS`, 10000 by default.
pub fn count() -> u64 {
    crate::env_or("INTEROP_JOBS", 10_000)
}

/// The payload of job `i`.
pub fn payload(i: u64) -> String {
    format!("job-{i}-{}", "x".repeat((i % 100) as usize))
}

/// What a worker computes from a job's payload.
pub fn digest(payload: &[u8]) -> String {
    crate::fnv1a_hex(payload)
}

/// The first result collected for a job.
#[derive(Debug)]
pub struct JobResult {
    /// The worker that did it.
    pub worker: usize,
    /// The job's delivery was flagged redelivered.
    pub redelivered: bool,
}

/// The results collected so far.
#[derive(Debug)]
pub struct Tally {
    count: u64,
    /// The first result of each job.
    pub results: HashMap<u64, JobResult>,
    /// Results (repeats included) per worker.
    pub by_worker: [usize; WORKERS],
    /// Results for a job that already had one (each from a redelivered job).
    pub repeats: usize,
}

impl Tally {
    /// An empty tally for `count` jobs.
    pub fn new(count: u64) -> Self {
        Tally {
            count,
            results: HashMap::with_capacity(count as usize),
            by_worker: [0; WORKERS],
            repeats: 0,
        }
    }

    /// Records one result; panics on an unknown job or worker, a wrong digest, or a
    /// repeated result whose job was not redelivered.
    pub fn record(&mut self, job: u64, worker: usize, redelivered: bool, digest: &str) {
        assert!(job < self.count, "result for unknown job {job}");
        assert!(worker < WORKERS, "result from unknown worker {worker}");
        assert_eq!(
            digest,
            self::digest(payload(job).as_bytes()),
            "digest of job {job}"
        );
        self.by_worker[worker] += 1;
        match self.results.entry(job) {
            Entry::Occupied(_) => {
                // Allowed only when the job was redone after a lost ack.
                assert!(redelivered, "job {job} done twice, second not redelivered");
                self.repeats += 1;
            }
            Entry::Vacant(v) => {
                v.insert(JobResult {
                    worker,
                    redelivered,
                });
            }
        }
    }

    /// Every job has a result.
    pub fn complete(&self) -> bool {
        self.results.len() as u64 >= self.count
    }

    /// Checks the collected results once every job has one, given the job worker 0 said it
    /// was stuck on: worker 0 did exactly its `STALL_AFTER` jobs; the stuck job was done by
    /// another worker and came back redelivered; only worker 0's prefetch (at most 10) was
    /// redelivered. Returns (stuck job, worker that redid it, redelivered jobs).
    pub fn check(&self, stalled: Option<u64>) -> (u64, usize, usize) {
        assert_eq!(self.results.len() as u64, self.count, "jobs with a result");
        let stalled = stalled.unwrap_or_else(|| {
            panic!("worker 0 never stalled (it did {} jobs)", self.by_worker[0])
        });
        assert_eq!(
            self.by_worker[0], STALL_AFTER,
            "results from worker 0 (nothing after it stalled)"
        );
        let r = &self.results[&stalled];
        assert_ne!(
            r.worker, 0,
            "the stuck job {stalled} was finished by another worker"
        );
        assert!(
            r.redelivered,
            "the stuck job {stalled} came back redelivered"
        );
        let redelivered = self.results.values().filter(|r| r.redelivered).count();
        assert!(
            (1..=10).contains(&redelivered),
            "redelivered jobs {redelivered}: worker 0's prefetch (at most 10)"
        );
        (stalled, r.worker, redelivered)
    }
}
