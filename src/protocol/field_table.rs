//! Field tables and arrays with the type codes RabbitMQ actually uses (its errata table,
//! not the 0-9-1 spec's: `s` is a signed 16-bit int, `u` unsigned 16, `l` signed 64,
//! `x` a byte array, no `U`/`L`).

use super::error::DecodeError;
use super::field_walk::{Container, encoded_len};
use super::primitives::{
    ShortStr, put_longstr, put_shortstr, shortstr_len, take_bytes, take_longstr, take_shortstr,
    take_u8, take_u16, take_u32, take_u64,
};
use bytes::{BufMut, Bytes, BytesMut};

/// How many levels of tables and arrays are decoded into values (the outermost table is
/// level 1). RabbitMQ has no limit, and neither has Warren: deeper levels are checked
/// without recursion and kept as [`FieldValue::Undecoded`] bytes, so decoding, comparing,
/// cloning and dropping values never recurse more than this. Real headers (`x-death`)
/// nest 3 deep.
pub const MAX_DEPTH: usize = 64;

/// One value in a field table or array, tagged by RabbitMQ's type code.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// `t`: boolean.
    Bool(bool),
    /// `b`: signed 8-bit.
    I8(i8),
    /// `B`: unsigned 8-bit.
    U8(u8),
    /// `s`: signed 16-bit.
    I16(i16),
    /// `u`: unsigned 16-bit.
    U16(u16),
    /// `I`: signed 32-bit.
    I32(i32),
    /// `i`: unsigned 32-bit.
    U32(u32),
    /// `l`: signed 64-bit.
    I64(i64),
    /// `f`: 32-bit float.
    F32(f32),
    /// `d`: 64-bit float.
    F64(f64),
    /// `D`: decimal (scale, unscaled value).
    Decimal {
        /// Number of decimal digits.
        scale: u8,
        /// Unscaled value.
        value: u32,
    },
    /// `S`: long string (binary).
    LongStr(Bytes),
    /// `x`: byte array.
    ByteArray(Bytes),
    /// `A`: array of values.
    Array(Vec<FieldValue>),
    /// `T`: timestamp (seconds since the epoch).
    Timestamp(u64),
    /// `F`: nested table.
    Table(FieldTable),
    /// `V`: no value.
    Void,
    /// A table (`F`) or array (`A`) nested deeper than [`MAX_DEPTH`], checked but kept as
    /// it arrived: forwarded byte for byte, never walked recursively.
    Undecoded {
        /// `F` or `A`.
        type_code: u8,
        /// The encoded value after the type code: length prefix and contents.
        raw: Bytes,
    },
}

impl FieldValue {
    /// RabbitMQ's name for this value's type, as its error texts print it (`signedint`,
    /// `longstr`, `binary`, ...).
    pub fn rabbit_type_name(&self) -> &'static str {
        match self {
            FieldValue::Bool(_) => "bool",
            FieldValue::I8(_) => "byte",
            FieldValue::U8(_) => "unsignedbyte",
            FieldValue::I16(_) => "short",
            FieldValue::U16(_) => "unsignedshort",
            FieldValue::I32(_) => "signedint",
            FieldValue::U32(_) => "unsignedint",
            FieldValue::I64(_) => "long",
            FieldValue::F32(_) => "float",
            FieldValue::F64(_) => "double",
            FieldValue::Decimal { .. } => "decimal",
            FieldValue::LongStr(_) => "longstr",
            FieldValue::ByteArray(_) => "binary",
            FieldValue::Array(_) => "array",
            FieldValue::Timestamp(_) => "timestamp",
            FieldValue::Table(_) => "table",
            FieldValue::Void => "void",
            FieldValue::Undecoded {
                type_code: b'F', ..
            } => "table",
            FieldValue::Undecoded { .. } => "array",
        }
    }
}

/// An AMQP field table: ordered name/value pairs. Order is kept as received, because
/// clients compare tables they sent with what they get back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldTable(pub Vec<(ShortStr, FieldValue)>);

impl FieldTable {
    /// An empty table.
    pub fn new() -> Self {
        FieldTable(Vec::new())
    }

    /// The value under `key` (the first one, if a peer sent duplicates).
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.0
            .iter()
            .find(|(k, _)| k.as_bytes() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an existing entry in place or appending.
    pub fn insert(&mut self, key: impl Into<ShortStr>, value: FieldValue) {
        let key = key.into();
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<FieldValue> {
        let pos = self
            .0
            .iter()
            .position(|(k, _)| k.as_bytes() == key.as_bytes())?;
        Some(self.0.remove(pos).1)
    }

    /// True when the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The same table with its strings in one allocation of its own instead of slices of
    /// the frame it was read from (see [`ShortStr::detached`]): for tables kept for the life
    /// of a connection, queue or consumer.
    pub fn detached(&self) -> FieldTable {
        if self.is_empty() {
            return FieldTable::new();
        }
        let mut out = BytesMut::with_capacity(table_encoded_len(self));
        write_table(&mut out, self);
        let mut bytes = out.freeze();
        // What was just written reads back; should it not, the table stays as it was.
        read_table(&mut bytes).unwrap_or_else(|_| self.clone())
    }

    /// Iterates entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &(ShortStr, FieldValue)> {
        self.0.iter()
    }
}

impl FieldValue {
    /// RabbitMQ's type code octet for this value.
    pub fn type_code(&self) -> u8 {
        match self {
            FieldValue::Bool(_) => b't',
            FieldValue::I8(_) => b'b',
            FieldValue::U8(_) => b'B',
            FieldValue::I16(_) => b's',
            FieldValue::U16(_) => b'u',
            FieldValue::I32(_) => b'I',
            FieldValue::U32(_) => b'i',
            FieldValue::I64(_) => b'l',
            FieldValue::F32(_) => b'f',
            FieldValue::F64(_) => b'd',
            FieldValue::Decimal { .. } => b'D',
            FieldValue::LongStr(_) => b'S',
            FieldValue::ByteArray(_) => b'x',
            FieldValue::Array(_) => b'A',
            FieldValue::Timestamp(_) => b'T',
            FieldValue::Table(_) => b'F',
            FieldValue::Void => b'V',
            FieldValue::Undecoded { type_code, .. } => *type_code,
        }
    }
}

fn truncated(what: &'static str) -> DecodeError {
    DecodeError::Truncated {
        class_id: 0,
        method_id: 0,
        what,
    }
}

/// Reads a field table (4-byte length prefix, then entries) from the front of `input`,
/// advancing it. Strings are slices of `input`; nothing is allocated beyond one entry per
/// entry actually present. Errors carry class/method id 0 (see `DecodeError::with_method`).
pub fn read_table(input: &mut Bytes) -> Result<FieldTable, DecodeError> {
    read_table_inner(input, 1)
}

/// `read_table` at nesting level `depth` (at most `MAX_DEPTH`).
pub(crate) fn read_table_inner(input: &mut Bytes, depth: usize) -> Result<FieldTable, DecodeError> {
    let mut body = take_longstr(input).ok_or_else(|| truncated("field table"))?;
    let mut entries = Vec::new();
    while !body.is_empty() {
        let key = take_shortstr(&mut body).ok_or_else(|| truncated("field table key"))?;
        let value = read_value(&mut body, depth)?;
        entries.push((key, value));
    }
    Ok(FieldTable(entries))
}

fn read_array(input: &mut Bytes, depth: usize) -> Result<Vec<FieldValue>, DecodeError> {
    let mut body = take_longstr(input).ok_or_else(|| truncated("field array"))?;
    let mut items = Vec::new();
    while !body.is_empty() {
        items.push(read_value(&mut body, depth)?);
    }
    Ok(items)
}

fn read_value(input: &mut Bytes, depth: usize) -> Result<FieldValue, DecodeError> {
    let short = || truncated("field value");
    let code = take_u8(input).ok_or_else(short)?;
    let value = match code {
        b't' => FieldValue::Bool(take_u8(input).ok_or_else(short)? != 0),
        b'b' => FieldValue::I8(i8::from_be_bytes([take_u8(input).ok_or_else(short)?])),
        b'B' => FieldValue::U8(take_u8(input).ok_or_else(short)?),
        b's' => FieldValue::I16(i16::from_be_bytes(
            take_u16(input).ok_or_else(short)?.to_be_bytes(),
        )),
        b'u' => FieldValue::U16(take_u16(input).ok_or_else(short)?),
        b'I' => FieldValue::I32(i32::from_be_bytes(
            take_u32(input).ok_or_else(short)?.to_be_bytes(),
        )),
        b'i' => FieldValue::U32(take_u32(input).ok_or_else(short)?),
        b'l' => FieldValue::I64(i64::from_be_bytes(
            take_u64(input).ok_or_else(short)?.to_be_bytes(),
        )),
        b'f' => FieldValue::F32(f32::from_bits(take_u32(input).ok_or_else(short)?)),
        b'd' => FieldValue::F64(f64::from_bits(take_u64(input).ok_or_else(short)?)),
        b'D' => {
            let scale = take_u8(input).ok_or_else(short)?;
            let value = take_u32(input).ok_or_else(short)?;
            FieldValue::Decimal { scale, value }
        }
        b'S' => FieldValue::LongStr(take_longstr(input).ok_or_else(short)?),
        b'x' => FieldValue::ByteArray(take_longstr(input).ok_or_else(short)?),
        b'A' if depth >= MAX_DEPTH => undecoded(input, code, Container::Array)?,
        b'A' => FieldValue::Array(read_array(input, depth + 1)?),
        b'T' => FieldValue::Timestamp(take_u64(input).ok_or_else(short)?),
        b'F' if depth >= MAX_DEPTH => undecoded(input, code, Container::Table)?,
        b'F' => FieldValue::Table(read_table_inner(input, depth + 1)?),
        b'V' => FieldValue::Void,
        type_code => {
            return Err(DecodeError::BadFieldType {
                class_id: 0,
                method_id: 0,
                type_code,
            });
        }
    };
    Ok(value)
}

/// A table or array below `MAX_DEPTH`: checked without recursion, kept as bytes.
fn undecoded(
    input: &mut Bytes,
    type_code: u8,
    container: Container,
) -> Result<FieldValue, DecodeError> {
    let len = encoded_len(input, container)?;
    let raw = take_bytes(input, len).ok_or_else(|| truncated(container.what()))?;
    Ok(FieldValue::Undecoded { type_code, raw })
}

/// Checks a whole field table at the front of `input` and advances past it, allocating
/// nothing for the usual nesting and never recursing (for validating content headers
/// that are forwarded as raw bytes).
pub(crate) fn skip_table(input: &mut Bytes) -> Result<(), DecodeError> {
    let len = encoded_len(input, Container::Table)?;
    take_bytes(input, len).ok_or_else(|| truncated("field table"))?;
    Ok(())
}

/// Writes `table` with its 4-byte length prefix.
pub fn write_table(out: &mut BytesMut, table: &FieldTable) {
    out.put_u32(u32::try_from(table_body_len(table)).unwrap_or(u32::MAX));
    for (key, value) in &table.0 {
        put_shortstr(out, key);
        write_value(out, value);
    }
}

fn write_value(out: &mut BytesMut, value: &FieldValue) {
    out.put_u8(value.type_code());
    match value {
        FieldValue::Bool(v) => out.put_u8(u8::from(*v)),
        FieldValue::I8(v) => out.put_i8(*v),
        FieldValue::U8(v) => out.put_u8(*v),
        FieldValue::I16(v) => out.put_i16(*v),
        FieldValue::U16(v) => out.put_u16(*v),
        FieldValue::I32(v) => out.put_i32(*v),
        FieldValue::U32(v) => out.put_u32(*v),
        FieldValue::I64(v) => out.put_i64(*v),
        FieldValue::F32(v) => out.put_f32(*v),
        FieldValue::F64(v) => out.put_f64(*v),
        FieldValue::Decimal { scale, value } => {
            out.put_u8(*scale);
            out.put_u32(*value);
        }
        FieldValue::LongStr(v) | FieldValue::ByteArray(v) => put_longstr(out, v),
        FieldValue::Array(items) => {
            let len: usize = items.iter().map(value_len).sum();
            out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
            for item in items {
                write_value(out, item);
            }
        }
        FieldValue::Timestamp(v) => out.put_u64(*v),
        FieldValue::Table(t) => write_table(out, t),
        FieldValue::Void => {}
        FieldValue::Undecoded { raw, .. } => out.put_slice(raw),
    }
}

/// Encoded size of `table`, including its 4-byte length prefix.
pub fn table_encoded_len(table: &FieldTable) -> usize {
    4 + table_body_len(table)
}

fn table_body_len(table: &FieldTable) -> usize {
    table
        .0
        .iter()
        .map(|(k, v)| shortstr_len(k) + value_len(v))
        .sum()
}

/// Encoded size of one value including its type code.
fn value_len(value: &FieldValue) -> usize {
    1 + match value {
        FieldValue::Bool(_) | FieldValue::I8(_) | FieldValue::U8(_) => 1,
        FieldValue::I16(_) | FieldValue::U16(_) => 2,
        FieldValue::I32(_) | FieldValue::U32(_) | FieldValue::F32(_) => 4,
        FieldValue::I64(_) | FieldValue::F64(_) | FieldValue::Timestamp(_) => 8,
        FieldValue::Decimal { .. } => 5,
        FieldValue::LongStr(v) | FieldValue::ByteArray(v) => 4 + v.len(),
        FieldValue::Array(items) => 4 + items.iter().map(value_len).sum::<usize>(),
        FieldValue::Table(t) => table_encoded_len(t),
        FieldValue::Void => 0,
        FieldValue::Undecoded { raw, .. } => raw.len(),
    }
}
