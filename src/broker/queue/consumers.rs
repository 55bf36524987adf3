//! Consumers joining and leaving a queue: exclusivity checks, single-active-consumer
//! hand-over, auto-delete when the last one goes.

use super::{ConsumerRemoval, DeadLetters, Queue};
use crate::broker::consumer::Consumer;
use crate::error::{AmqpError, AmqpResult};
use crate::protocol::ShortStr;
use std::sync::Arc;
use tokio::time::Instant;

impl Queue {
    /// Adds a consumer (checking exclusivity) and starts delivering to it.
    pub fn add_consumer(self: &Arc<Self>, consumer: Consumer) -> AmqpResult<()> {
        let mut dead = DeadLetters::new();
        {
            let mut inner = self.inner.lock();
            if inner.deleted {
                return Err(AmqpError::not_found(
                    "queue",
                    &self.decl.name.to_string_lossy(),
                    &self.vhost_name,
                ));
            }
            let has_exclusive = inner.state.consumers().iter().any(|c| c.exclusive);
            // RabbitMQ never lets a single-active-consumer queue have an exclusive consumer.
            let exclusive_refused = consumer.exclusive
                && (inner.state.consumer_count() > 0 || self.args.single_active_consumer);
            if has_exclusive || exclusive_refused {
                return Err(AmqpError::access_refused(format!(
                    "{} in exclusive use",
                    self.describe()
                )));
            }
            inner.state.add_consumer(consumer);
            inner.had_consumers = true;
            inner.last_used = Instant::now();
            self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
        }
        self.dead_letter(dead);
        Ok(())
    }

    /// Removes the consumers of `connection_id`/`channel` matching `tag` (all of them if `tag`
    /// is `None`).
    pub fn remove_consumers(
        self: &Arc<Self>,
        connection_id: u64,
        channel: u16,
        tag: Option<&ShortStr>,
    ) -> ConsumerRemoval {
        let mut dead = DeadLetters::new();
        let removal = {
            let mut inner = self.inner.lock();
            let removed = inner.state.remove_consumers_where(|c| {
                c.connection_id == connection_id
                    && c.channel == channel
                    && tag.is_none_or(|t| c.tag == *t)
            });
            inner.last_used = Instant::now();
            let now_unused = self.decl.auto_delete
                && inner.had_consumers
                && inner.state.consumer_count() == 0
                && !removed.is_empty();
            if self.args.single_active_consumer && !removed.is_empty() {
                // The next consumer in line becomes active.
                self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
            }
            self.refresh_gauges(&inner);
            ConsumerRemoval {
                removed,
                now_unused,
            }
        };
        self.dead_letter(dead);
        removal
    }
}
