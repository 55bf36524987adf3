//! AMQP primitive types: short strings (at most 255 bytes, kept as `Bytes` slices of the
//! frame they arrived in) plus checked readers (never panic, never allocate: strings are
//! slices of the input `Bytes`) and `BufMut` encoders for integers and strings.

use super::error::DecodeError;
use super::field_table::{FieldTable, read_table_inner};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt;

/// An AMQP `shortstr`: at most 255 bytes, backed by `Bytes` so names sliced out of a frame
/// are never copied. AMQP treats it as binary; RabbitMQ does too, so no UTF-8 check here.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortStr(Bytes);

impl ShortStr {
    /// The longest a short string may be on the wire.
    pub const MAX_LEN: usize = 255;

    /// Wraps bytes known to be at most 255 bytes long; `None` when longer.
    pub fn from_bytes(bytes: Bytes) -> Option<Self> {
        (bytes.len() <= Self::MAX_LEN).then_some(ShortStr(bytes))
    }

    /// Builds a short string from a static string (truncating nothing: callers pass
    /// constants shorter than 256 bytes).
    pub const fn from_static(s: &'static str) -> Self {
        ShortStr(Bytes::from_static(s.as_bytes()))
    }

    /// Builds a short string, cutting it at 255 bytes (on a char boundary) if longer.
    pub fn truncated(s: &str) -> Self {
        let mut end = s.len().min(Self::MAX_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        ShortStr(Bytes::copy_from_slice(
            s.as_bytes().get(..end).unwrap_or_default(),
        ))
    }

    /// A copy in an allocation of its own. A name read from a frame is a slice of the
    /// connection's read buffer and keeps all of it alive: names kept for the life of a
    /// queue, consumer or binding are detached so they hold only their own bytes.
    pub fn detached(&self) -> Self {
        ShortStr(Bytes::copy_from_slice(&self.0))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The backing `Bytes` (cheap clone).
    pub fn as_raw(&self) -> &Bytes {
        &self.0
    }

    /// The string as UTF-8, replacing invalid sequences.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The string as `&str` when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the bytes start with `prefix`.
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix.as_bytes())
    }
}

impl From<&str> for ShortStr {
    fn from(s: &str) -> Self {
        ShortStr::truncated(s)
    }
}

impl From<String> for ShortStr {
    fn from(s: String) -> Self {
        if s.len() <= Self::MAX_LEN {
            ShortStr(Bytes::from(s))
        } else {
            ShortStr::truncated(&s)
        }
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ShortStr {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl std::borrow::Borrow<[u8]> for ShortStr {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

/// Reads one octet from the front of `input`; `None` when it is empty.
pub(crate) fn take_u8(input: &mut Bytes) -> Option<u8> {
    (!input.is_empty()).then(|| input.get_u8())
}

/// Reads a big-endian u16; `None` when fewer than 2 bytes are left.
pub(crate) fn take_u16(input: &mut Bytes) -> Option<u16> {
    (input.len() >= 2).then(|| input.get_u16())
}

/// Reads a big-endian u32; `None` when fewer than 4 bytes are left.
pub(crate) fn take_u32(input: &mut Bytes) -> Option<u32> {
    (input.len() >= 4).then(|| input.get_u32())
}

/// Reads a big-endian u64; `None` when fewer than 8 bytes are left.
pub(crate) fn take_u64(input: &mut Bytes) -> Option<u64> {
    (input.len() >= 8).then(|| input.get_u64())
}

/// Splits `len` bytes off the front (no copy); `None` when fewer are left.
pub(crate) fn take_bytes(input: &mut Bytes, len: usize) -> Option<Bytes> {
    (input.len() >= len).then(|| input.split_to(len))
}

/// Reads a `shortstr` (1-byte length, then bytes) as a slice of `input`.
pub(crate) fn take_shortstr(input: &mut Bytes) -> Option<ShortStr> {
    let len = take_u8(input)?;
    take_bytes(input, usize::from(len)).map(ShortStr)
}

/// Reads a `longstr` (4-byte length, then bytes) as a slice of `input`.
pub(crate) fn take_longstr(input: &mut Bytes) -> Option<Bytes> {
    let len = take_u32(input)?;
    take_bytes(input, usize::try_from(len).ok()?)
}

/// Writes a `shortstr`: length octet then bytes.
pub(crate) fn put_shortstr(out: &mut BytesMut, s: &ShortStr) {
    // ShortStr guarantees at most 255 bytes.
    out.put_u8(u8::try_from(s.len()).unwrap_or(u8::MAX));
    out.put_slice(s.as_bytes());
}

/// Writes a `longstr`: 4-byte length then bytes. Strings over 4 GiB cannot be framed at
/// all; they are cut to `u32::MAX` bytes so the length prefix stays truthful.
pub(crate) fn put_longstr(out: &mut BytesMut, s: &[u8]) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.put_u32(len);
    out.put_slice(
        s.get(..usize::try_from(len).unwrap_or(usize::MAX))
            .unwrap_or(s),
    );
}

/// Encoded size of a `shortstr`.
pub(crate) fn shortstr_len(s: &ShortStr) -> usize {
    1 + s.len()
}

/// Encoded size of a `longstr`.
pub(crate) fn longstr_len(s: &[u8]) -> usize {
    4 + s.len()
}

/// Reads method arguments in order, reporting failures with the method's ids. Used by the
/// generated decoders.
#[derive(Debug)]
pub(crate) struct ArgReader {
    buf: Bytes,
    class_id: u16,
    method_id: u16,
}

impl ArgReader {
    /// Starts reading the arguments `buf` of method `class_id`.`method_id`.
    pub(crate) fn new(buf: Bytes, class_id: u16, method_id: u16) -> Self {
        ArgReader {
            buf,
            class_id,
            method_id,
        }
    }

    fn truncated(&self) -> DecodeError {
        DecodeError::Truncated {
            class_id: self.class_id,
            method_id: self.method_id,
            what: "method arguments",
        }
    }

    /// Reads the class and method ids at the front of a method frame payload and returns a
    /// reader over the arguments that follow.
    pub(crate) fn for_method(payload: Bytes) -> Result<Self, DecodeError> {
        let len = payload.len();
        let mut buf = payload;
        match (take_u16(&mut buf), take_u16(&mut buf)) {
            (Some(class_id), Some(method_id)) => Ok(ArgReader::new(buf, class_id, method_id)),
            _ => Err(DecodeError::MethodFrameTooShort { len }),
        }
    }

    /// The class id of the method being read.
    pub(crate) fn class_id(&self) -> u16 {
        self.class_id
    }

    /// The method id of the method being read.
    pub(crate) fn method_id(&self) -> u16 {
        self.method_id
    }

    /// An `octet` (also a packed group of up to 8 bits).
    pub(crate) fn octet(&mut self) -> Result<u8, DecodeError> {
        take_u8(&mut self.buf).ok_or_else(|| self.truncated())
    }

    /// A `short`.
    pub(crate) fn short(&mut self) -> Result<u16, DecodeError> {
        take_u16(&mut self.buf).ok_or_else(|| self.truncated())
    }

    /// A `long`.
    pub(crate) fn long(&mut self) -> Result<u32, DecodeError> {
        take_u32(&mut self.buf).ok_or_else(|| self.truncated())
    }

    /// A `longlong` or `timestamp`.
    pub(crate) fn longlong(&mut self) -> Result<u64, DecodeError> {
        take_u64(&mut self.buf).ok_or_else(|| self.truncated())
    }

    /// A `shortstr` that must be UTF-8, sliced from the input. RabbitMQ checks every short
    /// string of a method that carries no content (names, tags, reply texts) and closes
    /// the connection with 501 otherwise.
    pub(crate) fn shortstr(&mut self) -> Result<ShortStr, DecodeError> {
        let s = self.raw_shortstr()?;
        if std::str::from_utf8(s.as_bytes()).is_err() {
            return Err(DecodeError::MalformedUtf8 {
                class_id: self.class_id,
                method_id: self.method_id,
            });
        }
        Ok(s)
    }

    /// A `shortstr` taken as raw bytes, sliced from the input (the exchange and routing key
    /// of content-carrying methods, which RabbitMQ does not check).
    pub(crate) fn raw_shortstr(&mut self) -> Result<ShortStr, DecodeError> {
        take_shortstr(&mut self.buf).ok_or_else(|| self.truncated())
    }

    /// A `longstr`, sliced from the input.
    pub(crate) fn longstr(&mut self) -> Result<Bytes, DecodeError> {
        take_longstr(&mut self.buf).ok_or_else(|| self.truncated())
    }

    /// A field `table`.
    pub(crate) fn table(&mut self) -> Result<FieldTable, DecodeError> {
        read_table_inner(&mut self.buf, 1).map_err(|e| e.with_method(self.class_id, self.method_id))
    }

    /// Checks that every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                class_id: self.class_id,
                method_id: self.method_id,
                extra: self.buf.len(),
            })
        }
    }
}
