//! Shared helpers for the Rust interop scenarios: the broker address from `AMQP_URI`,
//! unique names and hang guards. Every scenario is its own binary that exits 0 on success
//! and panics (exit 101) with a message when an expectation fails.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod data;
pub mod jobs;
pub mod levelling;
pub mod orders;

pub use data::{Rng, fnv1a_hex};

/// The broker URI from `AMQP_URI` (RabbitMQ's default when unset).
pub fn uri() -> String {
    std::env::var("AMQP_URI").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// The parts of an `amqp://user:pass@host:port/vhost` URI, percent-decoded.
#[derive(Debug, Clone)]
pub struct UriParts {
    /// Host name or address.
    pub host: String,
    /// TCP port (5672 when absent).
    pub port: u16,
    /// User name (guest when absent).
    pub user: String,
    /// Password (guest when absent).
    pub password: String,
    /// Virtual host ("/" when the path is empty).
    pub vhost: String,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `AMQP_URI` into its parts (for clients that take them separately, like amqprs).
pub fn uri_parts() -> UriParts {
    let uri = uri();
    let rest = uri
        .strip_prefix("amqp://")
        .expect("AMQP_URI must start with amqp://");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5672"));
    let path = path.split('?').next().unwrap_or("");
    UriParts {
        host: host.to_string(),
        port: port.parse().expect("port in AMQP_URI"),
        user: if user.is_empty() {
            "guest".into()
        } else {
            percent_decode(user)
        },
        password: if password.is_empty() {
            "guest".into()
        } else {
            percent_decode(password)
        },
        vhost: if path.is_empty() {
            "/".into()
        } else {
            percent_decode(path)
        },
    }
}

/// The value of environment variable `name` parsed as a `T`, or `default` when unset or
/// unparsable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A name no other run uses: `interop.<what>.<random hex>`.
pub fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mix = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("interop.{what}.{:012x}", mix & 0xffff_ffff_ffff)
}

/// Awaits `fut`, panicking with `what` if it takes longer than 30 seconds (a hang guard).
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(30), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after 30s waiting for {what}"),
    }
}

/// amqprs helpers: connecting from `AMQP_URI` and a channel callback that reports what
/// the broker sends asynchronously (confirms, returns, channel closes, cancels).
pub mod rs {
    use amqprs::callbacks::ChannelCallback;
    use amqprs::channel::Channel;
    use amqprs::connection::{Connection, OpenConnectionArguments};
    use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
    use async_trait::async_trait;
    use tokio::sync::mpsc;

    /// Something the broker told a channel outside a request/response exchange.
    // Returns are rare and short-lived in the scenarios; boxing them would only change the
    // scenarios' pattern matches.
    #[allow(clippy::large_enum_variant)]
    #[derive(Debug)]
    pub enum Event {
        /// basic.ack in confirm mode.
        Ack {
            /// Delivery tag.
            tag: u64,
            /// The ack covers every tag up to `tag`.
            multiple: bool,
        },
        /// basic.nack in confirm mode.
        Nack {
            /// Delivery tag.
            tag: u64,
            /// The nack covers every tag up to `tag`.
            multiple: bool,
        },
        /// basic.return with the returned message.
        Return {
            /// Reply code (312 NO_ROUTE, ...).
            code: u16,
            /// Reply text.
            text: String,
            /// The exchange it was published to.
            exchange: String,
            /// The routing key it was published with.
            routing_key: String,
            /// Properties of the returned message.
            properties: BasicProperties,
            /// Body of the returned message.
            body: Vec<u8>,
        },
        /// channel.close from the broker.
        Closed {
            /// Reply code.
            code: u16,
            /// Reply text.
            text: String,
        },
        /// basic.cancel from the broker.
        Cancelled {
            /// The cancelled consumer's tag.
            consumer_tag: String,
        },
    }

    /// A [`ChannelCallback`] forwarding every event to an unbounded channel.
    #[derive(Debug)]
    pub struct Recorder(pub mpsc::UnboundedSender<Event>);

    #[async_trait]
    impl ChannelCallback for Recorder {
        async fn close(
            &mut self,
            _: &Channel,
            close: CloseChannel,
        ) -> Result<(), amqprs::error::Error> {
            let _ = self.0.send(Event::Closed {
                code: close.reply_code(),
                text: close.reply_text().clone(),
            });
            Ok(())
        }
        async fn cancel(
            &mut self,
            _: &Channel,
            cancel: Cancel,
        ) -> Result<(), amqprs::error::Error> {
            let _ = self.0.send(Event::Cancelled {
                consumer_tag: cancel.consumer_tag().clone(),
            });
            Ok(())
        }
        async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
            Ok(active)
        }
        async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
            let _ = self.0.send(Event::Ack {
                tag: ack.delivery_tag(),
                multiple: ack.mutiple(),
            });
        }
        async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
            let _ = self.0.send(Event::Nack {
                tag: nack.delivery_tag(),
                multiple: nack.multiple(),
            });
        }
        async fn publish_return(
            &mut self,
            _: &Channel,
            ret: Return,
            properties: BasicProperties,
            body: Vec<u8>,
        ) {
            let _ = self.0.send(Event::Return {
                code: ret.reply_code(),
                text: ret.reply_text().clone(),
                exchange: ret.exchange().clone(),
                routing_key: ret.routing_key().clone(),
                properties,
                body,
            });
        }
    }

    /// Opens an amqprs connection to `AMQP_URI`.
    pub async fn connect() -> Connection {
        let p = super::uri_parts();
        let mut args = OpenConnectionArguments::new(&p.host, p.port, &p.user, &p.password);
        args.virtual_host(&p.vhost);
        let conn = super::bounded("connect", Connection::open(&args))
            .await
            .expect("amqprs connect");
        conn.register_callback(amqprs::callbacks::DefaultConnectionCallback)
            .await
            .expect("connection callback");
        conn
    }

    /// Opens a channel whose asynchronous events arrive on the returned receiver.
    pub async fn channel(conn: &Connection) -> (Channel, mpsc::UnboundedReceiver<Event>) {
        let ch = super::bounded("channel.open", conn.open_channel(None))
            .await
            .expect("open channel");
        let (tx, rx) = mpsc::unbounded_channel();
        ch.register_callback(Recorder(tx))
            .await
            .expect("channel callback");
        (ch, rx)
    }

    /// Waits for the next event (30 s hang guard).
    pub async fn next_event(rx: &mut mpsc::UnboundedReceiver<Event>, what: &str) -> Event {
        super::bounded(what, rx.recv())
            .await
            .expect("event channel closed")
    }
}

/// Like [`bounded`], with a hang guard of `secs` seconds.
pub async fn bounded_secs<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s waiting for {what}"),
    }
}

/// The raw value of `key` in a flat JSON object written by these scenarios (numbers,
/// `true`/`false`, or a string without escapes, returned without its quotes).
pub fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern)? + pattern.len();
    let rest = json[start..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return s.find('"').map(|end| &s[..end]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

/// lapin helpers: connecting from `AMQP_URI`, the declare/bind/delete and confirm
/// boilerplate the scenarios share, queue depths and header values.
pub mod lp {
    use futures_lite::StreamExt;
    use lapin::message::Delivery;
    use lapin::options::{
        ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};
    use lapin::{
        Channel, Confirmation, Connection, ConnectionProperties, Consumer, ExchangeKind,
        PublisherConfirm, Queue,
    };

    /// Opens a lapin connection to `uri` (30 s hang guard).
    pub async fn connect_to(uri: &str) -> Connection {
        super::bounded(
            "connect",
            Connection::connect(uri, ConnectionProperties::default()),
        )
        .await
        .expect("connect")
    }

    /// Opens a lapin connection to `AMQP_URI`.
    pub async fn connect() -> Connection {
        connect_to(&super::uri()).await
    }

    /// Opens a channel in confirm mode.
    pub async fn confirm_channel(conn: &Connection) -> Channel {
        let ch = conn.create_channel().await.expect("channel");
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm.select");
        ch
    }

    /// Declares exchange `name` of `kind` with `options` and no arguments.
    pub async fn declare_exchange(
        ch: &Channel,
        name: &str,
        kind: ExchangeKind,
        options: ExchangeDeclareOptions,
    ) {
        ch.exchange_declare(name.into(), kind, options, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("exchange.declare {name}: {e}"));
    }

    /// Declares queue `name` with `options` and no arguments.
    pub async fn declare_queue(ch: &Channel, name: &str, options: QueueDeclareOptions) -> Queue {
        ch.queue_declare(name.into(), options, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("queue.declare {name}: {e}"))
    }

    /// Binds `queue` to `exchange` with `key` and `args`.
    pub async fn bind(ch: &Channel, queue: &str, exchange: &str, key: &str, args: FieldTable) {
        ch.queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            args,
        )
        .await
        .unwrap_or_else(|e| panic!("queue.bind {queue} to {exchange} as {key:?}: {e}"));
    }

    /// Deletes `queues`, then `exchanges` (the end of a scenario).
    pub async fn delete(ch: &Channel, queues: &[&str], exchanges: &[&str]) {
        for q in queues {
            ch.queue_delete((*q).into(), QueueDeleteOptions::default())
                .await
                .unwrap_or_else(|e| panic!("queue.delete {q}: {e}"));
        }
        for x in exchanges {
            ch.exchange_delete((*x).into(), ExchangeDeleteOptions::default())
                .await
                .unwrap_or_else(|e| panic!("exchange.delete {x}: {e}"));
        }
    }

    /// Awaits a publisher confirm (30 s hang guard) and asserts it is an ack.
    pub async fn acked(confirm: PublisherConfirm, what: &str) -> Confirmation {
        let c = super::bounded(what, confirm)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(c.is_ack(), "{what}: not acked: {c:?}");
        c
    }

    /// The next delivery of `consumer` (30 s hang guard).
    pub async fn next(consumer: &mut Consumer, what: &str) -> Delivery {
        super::bounded(what, consumer.next())
            .await
            .unwrap_or_else(|| panic!("consumer stream ended waiting for {what}"))
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// The ready-message count of an existing queue (passive queue.declare).
    pub async fn depth(ch: &Channel, queue: &str) -> u32 {
        ch.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("passive queue.declare {queue}: {e}"))
        .message_count()
    }

    /// An integer field value of any width, widened.
    pub fn int(v: &AMQPValue) -> Option<i128> {
        Some(match v {
            AMQPValue::ShortShortInt(n) => i128::from(*n),
            AMQPValue::ShortShortUInt(n) => i128::from(*n),
            AMQPValue::ShortInt(n) => i128::from(*n),
            AMQPValue::ShortUInt(n) => i128::from(*n),
            AMQPValue::LongInt(n) => i128::from(*n),
            AMQPValue::LongUInt(n) => i128::from(*n),
            AMQPValue::LongLongInt(n) => i128::from(*n),
            AMQPValue::Timestamp(n) => i128::from(*n),
            _ => return None,
        })
    }

    /// A string field value (long or short string).
    pub fn text(v: &AMQPValue) -> Option<String> {
        match v {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.to_string()),
            _ => None,
        }
    }
}
