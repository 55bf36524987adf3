//! Frames: the incremental reader (splits whole frames off a `BytesMut` without copying the
//! payload, checking type, size and end octet) and the writers for outgoing frames.

use super::error::FrameError;
use super::generated::Method;
use super::{FRAME_END, FRAME_HEADER_SIZE, FRAME_OVERHEAD};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The four frame types of AMQP 0-9-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// A method frame.
    Method = 1,
    /// A content header frame.
    Header = 2,
    /// A content body frame.
    Body = 3,
    /// A heartbeat frame (channel 0, empty payload).
    Heartbeat = 8,
}

impl FrameType {
    /// The frame type for a type octet, `None` for unknown ones.
    pub fn from_u8(octet: u8) -> Option<Self> {
        match octet {
            1 => Some(FrameType::Method),
            2 => Some(FrameType::Header),
            3 => Some(FrameType::Body),
            8 => Some(FrameType::Heartbeat),
            _ => None,
        }
    }

    /// The type octet sent on the wire.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// One whole frame; `payload` is a slice of the read buffer (no copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The frame type.
    pub frame_type: FrameType,
    /// The channel number.
    pub channel: u16,
    /// The payload, without header and end octet.
    pub payload: Bytes,
}

/// The largest payload `frame_max` allows, before RabbitMQ's leniency (see `read_frame`).
/// A frame_max of 0 means "no limit" in AMQP.
fn payload_limit(frame_max: u32) -> u32 {
    if frame_max == 0 {
        u32::MAX
    } else {
        frame_max.saturating_sub(OVERHEAD_U32)
    }
}

/// `FRAME_OVERHEAD` as a u32.
const OVERHEAD_U32: u32 = 8;
const _: () = assert!(OVERHEAD_U32 as usize == FRAME_OVERHEAD);

/// Splits one whole frame off the front of `buf` without copying the payload.
/// `Ok(None)` means the frame is incomplete and `buf` is untouched (the caller reads more).
///
/// As soon as the 7 header bytes are there, before waiting for the rest, it checks that the
/// payload fits frame_max (else `TooLarge`); once the frame is complete, that the end octet is
/// 0xCE (else `BadFrameEnd`) and the frame type is known (else `UnknownFrameType`), as
/// RabbitMQ does (its error shows the payload).
///
/// Size rule, as RabbitMQ 3.10.8 does it (verified): the limit is frame_max minus the 8 bytes
/// of overhead, but RabbitMQ adds an 8-byte fudge for clients that got the overhead wrong, so
/// a payload is rejected only when it exceeds frame_max itself; the error reports the limit
/// as frame_max - 8 (RabbitMQ: `{frame_too_large, 131073, 131064}`). frame_max 0 = no limit.
pub fn read_frame(buf: &mut BytesMut, frame_max: u32) -> Result<Option<Frame>, FrameError> {
    // Numbers cannot fail to parse: the only outcome besides a header is "not all there".
    let Ok((_, (type_octet, channel, size))) = frame_header(buf) else {
        return Ok(None);
    };
    let limit = payload_limit(frame_max);
    let too_large = FrameError::TooLarge {
        frame_type: type_octet,
        size,
        max: limit,
    };
    if size > limit.saturating_add(OVERHEAD_U32) {
        return Err(too_large);
    }
    let Some(payload_len) = usize::try_from(size).ok() else {
        return Err(too_large);
    };
    let Some(total) = payload_len.checked_add(FRAME_OVERHEAD) else {
        return Err(too_large);
    };
    let Some(&end) = buf.get(FRAME_HEADER_SIZE + payload_len) else {
        return Ok(None);
    };
    let shown = || {
        let payload = buf.get(FRAME_HEADER_SIZE..FRAME_HEADER_SIZE + payload_len);
        let payload = payload.unwrap_or_default();
        payload.iter().take(16).copied().collect::<Vec<u8>>()
    };
    if end != FRAME_END {
        return Err(FrameError::BadFrameEnd {
            frame_type: type_octet,
            octets: shown(),
            found: end,
        });
    }
    let Some(frame_type) = FrameType::from_u8(type_octet) else {
        return Err(FrameError::UnknownFrameType {
            frame_type: type_octet,
            octets: shown(),
        });
    };
    let mut whole = buf.split_to(total);
    whole.advance(FRAME_HEADER_SIZE);
    whole.truncate(payload_len);
    Ok(Some(Frame {
        frame_type,
        channel,
        payload: whole.freeze(),
    }))
}

/// The 7-byte frame header (type, channel, payload size), parsed with nom's streaming
/// parsers: `Incomplete` until all seven bytes have arrived, so nothing is read early.
fn frame_header(input: &[u8]) -> nom::IResult<&[u8], (u8, u16, u32)> {
    use nom::Parser;
    use nom::number::streaming::{be_u8, be_u16, be_u32};
    (be_u8, be_u16, be_u32).parse(input)
}

/// Writes the 7-byte frame header.
pub fn write_frame_header(
    out: &mut BytesMut,
    frame_type: FrameType,
    channel: u16,
    payload_size: u32,
) {
    out.put_u8(frame_type.as_u8());
    out.put_u16(channel);
    out.put_u32(payload_size);
}

/// Writes a whole method frame (header, class and method ids, arguments, end octet).
pub fn write_method_frame(out: &mut BytesMut, channel: u16, method: &Method) {
    let len = method.encoded_len();
    out.reserve(len + FRAME_OVERHEAD);
    write_frame_header(
        out,
        FrameType::Method,
        channel,
        u32::try_from(len).unwrap_or(u32::MAX),
    );
    method.encode(out);
    out.put_u8(FRAME_END);
}

/// Writes a whole content header frame; `raw_properties` is the property flags and list
/// exactly as received (or as `BasicProperties::encode` wrote them).
pub fn write_content_header_frame(
    out: &mut BytesMut,
    channel: u16,
    class_id: u16,
    body_size: u64,
    raw_properties: &[u8],
) {
    let len = 12 + raw_properties.len();
    out.reserve(len + FRAME_OVERHEAD);
    write_frame_header(
        out,
        FrameType::Header,
        channel,
        u32::try_from(len).unwrap_or(u32::MAX),
    );
    out.put_u16(class_id);
    out.put_u16(0);
    out.put_u64(body_size);
    out.put_slice(raw_properties);
    out.put_u8(FRAME_END);
}

/// Writes a whole content body frame.
pub fn write_body_frame(out: &mut BytesMut, channel: u16, body: &[u8]) {
    out.reserve(body.len() + FRAME_OVERHEAD);
    write_frame_header(
        out,
        FrameType::Body,
        channel,
        u32::try_from(body.len()).unwrap_or(u32::MAX),
    );
    out.put_slice(body);
    out.put_u8(FRAME_END);
}

/// Writes a heartbeat frame (channel 0, empty payload).
pub fn write_heartbeat_frame(out: &mut BytesMut) {
    write_frame_header(out, FrameType::Heartbeat, 0, 0);
    out.put_u8(FRAME_END);
}
