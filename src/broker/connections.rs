//! The registry of open AMQP connections, for the management API, the metrics and
//! operators: each connection registers its details once its handshake is done and leaves
//! when it ends; each channel registers its [`ChannelInfo`] (shared atomics the channel
//! updates as it works) when it opens and leaves when it closes.
//!
//! Nothing here is on the message path: registration happens at connection and channel
//! open/close only; the per-channel counters are relaxed atomics. A connection is closed
//! from outside (`DELETE /api/connections/{name}`, a deleted user or vhost) through its
//! [`ConnectionEntry::close`] handle, which its driver task watches: it sends
//! connection.close 320 CONNECTION_FORCED with the given text, as RabbitMQ does.

use crate::metrics::counters::{RateCounters, SocketStats, channel as ch};
use crate::protocol::FieldTable;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use tokio::sync::watch;

/// What a connection tells the registry about itself when it opens.
#[derive(Debug, Clone)]
pub struct ConnectionDetails {
    /// The connection's id (unique in this process).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The broker's address the client connected to.
    pub local: SocketAddr,
    /// Authenticated user.
    pub user: String,
    /// The vhost it opened.
    pub vhost: String,
    /// The client's `client_properties` from connection.start-ok.
    pub client_properties: FieldTable,
    /// The SASL mechanism used.
    pub auth_mechanism: String,
    /// Negotiated channel_max.
    pub channel_max: u16,
    /// Negotiated frame_max.
    pub frame_max: u32,
    /// Negotiated heartbeat (seconds).
    pub heartbeat: u16,
    /// When the connection opened, milliseconds since the Unix epoch.
    pub connected_at: u64,
    /// Its socket counters (bytes and reads/writes), updated by its reader and writer.
    pub io: Arc<SocketStats>,
}

/// One consumer as its channel registered it (at basic.consume; removed at cancel).
#[derive(Debug, Clone)]
pub struct ConsumerInfo {
    /// Consumer tag.
    pub tag: String,
    /// The queue's name.
    pub queue: String,
    /// The queue's vhost.
    pub vhost: Arc<str>,
    /// Not no-ack.
    pub ack_required: bool,
    /// Exclusive consumer.
    pub exclusive: bool,
    /// Its prefetch when it started.
    pub prefetch_count: u32,
    /// basic.consume arguments.
    pub arguments: FieldTable,
}

/// One open channel: its number and live state, updated by its connection task.
#[derive(Debug)]
pub struct ChannelInfo {
    /// Channel number.
    pub number: u16,
    /// Message counters ([`crate::metrics::counters::channel`] indices).
    pub counters: RateCounters<{ ch::COUNT }>,
    /// Consumers on the channel.
    pub consumer_count: AtomicU32,
    /// Delivered, not yet acknowledged.
    pub messages_unacknowledged: AtomicU64,
    /// Publishes not yet confirmed.
    pub messages_unconfirmed: AtomicU64,
    /// Per-consumer prefetch (basic.qos global=false).
    pub prefetch_count: AtomicU32,
    /// Per-channel prefetch (basic.qos global=true).
    pub global_prefetch_count: AtomicU32,
    /// In confirm mode.
    pub confirm: AtomicBool,
    /// In a transaction.
    pub transactional: AtomicBool,
    /// Its consumers (changed at consume and cancel only).
    pub consumers: Mutex<Vec<ConsumerInfo>>,
    /// Since when (Unix milliseconds) the sampler has seen its counters unchanged, 0 while
    /// active (`idle_since`); kept by the sampler only.
    pub idle_since_ms: AtomicU64,
    /// Its counters at each recent sample (for `*_details.samples`).
    pub history: crate::metrics::history::History<{ ch::COUNT }>,
}

impl ChannelInfo {
    /// A freshly opened channel.
    pub fn new(number: u16) -> ChannelInfo {
        ChannelInfo {
            number,
            counters: RateCounters::default(),
            consumer_count: AtomicU32::new(0),
            messages_unacknowledged: AtomicU64::new(0),
            messages_unconfirmed: AtomicU64::new(0),
            prefetch_count: AtomicU32::new(0),
            global_prefetch_count: AtomicU32::new(0),
            confirm: AtomicBool::new(false),
            transactional: AtomicBool::new(false),
            consumers: Mutex::new(Vec::new()),
            idle_since_ms: AtomicU64::new(0),
            history: Default::default(),
        }
    }
}

/// A registered connection.
#[derive(Debug)]
pub struct ConnectionEntry {
    /// What it said about itself.
    pub details: ConnectionDetails,
    /// RabbitMQ's connection name, `"peer_host:peer_port -> host:port"`.
    pub name: String,
    channels: Mutex<BTreeMap<u16, Arc<ChannelInfo>>>,
    closer: watch::Sender<Option<String>>,
    /// Bytes received and sent at each recent sample (`recv_oct`, `send_oct`).
    pub history: crate::metrics::history::History<2>,
}

impl ConnectionEntry {
    /// Asks the connection to close with 320 CONNECTION_FORCED and `reason` as its text.
    pub fn close(&self, reason: &str) {
        self.closer.send_replace(Some(reason.to_string()));
    }

    /// Its open channels, by number.
    pub fn channels(&self) -> Vec<Arc<ChannelInfo>> {
        self.channels.lock().values().cloned().collect()
    }

    /// How many channels are open.
    pub fn channel_count(&self) -> usize {
        self.channels.lock().len()
    }

    /// Registers a channel that just opened.
    pub fn add_channel(&self, info: Arc<ChannelInfo>) {
        self.channels.lock().insert(info.number, info);
    }

    /// Removes a channel, returning its info so its totals can be kept.
    pub fn remove_channel(&self, number: u16) -> Option<Arc<ChannelInfo>> {
        self.channels.lock().remove(&number)
    }
}

/// RabbitMQ's name for a connection: `"127.0.0.1:51234 -> 127.0.0.1:5672"` (IPv6 hosts
/// without brackets, as RabbitMQ prints them).
pub fn connection_name(peer: SocketAddr, local: SocketAddr) -> String {
    format!(
        "{}:{} -> {}:{}",
        peer.ip(),
        peer.port(),
        local.ip(),
        local.port()
    )
}

/// Lifetime totals of connections and channels, and the counters of closed channels.
#[derive(Debug, Default)]
pub struct Totals {
    /// Connections opened (handshake done).
    pub connections_opened: AtomicU64,
    /// Connections closed.
    pub connections_closed: AtomicU64,
    /// Channels opened.
    pub channels_opened: AtomicU64,
    /// Channels closed.
    pub channels_closed: AtomicU64,
    /// The counters of channels that have closed.
    pub retired: RateCounters<{ ch::COUNT }>,
    /// Logins checked, by protocol and outcome (`rabbitmq_auth_attempts_*`).
    pub auth: AuthAttempts,
}

/// Logins checked since start: AMQP handshakes that reached a credential check, and HTTP
/// requests that carried credentials.
#[derive(Debug, Default)]
pub struct AuthAttempts {
    /// AMQP logins accepted.
    pub amqp_succeeded: AtomicU64,
    /// AMQP logins refused.
    pub amqp_failed: AtomicU64,
    /// HTTP API requests whose credentials were accepted.
    pub http_succeeded: AtomicU64,
    /// HTTP API requests whose credentials were refused.
    pub http_failed: AtomicU64,
}

impl AuthAttempts {
    /// Counts one AMQP login.
    pub fn amqp(&self, succeeded: bool) {
        let slot = if succeeded {
            &self.amqp_succeeded
        } else {
            &self.amqp_failed
        };
        slot.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP login.
    pub fn http(&self, succeeded: bool) {
        let slot = if succeeded {
            &self.http_succeeded
        } else {
            &self.http_failed
        };
        slot.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every open connection.
#[derive(Debug, Default)]
pub struct ConnectionRegistry {
    entries: DashMap<u64, Arc<ConnectionEntry>>,
    /// Lifetime totals.
    pub totals: Totals,
}

impl ConnectionRegistry {
    /// Registers an open connection; the receiver yields the reason when someone asks it to
    /// close.
    pub fn register(
        &self,
        details: ConnectionDetails,
    ) -> (Arc<ConnectionEntry>, watch::Receiver<Option<String>>) {
        let (closer, rx) = watch::channel(None);
        let entry = Arc::new(ConnectionEntry {
            name: connection_name(details.peer, details.local),
            details,
            channels: Mutex::new(BTreeMap::new()),
            closer,
            history: Default::default(),
        });
        self.entries.insert(entry.details.id, Arc::clone(&entry));
        self.totals
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        (entry, rx)
    }

    /// Removes a connection that ended, keeping its channels' totals.
    pub fn unregister(&self, id: u64) {
        if let Some((_, entry)) = self.entries.remove(&id) {
            for info in std::mem::take(&mut *entry.channels.lock()).into_values() {
                self.channel_closed(&info);
            }
            self.totals
                .connections_closed
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a channel opened.
    pub fn channel_opened(&self) {
        self.totals.channels_opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a channel closed and keeps its counters in the totals.
    pub fn channel_closed(&self, info: &ChannelInfo) {
        self.totals.channels_closed.fetch_add(1, Ordering::Relaxed);
        self.totals.retired.absorb(&info.counters);
    }

    /// Every open connection, in no particular order.
    pub fn list(&self) -> Vec<Arc<ConnectionEntry>> {
        self.entries.iter().map(|e| Arc::clone(e.value())).collect()
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The connection called `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<ConnectionEntry>> {
        self.entries
            .iter()
            .find(|e| e.value().name == name)
            .map(|e| Arc::clone(e.value()))
    }

    /// Closes every connection `pred` selects with 320 CONNECTION_FORCED and `reason`;
    /// returns how many were asked to close.
    pub fn close_where(&self, pred: impl Fn(&ConnectionEntry) -> bool, reason: &str) -> usize {
        let mut n = 0;
        for entry in self.entries.iter() {
            if pred(entry.value()) {
                entry.value().close(reason);
                n += 1;
            }
        }
        n
    }

    /// The sum of every channel's counters, open and closed (the global message totals).
    pub fn message_totals(&self) -> [u64; ch::COUNT] {
        let mut sum = self.totals.retired.snapshot();
        for entry in self.entries.iter() {
            for info in entry.value().channels.lock().values() {
                for (s, v) in sum.iter_mut().zip(info.counters.snapshot()) {
                    *s += v;
                }
            }
        }
        sum
    }
}
