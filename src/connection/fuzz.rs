//! The body of the whole-connection fuzz target (`fuzz/fuzz_targets/connection.rs`) and of
//! the stable random-stream test (`tests/connection_fuzz.rs`): a byte stream is fed to a
//! real connection (handshake, channels, content, the broker behind them) over an
//! in-memory duplex stream, and what comes back is checked: the connection task did not
//! panic, the output is well-formed frames (or the protocol header RabbitMQ answers a
//! wrong one with), and every connection.close and channel.close carries a reply code
//! AMQP defines. Bounded memory is checked by the callers (an allocation-size limit).

use crate::broker::Broker;
use crate::config::Settings;
use crate::protocol::{
    ConnectionOpen, ConnectionStartOk, ConnectionTuneOk, FieldTable, Method, PROTOCOL_HEADER,
    ReplyCode, ShortStr, write_method_frame,
};
use bytes::{Bytes, BytesMut};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How much the in-memory stream buffers in each direction.
const DUPLEX_BUFFER: usize = 64 * 1024;

/// A broker on a private temporary data directory, removed on drop.
#[derive(Debug)]
pub struct FuzzBroker {
    /// The broker connections are served by.
    pub broker: Arc<Broker>,
    dir: PathBuf,
}

impl FuzzBroker {
    /// Opens a broker with default settings on a fresh directory under the system's
    /// temporary directory.
    pub fn open() -> Result<FuzzBroker, crate::store::StoreError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("warren-fuzz-{}-{nanos:x}", std::process::id()));
        let mut settings = Settings::default();
        settings.server.data_dir = dir.clone();
        let broker = Arc::new(Broker::open(Arc::new(settings))?);
        Ok(FuzzBroker { broker, dir })
    }
}

impl Drop for FuzzBroker {
    fn drop(&mut self) {
        self.broker.store.close();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the broker sent back for one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuzzOutcome {
    /// Bytes the broker wrote.
    pub output_len: usize,
    /// Frames in the output.
    pub frames: usize,
    /// The broker answered with its protocol header (the input's was not 0-9-1).
    pub protocol_header: bool,
    /// The reply code of the broker's connection.close, if it sent one.
    pub connection_close: Option<u16>,
    /// Reply codes of the broker's channel.close methods.
    pub channel_closes: Vec<u16>,
}

/// A broken promise about a connection's behaviour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FuzzViolation {
    /// The connection task panicked.
    #[error("the connection task panicked: {0}")]
    Panicked(String),
    /// The output is not a sequence of whole, well-formed frames.
    #[error("malformed output at byte {offset}: {what}")]
    MalformedOutput {
        /// Where the problem starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A close carried a number that is no AMQP reply code.
    #[error("close with reply code {code}, which AMQP does not define")]
    InvalidReplyCode {
        /// The code sent.
        code: u16,
    },
    /// Frames followed the broker's connection.close (other than close-ok).
    #[error("frames sent after connection.close")]
    FramesAfterClose,
}

/// A client's whole handshake, as guest on vhost `/` with heartbeats off, followed by
/// channel.open on channel 1 (whose open-ok the broker sends).
pub fn client_handshake() -> Vec<u8> {
    let mut out = BytesMut::new();
    out.extend_from_slice(&PROTOCOL_HEADER);
    let start_ok = ConnectionStartOk {
        client_properties: FieldTable::new(),
        mechanism: ShortStr::from_static("PLAIN"),
        response: Bytes::from_static(b"\0guest\0guest"),
        locale: ShortStr::from_static("en_US"),
    };
    let tune_ok = ConnectionTuneOk {
        channel_max: 2047,
        frame_max: 131_072,
        heartbeat: 0,
    };
    let open = ConnectionOpen {
        virtual_host: ShortStr::from_static("/"),
        ..ConnectionOpen::default()
    };
    for method in [
        Method::ConnectionStartOk(start_ok),
        Method::ConnectionTuneOk(tune_ok),
        Method::ConnectionOpen(open),
    ] {
        write_method_frame(&mut out, 0, &method);
    }
    write_method_frame(
        &mut out,
        1,
        &Method::ChannelOpen(crate::protocol::ChannelOpen::default()),
    );
    out.to_vec()
}

/// The fuzz target's reading of its input: an even first octet means "after a valid
/// handshake and channel.open on channel 1, send the rest"; an odd one "send the rest
/// as it is" (so the handshake itself is fuzzed too).
pub fn stream_of_fuzz_input(data: &[u8]) -> Vec<u8> {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => [client_handshake().as_slice(), rest].concat(),
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    }
}

/// Serves one connection from a loopback address that sends `input` and then half-closes,
/// reads everything the broker sends until it closes its side, and checks it.
pub async fn drive(broker: &Arc<Broker>, input: &[u8]) -> Result<FuzzOutcome, FuzzViolation> {
    let (client, server) = tokio::io::duplex(DUPLEX_BUFFER);
    let (_shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 50_000));
    let task = tokio::spawn(super::serve_stream(
        server,
        peer,
        Arc::clone(broker),
        shutdown_rx,
    ));
    let (mut from_broker, mut to_broker) = tokio::io::split(client);
    let send = async {
        // The broker may stop reading (and drop its side) before all of it is sent.
        let _ = to_broker.write_all(input).await;
        let _ = to_broker.shutdown().await;
    };
    let receive = async {
        let mut output = Vec::new();
        let _ = from_broker.read_to_end(&mut output).await;
        output
    };
    let ((), output) = tokio::join!(send, receive);
    if let Err(e) = task.await
        && e.is_panic()
    {
        return Err(FuzzViolation::Panicked(e.to_string()));
    }
    check_output(&output)
}

/// Checks the broker's output (see the module docs).
pub fn check_output(output: &[u8]) -> Result<FuzzOutcome, FuzzViolation> {
    let mut outcome = FuzzOutcome {
        output_len: output.len(),
        ..FuzzOutcome::default()
    };
    if output == PROTOCOL_HEADER {
        outcome.protocol_header = true;
        return Ok(outcome);
    }
    let mut offset = 0;
    while offset < output.len() {
        let malformed = |what| FuzzViolation::MalformedOutput { offset, what };
        let header = output
            .get(offset..offset + 7)
            .ok_or_else(|| malformed("truncated frame header"))?;
        let [frame_type, _, _, a, b, c, d] = header else {
            return Err(malformed("truncated frame header"));
        };
        let size = usize::try_from(u32::from_be_bytes([*a, *b, *c, *d]))
            .map_err(|_| malformed("frame size"))?;
        let payload_start = offset + 7;
        let payload = output
            .get(payload_start..payload_start + size)
            .ok_or_else(|| malformed("truncated payload"))?;
        if output.get(payload_start + size) != Some(&0xCE) {
            return Err(malformed("bad frame end"));
        }
        if !matches!(frame_type, 1 | 2 | 3 | 8) {
            return Err(malformed("unknown frame type"));
        }
        if outcome.connection_close.is_some() {
            // After its close the broker only answers a client's close with close-ok.
            if payload != [0, 10, 0, 51] {
                return Err(FuzzViolation::FramesAfterClose);
            }
        }
        if *frame_type == 1
            && let [0, class @ (10 | 20), 0, 50 | 40, hi, lo, ..] = payload
        {
            let code = u16::from_be_bytes([*hi, *lo]);
            if ReplyCode::from_code(code).is_none() {
                return Err(FuzzViolation::InvalidReplyCode { code });
            }
            match (class, payload.get(3)) {
                (10, Some(50)) => outcome.connection_close = Some(code),
                (20, Some(40)) => outcome.channel_closes.push(code),
                _ => {}
            }
        }
        outcome.frames += 1;
        offset = payload_start + size + 1;
    }
    Ok(outcome)
}
