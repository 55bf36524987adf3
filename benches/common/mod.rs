//! Shared parts of the end-to-end benches: a minimal raw AMQP 0-9-1 client built on Warren's
//! own codec (so the benches measure the broker rather than a client library), the target
//! broker (an AMQP URI, or Warren started in-process), and process memory readings.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
pub use stream::{BenchReader, BenchStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren::protocol::{
    BasicConsume, BasicQos, ChannelOpen, ConnectionClose, ConnectionOpen, ConnectionStartOk,
    ConnectionTuneOk, FieldTable, Frame, FrameType, Method, PROTOCOL_HEADER, QueueDeclare,
    ShortStr, read_frame, write_method_frame,
};

/// Where the benches connect: host:port, credentials, virtual host.
#[derive(Debug, Clone)]
pub struct Target {
    /// Address to connect to.
    pub addr: String,
    /// PLAIN user name.
    pub user: String,
    /// PLAIN password.
    pub password: String,
    /// Virtual host for connection.open.
    pub vhost: String,
    /// With `amqps://`: the host name to verify the certificate for, and the client config
    /// (set by [`Target::with_tls_ca`]).
    pub tls: Option<(String, Arc<rustls::ClientConfig>)>,
    /// The URI was `amqps://`.
    pub amqps: bool,
}

impl Target {
    /// Parses `amqp://user:pass@host:port/vhost` or `amqps://...` (vhost percent-decoded,
    /// default `/`; default ports 5672 and 5671). An `amqps://` target needs
    /// [`Target::with_tls_ca`] before connecting.
    pub fn parse(uri: &str) -> Result<Target, String> {
        let (rest, amqps) = match (uri.strip_prefix("amqp://"), uri.strip_prefix("amqps://")) {
            (Some(rest), _) => (rest, false),
            (None, Some(rest)) => (rest, true),
            (None, None) => return Err(format!("{uri}: only amqp:// and amqps:// URIs")),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => {
                let (name, pass) = u.split_once(':').unwrap_or((u, ""));
                (percent_decode(name)?, percent_decode(pass)?)
            }
            None => ("guest".to_string(), "guest".to_string()),
        };
        let hostport = if hostport.is_empty() {
            "127.0.0.1"
        } else {
            hostport
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else if amqps {
            format!("{hostport}:5671")
        } else {
            format!("{hostport}:5672")
        };
        let vhost = if path.is_empty() {
            "/".to_string()
        } else {
            percent_decode(path)?
        };
        Ok(Target {
            addr,
            user,
            password,
            vhost,
            tls: None,
            amqps,
        })
    }

    /// Trusts the CA certificates in `ca_file` (PEM) for an `amqps://` target; the server's
    /// certificate must name the URI's host. `None` is only valid for `amqp://`.
    pub fn with_tls_ca(mut self, ca_file: Option<&str>) -> Result<Target, String> {
        match (self.amqps, ca_file) {
            (false, None) => Ok(self),
            (false, Some(_)) => Err("--tls-ca needs an amqps:// URI".to_string()),
            (true, None) => Err("an amqps:// URI needs --tls-ca CA.pem".to_string()),
            (true, Some(file)) => {
                let config = stream::client_config(std::path::Path::new(file))?;
                let host = self
                    .addr
                    .rsplit_once(':')
                    .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                    .unwrap_or(&self.addr)
                    .to_string();
                self.tls = Some((host, config));
                Ok(self)
            }
        }
    }

    /// guest/guest on the default vhost at `addr`.
    pub fn local(addr: SocketAddr) -> Target {
        Target {
            addr: addr.to_string(),
            user: "guest".to_string(),
            password: "guest".to_string(),
            vhost: "/".to_string(),
            tls: None,
            amqps: false,
        }
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("{s}: truncated percent escape"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| format!("{s}: bad escape %{hex}"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s}: not UTF-8 once decoded"))
}

/// Warren running inside the bench process, on its own multi-thread runtime, with a temporary
/// data directory. Dropping it shuts the runtime down.
pub struct InProcessBroker {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    handle: Option<warren::server::ServerHandle>,
    _data_dir: tempfile::TempDir,
}

impl InProcessBroker {
    /// Starts Warren on 127.0.0.1:0 with default settings otherwise.
    pub fn start() -> io::Result<InProcessBroker> {
        let data_dir = tempfile::tempdir()?;
        let mut settings = warren::config::Settings::default();
        settings.server.listen = "127.0.0.1:0".to_string();
        settings.management.listen = vec!["127.0.0.1:0".to_string()];
        settings.prometheus.listen = vec!["127.0.0.1:0".to_string()];
        settings.server.data_dir = data_dir.path().to_path_buf();
        settings.server.log_level = "warn".to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("warren-broker")
            .build()?;
        let handle = runtime
            .block_on(warren::server::start(Arc::new(settings)))
            .map_err(io::Error::other)?;
        Ok(InProcessBroker {
            addr: handle.local_addr(),
            runtime,
            handle: Some(handle),
            _data_dir: data_dir,
        })
    }
}

impl Drop for InProcessBroker {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

/// One raw client connection after the handshake, with channel 1 usable once opened.
pub struct RawConn {
    /// The socket (plain or TLS).
    pub stream: BenchStream,
    /// Bytes read but not yet split into frames.
    pub rbuf: BytesMut,
    /// Scratch buffer for outgoing frames.
    pub wbuf: BytesMut,
    /// frame_max agreed in tune / tune-ok.
    pub frame_max: u32,
}

fn protocol_err(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Turns a server-initiated close into an error naming its code and text.
pub fn close_error(method: &Method) -> Option<io::Error> {
    match method {
        Method::ConnectionClose(c) => Some(protocol_err(format!(
            "connection closed by broker: {} {}",
            c.reply_code,
            c.reply_text.to_string_lossy()
        ))),
        Method::ChannelClose(c) => Some(protocol_err(format!(
            "channel closed by broker: {} {}",
            c.reply_code,
            c.reply_text.to_string_lossy()
        ))),
        _ => None,
    }
}

impl RawConn {
    /// Connects and runs the handshake: PLAIN login, tune-ok echoing the server's values,
    /// connection.open.
    pub async fn connect(target: &Target) -> io::Result<RawConn> {
        if target.amqps && target.tls.is_none() {
            return Err(protocol_err("an amqps:// target needs --tls-ca"));
        }
        let tls = target
            .tls
            .as_ref()
            .map(|(host, config)| (config, host.as_str()));
        let stream = BenchStream::connect(&target.addr, tls).await?;
        let mut conn = RawConn {
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            wbuf: BytesMut::with_capacity(1024),
            frame_max: 0,
        };
        conn.stream.write_all(&PROTOCOL_HEADER).await?;
        match conn.recv_method().await? {
            (0, Method::ConnectionStart(_)) => {}
            (_, other) => return Err(protocol_err(format!("expected start, got {other:?}"))),
        }
        let mut response = Vec::new();
        response.push(0);
        response.extend_from_slice(target.user.as_bytes());
        response.push(0);
        response.extend_from_slice(target.password.as_bytes());
        conn.send(
            0,
            &Method::ConnectionStartOk(ConnectionStartOk {
                client_properties: FieldTable::new(),
                mechanism: ShortStr::from_static("PLAIN"),
                response: Bytes::from(response),
                locale: ShortStr::from_static("en_US"),
            }),
        )
        .await?;
        let tune = match conn.recv_method().await? {
            (0, Method::ConnectionTune(t)) => t,
            (_, other) => return Err(protocol_err(format!("expected tune, got {other:?}"))),
        };
        conn.frame_max = tune.frame_max;
        conn.send(
            0,
            &Method::ConnectionTuneOk(ConnectionTuneOk {
                channel_max: tune.channel_max,
                frame_max: tune.frame_max,
                heartbeat: tune.heartbeat,
            }),
        )
        .await?;
        conn.send(
            0,
            &Method::ConnectionOpen(ConnectionOpen {
                virtual_host: ShortStr::truncated(&target.vhost),
                ..ConnectionOpen::default()
            }),
        )
        .await?;
        conn.expect(|m| matches!(m, Method::ConnectionOpenOk(_)), "open-ok")
            .await?;
        Ok(conn)
    }

    /// Encodes one method frame and writes it.
    pub async fn send(&mut self, channel: u16, method: &Method) -> io::Result<()> {
        self.wbuf.clear();
        write_method_frame(&mut self.wbuf, channel, method);
        self.stream.write_all(&self.wbuf).await
    }

    /// The next whole frame, reading from the socket as needed.
    pub async fn recv_frame(&mut self) -> io::Result<Frame> {
        loop {
            if let Some(frame) = read_frame(&mut self.rbuf, 0).map_err(protocol_err)? {
                return Ok(frame);
            }
            self.rbuf.reserve(16 * 1024);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The next method, skipping heartbeats; content frames are an error here.
    pub async fn recv_method(&mut self) -> io::Result<(u16, Method)> {
        loop {
            let frame = self.recv_frame().await?;
            match frame.frame_type {
                FrameType::Heartbeat => continue,
                FrameType::Method => {
                    let method = Method::decode(frame.payload).map_err(protocol_err)?;
                    return Ok((frame.channel, method));
                }
                other => return Err(protocol_err(format!("unexpected {other:?} frame"))),
            }
        }
    }

    /// Waits for the method `want` accepts; a close from the broker is an error.
    pub async fn expect(
        &mut self,
        want: impl Fn(&Method) -> bool,
        name: &str,
    ) -> io::Result<Method> {
        let (_, method) = self.recv_method().await?;
        if want(&method) {
            return Ok(method);
        }
        Err(close_error(&method)
            .unwrap_or_else(|| protocol_err(format!("expected {name}, got {method:?}"))))
    }

    /// channel.open on `channel`.
    pub async fn open_channel(&mut self, channel: u16) -> io::Result<()> {
        self.send(channel, &Method::ChannelOpen(ChannelOpen::default()))
            .await?;
        self.expect(|m| matches!(m, Method::ChannelOpenOk(_)), "channel.open-ok")
            .await
            .map(drop)
    }

    /// queue.declare; returns the queue name (server-named when `name` is empty).
    pub async fn declare_queue(
        &mut self,
        channel: u16,
        name: &str,
        exclusive: bool,
        auto_delete: bool,
    ) -> io::Result<ShortStr> {
        let declare = QueueDeclare {
            queue: ShortStr::truncated(name),
            exclusive,
            auto_delete,
            ..QueueDeclare::default()
        };
        self.send(channel, &Method::QueueDeclare(declare)).await?;
        match self
            .expect(
                |m| matches!(m, Method::QueueDeclareOk(_)),
                "queue.declare-ok",
            )
            .await?
        {
            Method::QueueDeclareOk(ok) => Ok(ok.queue),
            _ => Err(protocol_err("queue.declare-ok expected")),
        }
    }

    /// basic.qos with a prefetch count (per consumer, as RabbitMQ treats global=false).
    pub async fn qos(&mut self, channel: u16, prefetch_count: u16) -> io::Result<()> {
        let qos = BasicQos {
            prefetch_count,
            ..BasicQos::default()
        };
        self.send(channel, &Method::BasicQos(qos)).await?;
        self.expect(|m| matches!(m, Method::BasicQosOk(_)), "basic.qos-ok")
            .await
            .map(drop)
    }

    /// basic.consume; waits for consume-ok.
    pub async fn consume(
        &mut self,
        channel: u16,
        queue: &ShortStr,
        no_ack: bool,
    ) -> io::Result<()> {
        let consume = BasicConsume {
            queue: queue.clone(),
            no_ack,
            ..BasicConsume::default()
        };
        self.send(channel, &Method::BasicConsume(consume)).await?;
        self.expect(
            |m| matches!(m, Method::BasicConsumeOk(_)),
            "basic.consume-ok",
        )
        .await
        .map(drop)
    }

    /// connection.close, then reads (and discards deliveries) until close-ok.
    pub async fn close(mut self) -> io::Result<()> {
        let close = ConnectionClose {
            reply_code: 200,
            reply_text: ShortStr::from_static("bench done"),
            class_id: 0,
            method_id: 0,
        };
        self.send(0, &Method::ConnectionClose(close)).await?;
        loop {
            let frame = self.recv_frame().await?;
            if frame.frame_type != FrameType::Method {
                continue;
            }
            match Method::decode(frame.payload).map_err(protocol_err)? {
                Method::ConnectionCloseOk(_) => return Ok(()),
                m @ Method::ConnectionClose(_) => {
                    return Err(close_error(&m).unwrap_or_else(|| protocol_err("closed")));
                }
                _ => {}
            }
        }
    }
}

/// `RssAnon` of a process in KiB, from /proc/<pid>/status.
pub fn rss_anon_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| protocol_err(format!("no RssAnon in /proc/{pid}/status")))
}

/// The value after `--name` in the command line, if given.
pub fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A numeric `--name N` option, with a default.
pub fn arg_num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match arg_value(args, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name}: cannot parse {v:?} as a number")),
    }
}

pub mod durable;
pub mod monitor;
pub mod stream;
