//! Handing messages out: delivery to consumers with credit (inline, by whoever changed what
//! can be delivered), expiry at the head along the way, and basic.get.

use super::dead_letter::DeathReason;
use super::{DeadLetters, Inner, Queue, delivery_cost, timers};
use crate::broker::consumer::{ConnectionEvent, Delivery};
use crate::broker::message::QueuedMessage;
use std::sync::Arc;
use tokio::time::Instant;

impl Queue {
    /// Delivers whatever the consumers' credit allows.
    pub fn dispatch(self: &Arc<Self>) {
        let mut dead = DeadLetters::new();
        {
            let mut inner = self.inner.lock();
            self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
        }
        self.dead_letter(dead);
    }

    pub(super) fn dispatch_locked(
        self: &Arc<Self>,
        inner: &mut Inner,
        now: Instant,
        dead: &mut DeadLetters,
    ) {
        self.dispatch_loop(inner, now, dead);
        self.account(inner);
    }

    fn dispatch_loop(self: &Arc<Self>, inner: &mut Inner, now: Instant, dead: &mut DeadLetters) {
        loop {
            self.refill(inner, false);
            while let Some(qm) = inner.state.pop_expired(now) {
                dead.push((qm, DeathReason::Expired));
            }
            if inner.state.is_empty() {
                return;
            }
            let idx = if self.args.single_active_consumer {
                // Only the first consumer (the active one) receives; the others wait.
                match inner.state.consumers().first() {
                    Some(c) if c.has_credit() => 0,
                    Some(c) => {
                        if !c.flow.has_room() {
                            c.flow.wait(self);
                        }
                        return;
                    }
                    None => return,
                }
            } else {
                let Some(idx) = inner
                    .state
                    .next_consumer_index(|c| c.has_credit(), |c| c.priority)
                else {
                    // Consumers whose connection is backed up get a wake-up when it drains.
                    for c in inner.state.consumers() {
                        if !c.flow.has_room() {
                            c.flow.wait(self);
                        }
                    }
                    return;
                };
                idx
            };
            if !inner
                .state
                .consumers()
                .get(idx)
                .is_some_and(|c| c.try_take_credit())
            {
                // Another queue took the channel's last credit meanwhile.
                return;
            }
            let Some(qm) = inner.state.pop() else { return };
            let Some(consumer) = inner.state.consumers().get(idx) else {
                return;
            };
            let no_ack = consumer.no_ack;
            consumer.flow.sent(delivery_cost(&qm));
            let (bytes, persistent) = (qm.message.body_size, qm.message.persistent);
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
                        inner.state.record_unacked(bytes, persistent);
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

    /// Expires what has expired at the head, delivers, and re-arms the expiry timer.
    pub(super) fn expire_now(self: &Arc<Self>) -> Option<Instant> {
        let mut dead = DeadLetters::new();
        let next = {
            let mut inner = self.inner.lock();
            self.dispatch_locked(&mut inner, Instant::now(), &mut dead);
            let next = if inner.deleted {
                None
            } else {
                inner.state.head_expiry()
            };
            if next.is_none() {
                inner.expiry_timer_running = false;
            }
            next
        };
        self.dead_letter(dead);
        next
    }

    pub(super) fn arm_expiry(self: &Arc<Self>, inner: &mut Inner) {
        if inner.expiry_timer_running {
            self.wake_expiry.notify_one();
        } else if inner.state.head_expiry().is_some() {
            inner.expiry_timer_running = true;
            timers::spawn_message_expiry(self);
        }
    }

    /// basic.get: takes the next message and the count left behind.
    pub fn get(self: &Arc<Self>, no_ack: bool) -> Option<(QueuedMessage, u32)> {
        let mut dead = DeadLetters::new();
        let got = {
            let mut inner = self.inner.lock();
            let now = Instant::now();
            inner.last_used = now;
            self.refill(&mut inner, true);
            while let Some(qm) = inner.state.pop_expired(now) {
                dead.push((qm, DeathReason::Expired));
            }
            let got = inner.state.pop().map(|qm| {
                if !no_ack {
                    inner
                        .state
                        .record_unacked(qm.message.body_size, qm.message.persistent);
                }
                // As in RabbitMQ, what expired behind the taken message goes now that it is
                // at the head, so the count left behind does not include it.
                while let Some(qm) = inner.state.pop_expired(now) {
                    dead.push((qm, DeathReason::Expired));
                }
                let left = inner.state.message_count() as u64 + inner.paged.count;
                (qm, u32::try_from(left).unwrap_or(u32::MAX))
            });
            self.account(&mut inner);
            got
        };
        self.dead_letter(dead);
        got
    }
}
