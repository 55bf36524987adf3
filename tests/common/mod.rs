//! Shared test harness: a broker under test (Warren in-process, or an external broker
//! named by `WARREN_TEST_URI`), client constructors, unique names, hang guards and
//! delivery collection.
//!
//! Run a family against RabbitMQ (the reference) with
//! `WARREN_TEST_URI=amqp://guest:guest@127.0.0.1:5672/%2f cargo test --test amqp queues::`;
//! without the variable each test starts its own Warren on 127.0.0.1:0 with a temporary
//! data directory. Tests needing custom Warren settings call `skip_if_external!()`.
//!
//! Notes on making assertions race-free against RabbitMQ:
//! - queue stats (declare-ok counts) can overtake in-flight publishes, so count only
//!   after publishing on a confirm channel ([`TestBroker::lapin_confirm_channel`]);
//! - prove absence with a sentinel published after the message, since per-queue order
//!   makes "sentinel first" conclusive;
//! - `raw::RawConn` gives frame-level assertions (close codes with class/method ids).
#![allow(dead_code, unreachable_pub)]

pub mod access;
pub mod cluster;
pub mod mgmt;
pub mod process;
pub mod quorum;
pub mod raw;
pub mod wire;

use lapin::message::{Delivery, DeliveryResult};
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use lapin::{Channel, ConnectionProperties};
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use warren::config::Settings;
use warren::server::ServerHandle;

/// How long any single awaited step may take before the test fails.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

/// Fails the test if `fut` does not complete within [`HANG_GUARD`].
pub async fn guard<F: Future>(fut: F) -> F::Output {
    match tokio::time::timeout(HANG_GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("hang guard: step did not complete within {HANG_GUARD:?}"),
    }
}

/// A name unique to this test run, so reruns against a shared broker never collide.
pub fn unique(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{test}-{:x}{:x}-{n}",
        std::process::id(),
        nanos & 0xffff_ffff
    )
}

/// True when the tests target an external broker (`WARREN_TEST_URI`).
pub fn external_uri() -> Option<String> {
    std::env::var("WARREN_TEST_URI")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Skips the calling test when it needs custom Warren settings but targets an external broker.
#[macro_export]
macro_rules! skip_if_external {
    () => {
        if $crate::common::external_uri().is_some() {
            eprintln!("skipped: needs custom Warren settings");
            return;
        }
    };
}

/// The broker under test.
#[derive(Debug)]
pub struct TestBroker {
    uri: String,
    addr: SocketAddr,
    handle: Option<ServerHandle>,
    _data_dir: Option<tempfile::TempDir>,
}

impl TestBroker {
    /// Starts Warren with default test settings, or targets `WARREN_TEST_URI`.
    pub async fn start() -> TestBroker {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestBroker::start`], applying `tweak` to Warren's settings first
    /// (ignored for an external broker).
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestBroker {
        if let Some(uri) = external_uri() {
            let addr = addr_of_uri(&uri);
            return TestBroker {
                uri,
                addr,
                handle: None,
                _data_dir: None,
            };
        }
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.server.listen = "127.0.0.1:0".to_string();
        settings.management.listen = vec!["127.0.0.1:0".to_string()];
        settings.prometheus.listen = vec!["127.0.0.1:0".to_string()];
        settings.server.data_dir = dir.path().to_path_buf();
        tweak(&mut settings);
        let handle = guard(warren::server::start(Arc::new(settings)))
            .await
            .unwrap();
        let addr = handle.local_addr();
        TestBroker {
            uri: format!("amqp://guest:guest@{addr}/%2f"),
            addr,
            handle: Some(handle),
            _data_dir: Some(dir),
        }
    }

    /// The AMQP URI of the default vhost as guest.
    pub fn uri(&self) -> String {
        self.uri.clone()
    }

    /// A URI with other credentials and vhost (vhost given unescaped).
    pub fn uri_with(&self, user: &str, pass: &str, vhost: &str) -> String {
        let vhost = vhost.replace('%', "%25").replace('/', "%2f");
        format!("amqp://{user}:{pass}@{}/{vhost}", self.addr)
    }

    /// The management API's base URL (`http://127.0.0.1:PORT`), for an in-process Warren.
    pub fn mgmt_url(&self) -> String {
        let handle = self.handle.as_ref().expect("an in-process Warren");
        format!("http://{}", handle.management_addrs()[0])
    }

    /// The Prometheus endpoint's base URL, for an in-process Warren.
    pub fn metrics_url(&self) -> String {
        let handle = self.handle.as_ref().expect("an in-process Warren");
        format!("http://{}", handle.prometheus_addrs()[0])
    }

    /// The in-process server, if any.
    pub fn handle(&self) -> Option<&ServerHandle> {
        self.handle.as_ref()
    }

    /// The broker's socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A connected lapin connection.
    pub async fn lapin(&self) -> lapin::Connection {
        guard(lapin::Connection::connect(
            &self.uri,
            ConnectionProperties::default(),
        ))
        .await
        .unwrap()
    }

    /// A connected lapin connection plus one open channel.
    pub async fn lapin_channel(&self) -> (lapin::Connection, Channel) {
        let conn = self.lapin().await;
        let ch = guard(conn.create_channel()).await.unwrap();
        (conn, ch)
    }

    /// A connected lapin connection plus one channel in publisher-confirm mode; the
    /// [`publish`] helpers wait for each ack on it.
    pub async fn lapin_confirm_channel(&self) -> (lapin::Connection, Channel) {
        let (conn, ch) = self.lapin_channel().await;
        guard(ch.confirm_select(lapin::options::ConfirmSelectOptions::default()))
            .await
            .unwrap();
        (conn, ch)
    }

    /// A connected amqprs connection.
    pub async fn amqprs(&self) -> amqprs::connection::Connection {
        let args = amqprs::connection::OpenConnectionArguments::new(
            &self.addr.ip().to_string(),
            self.addr.port(),
            "guest",
            "guest",
        );
        guard(amqprs::connection::Connection::open(&args))
            .await
            .unwrap()
    }

    /// The in-process Warren's broker state (`None` for an external broker), for tests
    /// that check nothing was created.
    pub fn warren(&self) -> Option<&Arc<warren::broker::Broker>> {
        self.handle.as_ref().and_then(|h| h.broker())
    }

    /// A raw connection past the handshake.
    pub async fn raw(&self) -> raw::RawConn {
        raw::RawConn::open(self.addr).await
    }

    /// Stops Warren (no-op for an external broker).
    pub async fn shutdown(mut self) {
        if let Some(h) = self.handle.take() {
            guard(h.shutdown()).await;
        }
    }
}

fn addr_of_uri(uri: &str) -> SocketAddr {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    let authority = rest.split('/').next().unwrap_or(rest);
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5672")
    };
    hostport.to_socket_addrs().unwrap().next().unwrap()
}

/// The (reply code, reply text) of an AMQP protocol error; panics on other errors.
pub fn amqp_error(err: &lapin::Error) -> (u16, String) {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => (e.get_id(), e.get_message().to_string()),
        other => panic!("expected an AMQP protocol error, got {other:?}"),
    }
}

/// Asserts `res` failed with reply `code` and a reply text starting with `prefix`.
pub fn assert_amqp_error<T: std::fmt::Debug>(
    res: Result<T, lapin::Error>,
    code: u16,
    prefix: &str,
) -> String {
    let err = res.expect_err("expected the broker to refuse");
    let (c, text) = amqp_error(&err);
    assert_eq!(c, code, "reply code (text: {text})");
    assert!(
        text.starts_with(prefix),
        "reply text {text:?} should start with {prefix:?}"
    );
    text
}

/// Deliveries of one lapin consumer, in arrival order.
#[derive(Debug)]
pub struct Deliveries {
    /// The consumer tag.
    pub tag: String,
    rx: mpsc::UnboundedReceiver<DeliveryResult>,
}

impl Deliveries {
    /// Routes a consumer's deliveries into an ordered channel.
    pub fn of(consumer: &lapin::Consumer) -> Deliveries {
        let (tx, rx) = mpsc::unbounded_channel();
        consumer.set_delegate(move |d: DeliveryResult| {
            let _ = tx.send(d);
            async {}
        });
        Deliveries {
            tag: consumer.tag().to_string(),
            rx,
        }
    }

    /// The next event: `Ok(Some(d))` a delivery, `Ok(None)` cancelled, `Err` channel error.
    pub async fn next_event(&mut self) -> DeliveryResult {
        guard(self.rx.recv()).await.unwrap_or(Ok(None))
    }

    /// The next delivery; panics on cancel or error.
    pub async fn next(&mut self) -> Delivery {
        match self.next_event().await {
            Ok(Some(d)) => d,
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    /// The next `n` deliveries.
    pub async fn take(&mut self, n: usize) -> Vec<Delivery> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next().await);
        }
        out
    }

    /// Bodies of the next `n` deliveries, as strings.
    pub async fn bodies(&mut self, n: usize) -> Vec<String> {
        self.take(n).await.iter().map(body).collect()
    }

    /// Whether a delivery is already buffered (no waiting).
    pub fn has_buffered(&mut self) -> bool {
        !self.rx.is_empty()
    }
}

/// A delivery body as a string.
pub fn body(d: &Delivery) -> String {
    String::from_utf8_lossy(&d.data).into_owned()
}

/// Starts a consumer with a server-generated tag and returns its deliveries.
pub async fn consume(ch: &Channel, queue: &str, opts: BasicConsumeOptions) -> Deliveries {
    consume_tagged(ch, queue, "", opts).await
}

/// Starts a consumer with the given tag.
pub async fn consume_tagged(
    ch: &Channel,
    queue: &str,
    tag: &str,
    opts: BasicConsumeOptions,
) -> Deliveries {
    let consumer = guard(ch.basic_consume(queue.into(), tag.into(), opts, FieldTable::default()))
        .await
        .unwrap();
    Deliveries::of(&consumer)
}

/// Declares a fresh non-durable, non-exclusive queue with a unique name.
pub async fn fresh_queue(ch: &Channel, test: &str) -> String {
    let name = unique(test);
    guard(ch.queue_declare(
        name.as_str().into(),
        lapin::options::QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    name
}

/// Publishes `body` to `exchange` with routing key `rk` and default properties; on a
/// confirm channel, also waits for the broker's ack.
pub async fn publish(ch: &Channel, exchange: &str, rk: &str, body: &[u8]) {
    let confirm = guard(ch.basic_publish(
        exchange.into(),
        rk.into(),
        lapin::options::BasicPublishOptions::default(),
        body,
        lapin::BasicProperties::default(),
    ))
    .await
    .unwrap();
    let confirmation = guard(confirm).await.unwrap();
    assert!(!confirmation.is_nack(), "publish was nacked");
}

/// Publishes each body, in order, to the default exchange for `queue`.
pub async fn publish_all(ch: &Channel, queue: &str, bodies: &[&str]) {
    for b in bodies {
        publish(ch, "", queue, b.as_bytes()).await;
    }
}

/// Message count of `queue` via a passive declare.
///
/// RabbitMQ answers queue stats ahead of deliveries still in flight to the queue, so
/// publish on a confirm channel (see [`TestBroker::lapin_confirm_channel`]) before counting.
pub async fn message_count(ch: &Channel, queue: &str) -> u32 {
    let q = guard(ch.queue_declare(
        queue.into(),
        lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    q.message_count()
}

/// Gets one message with basic.get (no-ack), returning its body, or `None` if empty.
pub async fn get_body(ch: &Channel, queue: &str) -> Option<String> {
    guard(ch.basic_get(
        queue.into(),
        lapin::options::BasicGetOptions { no_ack: true },
    ))
    .await
    .unwrap()
    .map(|m| body(&m.delivery))
}

/// Declares a queue with default options (not durable, not exclusive) on `ch`, bounded by
/// [`guard`]; panics if the broker refuses it.
pub async fn declare_queue(ch: &Channel, name: &str) {
    guard(ch.queue_declare(
        name.into(),
        lapin::options::QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
}

pub mod ext;
pub mod https;
pub mod tls;
