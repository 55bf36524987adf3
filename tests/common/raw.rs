//! A tiny hand-rolled AMQP 0-9-1 client for tests that need frame-level control:
//! exact reply codes with class/method ids, ordering of frames, malformed input.

use super::guard;
pub use super::wire::{Args, Reader, Value, frame, header_frame, method_frame, publish_frame};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The protocol header a 0-9-1 client sends first.
pub const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
/// Frame type octets.
pub const FRAME_METHOD: u8 = 1;
/// Content header frame type.
pub const FRAME_HEADER: u8 = 2;
/// Content body frame type.
pub const FRAME_BODY: u8 = 3;
/// Heartbeat frame type.
pub const FRAME_HEARTBEAT: u8 = 8;
/// The frame-end octet.
pub const FRAME_END: u8 = 0xCE;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A method frame with its raw argument bytes.
    Method {
        channel: u16,
        class: u16,
        method: u16,
        args: Vec<u8>,
    },
    /// A content header frame.
    Header {
        channel: u16,
        class: u16,
        body_size: u64,
        props: Vec<u8>,
    },
    /// A content body frame.
    Body { channel: u16, data: Vec<u8> },
    /// A heartbeat.
    Heartbeat { channel: u16 },
}

/// A decoded connection.close or channel.close.
#[derive(Debug, Clone, PartialEq)]
pub struct Close {
    pub channel: u16,
    pub code: u16,
    pub text: String,
    pub class_id: u16,
    pub method_id: u16,
}

/// Client properties announcing the capabilities common clients announce.
pub fn client_properties() -> Vec<u8> {
    let mut caps = Args::new();
    for cap in [
        "consumer_cancel_notify",
        "basic.nack",
        "publisher_confirms",
        "authentication_failure_close",
    ] {
        caps = caps.shortstr(cap).u8(b't').u8(1);
    }
    Args::new()
        .shortstr("product")
        .u8(b'S')
        .longstr(b"warren-raw-test")
        .shortstr("capabilities")
        .u8(b'F')
        .longstr(&caps.build())
        .build()
}

/// What the raw client answers in connection.tune-ok.
#[derive(Debug, Clone, Copy, Default)]
pub struct TuneOk {
    /// Channel limit to send instead of echoing the server's offer.
    pub channel_max: Option<u16>,
    /// Heartbeat interval in seconds (0 disables heartbeats).
    pub heartbeat: u16,
}

/// A raw connection.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Negotiated frame_max (after `open`).
    pub frame_max: u32,
    /// Negotiated channel_max (after `open`).
    pub channel_max: u16,
    /// Server properties from connection.start (after `open`).
    pub server_properties: Vec<(String, Value)>,
    /// Mechanisms offered in connection.start (after `open`).
    pub mechanisms: String,
}

impl RawConn {
    /// Opens the TCP connection only.
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = guard(TcpStream::connect(addr)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            frame_max: 0,
            channel_max: 0,
            server_properties: Vec::new(),
            mechanisms: String::new(),
        }
    }

    /// Connects and completes the handshake as guest on vhost `/`.
    pub async fn open(addr: SocketAddr) -> RawConn {
        let mut c = RawConn::connect(addr).await;
        c.handshake("guest", "guest", "/").await;
        c
    }

    /// Connects as guest, answering tune with a lower channel_max.
    pub async fn open_with_channel_max(addr: SocketAddr, channel_max: u16) -> RawConn {
        let mut c = RawConn::connect(addr).await;
        let tune = TuneOk {
            channel_max: Some(channel_max),
            ..TuneOk::default()
        };
        c.handshake_with(("guest", "guest", "/"), tune).await;
        c
    }

    /// Connects as guest and negotiates a heartbeat interval.
    pub async fn open_with_heartbeat(addr: SocketAddr, heartbeat: u16) -> RawConn {
        let mut c = RawConn::connect(addr).await;
        let tune = TuneOk {
            heartbeat,
            ..TuneOk::default()
        };
        c.handshake_with(("guest", "guest", "/"), tune).await;
        c
    }

    /// Runs the handshake through connection.open-ok (heartbeats disabled).
    pub async fn handshake(&mut self, user: &str, pass: &str, vhost: &str) {
        self.handshake_with((user, pass, vhost), TuneOk::default())
            .await;
    }

    /// Runs the handshake; `channel_max` replaces the offered value in tune-ok.
    pub async fn handshake_with(&mut self, login: (&str, &str, &str), tune: TuneOk) {
        Box::pin(self.handshake_until_open(login, tune)).await;
        self.expect_method(10, 41).await;
    }

    /// Runs the handshake up to and including sending connection.open, without reading
    /// the answer (for refusals at connection.open).
    pub async fn handshake_until_open(&mut self, login: (&str, &str, &str), tune: TuneOk) {
        let (user, pass, vhost) = login;
        self.send(PROTOCOL_HEADER).await;
        let (mut r, _) = self.expect_method(10, 10).await;
        assert_eq!((r.u8(), r.u8()), (0, 9));
        let props = r.table();
        self.server_properties = props;
        self.mechanisms = String::from_utf8_lossy(&r.longstr()).into_owned();
        let mut resp = vec![0u8];
        resp.extend_from_slice(user.as_bytes());
        resp.push(0);
        resp.extend_from_slice(pass.as_bytes());
        let start_ok = Args::new()
            .table_bytes(&client_properties())
            .shortstr("PLAIN")
            .longstr(&resp)
            .shortstr("en_US")
            .build();
        self.send_method(0, 10, 11, &start_ok).await;
        let (mut r, _) = self.expect_method(10, 30).await;
        let offered_channel_max = r.u16();
        let channel_max = tune.channel_max.unwrap_or(offered_channel_max);
        let frame_max = r.u32();
        let _heartbeat = r.u16();
        self.channel_max = channel_max;
        self.frame_max = frame_max;
        let tune_ok = Args::new()
            .u16(channel_max)
            .u32(frame_max)
            .u16(tune.heartbeat)
            .build();
        self.send_method(0, 10, 31, &tune_ok).await;
        let open = Args::new().shortstr(vhost).shortstr("").u8(0).build();
        self.send_method(0, 10, 40, &open).await;
    }

    /// The socket, for tests that drive writes themselves (e.g. non-blocking writes to see
    /// when the broker stops reading).
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        guard(self.stream.write_all(bytes)).await.unwrap();
    }

    /// Writes a method frame.
    pub async fn send_method(&mut self, channel: u16, class: u16, method: u16, args: &[u8]) {
        let f = method_frame(channel, class, method, args);
        self.send(&f).await;
    }

    /// Opens a channel and waits for channel.open-ok.
    pub async fn open_channel(&mut self, channel: u16) {
        self.send_method(channel, 20, 10, &Args::new().shortstr("").build())
            .await;
        let (_, ch) = self.expect_method(20, 11).await;
        assert_eq!(ch, channel);
    }

    /// Reads the next frame, or `None` at EOF (or connection reset).
    pub async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 7 {
                let size = u32::from_be_bytes(self.buf[3..7].try_into().unwrap()) as usize;
                if self.buf.len() >= size + 8 {
                    let typ = self.buf[0];
                    let channel = u16::from_be_bytes([self.buf[1], self.buf[2]]);
                    let payload = self.buf[7..7 + size].to_vec();
                    assert_eq!(self.buf[7 + size], FRAME_END, "server sent a bad frame end");
                    self.buf.drain(..size + 8);
                    return Some(decode(typ, channel, payload));
                }
            }
            let mut chunk = vec![0u8; 65536];
            match guard(self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => {
                    assert!(self.buf.is_empty(), "EOF inside a frame: {:?}", self.buf);
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads raw bytes until EOF and returns everything read.
    pub async fn read_to_eof(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = vec![0u8; 65536];
        loop {
            match guard(self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads the next non-heartbeat frame; panics at EOF.
    pub async fn next_frame(&mut self) -> Frame {
        loop {
            match self.read_frame().await {
                Some(Frame::Heartbeat { channel: 0 }) => continue,
                Some(f) => return f,
                None => panic!("unexpected EOF"),
            }
        }
    }

    /// Expects a specific method next; returns its argument reader and channel.
    pub async fn expect_method(&mut self, class: u16, method: u16) -> (Reader, u16) {
        match self.next_frame().await {
            Frame::Method {
                channel,
                class: c,
                method: m,
                args,
            } if c == class && m == method => (Reader::new(&args), channel),
            other => panic!("expected method {class}.{method}, got {}", describe(&other)),
        }
    }

    /// Expects connection.close next, answers close-ok and checks the socket closes.
    pub async fn expect_connection_close(&mut self) -> Close {
        let close = self.expect_close(10, 50).await;
        assert_eq!(close.channel, 0);
        self.send_method(0, 10, 51, &[]).await;
        self.expect_eof().await;
        close
    }

    /// Expects channel.close on `channel` next and answers close-ok.
    pub async fn expect_channel_close(&mut self, channel: u16) -> Close {
        let close = self.expect_close(20, 40).await;
        assert_eq!(close.channel, channel, "channel.close on the wrong channel");
        self.send_method(channel, 20, 41, &[]).await;
        close
    }

    async fn expect_close(&mut self, class: u16, method: u16) -> Close {
        let (mut r, channel) = self.expect_method(class, method).await;
        Close {
            channel,
            code: r.u16(),
            text: r.shortstr(),
            class_id: r.u16(),
            method_id: r.u16(),
        }
    }

    /// Reads until the server closes the socket: the bytes read, or the error that ended
    /// the connection instead of a clean end of stream (e.g. a reset).
    pub async fn read_until_closed(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = vec![0u8; 65536];
        loop {
            match guard(self.stream.read(&mut chunk)).await? {
                0 => return Ok(out),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Half-closes the socket (we send nothing more).
    pub async fn shutdown_write(&mut self) {
        guard(self.stream.shutdown()).await.unwrap();
    }

    /// Asserts the server closes the socket (any frames before EOF are ignored).
    pub async fn expect_eof(&mut self) {
        while self.read_frame().await.is_some() {}
    }

    /// A synchronous round trip on `channel` (basic.qos 0) proving earlier frames were handled.
    pub async fn sync(&mut self, channel: u16) {
        let qos = Args::new().u32(0).u16(0).bits(&[false]).build();
        self.send_method(channel, 60, 10, &qos).await;
        self.expect_method(60, 11).await;
    }

    /// Declares a queue (non-durable) and returns (name, message count, consumer count).
    pub async fn queue_declare(&mut self, channel: u16, name: &str, exclusive: bool) -> String {
        let args = Args::new()
            .u16(0)
            .shortstr(name)
            .bits(&[false, false, exclusive, false, false])
            .empty_table()
            .build();
        self.send_method(channel, 50, 10, &args).await;
        let (mut r, _) = self.expect_method(50, 11).await;
        r.shortstr()
    }

    /// Publishes a message with an empty property set.
    pub async fn publish(&mut self, channel: u16, exchange: &str, rk: &str, body: &[u8]) {
        let mut bytes = publish_frame(channel, exchange, rk, false);
        bytes.extend(header_frame(channel, body.len() as u64));
        if !body.is_empty() {
            bytes.extend(frame(FRAME_BODY, channel, body));
        }
        self.send(&bytes).await;
    }
}

fn decode(typ: u8, channel: u16, payload: Vec<u8>) -> Frame {
    match typ {
        FRAME_METHOD => {
            let class = u16::from_be_bytes([payload[0], payload[1]]);
            let method = u16::from_be_bytes([payload[2], payload[3]]);
            Frame::Method {
                channel,
                class,
                method,
                args: payload[4..].to_vec(),
            }
        }
        FRAME_HEADER => {
            let class = u16::from_be_bytes([payload[0], payload[1]]);
            let body_size = u64::from_be_bytes(payload[4..12].try_into().unwrap());
            Frame::Header {
                channel,
                class,
                body_size,
                props: payload[12..].to_vec(),
            }
        }
        FRAME_BODY => Frame::Body {
            channel,
            data: payload,
        },
        FRAME_HEARTBEAT => Frame::Heartbeat { channel },
        other => panic!("server sent unknown frame type {other}"),
    }
}

/// A short description of a frame for panic messages (decodes close reasons).
pub fn describe(f: &Frame) -> String {
    match f {
        Frame::Method {
            channel,
            class,
            method,
            args,
        } if (*class, *method) == (10, 50) || (*class, *method) == (20, 40) => {
            let mut r = Reader::new(args);
            let code = r.u16();
            let text = r.shortstr();
            format!(
                "close on channel {channel}: {code} {text} ({}.{})",
                r.u16(),
                r.u16()
            )
        }
        Frame::Method {
            channel,
            class,
            method,
            ..
        } => {
            format!("method {class}.{method} on channel {channel}")
        }
        other => format!("{other:?}"),
    }
}

/// One basic.deliver with its content.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDelivery {
    pub channel: u16,
    pub consumer_tag: String,
    pub delivery_tag: u64,
    pub redelivered: bool,
    pub exchange: String,
    pub routing_key: String,
    pub body: Vec<u8>,
}

impl RawConn {
    /// Starts a consumer; returns the tag from consume-ok.
    pub async fn consume(&mut self, channel: u16, queue: &str, tag: &str, no_ack: bool) -> String {
        let args = Args::new()
            .u16(0)
            .shortstr(queue)
            .shortstr(tag)
            .bits(&[false, no_ack, false, false])
            .empty_table()
            .build();
        self.send_method(channel, 60, 20, &args).await;
        let (mut r, _) = self.expect_method(60, 21).await;
        r.shortstr()
    }

    /// Reads the rest of a message (header + bodies) after its method frame.
    pub async fn read_content(&mut self) -> Vec<u8> {
        let size = match self.next_frame().await {
            Frame::Header { body_size, .. } => body_size as usize,
            other => panic!("expected a content header, got {}", describe(&other)),
        };
        let mut body = Vec::new();
        while body.len() < size {
            match self.next_frame().await {
                Frame::Body { data, .. } => body.extend(data),
                other => panic!("expected a body frame, got {}", describe(&other)),
            }
        }
        body
    }

    /// Expects a basic.deliver with its content next.
    pub async fn expect_delivery(&mut self) -> RawDelivery {
        let (mut r, channel) = self.expect_method(60, 60).await;
        let consumer_tag = r.shortstr();
        let delivery_tag = r.u64();
        let redelivered = r.u8() & 1 == 1;
        let exchange = r.shortstr();
        let routing_key = r.shortstr();
        let body = self.read_content().await;
        RawDelivery {
            channel,
            consumer_tag,
            delivery_tag,
            redelivered,
            exchange,
            routing_key,
            body,
        }
    }

    /// Sends basic.ack.
    pub async fn ack(&mut self, channel: u16, delivery_tag: u64, multiple: bool) {
        let args = Args::new().u64(delivery_tag).bits(&[multiple]).build();
        self.send_method(channel, 60, 80, &args).await;
    }
}
