//! The two timer tasks a queue may run: message expiry (sleep until the head's expiry, or
//! until woken because the head changed) and x-expires (delete the queue once unused for
//! the configured time). Both hold only a `Weak` while sleeping and end with the queue.

use super::Queue;
use std::sync::{Arc, Weak};
use tokio::time::{Duration, Instant};

/// Starts the expiry task (the caller has set `expiry_timer_running`).
pub(super) fn spawn_message_expiry(queue: &Arc<Queue>) {
    let weak = Arc::downgrade(queue);
    tokio::spawn(async move {
        let mut next = {
            let Some(q) = weak.upgrade() else { return };
            q.inner.lock().state.head_expiry()
        };
        while let Some(at) = next {
            // Holding the queue while asleep is fine: deleting it wakes this task.
            let Some(q) = weak.upgrade() else { return };
            let woken = tokio::select! {
                _ = tokio::time::sleep_until(at) => false,
                _ = q.wake_expiry.notified() => true,
            };
            next = if woken && Instant::now() < at {
                let mut inner = q.inner.lock();
                let head = if inner.deleted {
                    None
                } else {
                    inner.state.head_expiry()
                };
                if head.is_none() {
                    inner.expiry_timer_running = false;
                }
                head
            } else {
                q.expire_now()
            };
        }
    });
}

/// Starts the x-expires task (the caller has set `unused_timer_running`): deletes the
/// queue once it has had no consumers and no use for its current expiry. A policy change
/// wakes it to re-read the expiry; without one the task ends.
pub(super) fn spawn_unused_expiry(queue: &Arc<Queue>) {
    let weak: Weak<Queue> = Arc::downgrade(queue);
    tokio::spawn(async move {
        loop {
            let Some(q) = weak.upgrade() else { return };
            let deadline = {
                let mut inner = q.inner.lock();
                match inner.limits.expires {
                    Some(ms) if !inner.deleted => inner.last_used + Duration::from_millis(ms),
                    _ => {
                        inner.unused_timer_running = false;
                        return;
                    }
                }
            };
            // Holding the queue while asleep is fine: deleting it wakes this task.
            let woken = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => false,
                _ = q.wake_unused.notified() => true,
            };
            if woken {
                continue;
            }
            let expired = {
                let inner = q.inner.lock();
                !inner.deleted
                    && inner.state.consumer_count() == 0
                    && inner.limits.expires.is_some_and(|ms| {
                        inner.last_used + Duration::from_millis(ms) <= Instant::now()
                    })
            };
            if expired {
                if let Some(vhost) = q.vhost.upgrade() {
                    vhost.remove_queue(&q);
                }
                return;
            }
        }
    });
}
