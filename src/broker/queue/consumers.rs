//! Consumers joining and leaving a queue: exclusivity checks, single-active-consumer
//! hand-over, auto-delete when the last one goes.

use super::{ConsumerRemoval, DeadLetters, Inner, Queue};
use crate::broker::consumer::Consumer;
use crate::broker::message::QueuedMessage;
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

    /// basic.cancel: removes the consumer `tag` of `connection_id`/`channel`. With single
    /// active consumer the next one in line becomes active; it is served at once only if
    /// `holds_nothing`: as in RabbitMQ, a cancelled consumer keeps its unacknowledged
    /// messages, and the next one waits until they come back (or are settled) so that it
    /// receives them first, in their places.
    pub fn remove_consumer(
        self: &Arc<Self>,
        connection_id: u64,
        channel: u16,
        tag: &ShortStr,
        holds_nothing: bool,
    ) -> ConsumerRemoval {
        let mut dead = DeadLetters::new();
        let removal = {
            let mut inner = self.inner.lock();
            let removal = self.take_consumers_of(&mut inner, connection_id, channel, Some(tag));
            if self.args.single_active_consumer && !removal.removed.is_empty() && holds_nothing {
                self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
            }
            self.refresh_gauges(&inner);
            removal
        };
        self.dead_letter(dead);
        removal
    }

    /// A channel goes (closed, its connection lost, or closed by an error): in one step,
    /// its consumers leave and the messages it held go back to their places — `delivered`
    /// ones marked redelivered, `in_flight` ones (sent to its connection, never handed to
    /// the client) unchanged, the flag saying whether they counted as unacked. Only then
    /// is anything handed out, so the next consumer receives them first, in queue order.
    pub fn release_channel(
        self: &Arc<Self>,
        connection_id: u64,
        channel: u16,
        delivered: Vec<QueuedMessage>,
        in_flight: Vec<(QueuedMessage, bool)>,
    ) -> ConsumerRemoval {
        let mut dead = DeadLetters::new();
        let removal = {
            let mut inner = self.inner.lock();
            let removal = self.take_consumers_of(&mut inner, connection_id, channel, None);
            let has_expiry = self.put_back(&mut inner, delivered, in_flight, &mut dead);
            self.redeliver_locked(&mut inner, has_expiry, &mut dead);
            removal
        };
        self.dead_letter(dead);
        removal
    }

    /// Removes the consumers of `connection_id`/`channel` matching `tag` (all of them if
    /// `tag` is `None`), without delivering.
    fn take_consumers_of(
        &self,
        inner: &mut Inner,
        connection_id: u64,
        channel: u16,
        tag: Option<&ShortStr>,
    ) -> ConsumerRemoval {
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
        ConsumerRemoval {
            removed,
            now_unused,
        }
    }
}
