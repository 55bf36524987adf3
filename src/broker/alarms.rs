//! Resource alarms (RabbitMQ's memory and disk alarms): a housekeeping check compares the
//! process's resident memory with the high watermark, and raises or clears an alarm that
//! every connection watches. While it is raised, connections that publish are sent
//! connection.blocked and are not read from; consumers keep being served so queues drain.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// The alarm state shared by the broker and its connections.
#[derive(Debug)]
pub struct Alarms {
    memory_limit: AtomicU64,
    raised: watch::Sender<bool>,
}

/// Resident memory of this process, in bytes (from /proc; 0 where unavailable).
pub fn resident_memory() -> u64 {
    read_kib_field("/proc/self/status", "VmRSS:").unwrap_or(0) * 1024
}

/// Physical memory of the machine, in bytes (0 where unavailable).
pub fn total_memory() -> u64 {
    read_kib_field("/proc/meminfo", "MemTotal:").unwrap_or(0) * 1024
}

fn read_kib_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Alarms {
    /// Alarms with the given memory watermark (0: 40% of the machine's memory).
    pub fn new(memory_high_watermark: u64) -> Alarms {
        let limit = if memory_high_watermark == 0 {
            total_memory() / 5 * 2
        } else {
            memory_high_watermark
        };
        Alarms {
            memory_limit: AtomicU64::new(limit),
            raised: watch::channel(false).0,
        }
    }

    /// A receiver that sees the alarm go up and down.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.raised.subscribe()
    }

    /// Changes the watermark at run time and re-checks.
    pub fn set_memory_high_watermark(&self, bytes: u64) {
        self.memory_limit.store(bytes, Ordering::Relaxed);
        self.check();
    }

    /// Compares memory use with the watermark and raises or clears the alarm.
    pub fn check(&self) {
        let limit = self.memory_limit.load(Ordering::Relaxed);
        let over = limit > 0 && resident_memory() > limit;
        self.raised.send_if_modified(|raised| {
            if *raised != over {
                if over {
                    tracing::warn!(limit, "memory alarm raised: blocking publishers");
                } else {
                    tracing::info!("memory alarm cleared");
                }
                *raised = over;
                true
            } else {
                false
            }
        });
    }
}
