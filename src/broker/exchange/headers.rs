//! Headers exchanges: a binding matches on the message's header table according to its
//! `x-match` argument. Behaviour pinned against RabbitMQ 3.10:
//! - `all` (the default) needs every considered argument to match, `any` at least one; so
//!   `all` with nothing to consider matches every message and `any` none;
//! - `x-match` itself is never considered; other `x-` arguments only by `all-with-x` and
//!   `any-with-x`;
//! - a `void` argument matches on the header's presence alone; otherwise values are compared
//!   as Erlang's `==` compares RabbitMQ's decoded values: numbers by value whatever their
//!   width or type (I32 1 = I64 1 = F64 1.0 = timestamp 1), long strings equal byte arrays,
//!   decimals only decimals, arrays and tables exactly (element types included, tables in
//!   order), and an empty array equals an empty table;
//! - a missing header table is an empty one; a header sent twice counts by its first value.
//!
//! Bindings are grouped by destination, so a destination is added once however many of its
//! bindings match.

use super::router::RoutingTable;
use super::{Binding, BindingError, Destination};
use crate::protocol::{FieldTable, FieldValue, ShortStr};
use std::collections::BTreeMap;

/// The routing table of a headers exchange.
#[derive(Debug, Default)]
pub(super) struct HeadersTable {
    by_destination: BTreeMap<Destination, Vec<HeadersBinding>>,
    len: usize,
}

#[derive(Debug)]
struct HeadersBinding {
    routing_key: ShortStr,
    arguments: FieldTable,
    mode: XMatch,
}

/// The `x-match` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XMatch {
    All,
    Any,
    AllWithX,
    AnyWithX,
}

impl XMatch {
    /// The mode of a binding's arguments; `all` when absent (or invalid: bindings are
    /// validated before they get here).
    fn of(arguments: &FieldTable) -> XMatch {
        match arguments.get("x-match") {
            Some(FieldValue::LongStr(s)) => match &s[..] {
                b"any" => XMatch::Any,
                b"all-with-x" => XMatch::AllWithX,
                b"any-with-x" => XMatch::AnyWithX,
                _ => XMatch::All,
            },
            _ => XMatch::All,
        }
    }
}

/// Checks a headers binding's `x-match` as RabbitMQ does: absent, or a long string naming
/// one of the four modes.
pub(super) fn validate(arguments: &FieldTable) -> Result<(), BindingError> {
    match arguments.get("x-match") {
        None => Ok(()),
        Some(FieldValue::LongStr(s)) => match &s[..] {
            b"all" | b"any" | b"all-with-x" | b"any-with-x" => Ok(()),
            other => Err(BindingError::InvalidXMatch {
                value: erlang_binary(other),
            }),
        },
        Some(other) => Err(BindingError::InvalidXMatchType {
            type_name: other.rabbit_type_name(),
            value: erlang_value(other),
        }),
    }
}

impl HeadersBinding {
    fn matches(&self, headers: &FieldTable) -> bool {
        let with_x = matches!(self.mode, XMatch::AllWithX | XMatch::AnyWithX);
        let mut considered = self
            .arguments
            .iter()
            .filter(|(key, _)| *key != "x-match" && (with_x || !key.as_bytes().starts_with(b"x-")));
        let matches_one = |(key, expected): &(ShortStr, FieldValue)| {
            let key: &[u8] = key.as_bytes();
            let found = headers.iter().find(|(k, _)| k.as_bytes() == key);
            match (expected, found) {
                (_, None) => false,
                (FieldValue::Void, Some(_)) => true,
                (expected, Some((_, actual))) => values_equal(expected, actual),
            }
        };
        match self.mode {
            XMatch::All | XMatch::AllWithX => considered.all(matches_one),
            XMatch::Any | XMatch::AnyWithX => considered.any(matches_one),
        }
    }
}

/// A number as Erlang holds it after RabbitMQ decodes a field.
enum Number {
    Int(i128),
    Float(f64),
}

fn number(value: &FieldValue) -> Option<Number> {
    Some(match *value {
        FieldValue::I8(v) => Number::Int(v.into()),
        FieldValue::U8(v) => Number::Int(v.into()),
        FieldValue::I16(v) => Number::Int(v.into()),
        FieldValue::U16(v) => Number::Int(v.into()),
        FieldValue::I32(v) => Number::Int(v.into()),
        FieldValue::U32(v) => Number::Int(v.into()),
        FieldValue::I64(v) => Number::Int(v.into()),
        FieldValue::Timestamp(v) => Number::Int(v.into()),
        FieldValue::F32(v) => Number::Float(v.into()),
        FieldValue::F64(v) => Number::Float(v),
        _ => return None,
    })
}

/// Exact comparison of an integer and a float, as Erlang's `==` does it.
fn int_equals_float(i: i128, f: f64) -> bool {
    // 2^127 as f64 is exact; integral floats below it convert to i128 exactly.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    f.is_finite() && f.fract() == 0.0 && f.abs() < LIMIT && f as i128 == i
}

/// Erlang `==` on RabbitMQ's decoded field values (the binding's first).
fn values_equal(expected: &FieldValue, actual: &FieldValue) -> bool {
    use FieldValue as V;
    if let (Some(a), Some(b)) = (number(expected), number(actual)) {
        return match (a, b) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => {
                int_equals_float(i, f)
            }
        };
    }
    match (expected, actual) {
        (V::LongStr(a) | V::ByteArray(a), V::LongStr(b) | V::ByteArray(b)) => a == b,
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Decimal { .. }, V::Decimal { .. }) => expected == actual,
        (V::Array(a), V::Array(b)) => a == b,
        (V::Table(a), V::Table(b)) => a == b,
        // Both are Erlang lists, so empty ones are equal.
        (V::Array(a), V::Table(t)) | (V::Table(t), V::Array(a)) => a.is_empty() && t.is_empty(),
        _ => false,
    }
}

impl RoutingTable for HeadersTable {
    fn bind(&mut self, binding: Binding) -> bool {
        let Binding {
            destination,
            routing_key,
            arguments,
        } = binding;
        let bindings = self.by_destination.entry(destination).or_default();
        if bindings
            .iter()
            .any(|b| b.routing_key == routing_key && b.arguments == arguments)
        {
            return false;
        }
        let mode = XMatch::of(&arguments);
        bindings.push(HeadersBinding {
            routing_key,
            arguments,
            mode,
        });
        self.len += 1;
        true
    }

    fn unbind(&mut self, binding: &Binding) -> bool {
        let Some(bindings) = self.by_destination.get_mut(&binding.destination) else {
            return false;
        };
        let Some(pos) = bindings
            .iter()
            .position(|b| b.routing_key == binding.routing_key && b.arguments == binding.arguments)
        else {
            return false;
        };
        bindings.swap_remove(pos);
        if bindings.is_empty() {
            self.by_destination.remove(&binding.destination);
        }
        self.len -= 1;
        true
    }

    fn route(&self, _routing_key: &[u8], headers: &FieldTable, out: &mut Vec<Destination>) {
        for (destination, bindings) in &self.by_destination {
            if bindings.iter().any(|b| b.matches(headers)) {
                out.push(destination.clone());
            }
        }
    }

    fn remove_destination(&mut self, destination: &Destination) -> usize {
        let removed = self
            .by_destination
            .remove(destination)
            .map_or(0, |bindings| bindings.len());
        self.len -= removed;
        removed
    }

    fn len(&self) -> usize {
        self.len
    }

    fn bindings(&self, out: &mut Vec<Binding>) {
        for (destination, bindings) in &self.by_destination {
            out.extend(bindings.iter().map(|b| Binding {
                destination: destination.clone(),
                routing_key: b.routing_key.clone(),
                arguments: b.arguments.clone(),
            }));
        }
    }
}

/// A decoded field value printed the way Erlang's `~tp` prints it (on one line: RabbitMQ
/// wraps long nested values, this does not).
fn erlang_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::F32(f) => erlang_float(f64::from(*f)),
        FieldValue::F64(f) => erlang_float(*f),
        FieldValue::Decimal { scale, value } => format!("{{{scale},{value}}}"),
        FieldValue::LongStr(b) | FieldValue::ByteArray(b) => erlang_binary(b),
        FieldValue::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|v| format!("{{{},{}}}", v.rabbit_type_name(), erlang_value(v)))
                .collect();
            format!("[{}]", items.join(","))
        }
        FieldValue::Table(table) => {
            let items: Vec<String> = table
                .iter()
                .map(|(k, v)| {
                    let key = erlang_binary(k.as_bytes());
                    format!("{{{key},{},{}}}", v.rabbit_type_name(), erlang_value(v))
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        FieldValue::Void => "undefined".to_owned(),
        other => match number(other) {
            Some(Number::Int(i)) => i.to_string(),
            Some(Number::Float(f)) => erlang_float(f),
            None => String::new(),
        },
    }
}

/// An Erlang binary as `~tp` prints it: `<<"text">>` when every byte is printable Latin-1
/// (bytes kept as they are, so UTF-8 text reads as itself), else `<<1,2,3>>` (`<<>>` when
/// empty).
fn erlang_binary(bytes: &[u8]) -> String {
    let printable = |b: u8| matches!(b, 32..=126 | 160..=255 | 8..=13 | 27);
    if bytes.is_empty() || !bytes.iter().all(|&b| printable(b)) {
        let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
        return format!("<<{}>>", items.join(","));
    }
    let mut text = Vec::with_capacity(bytes.len() + 6);
    text.extend_from_slice(b"<<\"");
    for &b in bytes {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x0b => b"\\v",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x1b => b"\\e",
            _ => {
                text.push(b);
                continue;
            }
        };
        text.extend_from_slice(escaped);
    }
    text.extend_from_slice(b"\">>");
    String::from_utf8_lossy(&text).into_owned()
}

/// A float as Erlang prints it: the shortest digits that read back exactly, in plain
/// notation with at least one decimal (`100.0`) unless scientific notation (`1.0e-7`) is
/// shorter, and always scientific from 2^53 up.
fn erlang_float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e8".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let (first, rest) = digits.split_at(1.min(digits.len()));
    let rest = if rest.is_empty() { "0" } else { rest };
    let scientific = format!("{first}.{rest}e{exp}");
    let plain = if exp < 0 {
        let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
        format!("0.{zeros}{digits}")
    } else {
        let point = usize::try_from(exp + 1).unwrap_or(0);
        if point >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point);
            format!("{int}.{frac}")
        }
    };
    let use_scientific = f.abs() >= 9_007_199_254_740_992.0 || scientific.len() < plain.len();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    format!("{sign}{}", if use_scientific { scientific } else { plain })
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
