//! AMQP primitive types: short strings (at most 255 bytes, kept as `Bytes` slices of the
//! frame they arrived in) plus the nom parsers and `BufMut` encoders for integers and strings.

use bytes::Bytes;
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
        ShortStr(Bytes::copy_from_slice(&s.as_bytes()[..end]))
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
