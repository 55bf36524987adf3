//! The frame loop of an open connection: reads frames and hands them to channels, takes
//! deliveries from the inbox, keeps heartbeats, and closes the connection on hard errors or
//! server shutdown. Each loop turn ends with one hand-over of everything encoded to the
//! writer (batched socket writes) and one multiple-ack per confirming channel.

use super::Connection;
use super::frame_errors;
use super::heartbeat::HeartbeatSchedule;
use crate::broker::alarms::Alarm;
use crate::broker::consumer::ConnectionEvent;
use crate::channel::ChannelState;
use crate::error::AmqpError;
use crate::metrics::counters::connection::{RECV_CNT, RECV_OCT};
use crate::protocol::{
    ConnectionBlocked, ConnectionClose, ConnectionCloseOk, ConnectionUnblocked,
    ConnectionUpdateSecretOk, Frame, FrameType, Method, ReplyCode, ShortStr, read_frame,
};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::time::Instant;

/// Most inbox events handled in one loop turn before the socket gets a look again.
const INBOX_BATCH: usize = 1024;
/// How often the loop checks heartbeats and consumer timeouts.
const HOUSEKEEPING_TICK: Duration = Duration::from_secs(1);
/// How long to wait for close-ok after sending connection.close.
const CLOSE_OK_WAIT: Duration = Duration::from_secs(3);
/// Longest the socket stays open after close-ok while the client does not hang up
/// (RabbitMQ's closing timeout; a shorter heartbeat interval, when one is negotiated, wins).
const CLOSED_LINGER: Duration = Duration::from_secs(30);

/// Whether the loop goes on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The connection is finished (socket closed, close-ok received, fatal error).
    Stop,
    /// The client sent connection.close and close-ok is on its way. As RabbitMQ 3.10 does,
    /// the socket stays open until the client hangs up (each further connection.close gets
    /// its own close-ok, anything else is read and dropped), for at most the heartbeat
    /// interval or [`CLOSED_LINGER`]; then the server ends it. Ending it right behind
    /// close-ok made clients that close from several threads at once (amqp091-go) read
    /// the end of stream before their own close finished and report an error; dropping
    /// the socket with unread frames in it (amqplib can queue acks behind its close)
    /// would reset the connection and the client would see EPIPE.
    ClosedByClient,
}

impl Connection {
    /// Counts `n` bytes read from the socket (`recv_oct`, `recv_cnt`).
    pub(super) fn count_read(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.outbox.io.add(RECV_OCT, n as u64);
        self.outbox.io.add(RECV_CNT, 1);
    }

    /// True while this connection is left unread because the store's writer is behind
    /// (more than `limits.store_pending_bytes` waiting): only connections that have
    /// published wait, as they are what fills the store (persistent messages, and transient
    /// ones paged out). A connection that only consumes and acks keeps being read, so its
    /// acks (a few bytes of store removals each, bounded by its prefetch) are not held up
    /// behind a publisher's backlog. Each connection's own unwritten publishes are bounded
    /// apart from this ([`crate::broker::consumer::StoreBacklog`]).
    fn store_holds_publisher(&self) -> bool {
        self.has_published && self.broker.store.is_backed_up()
    }

    /// Runs until the connection ends.
    pub(super) async fn run(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        mut close_request: watch::Receiver<Option<String>>,
    ) {
        let heartbeat = Duration::from_secs(u64::from(self.tuning.heartbeat));
        let tick_every = if heartbeat.is_zero() {
            HOUSEKEEPING_TICK
        } else {
            (heartbeat / 2).min(HOUSEKEEPING_TICK)
        };
        let mut ticker = tokio::time::interval_at(Instant::now() + tick_every, tick_every);
        let mut last_read = Instant::now();
        let mut heartbeats = HeartbeatSchedule::new(Instant::now(), heartbeat / 2, tick_every / 2);
        let mut closing_since: Option<Instant> = None;
        let mut read_size = 8 * 1024;
        let mut read_since_tick = false;
        let mut alarm = self.broker.alarms.subscribe();
        let mut close_watch_live = true;
        let consumer_timeout = match self.broker.settings.limits.consumer_timeout_ms {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        loop {
            let close_deadline = closing_since.map(|t| t + CLOSE_OK_WAIT);
            let flow = tokio::select! {
                biased;
                _ = shutdown.changed(), if closing_since.is_none() => {
                    self.send_connection_close(&AmqpError::new(
                        ReplyCode::ConnectionForced,
                        "broker forced connection closure with reason 'shutdown'",
                    ));
                    closing_since = Some(Instant::now());
                    Flow::Continue
                }
                changed = close_request.changed(), if closing_since.is_none() && close_watch_live => {
                    match changed {
                        Ok(()) => {
                            let reason = close_request.borrow_and_update().clone();
                            if let Some(reason) = reason {
                                // Closed by an operator (management API, a deleted user or
                                // vhost): RabbitMQ's 320 with the reason given.
                                let err = AmqpError::new(ReplyCode::ConnectionForced, reason);
                                self.fail(err, &mut closing_since);
                            }
                        }
                        // The registry let go of the entry: nobody can ask any more.
                        Err(_) => close_watch_live = false,
                    }
                    Flow::Continue
                }
                _ = sleep_until_opt(close_deadline) => Flow::Stop,
                changed = alarm.changed() => {
                    if changed.is_ok() {
                        let raised = *alarm.borrow_and_update();
                        self.apply_alarm(raised);
                    }
                    Flow::Continue
                }
                event = self.inbox_rx.recv() => {
                    if let Some(event) = event {
                        self.handle_event(event);
                        for _ in 0..INBOX_BATCH {
                            match self.inbox_rx.try_recv() {
                                Ok(event) => self.handle_event(event),
                                Err(_) => break,
                            }
                        }
                    }
                    Flow::Continue
                }
                _ = self.store_backlog.drained(), if self.store_backlog.is_over() => Flow::Continue,
                _ = self.broker.store.drained(), if self.store_holds_publisher() => Flow::Continue,
                read = self.reader.read_buf(&mut self.rbuf), if !self.blocked
                    && !self.store_backlog.is_over()
                    && !self.store_holds_publisher() => {
                    match read {
                        Ok(0) | Err(_) => Flow::Stop,
                        Ok(n) => {
                            last_read = Instant::now();
                            self.count_read(n);
                            read_since_tick = true;
                            if n == read_size && read_size < 256 * 1024 {
                                read_size *= 2;
                            }
                            let flow = self.handle_input(&mut closing_since);
                            let raised = *alarm.borrow();
                            if raised.is_some() && self.has_published {
                                self.apply_alarm(raised);
                            }
                            flow
                        }
                    }
                }
                _ = ticker.tick() => {
                    let now = Instant::now();
                    if !std::mem::take(&mut read_since_tick) && self.rbuf.is_empty() {
                        // Idle for a tick: let go of the read buffer (messages keep their own
                        // slices of it) and start small again.
                        self.rbuf = bytes::BytesMut::new();
                        read_size = 8 * 1024;
                    }
                    if self.blocked || self.store_backlog.is_over() || self.store_holds_publisher() {
                        // Not reading: the client's heartbeats cannot be seen.
                        last_read = now;
                    }
                    if let Some(timeout) = consumer_timeout {
                        self.check_consumer_timeouts(now, timeout);
                    }
                    if heartbeat.is_zero() {
                        Flow::Continue
                    } else if now.duration_since(last_read) > heartbeat * 2 {
                        tracing::warn!(timeout = ?heartbeat, "missed heartbeats from client, closing");
                        Flow::Stop
                    } else {
                        if heartbeats.due(now) {
                            self.sink.heartbeat();
                        }
                        Flow::Continue
                    }
                }
            };
            for ch in self.channels.values_mut() {
                ch.flush_confirms(&mut self.sink);
            }
            self.sink.flush_to(&self.outbox);
            match flow {
                Flow::Continue => {}
                Flow::Stop => break,
                Flow::ClosedByClient => {
                    self.linger_after_close_ok(heartbeat, &mut shutdown).await;
                    // The writer sends what is left, then shuts our side of the socket.
                    self.outbox.close();
                    break;
                }
            }
            // The buffer is kept between reads, even when empty: messages keep slices of
            // it, and a publisher that sends one message per write (as most clients do)
            // then packs hundreds of messages into one allocation. Replacing it after every
            // read made each message pin a buffer of its own (issue #11: 400k 1 KiB
            // messages from a real client held 366 MiB; heaptrack showed the reserve below
            // as the peak consumer). An idle connection lets go of it at the next tick, and
            // gets a new one only when data arrives (reading into an empty `BytesMut` takes
            // a small first chunk).
            if self.rbuf.capacity() > 0 && self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(read_size);
            }
        }
    }

    /// After close-ok (see [`Flow::ClosedByClient`]): answers every further
    /// connection.close with close-ok and drops anything else the client sends, until it
    /// hangs up, the broker shuts down, or the heartbeat interval (at most
    /// [`CLOSED_LINGER`]) has passed.
    async fn linger_after_close_ok(
        &mut self,
        heartbeat: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let linger = if heartbeat.is_zero() {
            CLOSED_LINGER
        } else {
            heartbeat.min(CLOSED_LINGER)
        };
        let deadline = Instant::now() + linger;
        let mut shutdown_live = true;
        loop {
            self.answer_closes_after_close_ok();
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(4096);
            }
            let read = tokio::select! {
                changed = shutdown.changed(), if shutdown_live => {
                    match changed {
                        Ok(()) if *shutdown.borrow() => return,
                        Ok(()) => continue,
                        Err(_) => {
                            shutdown_live = false;
                            continue;
                        }
                    }
                }
                read = tokio::time::timeout_at(deadline, self.reader.read_buf(&mut self.rbuf)) => read,
            };
            match read {
                Ok(Ok(n)) if n > 0 => self.count_read(n),
                _ => return,
            }
        }
    }

    /// The whole frames in the read buffer after close-ok: a connection.close is answered
    /// with close-ok (RabbitMQ answers each), everything else is dropped.
    fn answer_closes_after_close_ok(&mut self) {
        loop {
            if self.framing_lost {
                self.rbuf.clear();
                return;
            }
            match read_frame(&mut self.rbuf, self.tuning.frame_max) {
                Ok(Some(frame)) => {
                    if frame.frame_type == FrameType::Method
                        && frame.channel == 0
                        && matches!(
                            Method::decode(frame.payload),
                            Ok(Method::ConnectionClose(_))
                        )
                    {
                        self.sink
                            .method(0, &Method::ConnectionCloseOk(ConnectionCloseOk));
                    }
                }
                Ok(None) => break,
                Err(_) => self.framing_lost = true,
            }
        }
        self.sink.flush_to(&self.outbox);
    }

    /// Blocks a publishing connection while the alarm is raised, and unblocks it after.
    fn apply_alarm(&mut self, raised: Option<Alarm>) {
        if let Some(alarm) = raised
            && self.has_published
            && !self.blocked
        {
            self.blocked = true;
            if self.blocked_notify {
                let blocked = ConnectionBlocked {
                    reason: ShortStr::from_static(alarm.reason()),
                };
                self.sink.method(0, &Method::ConnectionBlocked(blocked));
            }
        } else if raised.is_none() && self.blocked {
            self.blocked = false;
            if self.blocked_notify {
                self.sink
                    .method(0, &Method::ConnectionUnblocked(ConnectionUnblocked));
            }
        }
    }

    /// Closes channels whose oldest delivery has waited too long for an ack.
    fn check_consumer_timeouts(&mut self, now: Instant, timeout: Duration) {
        let expired: Vec<(u16, AmqpError)> = self
            .channels
            .values()
            .filter(|ch| ch.state == ChannelState::Open)
            .filter_map(|ch| ch.check_consumer_timeout(now, timeout).map(|e| (ch.id, e)))
            .collect();
        for (id, err) in expired {
            self.close_channel(id, &err);
        }
    }

    /// Handles every whole frame in the read buffer.
    fn handle_input(&mut self, closing_since: &mut Option<Instant>) -> Flow {
        loop {
            if self.framing_lost {
                self.rbuf.clear();
                return Flow::Continue;
            }
            let frame = match read_frame(&mut self.rbuf, self.tuning.frame_max) {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.closed_in_this_read.clear();
                    return Flow::Continue;
                }
                Err(e) => {
                    // Frame boundaries are lost: one close, then the rest of the input is
                    // dropped (a close-ok from the client cannot be found in it any more).
                    self.framing_lost = true;
                    if closing_since.is_none() {
                        self.fail(
                            AmqpError::new(ReplyCode::FrameError, e.to_string()),
                            closing_since,
                        );
                    }
                    continue;
                }
            };
            if closing_since.is_some() {
                // After our connection.close only close / close-ok matter (spec 2.2.4).
                if frame.frame_type == FrameType::Method && frame.channel == 0 {
                    match Method::decode(frame.payload) {
                        Ok(Method::ConnectionCloseOk(_)) => return Flow::Stop,
                        Ok(Method::ConnectionClose(_)) => {
                            self.cleanup();
                            self.sink
                                .method(0, &Method::ConnectionCloseOk(ConnectionCloseOk));
                            return Flow::ClosedByClient;
                        }
                        _ => {}
                    }
                }
                continue;
            }
            match self.handle_frame(frame) {
                Ok(Flow::Continue) => {}
                Ok(flow) => return flow,
                Err(e) => self.fail(e, closing_since),
            }
        }
    }

    /// A hard error: send connection.close and wait for close-ok.
    fn fail(&mut self, err: AmqpError, closing_since: &mut Option<Instant>) {
        tracing::warn!(code = err.code.code(), text = %err.text, "closing connection");
        self.send_connection_close(&err);
        self.release_channels();
        *closing_since = Some(Instant::now());
    }

    fn send_connection_close(&mut self, err: &AmqpError) {
        let close = ConnectionClose {
            reply_code: err.code.code(),
            reply_text: ShortStr::from(err.reply_text()),
            class_id: err.class_id,
            method_id: err.method_id,
        };
        self.sink.method(0, &Method::ConnectionClose(close));
    }

    fn handle_frame(&mut self, frame: Frame) -> Result<Flow, AmqpError> {
        let Frame {
            frame_type,
            channel,
            payload,
        } = frame;
        match frame_type {
            FrameType::Heartbeat => {
                // RabbitMQ: a heartbeat on another channel is 505, one with a payload 501.
                if channel != 0 {
                    return Err(frame_errors::misplaced_frame(frame_type, &payload));
                }
                if !payload.is_empty() {
                    return Err(frame_errors::heartbeat_with_payload(&payload));
                }
                Ok(Flow::Continue)
            }
            FrameType::Method => {
                let method = Method::decode(payload.clone())
                    .map_err(|e| frame_errors::method_decode_error(channel, &payload, &e))?;
                if let Method::BasicPublish(_) = method {
                    self.has_published = true;
                }
                if channel == 0 {
                    self.handle_channel_zero(method)
                } else {
                    let result = self.handle_channel_method(channel, method);
                    if let Some(session) = self.session.as_mut() {
                        session.set_open_channels(self.channels.len());
                    }
                    result.map(|()| Flow::Continue)
                }
            }
            FrameType::Header | FrameType::Body => {
                if channel == 0 {
                    return Err(frame_errors::misplaced_frame(frame_type, &payload));
                }
                self.handle_content(channel, frame_type, payload)
                    .map(|()| Flow::Continue)
            }
        }
    }

    fn handle_channel_zero(&mut self, method: Method) -> Result<Flow, AmqpError> {
        match method {
            Method::ConnectionClose(_) => {
                for ch in self.channels.values_mut() {
                    ch.flush_confirms(&mut self.sink);
                }
                // Everything the connection held (channels, exclusive queues) goes before
                // close-ok: a client that has its close-ok finds its exclusive queues gone.
                self.cleanup();
                self.sink
                    .method(0, &Method::ConnectionCloseOk(ConnectionCloseOk));
                Ok(Flow::ClosedByClient)
            }
            Method::ConnectionUpdateSecret(_) => {
                let ok = Method::ConnectionUpdateSecretOk(ConnectionUpdateSecretOk);
                self.sink.method(0, &ok);
                Ok(Flow::Continue)
            }
            // RabbitMQ: any other method on channel 0 (a handshake method again, an unsolicited
            // close-ok, another class) is a channel error.
            other => Err(AmqpError::new(
                ReplyCode::ChannelError,
                "unexpected method in connection state running",
            )
            .with_method(other.class_id(), other.method_id())),
        }
    }

    pub(super) fn handle_event(&mut self, event: ConnectionEvent) {
        let Some(vhost) = self.vhost.clone() else {
            return;
        };
        let channel = match &event {
            ConnectionEvent::Deliver(d) => d.channel,
            ConnectionEvent::ConsumerCancelled { channel, .. }
            | ConnectionEvent::Persisted { channel, .. }
            | ConnectionEvent::TxCommitted { channel, .. } => *channel,
        };
        let Some(ch) = self.channels.get_mut(&channel) else {
            if let ConnectionEvent::Deliver(d) = event {
                self.outbox
                    .flow
                    .taken(crate::broker::queue::delivery_cost(&d.message));
                d.queue.return_undelivered(d.message, !d.no_ack, true);
            }
            return;
        };
        let mut ctx = channel_ctx!(self, &vhost);
        match event {
            ConnectionEvent::Deliver(d) => ch.deliver(d, &mut ctx),
            ConnectionEvent::ConsumerCancelled { consumer_tag, .. } => {
                ch.consumer_cancelled(consumer_tag, &mut ctx)
            }
            ConnectionEvent::Persisted { seq, ok, .. } => ch.persisted(seq, ok),
            ConnectionEvent::TxCommitted { ok: true, .. } => ch.tx_committed(ctx.sink),
            ConnectionEvent::TxCommitted { ok: false, .. } => {
                // As a transaction a queue partly refused: 406, the channel closes.
                let e = AmqpError::precondition(
                    "tx.commit failed: a published message could not be stored",
                );
                super::channels::close_channel(ch, &mut ctx, &e, Vec::new());
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
