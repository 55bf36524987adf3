//! Codec errors: `FrameError` for the framing layer, `DecodeError` for method arguments,
//! field tables and content headers. Each knows the reply code RabbitMQ answers with, so the
//! connection can close with the same code a RabbitMQ client would see.
//!
//! What RabbitMQ 3.10.8 was observed to send (raw-socket probes, see the codec report):
//! unknown frame type, oversize frame, bad frame-end octet, a method frame shorter than
//! 4 bytes, truncated method arguments and trailing bytes after them all close the connection
//! with 501 FRAME_ERROR ("cannot decode ..." for the argument cases, with the method's class
//! and method ids). A content header shorter than 14 bytes is 501; one with a non-zero weight
//! or the wrong class is 505 UNEXPECTED_FRAME; a malformed property list (truncated, trailing
//! bytes, bad field type, continuation flag set) makes its channel crash and the connection
//! close with 541 INTERNAL_ERROR. For an unknown class/method id and for a bad field-table
//! type code inside method arguments RabbitMQ drops the TCP connection without a
//! connection.close; we answer 540 NOT_IMPLEMENTED and 501 FRAME_ERROR respectively.
//! A short string that is not UTF-8 in a method without content is 501 `Malformed UTF-8 in
//! shortstr` (no class/method ids on a channel, the method's on channel 0); the exchange and
//! routing key of basic.publish (and the other content methods) are taken as raw bytes.

use super::erlang_format::{Term, frame_error};
use super::reply_code::ReplyCode;

/// A frame that cannot be accepted; every variant is a hard 501 FRAME_ERROR. The texts are
/// RabbitMQ's: `type T, all octets = <<...>>: reason`, the payload's first 16 octets and
/// the reason printed as Erlang prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame's payload is larger than the negotiated frame_max allows (checked before the
    /// payload is read, so no octets are shown).
    #[error("{}", frame_error(*frame_type, &[], Term::Pair("frame_too_large", &format!("{size},{max}"))))]
    TooLarge {
        /// The frame type octet.
        frame_type: u8,
        /// Payload size announced in the frame header.
        size: u32,
        /// frame_max minus the 8 bytes of frame overhead.
        max: u32,
    },
    /// The octet after the payload is not 0xCE.
    #[error("{}", frame_error(*frame_type, octets, Term::Pair("invalid_frame_end_marker", &found.to_string())))]
    BadFrameEnd {
        /// The frame type octet.
        frame_type: u8,
        /// The first (at most 16) payload octets.
        octets: Vec<u8>,
        /// The octet found instead.
        found: u8,
    },
    /// The frame type is not method, header, body or heartbeat.
    #[error("{}", frame_error(*frame_type, octets, Term::Atom("unknown_frame")))]
    UnknownFrameType {
        /// The frame type octet received.
        frame_type: u8,
        /// The first (at most 16) payload octets.
        octets: Vec<u8>,
    },
}

impl FrameError {
    /// The reply code for connection.close: always 501 FRAME_ERROR, as RabbitMQ sends.
    pub fn reply_code(&self) -> ReplyCode {
        ReplyCode::FrameError
    }
}

/// A method, field table or content header that cannot be decoded. Variants carry the class
/// and method ids when known (0 otherwise); `with_method` fills them in once known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// A method frame payload shorter than the 4 bytes of class and method id.
    #[error("method frame payload of {len} bytes is too short to hold class and method ids")]
    MethodFrameTooShort {
        /// Payload length received.
        len: usize,
    },
    /// A class/method id pair no method has.
    #[error("unknown method: class {class_id}, method {method_id}")]
    UnknownMethod {
        /// Class id received.
        class_id: u16,
        /// Method id received.
        method_id: u16,
    },
    /// The input ended before a value was complete.
    #[error("{what} truncated (class {class_id}, method {method_id})")]
    Truncated {
        /// Class id, 0 when unknown.
        class_id: u16,
        /// Method id, 0 when unknown.
        method_id: u16,
        /// What was being read.
        what: &'static str,
    },
    /// Bytes left over after the last argument of a method or the last property.
    #[error("{extra} unexpected trailing bytes (class {class_id}, method {method_id})")]
    TrailingBytes {
        /// Class id, 0 when unknown.
        class_id: u16,
        /// Method id, 0 when unknown.
        method_id: u16,
        /// How many bytes were left.
        extra: usize,
    },
    /// A field-table or array value with a type code RabbitMQ does not define.
    #[error(
        "unknown field value type code {type_code:#04x} (class {class_id}, method {method_id})"
    )]
    BadFieldType {
        /// Class id, 0 when unknown.
        class_id: u16,
        /// Method id, 0 when unknown.
        method_id: u16,
        /// The type code octet received.
        type_code: u8,
    },
    /// A short string that is not UTF-8 in a method RabbitMQ checks (every method that
    /// carries no content).
    #[error("Malformed UTF-8 in shortstr")]
    MalformedUtf8 {
        /// Class id of the method.
        class_id: u16,
        /// Method id of the method.
        method_id: u16,
    },
    /// A content header payload shorter than class, weight, body size and flags (14 bytes).
    #[error("content header payload of {len} bytes is shorter than the 14-byte minimum")]
    ContentHeaderTooShort {
        /// Payload length received.
        len: usize,
    },
    /// A content header whose weight field is not 0.
    #[error("expected content header for class 60, got non content header frame instead")]
    ContentHeaderWeight {
        /// Class id from the header.
        class_id: u16,
        /// The weight received.
        weight: u16,
    },
    /// A content header for a class that carries no content (only basic does).
    #[error("expected content header for class 60, got one for class {class_id} instead")]
    ContentHeaderClass {
        /// Class id from the header.
        class_id: u16,
    },
    /// Property flags with the continuation bit (bit 0) set; basic has only 14 properties.
    #[error("property flags {flags:#06x} for class {class_id} set the continuation bit")]
    BadPropertyFlags {
        /// Class id the properties belong to.
        class_id: u16,
        /// The flags word received.
        flags: u16,
    },
    /// A property list that does not decode; `cause` says why.
    #[error("malformed property list for class {class_id}: {cause}")]
    BadProperties {
        /// Class id the properties belong to.
        class_id: u16,
        /// The underlying decode failure.
        #[source]
        cause: Box<DecodeError>,
    },
}

impl DecodeError {
    /// The reply code for connection.close, matching RabbitMQ (see the module docs).
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            DecodeError::UnknownMethod { .. } => ReplyCode::NotImplemented,
            DecodeError::ContentHeaderWeight { .. } | DecodeError::ContentHeaderClass { .. } => {
                ReplyCode::UnexpectedFrame
            }
            DecodeError::BadPropertyFlags { .. } | DecodeError::BadProperties { .. } => {
                ReplyCode::InternalError
            }
            DecodeError::MethodFrameTooShort { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::TrailingBytes { .. }
            | DecodeError::BadFieldType { .. }
            | DecodeError::MalformedUtf8 { .. }
            | DecodeError::ContentHeaderTooShort { .. } => ReplyCode::FrameError,
        }
    }

    /// The class id of the method (or content header) being decoded; 0 when unknown.
    pub fn class_id(&self) -> u16 {
        match self {
            DecodeError::MethodFrameTooShort { .. } | DecodeError::ContentHeaderTooShort { .. } => {
                0
            }
            DecodeError::UnknownMethod { class_id, .. }
            | DecodeError::Truncated { class_id, .. }
            | DecodeError::TrailingBytes { class_id, .. }
            | DecodeError::BadFieldType { class_id, .. }
            | DecodeError::MalformedUtf8 { class_id, .. }
            | DecodeError::ContentHeaderWeight { class_id, .. }
            | DecodeError::ContentHeaderClass { class_id }
            | DecodeError::BadPropertyFlags { class_id, .. }
            | DecodeError::BadProperties { class_id, .. } => *class_id,
        }
    }

    /// The method id of the method being decoded; 0 when unknown or for content headers.
    pub fn method_id(&self) -> u16 {
        match self {
            DecodeError::UnknownMethod { method_id, .. }
            | DecodeError::Truncated { method_id, .. }
            | DecodeError::TrailingBytes { method_id, .. }
            | DecodeError::BadFieldType { method_id, .. }
            | DecodeError::MalformedUtf8 { method_id, .. } => *method_id,
            _ => 0,
        }
    }

    /// Fills in the class and method ids of errors raised by context-free readers (field
    /// tables) once the caller knows which method they belong to.
    pub fn with_method(mut self, class: u16, method: u16) -> Self {
        match &mut self {
            DecodeError::Truncated {
                class_id,
                method_id,
                ..
            }
            | DecodeError::TrailingBytes {
                class_id,
                method_id,
                ..
            }
            | DecodeError::BadFieldType {
                class_id,
                method_id,
                ..
            } => {
                *class_id = class;
                *method_id = method;
            }
            _ => {}
        }
        self
    }
}
