//! The per-message `expiration` property: RabbitMQ 3.10's parsing and reply texts, and the
//! TTL a message gets in a queue. Pure.
//!
//! RabbitMQ reads the property with Erlang's `string:to_integer/1`: an optional `+` or `-`,
//! then ASCII digits, nothing before them (not even a space) and nothing after; the number
//! must be 0 ..= 315360000000 (ten years in ms). It checks this at basic.publish, before
//! routing, and refuses with 406 `invalid expiration '<value>': <term>`, where the term is
//! `no_integer`, `{leftover_string,"abc"}`, `{value_negative,-1}` or
//! `{value_too_large,315360000001}` printed by `~p` (so it wraps at 80 columns, see
//! `format_term`).

use super::args::{MAX_EXPIRY_MS, erlang_string};
use crate::protocol::erlang_format::{Term, format_term};

/// Parses the `expiration` property (a decimal string of milliseconds, as RabbitMQ
/// requires). Err is the 406 reply text RabbitMQ sends for an invalid value, e.g.
/// "invalid expiration 'abc': no_integer" or "invalid expiration '-1': {value_negative,-1}".
pub fn parse_expiration(value: &[u8]) -> Result<u64, String> {
    let (negative, rest) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, value),
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, leftover) = rest.split_at(digits);
    if number.is_empty() {
        return Err(error_text(value, Term::Atom("no_integer")));
    }
    if !leftover.is_empty() {
        return Err(error_text(
            value,
            Term::Pair("leftover_string", &erlang_string(leftover)),
        ));
    }
    // Erlang integers are unbounded: print the number as Erlang would, whatever its size.
    let significant = match number.iter().position(|&b| b != b'0') {
        Some(i) => number.get(i..).unwrap_or_default(),
        None => b"0",
    };
    let is_zero = significant == b"0";
    let mut printed = String::with_capacity(significant.len() + 1);
    if negative && !is_zero {
        printed.push('-');
    }
    printed.push_str(&String::from_utf8_lossy(significant));
    if negative && !is_zero {
        return Err(error_text(value, Term::Pair("value_negative", &printed)));
    }
    match std::str::from_utf8(significant)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(ms) if ms <= MAX_EXPIRY_MS => Ok(ms),
        _ => Err(error_text(value, Term::Pair("value_too_large", &printed))),
    }
}

/// The TTL a message gets in a queue: the smaller of the queue's x-message-ttl and the
/// message's expiration.
pub fn effective_ttl(queue_ttl: Option<u64>, message_expiration: Option<u64>) -> Option<u64> {
    match (queue_ttl, message_expiration) {
        (Some(q), Some(m)) => Some(q.min(m)),
        (q, m) => q.or(m),
    }
}

fn error_text(value: &[u8], term: Term) -> String {
    let mut text = String::from("invalid expiration '");
    text.push_str(&String::from_utf8_lossy(value));
    text.push_str("': ");
    // Erlang counts columns in characters of the byte list it printed: one per byte.
    let column = "invalid expiration '".len() + value.len() + "': ".len();
    text.push_str(&format_term(term, column));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(value: &str) -> String {
        parse_expiration(value.as_bytes()).unwrap_err()
    }

    #[test]
    fn valid_values_as_rabbitmq_accepts_them() {
        assert_eq!(parse_expiration(b"0"), Ok(0));
        assert_eq!(parse_expiration(b"60000"), Ok(60_000));
        assert_eq!(parse_expiration(b"+5"), Ok(5));
        assert_eq!(parse_expiration(b"007"), Ok(7));
        assert_eq!(parse_expiration(b"-0"), Ok(0));
        assert_eq!(parse_expiration(b"315360000000"), Ok(315_360_000_000));
    }

    /// Every text below was sent by RabbitMQ 3.10.8 (channel.close 406, after the
    /// "PRECONDITION_FAILED - " prefix) for a basic.publish with that expiration.
    #[test]
    fn invalid_values_get_rabbitmqs_texts() {
        assert_eq!(err("abc"), "invalid expiration 'abc': no_integer");
        assert_eq!(err(""), "invalid expiration '': no_integer");
        assert_eq!(err(" 5"), "invalid expiration ' 5': no_integer");
        assert_eq!(err("é"), "invalid expiration 'é': no_integer");
        assert_eq!(err("-1"), "invalid expiration '-1': {value_negative,-1}");
        assert_eq!(
            err("5 "),
            "invalid expiration '5 ': {leftover_string,\" \"}"
        );
        assert_eq!(
            err("5abc"),
            "invalid expiration '5abc': {leftover_string,\"abc\"}"
        );
        assert_eq!(
            err("1.5"),
            "invalid expiration '1.5': {leftover_string,\".5\"}"
        );
        assert_eq!(
            err("1_000"),
            "invalid expiration '1_000': {leftover_string,\"_000\"}"
        );
        assert_eq!(
            err("0x10"),
            "invalid expiration '0x10': {leftover_string,\"x10\"}"
        );
        assert_eq!(
            err("315360000001"),
            "invalid expiration '315360000001': {value_too_large,315360000001}"
        );
        assert_eq!(
            err("5\u{1}"),
            "invalid expiration '5\u{1}': {leftover_string,[1]}"
        );
        assert_eq!(
            err("5\u{7f}"),
            "invalid expiration '5\u{7f}': {leftover_string,[127]}"
        );
        assert_eq!(
            err("5é"),
            "invalid expiration '5é': {leftover_string,\"é\"}"
        );
        assert_eq!(
            err("5\""),
            "invalid expiration '5\"': {leftover_string,\"\\\"\"}"
        );
        assert_eq!(
            err("5\\"),
            "invalid expiration '5\\': {leftover_string,\"\\\\\"}"
        );
        assert_eq!(
            err("5\n"),
            "invalid expiration '5\n': {leftover_string,\"\\n\"}"
        );
    }

    #[test]
    fn long_terms_wrap_like_erlangs_pretty_printer() {
        let n18 = "9".repeat(18);
        assert_eq!(
            err(&n18),
            format!("invalid expiration '{n18}': {{value_too_large,{n18}}}")
        );
        let n19 = "9".repeat(19);
        assert_eq!(
            err(&n19),
            format!(
                "invalid expiration '{n19}': {{value_too_large,\n{}{n19}}}",
                " ".repeat(43)
            )
        );
        let a17 = "a".repeat(17);
        assert_eq!(
            err(&format!("5{a17}")),
            format!("invalid expiration '5{a17}': {{leftover_string,\"{a17}\"}}")
        );
        let a18 = "a".repeat(18);
        assert_eq!(
            err(&format!("5{a18}")),
            format!(
                "invalid expiration '5{a18}': {{leftover_string,\n{}\"{a18}\"}}",
                " ".repeat(43)
            )
        );
        let big = "9".repeat(23);
        assert_eq!(
            err(&big),
            format!(
                "invalid expiration '{big}': {{value_too_large,\n{}{big}}}",
                " ".repeat(47)
            )
        );
        let neg = format!("-{}", "9".repeat(30));
        assert_eq!(
            err(&neg),
            format!(
                "invalid expiration '{neg}': {{value_negative,\n{}{neg}}}",
                " ".repeat(55)
            )
        );
    }

    #[test]
    fn effective_ttl_is_the_smaller() {
        assert_eq!(effective_ttl(None, None), None);
        assert_eq!(effective_ttl(Some(100), None), Some(100));
        assert_eq!(effective_ttl(None, Some(50)), Some(50));
        assert_eq!(effective_ttl(Some(100), Some(50)), Some(50));
        assert_eq!(effective_ttl(Some(10), Some(50)), Some(10));
        assert_eq!(effective_ttl(Some(0), Some(50)), Some(0));
    }
}
