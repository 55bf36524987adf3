//! The opening of a connection: protocol header, connection.start / start-ok (SASL PLAIN or
//! AMQPLAIN), tune / tune-ok (negotiated as RabbitMQ does), open / open-ok.

use super::Connection;
use super::sasl::{self, Login};
use crate::auth::refusal_text;
use crate::protocol::{
    ConnectionClose, ConnectionOpenOk, ConnectionStart, ConnectionTune, FRAME_MIN_SIZE, FieldTable,
    FieldValue, FrameType, Method, PROTOCOL_HEADER, ReplyCode, ShortStr, read_frame,
};
use bytes::{Buf, Bytes};
use tokio::io::AsyncReadExt;

/// Why a handshake ended without an open connection.
#[derive(Debug, thiserror::Error)]
pub(super) enum HandshakeError {
    /// The socket closed or failed.
    #[error("socket closed during handshake")]
    Closed,
    /// The client sent something other than the AMQP 0-9-1 header.
    #[error("unsupported protocol header")]
    BadProtocolHeader,
    /// The client was refused with a connection.close (an unknown vhost, failed
    /// authentication from a client with `authentication_failure_close`).
    #[error("{0}")]
    Refused(String),
    /// The client broke the handshake sequence or the protocol before the connection was
    /// open: as RabbitMQ does, no connection.close is sent and the socket is closed after
    /// [`SILENT_CLOSE_DELAY`], so a misbehaving client cannot retry in a tight loop.
    #[error("{} - {text}", code.name())]
    RefusedSilently {
        /// The reply code RabbitMQ would log.
        code: ReplyCode,
        /// What was wrong.
        text: String,
        /// The class of the offending method.
        class_id: u16,
        /// The offending method.
        method_id: u16,
    },
}

/// The header of AMQP 0-9 (class 1, instance 1), which RabbitMQ accepts as 0-9-1: the
/// framing and methods are the same.
const PROTOCOL_HEADER_0_9: [u8; 8] = *b"AMQP\x01\x01\x00\x09";

/// How long a client that broke the handshake waits before its socket is closed
/// (RabbitMQ's `SILENT_CLOSE_DELAY`).
pub(super) const SILENT_CLOSE_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

fn server_properties(cluster_name: &str) -> FieldTable {
    let mut caps = FieldTable::new();
    for cap in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "per_consumer_qos",
        "authentication_failure_close",
        "connection.blocked",
        "consumer_priorities",
        "direct_reply_to",
    ] {
        caps.insert(cap, FieldValue::Bool(true));
    }
    let text = |s: &str| FieldValue::LongStr(Bytes::copy_from_slice(s.as_bytes()));
    let mut props = FieldTable::new();
    // Product and version as the RabbitMQ release whose behaviour Warren reproduces:
    // clients and their test suites turn RabbitMQ's extensions on by them (amqp091-go's
    // suite runs its RabbitMQ tests only for product "RabbitMQ"). Warren names itself in
    // `platform` and `information`, where RabbitMQ names Erlang/OTP and its licence.
    props.insert("product", text("RabbitMQ"));
    props.insert("version", text(crate::management::RABBITMQ_VERSION));
    props.insert(
        "platform",
        text(concat!("Warren ", env!("CARGO_PKG_VERSION"), " (Rust)")),
    );
    props.insert(
        "information",
        text(concat!(
            "Warren ",
            env!("CARGO_PKG_VERSION"),
            ", an AMQP 0-9-1 broker that RabbitMQ clients use. Licensed under MIT or Apache-2.0"
        )),
    );
    props.insert("copyright", text("Copyright (c) the Warren authors"));
    props.insert("cluster_name", text(cluster_name));
    props.insert("capabilities", FieldValue::Table(caps));
    props
}

fn client_capability(props: &FieldTable, name: &str) -> bool {
    match props.get("capabilities") {
        Some(FieldValue::Table(caps)) => matches!(caps.get(name), Some(FieldValue::Bool(true))),
        _ => false,
    }
}

impl Connection {
    /// Runs the handshake up to connection.open-ok.
    pub(super) async fn handshake(&mut self) -> Result<(), HandshakeError> {
        self.read_protocol_header().await?;
        let settings = &self.broker.settings;
        let offered = sasl::offered(&settings.auth.mechanisms, &self.transport);
        let login_from = settings.auth.ssl_cert_login_from;
        let start = ConnectionStart {
            version_major: 0,
            version_minor: 9,
            server_properties: server_properties(&self.broker.cluster_name()),
            mechanisms: sasl::mechanisms_field(&offered),
            locales: Bytes::from_static(b"en_US"),
        };
        self.send_now(&Method::ConnectionStart(start));
        // Until tune-ok, frames are limited to the minimum size (spec, frame-max "minimum";
        // RabbitMQ does the same): an unauthenticated peer cannot make us buffer more.
        let Method::ConnectionStartOk(start_ok) = self.read_method(FRAME_MIN_SIZE).await? else {
            return Err(self.refuse(
                ReplyCode::CommandInvalid,
                "expected connection.start-ok",
                10,
                11,
            ));
        };
        self.consumer_cancel_notify =
            client_capability(&start_ok.client_properties, "consumer_cancel_notify");
        self.blocked_notify = client_capability(&start_ok.client_properties, "connection.blocked");
        let failure_close =
            client_capability(&start_ok.client_properties, "authentication_failure_close");
        let mechanism = start_ok.mechanism.to_string_lossy().into_owned();
        // Kept for the connection's life: detached from the handshake's read buffer.
        self.client_properties = start_ok.client_properties.detached();
        self.auth_mechanism = mechanism.clone();
        let login = sasl::login(
            &mechanism,
            &start_ok.response,
            &offered,
            &self.transport,
            login_from,
        );
        let checked = match login {
            Err(e @ sasl::SaslError::UnknownMechanism(_)) => {
                return Err(self.refuse(ReplyCode::CommandInvalid, &e.to_string(), 10, 11));
            }
            // Not a login that failed but a malformed response: RabbitMQ treats it as a
            // protocol error (no close, the socket goes after the delay).
            Err(e @ sasl::SaslError::Malformed(_)) => {
                return Err(self.refuse(ReplyCode::AccessRefused, &e.to_string(), 10, 11));
            }
            Ok(Login::Password { user, password }) => self
                .broker
                .access
                .authenticate(&user, &password, self.peer)
                .map(|_| user)
                .map_err(|e| e.to_string()),
            Ok(Login::Certificate(Ok(user))) => self
                .broker
                .access
                .check_external(&user, self.peer)
                .map(|()| user)
                .map_err(|e| e.to_string()),
            Ok(Login::Certificate(Err(reason))) => Err(reason),
        };
        self.broker.connections.totals.auth.amqp(checked.is_ok());
        let authenticated = match checked {
            Ok(user) => Some(user),
            Err(e) => {
                tracing::warn!(%mechanism, "login refused: {e}");
                None
            }
        };
        let Some(user) = authenticated else {
            if failure_close {
                let close = ConnectionClose {
                    reply_code: ReplyCode::AccessRefused.code(),
                    reply_text: ShortStr::from(refusal_text(&mechanism)),
                    class_id: 0,
                    method_id: 0,
                };
                self.send_now(&Method::ConnectionClose(close));
            }
            return Err(HandshakeError::Refused("authentication failed".to_string()));
        };
        self.user = user;
        let tune = ConnectionTune {
            channel_max: self.tuning.channel_max,
            frame_max: self.tuning.frame_max,
            heartbeat: self.tuning.heartbeat,
        };
        self.send_now(&Method::ConnectionTune(tune));
        let Method::ConnectionTuneOk(tune_ok) = self.read_method(FRAME_MIN_SIZE).await? else {
            return Err(self.refuse(
                ReplyCode::CommandInvalid,
                "expected connection.tune-ok",
                10,
                31,
            ));
        };
        self.negotiate(
            "frame_max",
            u64::from(FRAME_MIN_SIZE),
            u64::from(self.tuning.frame_max),
            u64::from(tune_ok.frame_max),
        )?;
        self.negotiate(
            "channel_max",
            1,
            u64::from(self.tuning.channel_max),
            u64::from(tune_ok.channel_max),
        )?;
        self.tuning.frame_max = tune_ok.frame_max;
        if tune_ok.channel_max != 0 {
            self.tuning.channel_max = tune_ok.channel_max;
        }
        self.tuning.heartbeat = tune_ok.heartbeat;
        let method = match self.read_method(self.tuning.frame_max).await {
            Ok(method) => method,
            Err(err) => return Err(self.refuse_loudly(err)),
        };
        let Method::ConnectionOpen(open) = method else {
            return Err(self.close_with(
                ReplyCode::ChannelError,
                "unexpected method in connection state opening",
                method.class_id(),
                method.method_id(),
            ));
        };
        let vhost_name = open.virtual_host.to_string_lossy().into_owned();
        // Limits, the vhost's existence and the user's permission on it, in RabbitMQ's order.
        let session = match self.broker.access.open_connection(&self.user, &vhost_name) {
            Ok(session) => session,
            Err(e) => {
                let e = e.to_amqp();
                return Err(self.close_with(e.code, &e.text, 10, 40));
            }
        };
        let Some(vhost) = self.broker.vhost(&vhost_name) else {
            let text = format!("vhost {vhost_name} not found");
            return Err(self.close_with(ReplyCode::NotAllowed, &text, 10, 40));
        };
        self.vhost = Some(vhost);
        self.session = Some(session);
        self.send_now(&Method::ConnectionOpenOk(ConnectionOpenOk::default()));
        Ok(())
    }

    /// RabbitMQ's rule for the client's tune-ok values: not below the minimum, and not
    /// above (nor, where the server sets a limit, zero instead of) the server's offer.
    fn negotiate(
        &mut self,
        field: &str,
        min: u64,
        server: u64,
        client: u64,
    ) -> Result<(), HandshakeError> {
        if client != 0 && client < min {
            let text = format!("{field}={client} < {min} min {field}");
            return Err(self.refuse(ReplyCode::NotAllowed, &text, 10, 31));
        }
        if server != 0 && (client == 0 || client > server) {
            let text = format!(
                "negotiated {field} = {client} is higher than the maximum allowed value ({server})"
            );
            return Err(self.refuse(ReplyCode::NotAllowed, &text, 10, 31));
        }
        Ok(())
    }

    /// Gives up on a connection that broke the handshake, without a close (see
    /// [`HandshakeError::RefusedSilently`]).
    fn refuse(&self, code: ReplyCode, text: &str, class_id: u16, method_id: u16) -> HandshakeError {
        HandshakeError::RefusedSilently {
            code,
            text: text.to_string(),
            class_id,
            method_id,
        }
    }

    /// Once tune-ok is accepted (RabbitMQ's `opening` state), errors are answered with a
    /// connection.close instead.
    fn refuse_loudly(&mut self, err: HandshakeError) -> HandshakeError {
        match err {
            HandshakeError::RefusedSilently {
                code,
                text,
                class_id,
                method_id,
            } => self.close_with(code, &text, class_id, method_id),
            other => other,
        }
    }

    /// Sends connection.close and gives up on the connection.
    fn close_with(
        &mut self,
        code: ReplyCode,
        text: &str,
        class_id: u16,
        method_id: u16,
    ) -> HandshakeError {
        let close = ConnectionClose {
            reply_code: code.code(),
            reply_text: ShortStr::from(format!("{} - {}", code.name(), text)),
            class_id,
            method_id,
        };
        self.send_now(&Method::ConnectionClose(close));
        HandshakeError::Refused(text.to_string())
    }

    /// After a refusal with connection.close: waits for the client's close-ok (or its
    /// hang-up) for at most [`SILENT_CLOSE_DELAY`], as RabbitMQ does, so the client's
    /// close-ok does not meet a closed socket.
    pub(super) async fn await_close_ok(&mut self) {
        let deadline = tokio::time::Instant::now() + SILENT_CLOSE_DELAY;
        loop {
            loop {
                match read_frame(&mut self.rbuf, self.tuning.frame_max.max(FRAME_MIN_SIZE)) {
                    Ok(Some(frame)) => {
                        if frame.frame_type == FrameType::Method
                            && frame.channel == 0
                            && matches!(
                                Method::decode(frame.payload),
                                Ok(Method::ConnectionCloseOk(_))
                            )
                        {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        // Nothing more can be parsed: just wait for the hang-up.
                        self.rbuf.clear();
                        break;
                    }
                }
            }
            match tokio::time::timeout_at(deadline, self.reader.read_buf(&mut self.rbuf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
    }

    fn send_now(&mut self, method: &Method) {
        self.sink.method(0, method);
        self.sink.flush_to(&self.outbox);
    }

    async fn read_protocol_header(&mut self) -> Result<(), HandshakeError> {
        let accepted = |got: &[u8]| {
            [&PROTOCOL_HEADER[..], &PROTOCOL_HEADER_0_9[..]]
                .iter()
                .any(|h| h.get(..got.len()) == Some(got))
        };
        while self.rbuf.len() < PROTOCOL_HEADER.len() {
            let n = self.reader.read_buf(&mut self.rbuf).await.unwrap_or(0);
            self.count_read(n);
            if n == 0 {
                return Err(HandshakeError::Closed);
            }
            // A client that starts with anything else gets our header as soon as we can tell.
            let n = self.rbuf.len().min(PROTOCOL_HEADER.len());
            if !self.rbuf.get(..n).is_some_and(accepted) {
                break;
            }
        }
        if !self.rbuf.get(..PROTOCOL_HEADER.len()).is_some_and(accepted) {
            self.sink.push_raw(Bytes::from_static(&PROTOCOL_HEADER));
            self.sink.flush_to(&self.outbox);
            return Err(HandshakeError::BadProtocolHeader);
        }
        self.rbuf.advance(PROTOCOL_HEADER.len());
        Ok(())
    }

    /// Reads the next method on channel 0, skipping heartbeats; a frame larger than
    /// `frame_max` is refused as soon as its header is read.
    async fn read_method(&mut self, frame_max: u32) -> Result<Method, HandshakeError> {
        loop {
            match read_frame(&mut self.rbuf, frame_max) {
                Ok(Some(frame)) => match frame.frame_type {
                    FrameType::Heartbeat => continue,
                    FrameType::Method if frame.channel == 0 => {
                        return Method::decode(frame.payload).map_err(|e| {
                            let text = e.to_string();
                            self.refuse(e.reply_code(), &text, e.class_id(), e.method_id())
                        });
                    }
                    _ => {
                        return Err(self.refuse(
                            ReplyCode::UnexpectedFrame,
                            "expected a connection method on channel 0",
                            0,
                            0,
                        ));
                    }
                },
                Ok(None) => {
                    let n = self.reader.read_buf(&mut self.rbuf).await.unwrap_or(0);
                    self.count_read(n);
                    if n == 0 {
                        return Err(HandshakeError::Closed);
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    return Err(self.refuse(ReplyCode::FrameError, &text, 0, 0));
                }
            }
        }
    }
}
