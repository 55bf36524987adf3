//! Content headers and the 14 basic properties. The broker forwards properties as the raw
//! bytes it received (RabbitMQ does the same); `summarize_properties` reads the few the hot
//! path needs without allocating, and `BasicProperties` decodes all of them when needed.

use super::CLASS_BASIC;
use super::error::DecodeError;
use super::field_table::{FieldTable, read_table, skip_table, table_encoded_len, write_table};
use super::primitives::{
    ShortStr, put_shortstr, shortstr_len, take_shortstr, take_u8, take_u16, take_u64,
};
use bytes::{BufMut, Bytes, BytesMut};

/// Property flag bits, most significant first, in property-list order.
const CONTENT_TYPE: u16 = 1 << 15;
const CONTENT_ENCODING: u16 = 1 << 14;
const HEADERS: u16 = 1 << 13;
const DELIVERY_MODE: u16 = 1 << 12;
const PRIORITY: u16 = 1 << 11;
const CORRELATION_ID: u16 = 1 << 10;
const REPLY_TO: u16 = 1 << 9;
const EXPIRATION: u16 = 1 << 8;
const MESSAGE_ID: u16 = 1 << 7;
const TIMESTAMP: u16 = 1 << 6;
const TYPE: u16 = 1 << 5;
const USER_ID: u16 = 1 << 4;
const APP_ID: u16 = 1 << 3;
const CLUSTER_ID: u16 = 1 << 2;
/// The continuation bit: another flags word follows. No basic client sets it; RabbitMQ
/// fails on it (541), bit 1 it ignores, and so do we.
const CONTINUATION: u16 = 1;

/// The 14 properties of class basic, each optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicProperties {
    /// MIME content type.
    pub content_type: Option<ShortStr>,
    /// MIME content encoding.
    pub content_encoding: Option<ShortStr>,
    /// Application headers.
    pub headers: Option<FieldTable>,
    /// 1 = transient, 2 = persistent.
    pub delivery_mode: Option<u8>,
    /// Message priority, 0 to 9.
    pub priority: Option<u8>,
    /// Application correlation id.
    pub correlation_id: Option<ShortStr>,
    /// Address to reply to.
    pub reply_to: Option<ShortStr>,
    /// Per-message TTL in milliseconds, as a decimal string.
    pub expiration: Option<ShortStr>,
    /// Application message id.
    pub message_id: Option<ShortStr>,
    /// Message timestamp (seconds since the epoch).
    pub timestamp: Option<u64>,
    /// Message type name (`type` in the spec).
    pub kind: Option<ShortStr>,
    /// Creating user id (RabbitMQ validates it against the connection's user).
    pub user_id: Option<ShortStr>,
    /// Creating application id.
    pub app_id: Option<ShortStr>,
    /// Deprecated cluster id.
    pub cluster_id: Option<ShortStr>,
}

/// Wraps a failure inside a property list the way RabbitMQ reports it (see `error.rs`).
fn bad(cause: DecodeError) -> DecodeError {
    match cause {
        DecodeError::BadPropertyFlags { .. } | DecodeError::BadProperties { .. } => cause,
        cause => DecodeError::BadProperties {
            class_id: CLASS_BASIC,
            cause: Box::new(cause.with_method(CLASS_BASIC, 0)),
        },
    }
}

fn truncated() -> DecodeError {
    bad(DecodeError::Truncated {
        class_id: CLASS_BASIC,
        method_id: 0,
        what: "property list",
    })
}

fn read_flags(input: &mut Bytes) -> Result<u16, DecodeError> {
    let flags = take_u16(input).ok_or_else(truncated)?;
    if flags & CONTINUATION != 0 {
        return Err(DecodeError::BadPropertyFlags {
            class_id: CLASS_BASIC,
            flags,
        });
    }
    Ok(flags)
}

fn finish(input: &Bytes) -> Result<(), DecodeError> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(bad(DecodeError::TrailingBytes {
            class_id: CLASS_BASIC,
            method_id: 0,
            extra: input.len(),
        }))
    }
}

fn opt_shortstr(input: &mut Bytes, flags: u16, bit: u16) -> Result<Option<ShortStr>, DecodeError> {
    if flags & bit == 0 {
        return Ok(None);
    }
    take_shortstr(input).map(Some).ok_or_else(truncated)
}

fn opt_octet(input: &mut Bytes, flags: u16, bit: u16) -> Result<Option<u8>, DecodeError> {
    if flags & bit == 0 {
        return Ok(None);
    }
    take_u8(input).map(Some).ok_or_else(truncated)
}

impl BasicProperties {
    /// Decodes property flags and list (`raw`, as in a content header after the body size).
    pub fn decode(raw: &Bytes) -> Result<Self, DecodeError> {
        let mut input = raw.clone();
        let flags = read_flags(&mut input)?;
        let i = &mut input;
        let props = BasicProperties {
            content_type: opt_shortstr(i, flags, CONTENT_TYPE)?,
            content_encoding: opt_shortstr(i, flags, CONTENT_ENCODING)?,
            headers: if flags & HEADERS != 0 {
                Some(read_table(i).map_err(bad)?)
            } else {
                None
            },
            delivery_mode: opt_octet(i, flags, DELIVERY_MODE)?,
            priority: opt_octet(i, flags, PRIORITY)?,
            correlation_id: opt_shortstr(i, flags, CORRELATION_ID)?,
            reply_to: opt_shortstr(i, flags, REPLY_TO)?,
            expiration: opt_shortstr(i, flags, EXPIRATION)?,
            message_id: opt_shortstr(i, flags, MESSAGE_ID)?,
            timestamp: if flags & TIMESTAMP != 0 {
                Some(take_u64(i).ok_or_else(truncated)?)
            } else {
                None
            },
            kind: opt_shortstr(i, flags, TYPE)?,
            user_id: opt_shortstr(i, flags, USER_ID)?,
            app_id: opt_shortstr(i, flags, APP_ID)?,
            cluster_id: opt_shortstr(i, flags, CLUSTER_ID)?,
        };
        finish(&input)?;
        Ok(props)
    }

    /// The property flags word for the properties that are set.
    pub fn flags(&self) -> u16 {
        let bit = |present: bool, bit: u16| if present { bit } else { 0 };
        bit(self.content_type.is_some(), CONTENT_TYPE)
            | bit(self.content_encoding.is_some(), CONTENT_ENCODING)
            | bit(self.headers.is_some(), HEADERS)
            | bit(self.delivery_mode.is_some(), DELIVERY_MODE)
            | bit(self.priority.is_some(), PRIORITY)
            | bit(self.correlation_id.is_some(), CORRELATION_ID)
            | bit(self.reply_to.is_some(), REPLY_TO)
            | bit(self.expiration.is_some(), EXPIRATION)
            | bit(self.message_id.is_some(), MESSAGE_ID)
            | bit(self.timestamp.is_some(), TIMESTAMP)
            | bit(self.kind.is_some(), TYPE)
            | bit(self.user_id.is_some(), USER_ID)
            | bit(self.app_id.is_some(), APP_ID)
            | bit(self.cluster_id.is_some(), CLUSTER_ID)
    }

    /// Writes the flags word and the property list.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_u16(self.flags());
        let strs_before_headers = [&self.content_type, &self.content_encoding];
        for s in strs_before_headers.into_iter().flatten() {
            put_shortstr(out, s);
        }
        if let Some(headers) = &self.headers {
            write_table(out, headers);
        }
        for octet in [self.delivery_mode, self.priority].into_iter().flatten() {
            out.put_u8(octet);
        }
        let strs = [
            &self.correlation_id,
            &self.reply_to,
            &self.expiration,
            &self.message_id,
        ];
        for s in strs.into_iter().flatten() {
            put_shortstr(out, s);
        }
        if let Some(timestamp) = self.timestamp {
            out.put_u64(timestamp);
        }
        let strs = [&self.kind, &self.user_id, &self.app_id, &self.cluster_id];
        for s in strs.into_iter().flatten() {
            put_shortstr(out, s);
        }
    }

    /// Size of the flags word and property list.
    pub fn encoded_len(&self) -> usize {
        let strs = [
            &self.content_type,
            &self.content_encoding,
            &self.correlation_id,
            &self.reply_to,
            &self.expiration,
            &self.message_id,
            &self.kind,
            &self.user_id,
            &self.app_id,
            &self.cluster_id,
        ];
        2 + strs.into_iter().flatten().map(shortstr_len).sum::<usize>()
            + self.headers.as_ref().map_or(0, table_encoded_len)
            + usize::from(self.delivery_mode.is_some())
            + usize::from(self.priority.is_some())
            + if self.timestamp.is_some() { 8 } else { 0 }
    }

    /// The flags word and property list as `Bytes`.
    pub fn to_raw(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }
}

/// A content header frame's payload. The property list is kept as the raw bytes received
/// (a slice of the frame, no copy), validated but not decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentHeader {
    /// The class the content belongs to (60, basic).
    pub class_id: u16,
    /// Unused, always 0.
    pub weight: u16,
    /// Total size of the body frames that follow.
    pub body_size: u64,
    /// Property flags and list exactly as received.
    pub raw_properties: Bytes,
}

impl ContentHeader {
    /// Decodes a content header payload: checks the class (basic), the weight (0) and that the
    /// whole property list is well formed, walking it without allocating.
    pub fn decode(payload: Bytes) -> Result<Self, DecodeError> {
        let len = payload.len();
        let mut input = payload;
        let (Some(class_id), Some(weight), Some(body_size)) = (
            take_u16(&mut input),
            take_u16(&mut input),
            take_u64(&mut input),
        ) else {
            return Err(DecodeError::ContentHeaderTooShort { len });
        };
        if input.len() < 2 {
            return Err(DecodeError::ContentHeaderTooShort { len });
        }
        if weight != 0 {
            return Err(DecodeError::ContentHeaderWeight { class_id, weight });
        }
        if class_id != CLASS_BASIC {
            return Err(DecodeError::ContentHeaderClass { class_id });
        }
        summarize_properties(&input)?;
        Ok(ContentHeader {
            class_id,
            weight,
            body_size,
            raw_properties: input,
        })
    }

    /// Decodes all the properties.
    pub fn properties(&self) -> Result<BasicProperties, DecodeError> {
        BasicProperties::decode(&self.raw_properties)
    }
}

/// The few properties the broker's hot path needs, read from raw bytes without allocating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertySummary {
    /// 1 = transient, 2 = persistent.
    pub delivery_mode: Option<u8>,
    /// Message priority.
    pub priority: Option<u8>,
    /// Per-message TTL string.
    pub expiration: Option<ShortStr>,
    /// Claimed user id.
    pub user_id: Option<ShortStr>,
    /// Whether a headers table is present.
    pub has_headers: bool,
}

/// Reads delivery mode, priority, expiration, user id and whether headers are present from
/// raw property flags + list, validating the whole list (headers included) on the way.
pub fn summarize_properties(raw: &Bytes) -> Result<PropertySummary, DecodeError> {
    let mut input = raw.clone();
    let flags = read_flags(&mut input)?;
    let i = &mut input;
    let skip_str = |i: &mut Bytes, bit: u16| opt_shortstr(i, flags, bit).map(drop);
    skip_str(i, CONTENT_TYPE)?;
    skip_str(i, CONTENT_ENCODING)?;
    let has_headers = flags & HEADERS != 0;
    if has_headers {
        skip_table(i).map_err(bad)?;
    }
    let delivery_mode = opt_octet(i, flags, DELIVERY_MODE)?;
    let priority = opt_octet(i, flags, PRIORITY)?;
    skip_str(i, CORRELATION_ID)?;
    skip_str(i, REPLY_TO)?;
    let expiration = opt_shortstr(i, flags, EXPIRATION)?;
    skip_str(i, MESSAGE_ID)?;
    if flags & TIMESTAMP != 0 {
        take_u64(i).ok_or_else(truncated)?;
    }
    skip_str(i, TYPE)?;
    let user_id = opt_shortstr(i, flags, USER_ID)?;
    skip_str(i, APP_ID)?;
    skip_str(i, CLUSTER_ID)?;
    finish(&input)?;
    Ok(PropertySummary {
        delivery_mode,
        priority,
        expiration,
        user_id,
        has_headers,
    })
}
