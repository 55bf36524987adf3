//! One AMQP channel, driven by its connection task (no locks of its own).
//!
//! Owns: the content assembler, the delivery-tag ledger, the channel's consumers and their
//! prefetch windows, confirm and transaction state. Talks to: the vhost (topology, routing),
//! queues (enqueue, consume, ack, requeue) and, through `ChannelContext::sink`, the client.
//! Queues send deliveries to the connection's inbox; the connection hands each to
//! [`Channel::deliver`], which assigns the delivery tag.

pub mod assembler;
pub mod confirms;
mod methods;
mod release;
pub mod unacked;

use crate::broker::Broker;
use crate::broker::consumer::{ConnectionEvent, Credit, Delivery};
use crate::broker::queue::Queue;
use crate::broker::vhost::{RouteScratch, VHost};
use crate::connection::writer::FrameSink;
use crate::error::AmqpError;
use crate::protocol::{BasicDeliver, ContentHeader, Method, ShortStr};
use assembler::{Assembled, Assembler};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use unacked::{Unacked, UnackedEntry};

/// What a channel needs from its connection while handling one frame.
#[derive(Debug)]
pub struct ChannelContext<'a> {
    /// The broker.
    pub broker: &'a Broker,
    /// The connection's vhost.
    pub vhost: &'a Arc<VHost>,
    /// The connection's id (exclusive queues, consumer ownership).
    pub connection_id: u64,
    /// Authenticated user name (checked against the user-id property).
    pub user: &'a str,
    /// The connection's inbox, handed to queues for deliveries.
    pub inbox: &'a UnboundedSender<ConnectionEvent>,
    /// Where outgoing frames go.
    pub sink: &'a mut FrameSink,
    /// Negotiated frame_max.
    pub frame_max: u32,
    /// The client understands server-sent basic.cancel.
    pub consumer_cancel_notify: bool,
    /// This connection's bytes not yet committed by the store.
    pub store_backlog: &'a Arc<crate::broker::consumer::StoreBacklog>,
    /// This connection's delivery bytes on their way to the socket.
    pub flow: &'a Arc<crate::broker::consumer::OutboundFlow>,
}

/// A consumer as its channel knows it.
#[derive(Debug)]
struct ChannelConsumer {
    queue: Arc<Queue>,
    credit: Arc<Credit>,
    no_ack: bool,
}

/// A publish or an ack held back by a transaction until tx.commit.
#[derive(Debug)]
enum TxAction {
    Publish(assembler::PendingContent),
    Settle {
        entries: Vec<(u64, UnackedEntry)>,
        requeue: Option<bool>,
    },
}

/// Open, or closing after the server sent channel.close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// Normal operation.
    Open,
    /// Server sent channel.close; only close-ok (or close) is processed.
    Closing,
}

/// State of one channel.
#[derive(Debug)]
pub struct Channel {
    /// Channel number.
    pub id: u16,
    /// Open or closing.
    pub state: ChannelState,
    /// Live details and counters, shared with the connection registry.
    pub info: Arc<crate::broker::connections::ChannelInfo>,
    assembler: Assembler,
    unacked: Unacked,
    next_delivery_tag: u64,
    consumers: HashMap<ShortStr, ChannelConsumer>,
    channel_credit: Arc<Credit>,
    consumer_prefetch: u32,
    confirms: Option<confirms::Confirms>,
    tx: Option<Vec<TxAction>>,
    last_queue: Option<ShortStr>,
    scratch: RouteScratch,
    /// The hidden queue behind this channel's direct reply-to consumer.
    reply_queue: Option<ShortStr>,
    /// A publish was handed to the store since the last tx.commit.
    stored_since_commit: bool,
    /// A queue refused a publish (x-overflow reject-publish) since the last tx.commit.
    refused_since_commit: bool,
    /// While a tx.commit runs its publishes: set when one of them fails to be stored
    /// (or replicated), so the commit answers with an error instead of commit-ok.
    tx_store_failed: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Single-active-consumer queues whose consumer on this channel was cancelled while
    /// holding deliveries: they wait for them before serving the next consumer, and are
    /// poked once those are settled.
    awaiting_settle: Vec<Arc<Queue>>,
    /// Permission decisions cached for this channel (valid for one access generation).
    access: crate::access::cache::DecisionCache,
}

impl Channel {
    /// A freshly opened channel.
    pub fn new(id: u16) -> Channel {
        Channel {
            id,
            state: ChannelState::Open,
            info: Arc::new(crate::broker::connections::ChannelInfo::new(id)),
            assembler: Assembler::default(),
            unacked: Unacked::default(),
            next_delivery_tag: 1,
            consumers: HashMap::new(),
            channel_credit: Arc::new(Credit::new(0)),
            consumer_prefetch: 0,
            confirms: None,
            tx: None,
            last_queue: None,
            scratch: RouteScratch::default(),
            reply_queue: None,
            stored_since_commit: false,
            refused_since_commit: false,
            tx_store_failed: None,
            awaiting_settle: Vec::new(),
            access: crate::access::cache::DecisionCache::default(),
        }
    }

    /// Handles a method frame addressed to this channel (other than channel.open/close,
    /// which the connection handles).
    pub fn handle_method(
        &mut self,
        method: Method,
        ctx: &mut ChannelContext<'_>,
    ) -> Result<(), AmqpError> {
        if self.assembler.in_progress() {
            // RabbitMQ names the unfinished basic.publish, not the method that interrupted it.
            return Err(self.assembler.out_of_place().with_method(60, 40));
        }
        let (class_id, method_id) = (method.class_id(), method.method_id());
        let result =
            methods::dispatch(self, method, ctx).map_err(|e| e.with_method(class_id, method_id));
        if (class_id, method_id) == (60, 30) {
            // basic.cancel: drop the consumers the channel no longer has.
            self.forget_consumer_infos();
        }
        self.publish_state();
        result
    }

    /// Keeps the registry's consumer list equal to the channel's consumers.
    fn forget_consumer_infos(&self) {
        self.info.consumers.lock().retain(|c| {
            ShortStr::from_bytes(Bytes::copy_from_slice(c.tag.as_bytes()))
                .is_some_and(|t| self.consumers.contains_key(&t))
        });
    }

    /// Publishes the channel's state for the management API: a few relaxed stores into
    /// its own [`ChannelInfo`](crate::broker::connections::ChannelInfo).
    fn publish_state(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let info = &self.info;
        info.consumer_count.store(
            u32::try_from(self.consumers.len()).unwrap_or(u32::MAX),
            Relaxed,
        );
        info.messages_unacknowledged
            .store(self.unacked.len() as u64, Relaxed);
        info.confirm.store(self.confirms.is_some(), Relaxed);
        info.transactional.store(self.tx.is_some(), Relaxed);
        info.prefetch_count.store(self.consumer_prefetch, Relaxed);
        info.global_prefetch_count
            .store(self.channel_credit.limit(), Relaxed);
        if let Some(c) = &self.confirms {
            info.messages_unconfirmed.store(c.unconfirmed(), Relaxed);
        }
    }

    /// Handles a content header frame.
    pub fn handle_header(
        &mut self,
        header: ContentHeader,
        ctx: &mut ChannelContext<'_>,
    ) -> Result<(), AmqpError> {
        let max = ctx.broker.settings.amqp.max_message_size;
        let in_progress = self.assembler.in_progress();
        match self.assembler.header(header, max) {
            Ok(Assembled::Complete(content)) => self.publish(content, ctx),
            Ok(Assembled::Incomplete) => Ok(()),
            // Errors inside a publish name basic.publish; a stray header names nothing.
            Err(e) if in_progress => Err(e.with_method(60, 40)),
            Err(e) => Err(e),
        }
    }

    /// The 505 RabbitMQ sends when a channel.close arrives in the middle of a message.
    pub fn interrupted_content(&self) -> Option<AmqpError> {
        self.assembler
            .in_progress()
            .then(|| self.assembler.out_of_place().with_method(60, 40))
    }

    /// The connection error for a content header that does not decode, as RabbitMQ reports
    /// it: out of place if no publish awaits a header; a too-short frame as an unknown frame;
    /// a malformed property list as the bare INTERNAL_ERROR of its crashed channel process.
    pub fn header_error(&self, payload: &[u8], e: &crate::protocol::DecodeError) -> AmqpError {
        use crate::protocol::{DecodeError, ReplyCode, erlang_format};
        let awaiting_header = matches!(self.assembler, Assembler::AwaitHeader(_));
        match e {
            _ if !awaiting_header => {
                let err = self.assembler.out_of_place();
                if self.assembler.in_progress() {
                    err.with_method(60, 40)
                } else {
                    err
                }
            }
            DecodeError::ContentHeaderTooShort { .. } => AmqpError::new(
                ReplyCode::FrameError,
                erlang_format::frame_error(
                    crate::protocol::FrameType::Header.as_u8(),
                    payload,
                    erlang_format::Term::Atom("unknown_frame"),
                ),
            ),
            DecodeError::BadProperties { .. } | DecodeError::BadPropertyFlags { .. } => {
                AmqpError::new(ReplyCode::InternalError, "")
            }
            other => AmqpError::new(other.reply_code(), other.to_string()).with_method(60, 40),
        }
    }

    /// Handles a content body frame.
    pub fn handle_body(
        &mut self,
        chunk: Bytes,
        ctx: &mut ChannelContext<'_>,
    ) -> Result<(), AmqpError> {
        let in_progress = self.assembler.in_progress();
        match self.assembler.body(chunk) {
            Ok(Assembled::Complete(content)) => self.publish(content, ctx),
            Ok(Assembled::Incomplete) => Ok(()),
            Err(e) if in_progress => Err(e.with_method(60, 40)),
            Err(e) => Err(e),
        }
    }

    fn publish(
        &mut self,
        content: assembler::PendingContent,
        ctx: &mut ChannelContext<'_>,
    ) -> Result<(), AmqpError> {
        if let Err(e) = methods::authorize_publish(self, &content, ctx) {
            return Err(e.with_method(60, 40));
        }
        let result = if self.tx.is_some() {
            // Check the exchange and a direct reply-to now, as RabbitMQ does; route at commit.
            let mut content = content;
            let checked = methods::publish::check_publish(&content, ctx).and_then(|()| {
                if let Some(rewritten) =
                    methods::basic::rewrite_reply_to(self, &content.raw_properties)?
                {
                    content.raw_properties = rewritten;
                }
                Ok(())
            });
            checked.map(|()| {
                if let Some(tx) = self.tx.as_mut() {
                    tx.push(TxAction::Publish(content));
                }
            })
        } else {
            methods::publish::publish(self, content, ctx)
        };
        result.map_err(|e| e.with_method(60, 40))
    }

    /// Sends a queue's delivery to the client, assigning the delivery tag. Deliveries for a
    /// consumer this channel no longer has go back to their queue untouched.
    pub fn deliver(&mut self, delivery: Delivery, ctx: &mut ChannelContext<'_>) {
        let Delivery {
            consumer_tag,
            queue,
            message,
            no_ack,
            ..
        } = delivery;
        let credit = match (self.state, self.consumers.get(&consumer_tag)) {
            (ChannelState::Open, Some(c)) => Arc::clone(&c.credit),
            (_, found) => {
                if !no_ack {
                    self.channel_credit.release(1);
                    if let Some(c) = found {
                        c.credit.release(1);
                    }
                }
                ctx.flow
                    .taken(crate::broker::queue::delivery_cost(&message));
                // A single-active-consumer queue whose cancelled consumer here still holds
                // deliveries serves nobody until they are back or settled.
                let hand_over = !self.awaiting_settle.iter().any(|q| Arc::ptr_eq(q, &queue));
                queue.return_undelivered(message, !no_ack, hand_over);
                return;
            }
        };
        ctx.flow
            .taken(crate::broker::queue::delivery_cost(&message));
        let tag = self.next_delivery_tag;
        self.next_delivery_tag += 1;
        let entry_tag = (!no_ack).then(|| consumer_tag.clone());
        let deliver = Method::BasicDeliver(BasicDeliver {
            consumer_tag,
            delivery_tag: tag,
            redelivered: message.redelivered,
            exchange: message.message.exchange.clone(),
            routing_key: message.message.routing_key.clone(),
        });
        ctx.sink.method(self.id, &deliver);
        let m = &message.message;
        let properties = crate::broker::queue::delivery_count::properties_for(
            &m.raw_properties,
            queue.args.queue_type,
            message.delivery_count,
            crate::broker::queue::delivery_count::Handout::Deliver,
        );
        ctx.sink
            .content(self.id, &properties, &m.body, m.body_size, ctx.frame_max);
        {
            use crate::metrics::counters::{channel as c, queue as q};
            let (ci, qi) = if no_ack {
                (c::DELIVER_NO_ACK, q::DELIVER_NO_ACK)
            } else {
                (c::DELIVER, q::DELIVER)
            };
            self.info.counters.add(ci, 1);
            queue.stats.counters.add(qi, 1);
            if message.redelivered {
                self.info.counters.add(c::REDELIVER, 1);
                queue.stats.counters.add(q::REDELIVER, 1);
            }
        }
        if no_ack {
            queue.forget_stored(&message);
        } else {
            queue.mark_delivered(&message);
            self.info.messages_unacknowledged.store(
                self.unacked.len() as u64 + 1,
                std::sync::atomic::Ordering::Relaxed,
            );
            self.unacked.insert(
                tag,
                UnackedEntry {
                    queue,
                    message,
                    credit: Some(credit),
                    consumer_tag: entry_tag,
                    delivered_at: tokio::time::Instant::now(),
                },
            );
        }
    }

    /// The server-side consumer cancel (its queue was deleted).
    pub fn consumer_cancelled(&mut self, tag: ShortStr, ctx: &mut ChannelContext<'_>) {
        let removed = self.consumers.remove(&tag).is_some();
        if removed {
            self.forget_consumer_infos();
        }
        if removed && self.state == ChannelState::Open && ctx.consumer_cancel_notify {
            let cancel = Method::BasicCancel(crate::protocol::BasicCancel {
                consumer_tag: tag,
                nowait: true,
            });
            ctx.sink.method(self.id, &cancel);
        }
    }

    /// Sends the publisher-confirm nacks and acks settled since the last call (nacks one by
    /// one, then one multiple-ack).
    pub fn flush_confirms(&mut self, sink: &mut FrameSink) {
        // Nothing may follow our channel.close on this channel.
        if self.state == ChannelState::Closing {
            return;
        }
        let Some(confirms) = self.confirms.as_mut() else {
            return;
        };
        let before = confirms.confirmed_through();
        let output = confirms.take_output();
        let settled = confirms.confirmed_through().saturating_sub(before);
        if settled > 0 {
            self.info
                .counters
                .add(crate::metrics::counters::channel::CONFIRM, settled);
            self.info
                .messages_unconfirmed
                .store(confirms.unconfirmed(), std::sync::atomic::Ordering::Relaxed);
        }
        for frame in output {
            let method = if frame.ack {
                Method::BasicAck(crate::protocol::BasicAck {
                    delivery_tag: frame.tag,
                    multiple: frame.multiple,
                })
            } else {
                Method::BasicNack(crate::protocol::BasicNack {
                    delivery_tag: frame.tag,
                    multiple: frame.multiple,
                    requeue: false,
                })
            };
            sink.method(self.id, &method);
        }
    }

    /// The store committed (or failed) publish `seq` of this confirming channel.
    pub fn persisted(&mut self, seq: u64, ok: bool) {
        if let Some(confirms) = self.confirms.as_mut() {
            confirms.settle(seq, ok);
        }
    }

    /// The store committed everything a tx.commit published: send commit-ok now.
    pub fn tx_committed(&mut self, sink: &mut FrameSink) {
        if self.state == ChannelState::Open {
            sink.method(self.id, &Method::TxCommitOk(crate::protocol::TxCommitOk));
        }
    }

    /// RabbitMQ's consumer timeout: the error that closes this channel when its oldest
    /// consumer delivery has waited for an ack longer than `timeout`.
    pub fn check_consumer_timeout(
        &self,
        now: tokio::time::Instant,
        timeout: std::time::Duration,
    ) -> Option<AmqpError> {
        let oldest = self.unacked.oldest_consumer_delivery()?;
        (now.duration_since(oldest) > timeout).then(|| {
            AmqpError::precondition(format!(
                "delivery acknowledgement on channel {} timed out. Timeout value used: {} ms. \
                 This timeout value can be configured, see consumers doc guide to learn more",
                self.id,
                timeout.as_millis()
            ))
        })
    }

    /// Releases everything the channel holds: consumers are cancelled (auto-delete queues
    /// that lose their last consumer go), unacked deliveries (and those held back by a
    /// transaction) return to their queues marked redelivered, and `in_flight` deliveries
    /// (taken from the connection's inbox, never sent) return unchanged. Each queue gets
    /// all of it in one step, so nothing newer is handed to its next consumer first.
    pub fn release(&mut self, ctx: &ChannelContext<'_>, in_flight: Vec<Delivery>) {
        self.info.consumers.lock().clear();
        let mut returns = release::Returns::default();
        for (_, consumer) in self.consumers.drain() {
            returns.of(&consumer.queue);
        }
        for (_, e) in self.unacked.take_all() {
            if let Some(credit) = &e.credit {
                credit.release(1);
            }
            returns.of(&e.queue).delivered.push(e.message);
        }
        for action in self.tx.take().unwrap_or_default() {
            if let TxAction::Settle { entries, .. } = action {
                for (_, e) in entries {
                    returns.of(&e.queue).delivered.push(e.message);
                }
            }
        }
        for d in in_flight {
            ctx.flow
                .taken(crate::broker::queue::delivery_cost(&d.message));
            returns.of(&d.queue).in_flight.push((d.message, !d.no_ack));
        }
        for r in returns.into_inner() {
            let removal =
                r.queue
                    .release_channel(ctx.connection_id, self.id, r.delivered, r.in_flight);
            if removal.now_unused {
                ctx.vhost.remove_queue(&r.queue);
            }
        }
        self.awaiting_settle.clear();
        self.assembler = Assembler::Idle;
    }
}
