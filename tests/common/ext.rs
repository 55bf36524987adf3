//! Helpers for the extension tests: raw reads of whole messages (properties decoded, header
//! order preserved), raw publishes with properties, argument tables and
//! access to Warren's server handle.

use super::TestBroker;
use super::raw::{
    Args, Close, FRAME_BODY, FRAME_HEADER, Frame, RawConn, Reader, Value, describe, frame,
    publish_frame,
};
use warren::server::ServerHandle;

impl TestBroker {
    /// Warren's server handle (`None` when targeting an external broker).
    pub fn server(&self) -> Option<&ServerHandle> {
        self.handle.as_ref()
    }
}

/// A raw-client string value.
pub fn vstr(s: &str) -> Value {
    Value::Str(s.as_bytes().to_vec())
}

/// Encodes one field value (type octet included).
pub fn encode_value(v: &Value) -> Vec<u8> {
    let a = Args::new();
    let a = match v {
        Value::Bool(b) => a.u8(b't').u8(u8::from(*b)),
        Value::I8(n) => a.u8(b'b').u8(*n as u8),
        Value::U8(n) => a.u8(b'B').u8(*n),
        Value::I16(n) => a.u8(b's').u16(*n as u16),
        Value::U16(n) => a.u8(b'u').u16(*n),
        Value::I32(n) => a.u8(b'I').u32(*n as u32),
        Value::U32(n) => a.u8(b'i').u32(*n),
        Value::I64(n) => a.u8(b'l').u64(*n as u64),
        Value::F32(f) => a.u8(b'f').u32(f.to_bits()),
        Value::F64(f) => a.u8(b'd').u64(f.to_bits()),
        Value::Decimal(s, n) => a.u8(b'D').u8(*s).u32(*n),
        Value::Str(s) => a.u8(b'S').longstr(s),
        Value::Array(items) => {
            let inner: Vec<u8> = items.iter().flat_map(encode_value).collect();
            a.u8(b'A').longstr(&inner)
        }
        Value::Timestamp(t) => a.u8(b'T').u64(*t),
        Value::Table(t) => a.u8(b'F').longstr(&encode_table(t)),
        Value::Bytes(b) => a.u8(b'x').longstr(b),
        Value::Void => a.u8(b'V'),
    };
    a.build()
}

/// Encodes the entries of a field table (without its length prefix).
pub fn encode_table(entries: &[(String, Value)]) -> Vec<u8> {
    let mut out = Args::new();
    for (k, v) in entries {
        out = out.shortstr(k).bytes(&encode_value(v));
    }
    out.build()
}

/// Builds table entries from borrowed keys.
pub fn table(entries: &[(&str, Value)]) -> Vec<(String, Value)> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Decoded basic-class content properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Props {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub headers: Option<Vec<(String, Value)>>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    pub expiration: Option<String>,
    pub message_id: Option<String>,
    pub timestamp: Option<u64>,
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub app_id: Option<String>,
}

impl Props {
    /// A header value by name.
    pub fn header(&self, key: &str) -> Option<&Value> {
        self.headers
            .as_ref()
            .and_then(|h| h.iter().find(|(k, _)| k == key).map(|(_, v)| v))
    }

    /// Encodes flags + property list.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0u16;
        let mut a = Args::new();
        let strs = [(15, &self.content_type), (14, &self.content_encoding)];
        for (bit, v) in strs {
            if let Some(s) = v {
                flags |= 1 << bit;
                a = a.shortstr(s);
            }
        }
        if let Some(h) = &self.headers {
            flags |= 1 << 13;
            a = a.longstr(&encode_table(h));
        }
        if let Some(m) = self.delivery_mode {
            flags |= 1 << 12;
            a = a.u8(m);
        }
        if let Some(p) = self.priority {
            flags |= 1 << 11;
            a = a.u8(p);
        }
        for (bit, v) in [
            (10, &self.correlation_id),
            (9, &self.reply_to),
            (8, &self.expiration),
            (7, &self.message_id),
        ] {
            if let Some(s) = v {
                flags |= 1 << bit;
                a = a.shortstr(s);
            }
        }
        if let Some(t) = self.timestamp {
            flags |= 1 << 6;
            a = a.u64(t);
        }
        for (bit, v) in [(5, &self.kind), (4, &self.user_id), (3, &self.app_id)] {
            if let Some(s) = v {
                flags |= 1 << bit;
                a = a.shortstr(s);
            }
        }
        let mut out = flags.to_be_bytes().to_vec();
        out.extend(a.build());
        out
    }

    /// Decodes flags + property list.
    pub fn decode(bytes: &[u8]) -> Props {
        let mut r = Reader::new(bytes);
        let flags = r.u16();
        let has = |bit: u16| flags & (1 << bit) != 0;
        let mut p = Props::default();
        if has(15) {
            p.content_type = Some(r.shortstr());
        }
        if has(14) {
            p.content_encoding = Some(r.shortstr());
        }
        if has(13) {
            p.headers = Some(r.table());
        }
        if has(12) {
            p.delivery_mode = Some(r.u8());
        }
        if has(11) {
            p.priority = Some(r.u8());
        }
        if has(10) {
            p.correlation_id = Some(r.shortstr());
        }
        if has(9) {
            p.reply_to = Some(r.shortstr());
        }
        if has(8) {
            p.expiration = Some(r.shortstr());
        }
        if has(7) {
            p.message_id = Some(r.shortstr());
        }
        if has(6) {
            p.timestamp = Some(r.u64());
        }
        if has(5) {
            p.kind = Some(r.shortstr());
        }
        if has(4) {
            p.user_id = Some(r.shortstr());
        }
        if has(3) {
            p.app_id = Some(r.shortstr());
        }
        if has(2) {
            let _cluster_id = r.shortstr();
        }
        p
    }
}

/// One message read by the raw client (basic.deliver or basic.get-ok) with its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub channel: u16,
    /// The consumer tag (empty for basic.get).
    pub consumer_tag: String,
    pub delivery_tag: u64,
    pub redelivered: bool,
    pub exchange: String,
    pub routing_key: String,
    /// Messages left in the queue (basic.get only).
    pub message_count: Option<u32>,
    pub props: Props,
    pub body: Vec<u8>,
}

impl Msg {
    /// The body as a string.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads a content header and its body frames.
pub async fn read_content(c: &mut RawConn) -> (Props, Vec<u8>) {
    let (size, props) = match Box::pin(c.next_frame()).await {
        Frame::Header {
            body_size, props, ..
        } => (body_size as usize, Props::decode(&props)),
        other => panic!("expected a content header, got {}", describe(&other)),
    };
    let mut body = Vec::new();
    while body.len() < size {
        match Box::pin(c.next_frame()).await {
            Frame::Body { data, .. } => body.extend(data),
            other => panic!("expected a body frame, got {}", describe(&other)),
        }
    }
    (props, body)
}

/// Expects a basic.deliver with its content next.
pub async fn next_msg(c: &mut RawConn) -> Msg {
    let (mut r, channel) = Box::pin(c.expect_method(60, 60)).await;
    let consumer_tag = r.shortstr();
    let delivery_tag = r.u64();
    let redelivered = r.u8() & 1 == 1;
    let exchange = r.shortstr();
    let routing_key = r.shortstr();
    let (props, body) = read_content(c).await;
    Msg {
        channel,
        consumer_tag,
        delivery_tag,
        redelivered,
        exchange,
        routing_key,
        message_count: None,
        props,
        body,
    }
}

/// basic.get; `None` on get-empty.
pub async fn get_msg(c: &mut RawConn, channel: u16, queue: &str, no_ack: bool) -> Option<Msg> {
    let args = Args::new().u16(0).shortstr(queue).bits(&[no_ack]).build();
    c.send_method(channel, 60, 70, &args).await;
    match Box::pin(c.next_frame()).await {
        Frame::Method {
            class: 60,
            method: 71,
            args,
            channel,
        } => {
            let mut r = Reader::new(&args);
            let delivery_tag = r.u64();
            let redelivered = r.u8() & 1 == 1;
            let exchange = r.shortstr();
            let routing_key = r.shortstr();
            let message_count = Some(r.u32());
            let (props, body) = read_content(c).await;
            Some(Msg {
                channel,
                consumer_tag: String::new(),
                delivery_tag,
                redelivered,
                exchange,
                routing_key,
                message_count,
                props,
                body,
            })
        }
        Frame::Method {
            class: 60,
            method: 72,
            ..
        } => None,
        other => panic!("expected get-ok or get-empty, got {}", describe(&other)),
    }
}

/// Publishes with the given properties (no confirm wait).
pub async fn publish_msg(
    c: &mut RawConn,
    channel: u16,
    exchange: &str,
    rk: &str,
    props: &Props,
    body: &[u8],
) {
    let mut bytes = publish_frame(channel, exchange, rk, false);
    let mut header = Vec::new();
    header.extend_from_slice(&60u16.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    header.extend_from_slice(&(body.len() as u64).to_be_bytes());
    header.extend(props.encode());
    bytes.extend(frame(FRAME_HEADER, channel, &header));
    if !body.is_empty() {
        bytes.extend(frame(FRAME_BODY, channel, body));
    }
    c.send(&bytes).await;
}

fn declare_args(name: &str, exclusive: bool, args: &[(&str, Value)]) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(name)
        .bits(&[false, false, exclusive, false, false])
        .table_bytes(&encode_table(&table(args)))
        .build()
}

/// Declares an exclusive queue with arguments; returns (message count, consumer count).
pub async fn declare(
    c: &mut RawConn,
    channel: u16,
    name: &str,
    args: &[(&str, Value)],
) -> (u32, u32) {
    declare_with(c, channel, name, true, args).await
}

/// Declares a queue with arguments; returns (message count, consumer count).
pub async fn declare_with(
    c: &mut RawConn,
    channel: u16,
    name: &str,
    exclusive: bool,
    args: &[(&str, Value)],
) -> (u32, u32) {
    c.send_method(channel, 50, 10, &declare_args(name, exclusive, args))
        .await;
    let (mut r, _) = Box::pin(c.expect_method(50, 11)).await;
    let _ = r.shortstr();
    (r.u32(), r.u32())
}

/// Declares a queue with arguments, expecting the channel to be closed; answers close-ok.
pub async fn declare_refused(
    c: &mut RawConn,
    channel: u16,
    name: &str,
    args: &[(&str, Value)],
) -> Close {
    c.send_method(channel, 50, 10, &declare_args(name, true, args))
        .await;
    Box::pin(c.expect_channel_close(channel)).await
}

/// Starts a consumer with arguments; returns the tag from consume-ok.
pub async fn consume_args(
    c: &mut RawConn,
    channel: u16,
    queue: &str,
    no_ack: bool,
    args: &[(&str, Value)],
) -> String {
    let a = Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr("")
        .bits(&[false, no_ack, false, false])
        .table_bytes(&encode_table(&table(args)))
        .build();
    c.send_method(channel, 60, 20, &a).await;
    let (mut r, _) = Box::pin(c.expect_method(60, 21)).await;
    r.shortstr()
}

/// Current UNIX time in seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Asserts `v` is a timestamp within a minute of now.
pub fn assert_recent_timestamp(v: &Value) {
    match v {
        Value::Timestamp(t) => {
            let now = now_secs();
            assert!(
                *t + 60 >= now && *t <= now + 60,
                "timestamp {t} is not close to now ({now})"
            );
        }
        other => panic!("expected a timestamp, got {other:?}"),
    }
}

/// Opens a raw connection with channel 1 open.
pub async fn open1(broker: &TestBroker) -> RawConn {
    let mut c = Box::pin(broker.raw()).await;
    Box::pin(c.open_channel(1)).await;
    c
}

/// Declares an auto-delete exchange of `kind`.
pub async fn exchange_declare(c: &mut RawConn, channel: u16, name: &str, kind: &str) {
    let a = Args::new()
        .u16(0)
        .shortstr(name)
        .shortstr(kind)
        .bits(&[false, false, true, false, false])
        .empty_table()
        .build();
    c.send_method(channel, 40, 10, &a).await;
    Box::pin(c.expect_method(40, 11)).await;
}

/// Binds `queue` to `exchange` with `rk`.
pub async fn bind(c: &mut RawConn, channel: u16, queue: &str, exchange: &str, rk: &str) {
    let a = Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr(exchange)
        .shortstr(rk)
        .bits(&[false])
        .empty_table()
        .build();
    c.send_method(channel, 50, 20, &a).await;
    Box::pin(c.expect_method(50, 21)).await;
}

/// Sends basic.reject.
pub async fn reject(c: &mut RawConn, channel: u16, tag: u64, requeue: bool) {
    let a = Args::new().u64(tag).bits(&[requeue]).build();
    c.send_method(channel, 60, 90, &a).await;
}

/// Sends basic.nack (single).
pub async fn nack(c: &mut RawConn, channel: u16, tag: u64, requeue: bool) {
    let a = Args::new().u64(tag).bits(&[false, requeue]).build();
    c.send_method(channel, 60, 120, &a).await;
}

/// Puts `channel` in confirm mode.
pub async fn confirm_select(c: &mut RawConn, channel: u16) {
    c.send_method(channel, 85, 10, &Args::new().bits(&[false]).build())
        .await;
    Box::pin(c.expect_method(85, 11)).await;
}

/// Expects basic.ack (true) or basic.nack (false) next; returns (tag, multiple, is_ack).
pub async fn expect_confirm(c: &mut RawConn) -> (u64, bool, bool) {
    match Box::pin(c.next_frame()).await {
        Frame::Method {
            class: 60,
            method: 80,
            args,
            ..
        } => {
            let mut r = Reader::new(&args);
            (r.u64(), r.u8() & 1 == 1, true)
        }
        Frame::Method {
            class: 60,
            method: 120,
            args,
            ..
        } => {
            let mut r = Reader::new(&args);
            (r.u64(), r.u8() & 1 == 1, false)
        }
        other => panic!("expected basic.ack or basic.nack, got {}", describe(&other)),
    }
}

/// A plain publish with only a body.
pub async fn publish_body(c: &mut RawConn, channel: u16, exchange: &str, rk: &str, body: &str) {
    publish_msg(c, channel, exchange, rk, &Props::default(), body.as_bytes()).await;
}

/// Renders a value compactly with its AMQP type: `"s"` long string, `1l` long-long, `1I`
/// long, `T` a timestamp within a minute of now (asserted), `[..]` array, `{k: v}` table.
pub fn render(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::I8(n) => format!("{n}b"),
        Value::U8(n) => format!("{n}B"),
        Value::I16(n) => format!("{n}s"),
        Value::U16(n) => format!("{n}u"),
        Value::I32(n) => format!("{n}I"),
        Value::U32(n) => format!("{n}i"),
        Value::I64(n) => format!("{n}l"),
        Value::F32(f) => format!("{f}f"),
        Value::F64(f) => format!("{f}d"),
        Value::Decimal(s, n) => format!("{n}e-{s}D"),
        Value::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
        Value::Bytes(s) => format!("x{:?}", String::from_utf8_lossy(s)),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Timestamp(_) => {
            assert_recent_timestamp(v);
            "T".to_string()
        }
        Value::Table(t) => render_table(t),
        Value::Void => "V".to_string(),
    }
}

/// Renders a table as `{k: v, ...}` in wire order (see [`render`]).
pub fn render_table(t: &[(String, Value)]) -> String {
    let parts: Vec<String> = t
        .iter()
        .map(|(k, v)| format!("{k}: {}", render(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Renders a message's headers (`-` when the headers property is absent).
pub fn render_headers(m: &Msg) -> String {
    m.props
        .headers
        .as_ref()
        .map(|h| render_table(h))
        .unwrap_or_else(|| "-".to_string())
}

/// Reads basic.ack/basic.nack frames until every delivery tag in `from..=to` is confirmed,
/// expanding `multiple` (which RabbitMQ uses to coalesce confirms); returns `(tag, acked)`
/// for each tag in order.
pub async fn confirms(c: &mut RawConn, from: u64, to: u64) -> Vec<(u64, bool)> {
    let mut out: Vec<Option<bool>> = vec![None; (to + 1 - from) as usize];
    while out.iter().any(Option::is_none) {
        let (tag, multiple, ack) = expect_confirm(c).await;
        assert!(
            (from..=to).contains(&tag),
            "confirm for unexpected tag {tag}"
        );
        let lo = if multiple { from } else { tag };
        for t in lo..=tag {
            let slot = &mut out[(t - from) as usize];
            if slot.is_none() {
                *slot = Some(ack);
            } else {
                assert!(multiple, "tag {t} confirmed twice");
            }
        }
    }
    (from..=to).zip(out.into_iter().flatten()).collect()
}

/// Opens a raw connection (guest, vhost `/`, heartbeats off) whose client properties
/// announce the `connection.blocked` capability, with channel 1 open.
pub async fn open1_blockable(broker: &TestBroker) -> RawConn {
    let mut c = Box::pin(RawConn::connect(broker.addr())).await;
    c.send(super::raw::PROTOCOL_HEADER).await;
    let (mut r, _) = Box::pin(c.expect_method(10, 10)).await;
    assert_eq!((r.u8(), r.u8()), (0, 9));
    let caps = table(&[
        ("connection.blocked", Value::Bool(true)),
        ("publisher_confirms", Value::Bool(true)),
        ("basic.nack", Value::Bool(true)),
    ]);
    let props = table(&[
        ("product", vstr("warren-ext-test")),
        ("capabilities", Value::Table(caps)),
    ]);
    let start_ok = Args::new()
        .table_bytes(&encode_table(&props))
        .shortstr("PLAIN")
        .longstr(b"\0guest\0guest")
        .shortstr("en_US")
        .build();
    c.send_method(0, 10, 11, &start_ok).await;
    let (mut r, _) = Box::pin(c.expect_method(10, 30)).await;
    let (channel_max, frame_max) = (r.u16(), r.u32());
    let tune_ok = Args::new().u16(channel_max).u32(frame_max).u16(0).build();
    c.send_method(0, 10, 31, &tune_ok).await;
    let open = Args::new().shortstr("/").shortstr("").u8(0).build();
    c.send_method(0, 10, 40, &open).await;
    Box::pin(c.expect_method(10, 41)).await;
    Box::pin(c.open_channel(1)).await;
    c
}
