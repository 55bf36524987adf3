//! Channels 1 and up on an open connection: opening and closing them (channel_max, the
//! closing state RabbitMQ keeps until close-ok), handing methods and content frames to the
//! channel, and giving back the deliveries a closing channel still had on their way.

use super::Connection;
use crate::broker::consumer::{ConnectionEvent, Delivery};
use crate::channel::{Channel, ChannelContext, ChannelState};
use crate::error::AmqpError;
use crate::protocol::{
    ChannelClose, ChannelCloseOk, ChannelOpenOk, ContentHeader, FrameType, Method, ReplyCode,
    ShortStr,
};

impl Connection {
    pub(super) fn release_channels(&mut self) {
        let Some(vhost) = self.vhost.clone() else {
            return;
        };
        let mut in_flight = self.take_in_flight(None);
        let ctx = channel_ctx!(self, &vhost);
        for ch in self.channels.values_mut() {
            ch.release(&ctx, deliveries_for(&mut in_flight, ch.id));
            ch.state = ChannelState::Closing;
        }
        return_undelivered(&ctx, in_flight);
    }

    /// Takes the deliveries waiting in the inbox for `channel` (every channel if `None`),
    /// handling the other events as usual, so a closing channel gives them back to their
    /// queues together with what it holds.
    pub(super) fn take_in_flight(&mut self, channel: Option<u16>) -> Vec<Delivery> {
        let mut taken = Vec::new();
        while let Ok(event) = self.inbox_rx.try_recv() {
            match event {
                ConnectionEvent::Deliver(d) if channel.is_none_or(|id| id == d.channel) => {
                    taken.push(d);
                }
                other => self.handle_event(other),
            }
        }
        taken
    }

    /// A soft error: release what the channel holds (and its deliveries still in the
    /// inbox), send channel.close, and ignore the channel until the client's close-ok.
    pub(super) fn close_channel(&mut self, id: u16, e: &AmqpError) {
        let Some(vhost) = self.vhost.clone() else {
            return;
        };
        let in_flight = self.take_in_flight(Some(id));
        let mut ctx = channel_ctx!(self, &vhost);
        match self.channels.get_mut(&id) {
            Some(ch) => close_channel(ch, &mut ctx, e, in_flight),
            None => return_undelivered(&ctx, in_flight),
        }
    }

    pub(super) fn handle_channel_method(
        &mut self,
        id: u16,
        method: Method,
    ) -> Result<(), AmqpError> {
        let (class_id, method_id) = (method.class_id(), method.method_id());

        let Some(vhost) = self.vhost.clone() else {
            return Ok(());
        };
        let in_flight = match (&method, self.channels.get(&id)) {
            (Method::ChannelClose(_), Some(ch)) if ch.state == ChannelState::Open => {
                if let Some(err) = ch.interrupted_content() {
                    return Err(err);
                }
                self.take_in_flight(Some(id))
            }
            _ => Vec::new(),
        };
        let Some(ch) = self.channels.get_mut(&id) else {
            if self.closed_in_this_read.contains(&id) {
                // Sent right behind its channel.close: RabbitMQ still counts the channel as
                // closing, drops methods for it and refuses to reopen it.
                if let Method::ChannelOpen(_) = method {
                    return Err(AmqpError::new(
                        ReplyCode::ChannelError,
                        "second 'channel.open' seen",
                    )
                    .with_method(class_id, method_id));
                }
                return Ok(());
            }
            if let Method::ChannelOpen(_) = method {
                // RabbitMQ enforces channel_max as a count of open channels.
                let max = usize::from(self.tuning.channel_max);
                if self.channels.len() >= max {
                    return Err(AmqpError::new(
                        ReplyCode::NotAllowed,
                        format!(
                            "number of channels opened ({}) has reached the negotiated \
                             channel_max ({max})",
                            self.channels.len()
                        ),
                    ));
                }
                // The spec makes 1..=channel_max the usable numbers, but RabbitMQ 3.10 limits
                // only how many are open at once and opens any number (aiormq's own tests open
                // channel 65535 with 2047 negotiated): so does Warren.
                if let Some(session) = self.session.as_mut() {
                    // The user's max-channels, over all its connections.
                    session.open_channel(&self.broker.access)?;
                }
                let ch = Channel::new(id);
                self.channel_opened(&ch);
                self.channels.insert(id, Box::new(ch));
                self.sink
                    .method(id, &Method::ChannelOpenOk(ChannelOpenOk::default()));
                return Ok(());
            }
            return Err(
                AmqpError::new(ReplyCode::ChannelError, "expected 'channel.open'")
                    .with_method(class_id, method_id),
            );
        };
        if ch.state == ChannelState::Closing {
            match method {
                Method::ChannelCloseOk(_) => {
                    self.forget_channel(id);
                }
                // The client's close crossed ours: answered, but the channel stays closing
                // until the client's close-ok for our close, as RabbitMQ keeps it (a close-ok
                // arriving for a forgotten channel would be a connection error).
                Method::ChannelClose(_) => {
                    self.sink
                        .method(id, &Method::ChannelCloseOk(ChannelCloseOk));
                }
                // Our close is not acknowledged yet, so the channel is still in use.
                Method::ChannelOpen(_) => {
                    return Err(AmqpError::new(
                        ReplyCode::ChannelError,
                        "second 'channel.open' seen",
                    )
                    .with_method(class_id, method_id));
                }
                _ => {}
            }
            return Ok(());
        }
        let mut ctx = channel_ctx!(self, &vhost);
        let result = match method {
            Method::ChannelOpen(_) => Err(AmqpError::new(
                ReplyCode::ChannelError,
                "second 'channel.open' seen",
            )
            .with_method(class_id, method_id)),
            Method::ChannelClose(_) => {
                ch.flush_confirms(ctx.sink);
                ch.release(&ctx, in_flight);
                ctx.sink.method(id, &Method::ChannelCloseOk(ChannelCloseOk));
                self.forget_channel(id);
                self.closed_in_this_read.push(id);
                return Ok(());
            }
            // No close of ours is pending: RabbitMQ treats it as a method a client never sends.
            Method::ChannelCloseOk(_) => Err(AmqpError::new(
                ReplyCode::CommandInvalid,
                "unimplemented method",
            )
            .with_method(class_id, method_id)),
            other => ch.handle_method(other, &mut ctx),
        };
        match result {
            Err(e) if !e.code.is_hard() => {
                self.close_channel(id, &e);
                Ok(())
            }
            other => other,
        }
    }

    pub(super) fn handle_content(
        &mut self,
        id: u16,
        frame_type: FrameType,
        payload: bytes::Bytes,
    ) -> Result<(), AmqpError> {
        let Some(vhost) = self.vhost.clone() else {
            return Ok(());
        };
        let Some(ch) = self.channels.get_mut(&id) else {
            if self.closed_in_this_read.contains(&id) {
                // RabbitMQ dropped the method this content belonged to.
                return Err(AmqpError::new(
                    ReplyCode::UnexpectedFrame,
                    "expected method frame, got non method frame instead",
                ));
            }
            return Err(AmqpError::new(
                ReplyCode::ChannelError,
                "expected 'channel.open'",
            ));
        };
        if ch.state == ChannelState::Closing {
            return Ok(());
        }
        let mut ctx = channel_ctx!(self, &vhost);
        let result = if frame_type == FrameType::Header {
            match ContentHeader::decode(payload.clone()) {
                Ok(header) => ch.handle_header(header, &mut ctx),
                Err(e) => Err(ch.header_error(&payload, &e)),
            }
        } else {
            ch.handle_body(payload, &mut ctx)
        };
        match result {
            Err(e) if !e.code.is_hard() => {
                self.close_channel(id, &e);
                Ok(())
            }
            other => other,
        }
    }
}

/// A soft error: release what the channel holds, send channel.close, and ignore the channel
/// until the client's close-ok.
pub(super) fn close_channel(
    ch: &mut Channel,
    ctx: &mut ChannelContext<'_>,
    e: &AmqpError,
    in_flight: Vec<Delivery>,
) {
    tracing::warn!(channel = ch.id, code = e.code.code(), text = %e.text, "closing channel");
    // Confirms already settled go out before the close, as RabbitMQ sends them.
    ch.flush_confirms(ctx.sink);
    ch.release(ctx, in_flight);
    ch.state = ChannelState::Closing;
    let close = ChannelClose {
        reply_code: e.code.code(),
        reply_text: ShortStr::from(e.reply_text()),
        class_id: e.class_id,
        method_id: e.method_id,
    };
    ctx.sink.method(ch.id, &Method::ChannelClose(close));
}

/// Takes the deliveries for `channel` out of `in_flight`.
pub(super) fn deliveries_for(in_flight: &mut Vec<Delivery>, channel: u16) -> Vec<Delivery> {
    let (mine, rest) = std::mem::take(in_flight)
        .into_iter()
        .partition(|d| d.channel == channel);
    *in_flight = rest;
    mine
}

/// Gives deliveries that reached no channel back to their queues, unchanged.
pub(super) fn return_undelivered(ctx: &ChannelContext<'_>, in_flight: Vec<Delivery>) {
    for d in in_flight {
        ctx.flow
            .taken(crate::broker::queue::delivery_cost(&d.message));
        d.queue.return_undelivered(d.message, !d.no_ack, true);
    }
}
