//! `Queue`: the shared handle of one queue — its declaration, and its `QueueState` behind a
//! short-held mutex.
//!
//! Delivery is done inline by whoever changes what can be delivered: a publisher after
//! enqueueing, a channel after acking (credit returned) or consuming, a requeue. Each takes
//! the lock, pops messages for consumers with credit in round-robin order and pushes each
//! `Delivery` into the consumer connection's inbox (an unbounded channel; the prefetch
//! window bounds it for acking consumers). No lock is held across an `.await`.

pub mod args;
pub mod dead_letter;
pub mod expiration;
pub mod state;

use crate::broker::consumer::{ConnectionEvent, Consumer, Delivery};
use crate::broker::message::{Message, QueuedMessage};
use crate::error::{AmqpError, AmqpResult};
use crate::protocol::{FieldTable, ReplyCode, ShortStr};
use parking_lot::Mutex;
use state::QueueState;
use std::sync::Arc;

/// How a queue was declared.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDeclaration {
    /// Queue name.
    pub name: ShortStr,
    /// Survives a restart.
    pub durable: bool,
    /// Owning connection id for exclusive queues.
    pub exclusive_owner: Option<u64>,
    /// Deleted when its last consumer goes.
    pub auto_delete: bool,
    /// x-arguments.
    pub arguments: FieldTable,
}

#[derive(Debug, Default)]
struct Inner {
    state: QueueState<Consumer>,
    deleted: bool,
    had_consumers: bool,
}

/// A queue shared by the vhost registry, the channels that publish to it and consume from it.
#[derive(Debug)]
pub struct Queue {
    /// Declaration (immutable).
    pub decl: QueueDeclaration,
    /// Name of the vhost, for reply texts.
    pub vhost: Arc<str>,
    inner: Mutex<Inner>,
}

/// Result of removing a consumer.
#[derive(Debug)]
pub struct ConsumerRemoval {
    /// The removed consumers.
    pub removed: Vec<Consumer>,
    /// True when this was an auto-delete queue and its last consumer just left.
    pub now_unused: bool,
}

impl Queue {
    /// A new, empty queue.
    pub fn new(decl: QueueDeclaration, vhost: Arc<str>) -> Arc<Queue> {
        Arc::new(Queue {
            decl,
            vhost,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &ShortStr {
        &self.decl.name
    }

    /// `queue 'name' in vhost 'v'`, as RabbitMQ names resources in reply texts.
    pub fn describe(&self) -> String {
        format!("queue '{}' in vhost '{}'", self.decl.name, self.vhost)
    }

    /// 405 unless the queue is not exclusive or belongs to `connection_id`.
    pub fn check_access(&self, connection_id: u64) -> AmqpResult<()> {
        match self.decl.exclusive_owner {
            Some(owner) if owner != connection_id => Err(AmqpError::new(
                ReplyCode::ResourceLocked,
                format!(
                    "cannot obtain exclusive access to locked {}. It could be originally \
                     declared on another connection or the exclusive property value does not \
                     match that of the original declaration.",
                    self.describe()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Enqueues a message and delivers what can be delivered. False if the queue is gone.
    pub fn publish(self: &Arc<Self>, message: Arc<Message>) -> bool {
        let mut inner = self.inner.lock();
        if inner.deleted {
            return false;
        }
        inner.state.push(message);
        self.dispatch_locked(&mut inner);
        true
    }

    /// Delivers whatever the consumers' credit allows.
    pub fn dispatch(self: &Arc<Self>) {
        let mut inner = self.inner.lock();
        self.dispatch_locked(&mut inner);
    }

    fn dispatch_locked(self: &Arc<Self>, inner: &mut Inner) {
        while !inner.state.is_empty() {
            let Some(idx) = inner.state.next_consumer_index(|c| c.try_take_credit()) else {
                return;
            };
            let Some(qm) = inner.state.pop() else { return };
            let Some(consumer) = inner.state.consumers().get(idx) else {
                return;
            };
            let no_ack = consumer.no_ack;
            let event = ConnectionEvent::Deliver(Delivery {
                channel: consumer.channel,
                consumer_tag: consumer.tag.clone(),
                queue: Arc::clone(self),
                message: qm,
                no_ack,
            });
            match consumer.inbox.send(event) {
                Ok(()) => {
                    if !no_ack {
                        inner.state.record_unacked();
                    }
                }
                Err(err) => {
                    // The connection is gone: put the message back untouched and drop the
                    // consumer; its connection's cleanup will find nothing left to do.
                    consumer.release_credit();
                    let (conn, ch, tag) = (
                        consumer.connection_id,
                        consumer.channel,
                        consumer.tag.clone(),
                    );
                    if let ConnectionEvent::Deliver(d) = err.0 {
                        inner.state.unpop(d.message);
                    }
                    inner.state.remove_consumer(|c| c.is(conn, ch, &tag));
                }
            }
        }
    }

    /// basic.get: takes the next message and the count left behind.
    pub fn get(&self, no_ack: bool) -> Option<(QueuedMessage, u32)> {
        let mut inner = self.inner.lock();
        let qm = inner.state.pop()?;
        if !no_ack {
            inner.state.record_unacked();
        }
        let left = u32::try_from(inner.state.message_count()).unwrap_or(u32::MAX);
        Some((qm, left))
    }

    /// Returns delivered messages to their places (marked redelivered) and redelivers.
    pub fn requeue(self: &Arc<Self>, messages: impl IntoIterator<Item = QueuedMessage>) {
        let mut inner = self.inner.lock();
        let mut n = 0;
        for qm in messages {
            n += 1;
            if !inner.deleted {
                inner.state.requeue(qm);
            }
        }
        inner.state.settle(n);
        self.dispatch_locked(&mut inner);
    }

    /// Takes back a message that was handed to a consumer that had gone by the time it
    /// arrived: it returns to its place unchanged (not marked redelivered).
    pub fn return_undelivered(self: &Arc<Self>, qm: QueuedMessage, counted_unacked: bool) {
        let mut inner = self.inner.lock();
        if counted_unacked {
            inner.state.settle(1);
        }
        if !inner.deleted {
            inner.state.unpop(qm);
        }
        self.dispatch_locked(&mut inner);
    }

    /// Records `n` acks (or discards) of earlier deliveries.
    pub fn settle(&self, n: usize) {
        self.inner.lock().state.settle(n);
    }

    /// Adds a consumer (checking exclusivity) and starts delivering to it.
    pub fn add_consumer(self: &Arc<Self>, consumer: Consumer) -> AmqpResult<()> {
        let mut inner = self.inner.lock();
        if inner.deleted {
            return Err(AmqpError::not_found(
                "queue",
                &self.decl.name.to_string_lossy(),
                &self.vhost,
            ));
        }
        let has_exclusive = inner.state.consumers().iter().any(|c| c.exclusive);
        if has_exclusive || (consumer.exclusive && inner.state.consumer_count() > 0) {
            return Err(AmqpError::access_refused(format!(
                "{} in exclusive use",
                self.describe()
            )));
        }
        inner.state.add_consumer(consumer);
        inner.had_consumers = true;
        self.dispatch_locked(&mut inner);
        Ok(())
    }

    /// Removes the consumers of `connection_id`/`channel` matching `tag` (all of them if `tag`
    /// is `None`).
    pub fn remove_consumers(
        &self,
        connection_id: u64,
        channel: u16,
        tag: Option<&ShortStr>,
    ) -> ConsumerRemoval {
        let mut inner = self.inner.lock();
        let removed = inner.state.remove_consumers_where(|c| {
            c.connection_id == connection_id
                && c.channel == channel
                && tag.is_none_or(|t| c.tag == *t)
        });
        let now_unused = self.decl.auto_delete
            && inner.had_consumers
            && inner.state.consumer_count() == 0
            && !removed.is_empty();
        ConsumerRemoval {
            removed,
            now_unused,
        }
    }

    /// (ready messages, consumers), for declare-ok.
    pub fn counts(&self) -> (u32, u32) {
        let inner = self.inner.lock();
        (
            u32::try_from(inner.state.message_count()).unwrap_or(u32::MAX),
            u32::try_from(inner.state.consumer_count()).unwrap_or(u32::MAX),
        )
    }

    /// Drops all ready messages; returns how many.
    pub fn purge(&self) -> u32 {
        u32::try_from(self.inner.lock().state.purge()).unwrap_or(u32::MAX)
    }

    /// Marks the queue deleted, drops its messages and returns (message count, consumers) so
    /// the caller can notify them.
    pub fn delete(&self) -> (u32, Vec<Consumer>) {
        let mut inner = self.inner.lock();
        inner.deleted = true;
        let n = u32::try_from(inner.state.purge()).unwrap_or(u32::MAX);
        (n, inner.state.take_consumers())
    }

    /// True once deleted.
    pub fn is_deleted(&self) -> bool {
        self.inner.lock().deleted
    }
}
