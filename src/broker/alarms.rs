//! Resource alarms (RabbitMQ's memory and disk alarms). A housekeeping check compares the
//! process's resident memory with the high watermark and the data directory's free space
//! with the free-disk limit; a failed store commit (disk full, map full, I/O error) also
//! raises the disk alarm until space returns. Every connection watches the alarm: while it
//! is raised, connections that publish get connection.blocked and are not read from;
//! consumers keep being served so queues drain. When it clears, connection.unblocked.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::watch;

/// Which resource ran short (the reason sent in connection.blocked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// Memory above the high watermark.
    Memory,
    /// Free disk below the limit, or the store failed to write.
    Disk,
}

impl Alarm {
    /// The reason text RabbitMQ sends in connection.blocked.
    pub fn reason(self) -> &'static str {
        match self {
            Alarm::Memory => "low on memory",
            Alarm::Disk => "low on disk",
        }
    }
}

/// The alarm state shared by the broker and its connections.
#[derive(Debug)]
pub struct Alarms {
    memory_limit: AtomicU64,
    disk_free_limit: AtomicU64,
    data_dir: PathBuf,
    store_failing: AtomicBool,
    raised: watch::Sender<Option<Alarm>>,
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
    /// Alarms with the given memory watermark (0: 40% of the machine's memory) and free-disk
    /// limit for `data_dir`.
    pub fn new(memory_high_watermark: u64, disk_free_limit: u64, data_dir: PathBuf) -> Alarms {
        let limit = if memory_high_watermark == 0 {
            total_memory() / 5 * 2
        } else {
            memory_high_watermark
        };
        Alarms {
            memory_limit: AtomicU64::new(limit),
            disk_free_limit: AtomicU64::new(disk_free_limit),
            data_dir,
            store_failing: AtomicBool::new(false),
            raised: watch::channel(None).0,
        }
    }

    /// A receiver that sees the alarm go up and down.
    pub fn subscribe(&self) -> watch::Receiver<Option<Alarm>> {
        self.raised.subscribe()
    }

    /// The alarm raised now, if any.
    pub fn current(&self) -> Option<Alarm> {
        *self.raised.borrow()
    }

    /// Resident bytes above which the memory alarm is raised.
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit.load(Ordering::Relaxed)
    }

    /// Free bytes below which the disk alarm is raised.
    pub fn disk_free_limit(&self) -> u64 {
        self.disk_free_limit.load(Ordering::Relaxed)
    }

    /// Free bytes on the data directory's disk (0 when unknown).
    pub fn disk_free(&self) -> u64 {
        fs4::available_space(&self.data_dir).unwrap_or(0)
    }

    /// Changes the memory watermark at run time and re-checks.
    pub fn set_memory_high_watermark(&self, bytes: u64) {
        self.memory_limit.store(bytes, Ordering::Relaxed);
        self.check();
    }

    /// Changes the free-disk limit at run time and re-checks.
    pub fn set_disk_free_limit(&self, bytes: u64) {
        self.disk_free_limit.store(bytes, Ordering::Relaxed);
        self.check();
    }

    /// A store commit failed (or succeeded again after failing).
    pub fn store_failed(&self, failed: bool) {
        if self.store_failing.swap(failed, Ordering::AcqRel) != failed {
            self.check();
        }
    }

    fn disk_is_low(&self) -> bool {
        let limit = self.disk_free_limit.load(Ordering::Relaxed);
        let free = fs4::available_space(&self.data_dir).unwrap_or(u64::MAX);
        if free >= limit.saturating_mul(2) {
            // Space came back (or never went): let a failed store try again.
            self.store_failing.store(false, Ordering::Release);
        }
        free < limit || self.store_failing.load(Ordering::Acquire)
    }

    /// Compares memory and disk with their limits and raises or clears the alarm.
    pub fn check(&self) {
        let limit = self.memory_limit.load(Ordering::Relaxed);
        let alarm = if self.disk_is_low() {
            Some(Alarm::Disk)
        } else if limit > 0 && resident_memory() > limit {
            Some(Alarm::Memory)
        } else {
            None
        };
        self.raised.send_if_modified(|raised| {
            if *raised == alarm {
                return false;
            }
            match alarm {
                Some(a) => tracing::warn!(
                    reason = a.reason(),
                    "resource alarm raised: blocking publishers"
                ),
                None => tracing::info!("resource alarm cleared"),
            }
            *raised = alarm;
            true
        });
    }
}
