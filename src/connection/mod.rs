//! One client connection: a driver task that owns every channel on it, plus a writer task.
//!
//! Owns: the socket's read half and read buffer, the channels, the inbox where queues send
//! deliveries, the `FrameSink` of frames being encoded. Talks to: the writer task (through
//! the `Outbox`), the broker (vhosts, queues), and the server (a shutdown signal).
//! Lifecycle: protocol header and handshake (`handshake.rs`, bounded by the handshake
//! timeout), then the frame loop (`driver.rs`), then cleanup: channels release their
//! consumers and unacked messages, exclusive queues go, the writer drains and stops.

/// Builds the `ChannelContext` for a channel of this connection from the connection's
/// fields (a macro, so the borrow of `channels` stays disjoint from the rest).
macro_rules! channel_ctx {
    ($conn:ident, $vhost:expr) => {
        crate::channel::ChannelContext {
            broker: &$conn.broker,
            vhost: $vhost,
            connection_id: $conn.id,
            user: &$conn.user,
            inbox: &$conn.inbox_tx,
            sink: &mut $conn.sink,
            frame_max: $conn.tuning.frame_max,
            consumer_cancel_notify: $conn.consumer_cancel_notify,
            store_backlog: &$conn.store_backlog,
            flow: &$conn.outbox.flow,
        }
    };
}

mod channels;
mod driver;
mod frame_errors;
pub mod fuzz;
mod handshake;
mod heartbeat;
mod sasl;
pub mod writer;

use crate::broker::Broker;
use crate::broker::connections::{ConnectionDetails, ConnectionEntry};
use crate::broker::consumer::ConnectionEvent;
use crate::broker::vhost::VHost;
use crate::channel::Channel;
use crate::listener::{ClientStream, StreamReader, Transport};
use bytes::BytesMut;
use handshake::HandshakeError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;
use writer::{FrameSink, Outbox, run_writer};

/// Settings agreed in connection.tune / tune-ok.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    channel_max: u16,
    frame_max: u32,
    heartbeat: u16,
}

/// The state a connection's driver owns.
#[derive(Debug)]
struct Connection {
    id: u64,
    peer: SocketAddr,
    broker: Arc<Broker>,
    reader: StreamReader,
    /// TLS or not, and the client's certificate (for SASL EXTERNAL).
    transport: Transport,
    rbuf: BytesMut,
    sink: FrameSink,
    outbox: Arc<Outbox>,
    inbox_tx: mpsc::UnboundedSender<ConnectionEvent>,
    inbox_rx: mpsc::UnboundedReceiver<ConnectionEvent>,
    tuning: Tuning,
    user: String,
    vhost: Option<Arc<VHost>>,
    /// The connection's place in the access counts (limits), once open.
    session: Option<crate::access::Session>,
    /// Boxed: the map allocates room for several entries at once, and a channel is a few
    /// hundred bytes, so inline entries would make each connection's first channel cost
    /// four (issue #11, idle connection cost).
    channels: HashMap<u16, Box<Channel>>,
    consumer_cancel_notify: bool,
    /// The client understands connection.blocked / unblocked.
    blocked_notify: bool,
    /// The client has published on this connection (only publishers are blocked).
    has_published: bool,
    /// A framing error was seen: nothing after it can be parsed, so further input is
    /// dropped until the client hangs up or the close wait ends (as RabbitMQ does).
    framing_lost: bool,
    /// Channels the client closed in the input being handled: frames it sent for them
    /// before it could have seen our close-ok are dropped, as RabbitMQ does while a channel
    /// is closing. Cleared before the next read.
    closed_in_this_read: Vec<u16>,
    /// Reading is paused by a resource alarm.
    blocked: bool,
    /// Bytes this connection handed to the store that are not committed yet.
    store_backlog: Arc<crate::broker::consumer::StoreBacklog>,
    /// The broker's address this client connected to.
    local: SocketAddr,
    /// The client's `client_properties` (for the connection registry).
    client_properties: crate::protocol::FieldTable,
    /// The SASL mechanism the client logged in with.
    auth_mechanism: String,
    /// This connection's entry in the broker's registry, once open.
    entry: Option<Arc<ConnectionEntry>>,
}

/// Serves a connection over an in-memory byte stream, as [`serve`] does over a socket (the
/// whole-connection fuzz harness drives connections this way). `peer` is the address
/// authentication sees.
pub async fn serve_stream(
    stream: tokio::io::DuplexStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    serve(ClientStream::Memory(stream), peer, broker, shutdown).await;
}

/// Serves one accepted socket until it closes or the server shuts down.
pub async fn serve(
    stream: ClientStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    let id = broker.next_connection_id();
    let transport = stream.transport();
    let span = tracing::info_span!("connection", id, %peer, tls = transport.tls);
    async move {
        stream.set_nodelay();
        let local = stream.local_addr().unwrap_or(peer);
        let (reader, write_half) = stream.into_split();
        let outbox = Arc::new(Outbox::default());
        let writer = tokio::spawn(run_writer(Arc::clone(&outbox), write_half));
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        let settings = &broker.settings.amqp;
        let tuning = Tuning {
            channel_max: settings.channel_max,
            frame_max: settings.frame_max,
            heartbeat: settings.heartbeat,
        };
        let mut conn = Connection {
            id,
            peer,
            broker: Arc::clone(&broker),
            reader,
            transport,
            rbuf: BytesMut::with_capacity(4096),
            sink: FrameSink::default(),
            outbox: Arc::clone(&outbox),
            inbox_tx,
            inbox_rx,
            tuning,
            user: String::new(),
            vhost: None,
            session: None,
            channels: HashMap::new(),
            consumer_cancel_notify: false,
            blocked_notify: false,
            has_published: false,
            framing_lost: false,
            closed_in_this_read: Vec::new(),
            blocked: false,
            store_backlog: Arc::default(),
            local,
            client_properties: crate::protocol::FieldTable::new(),
            auth_mechanism: String::new(),
            entry: None,
        };
        let timeout = std::time::Duration::from_millis(broker.settings.amqp.handshake_timeout_ms);
        match tokio::time::timeout(timeout, conn.handshake()).await {
            Ok(Ok(())) => {
                tracing::info!(user = %conn.user, "connection opened");
                let close_rx = conn.register();
                conn.run(shutdown, close_rx).await;
            }
            Ok(Err(err @ HandshakeError::RefusedSilently { .. })) => {
                tracing::warn!(%err, "handshake refused; closing the socket without a close");
                let mut shutdown = shutdown;
                tokio::select! {
                    _ = tokio::time::sleep(handshake::SILENT_CLOSE_DELAY) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Ok(Err(err @ HandshakeError::Refused(_))) => {
                tracing::warn!(%err, "handshake refused");
                let mut shutdown = shutdown;
                tokio::select! {
                    _ = conn.await_close_ok() => {}
                    _ = shutdown.changed() => {}
                }
            }
            Ok(Err(err)) => tracing::warn!(%err, "handshake failed"),
            Err(_) => tracing::warn!("handshake timed out"),
        }
        conn.sink.flush_to(&conn.outbox);
        conn.cleanup();
        if conn.entry.take().is_some() {
            broker.connections.unregister(id);
        }
        outbox.close();
        let _ = writer.await;
        tracing::info!("connection closed");
    }
    .instrument(span)
    .await;
}

impl Connection {
    /// Enters the open connection in the broker's registry; the receiver yields a reason
    /// when the connection is to be closed from outside.
    fn register(&mut self) -> watch::Receiver<Option<String>> {
        let details = ConnectionDetails {
            id: self.id,
            peer: self.peer,
            local: self.local,
            user: self.user.clone(),
            vhost: self
                .vhost
                .as_ref()
                .map(|v| v.name.to_string())
                .unwrap_or_default(),
            client_properties: std::mem::take(&mut self.client_properties),
            auth_mechanism: std::mem::take(&mut self.auth_mechanism),
            channel_max: self.tuning.channel_max,
            frame_max: self.tuning.frame_max,
            heartbeat: self.tuning.heartbeat,
            connected_at: crate::broker::message::unix_millis_now(),
            io: Arc::clone(&self.outbox.io),
        };
        let (entry, rx) = self.broker.connections.register(details);
        self.entry = Some(entry);
        rx
    }

    /// Registers a channel that just opened.
    fn channel_opened(&self, ch: &Channel) {
        if let Some(entry) = &self.entry {
            entry.add_channel(Arc::clone(&ch.info));
            self.broker.connections.channel_opened();
        }
    }

    /// Removes a channel that has finished closing.
    fn forget_channel(&mut self, id: u16) {
        self.channels.remove(&id);
        if let Some(info) = self.entry.as_ref().and_then(|e| e.remove_channel(id)) {
            self.broker.connections.channel_closed(&info);
        }
    }

    /// Releases everything the connection holds.
    fn cleanup(&mut self) {
        // Gives back the connection's place and its channels in the limit counts.
        self.session = None;
        let Some(vhost) = self.vhost.clone() else {
            return;
        };
        // Nothing more reaches this connection: a queue that loses a consumer here does not
        // hand messages to another channel of it. Deliveries already on their way go back
        // to their queues with what their channel held.
        self.inbox_rx.close();
        let mut in_flight = Vec::new();
        while let Ok(event) = self.inbox_rx.try_recv() {
            if let ConnectionEvent::Deliver(d) = event {
                in_flight.push(d);
            }
        }
        let mut channels: Vec<Box<Channel>> = self.channels.drain().map(|(_, ch)| ch).collect();
        {
            let ctx = channel_ctx!(self, &vhost);
            for ch in &mut channels {
                ch.release(&ctx, channels::deliveries_for(&mut in_flight, ch.id));
            }
            channels::return_undelivered(&ctx, in_flight);
        }
        for q in vhost.queues() {
            if q.decl.exclusive_owner == Some(self.id) {
                vhost.remove_queue(&q);
            }
        }
    }
}
