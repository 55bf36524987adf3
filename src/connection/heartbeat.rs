//! When the server sends its next heartbeat: every half interval, as RabbitMQ does, on a
//! fixed schedule rather than counted from when the previous one happened to go out. A
//! late housekeeping tick must not push the next heartbeat a whole interval away: some
//! clients (@cloudamqp/amqp-client) give up after one silent interval.

use tokio::time::{Duration, Instant};

/// The heartbeat schedule of one connection.
#[derive(Debug)]
pub(super) struct HeartbeatSchedule {
    every: Duration,
    slack: Duration,
    next: Instant,
}

impl HeartbeatSchedule {
    /// Heartbeats every `every` from `start`; a check up to `slack` early still counts
    /// (ticks arrive with some jitter around the due times).
    pub(super) fn new(start: Instant, every: Duration, slack: Duration) -> Self {
        HeartbeatSchedule {
            every,
            slack,
            next: start + every,
        }
    }

    /// Whether a heartbeat is due at `now`; when it is, the schedule moves on by one
    /// period (or restarts from `now` if it fell more than a period behind).
    pub(super) fn due(&mut self, now: Instant) -> bool {
        if now + self.slack < self.next {
            return false;
        }
        self.next += self.every;
        if self.next <= now {
            self.next = now + self.every;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_late_tick_does_not_skip_the_next_heartbeat() {
        let t0 = Instant::now();
        let mut s = HeartbeatSchedule::new(t0, 500 * MS, 250 * MS);
        assert!(s.due(t0 + 504 * MS));
        // This tick runs late; the next one runs early relative to it.
        assert!(s.due(t0 + 1011 * MS));
        assert!(s.due(t0 + 1499 * MS));
        assert!(s.due(t0 + 2001 * MS));
    }

    #[test]
    fn checks_between_due_times_send_nothing() {
        let t0 = Instant::now();
        let mut s = HeartbeatSchedule::new(t0, 30_000 * MS, 500 * MS);
        for second in 1..=29 {
            assert!(!s.due(t0 + second * 1000 * MS), "at {second} s");
        }
        assert!(s.due(t0 + 30_000 * MS));
        assert!(!s.due(t0 + 31_000 * MS));
    }

    #[test]
    fn a_schedule_that_fell_far_behind_restarts_from_now() {
        let t0 = Instant::now();
        let mut s = HeartbeatSchedule::new(t0, 500 * MS, 250 * MS);
        assert!(s.due(t0 + 5000 * MS));
        assert!(!s.due(t0 + 5100 * MS));
        assert!(s.due(t0 + 5500 * MS));
    }
}
