//! Connection errors for frames that cannot be used, worded as RabbitMQ words them (its
//! texts print the frame type and payload octets as Erlang terms).

use crate::error::AmqpError;
use crate::protocol::erlang_format::{self, Term};
use crate::protocol::{DecodeError, FrameType, ReplyCode};

/// 505 for a frame on a channel where its type cannot go (content on channel 0, a
/// heartbeat elsewhere): `type T, all octets = <<...>>`.
pub(super) fn misplaced_frame(frame_type: FrameType, payload: &[u8]) -> AmqpError {
    AmqpError::new(
        ReplyCode::UnexpectedFrame,
        erlang_format::frame_octets(frame_type.as_u8(), payload),
    )
}

/// 501 for a heartbeat frame that carries a payload.
pub(super) fn heartbeat_with_payload(payload: &[u8]) -> AmqpError {
    AmqpError::new(
        ReplyCode::FrameError,
        erlang_format::frame_error(
            FrameType::Heartbeat.as_u8(),
            payload,
            Term::Atom("unknown_frame"),
        ),
    )
}

/// The error for a method frame that does not decode: a payload too short for the ids is an
/// unknown frame, arguments that do not parse are "cannot decode" followed by the argument
/// bytes; the rest keep their own texts. A short string that is not UTF-8 names its method
/// only on channel 0: RabbitMQ finds it while assembling a channel's command, where it
/// reports no method.
pub(super) fn method_decode_error(channel: u16, payload: &[u8], e: &DecodeError) -> AmqpError {
    let text = match e {
        DecodeError::MethodFrameTooShort { .. } => erlang_format::frame_error(
            FrameType::Method.as_u8(),
            payload,
            Term::Atom("unknown_frame"),
        ),
        DecodeError::Truncated { .. } | DecodeError::TrailingBytes { .. } => format!(
            "cannot decode {}",
            erlang_format::binary_w(payload.get(4..).unwrap_or_default())
        ),
        other => other.to_string(),
    };
    let error = AmqpError::new(e.reply_code(), text);
    if channel != 0 && matches!(e, DecodeError::MalformedUtf8 { .. }) {
        return error;
    }
    error.with_method(e.class_id(), e.method_id())
}
