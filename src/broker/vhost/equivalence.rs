//! Whether a redeclare's arguments match the existing entity's, and RabbitMQ's text when
//! they do not (`rabbit_misc:assert_args_equivalence`): values of the same type class
//! (any integer width, either float) compare by value; two values that differ are shown
//! bare (`received '6' but current is '5'`, even `'5'` against `'5'` for a string and an
//! integer); a missing argument is `none` against the other value with its type
//! (`received none but current is the value '5' of type 'signedint'`).

use crate::protocol::FieldValue;

/// `None` when `received` is equivalent to `current`, else the "received … but current
/// is …" part of the 406 text.
pub(crate) fn mismatch(
    current: Option<&FieldValue>,
    received: Option<&FieldValue>,
) -> Option<String> {
    match (current, received) {
        (None, None) => None,
        (Some(c), Some(r)) => {
            if type_class(c) == type_class(r) && same_value(c, r) {
                None
            } else {
                Some(format!("received {} but current is {}", bare(r), bare(c)))
            }
        }
        (c, r) => Some(format!("received {} but current is {}", typed(r), typed(c))),
    }
}

/// Types that compare by value with each other.
fn type_class(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::I8(_)
        | FieldValue::U8(_)
        | FieldValue::I16(_)
        | FieldValue::U16(_)
        | FieldValue::I32(_)
        | FieldValue::U32(_)
        | FieldValue::I64(_) => "int",
        FieldValue::F32(_) | FieldValue::F64(_) => "float",
        other => other.rabbit_type_name(),
    }
}

fn as_i64(v: &FieldValue) -> Option<i64> {
    match *v {
        FieldValue::I8(n) => Some(n.into()),
        FieldValue::U8(n) => Some(n.into()),
        FieldValue::I16(n) => Some(n.into()),
        FieldValue::U16(n) => Some(n.into()),
        FieldValue::I32(n) => Some(n.into()),
        FieldValue::U32(n) => Some(n.into()),
        FieldValue::I64(n) => Some(n),
        _ => None,
    }
}

fn as_f64(v: &FieldValue) -> Option<f64> {
    match *v {
        FieldValue::F32(x) => Some(x.into()),
        FieldValue::F64(x) => Some(x),
        _ => None,
    }
}

fn same_value(a: &FieldValue, b: &FieldValue) -> bool {
    if let (Some(i), Some(j)) = (as_i64(a), as_i64(b)) {
        return i == j;
    }
    if let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) {
        return x == y;
    }
    a == b
}

/// The value as RabbitMQ prints it: strings as text, numbers and booleans as literals.
fn value_text(v: &FieldValue) -> String {
    match v {
        FieldValue::LongStr(b) | FieldValue::ByteArray(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Timestamp(t) => t.to_string(),
        other => match (as_i64(other), as_f64(other)) {
            (Some(n), _) => n.to_string(),
            (_, Some(x)) => format!("{x:?}"),
            _ => format!("{other:?}"),
        },
    }
}

fn bare(v: &FieldValue) -> String {
    format!("'{}'", value_text(v))
}

fn typed(v: Option<&FieldValue>) -> String {
    match v {
        None => "none".to_string(),
        Some(v) => format!(
            "the value '{}' of type '{}'",
            value_text(v),
            v.rabbit_type_name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn text(s: &'static str) -> FieldValue {
        FieldValue::LongStr(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn integers_of_any_width_compare_by_value() {
        assert_eq!(
            mismatch(Some(&FieldValue::I32(5)), Some(&FieldValue::I64(5))),
            None
        );
        assert_eq!(
            mismatch(Some(&FieldValue::U8(5)), Some(&FieldValue::I16(5))),
            None
        );
        assert_eq!(mismatch(None, None), None);
    }

    #[test]
    fn different_values_of_one_class_are_shown_bare() {
        assert_eq!(
            mismatch(Some(&FieldValue::I32(5)), Some(&FieldValue::I64(6))).as_deref(),
            Some("received '6' but current is '5'")
        );
        assert_eq!(
            mismatch(Some(&text("reject-publish")), Some(&text("drop-head"))).as_deref(),
            Some("received 'drop-head' but current is 'reject-publish'")
        );
    }

    #[test]
    fn a_missing_argument_shows_the_other_value_with_its_type() {
        assert_eq!(
            mismatch(Some(&FieldValue::I32(5)), None).as_deref(),
            Some("received none but current is the value '5' of type 'signedint'")
        );
        assert_eq!(
            mismatch(None, Some(&text("x"))).as_deref(),
            Some("received the value 'x' of type 'longstr' but current is none")
        );
    }

    #[test]
    fn values_of_different_types_never_match() {
        assert_eq!(
            mismatch(Some(&FieldValue::I64(5)), Some(&text("5"))).as_deref(),
            Some("received '5' but current is '5'")
        );
    }
}
