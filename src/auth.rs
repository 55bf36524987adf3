//! Login refusals and the decoders for the two SASL responses clients send in
//! `connection.start-ok`; users and passwords live in [`crate::access`].
//!
//! Order of checks follows RabbitMQ: credentials first, then the loopback rule, so a remote
//! `guest` with a wrong password is refused for its credentials. Whatever the reason, the
//! client only ever sees [`AuthError::refusal_text`] (403 ACCESS_REFUSED); the detailed
//! `Display` text is for the broker log, as RabbitMQ does.
//!
//! Observed on RabbitMQ 3.10: the `connection.close` carrying that text is sent only when the
//! client's `capabilities` table has `authentication_failure_close = true`; otherwise the
//! socket is simply closed. Either way RabbitMQ closes the socket about 3 s after refusing.

use crate::protocol::reply_code::ReplyCode;

/// Why a login was refused. `Display` is the broker-log text (RabbitMQ's wording); clients
/// are told only [`AuthError::refusal_text`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No user by that name. Logged exactly like a bad password so the two look alike.
    #[error("user '{user}' - invalid credentials")]
    UnknownUser {
        /// The name presented.
        user: String,
    },
    /// The user exists but the password does not match.
    #[error("user '{user}' - invalid credentials")]
    BadPassword {
        /// The name presented.
        user: String,
    },
    /// The user is in `auth.loopback_users` and connected from a non-loopback address.
    #[error("user '{user}' can only connect via localhost")]
    LoopbackOnly {
        /// The name presented.
        user: String,
    },
}

impl AuthError {
    /// The reply code sent in `connection.close`: 403 ACCESS_REFUSED for every refusal.
    pub fn reply_code(&self) -> ReplyCode {
        ReplyCode::AccessRefused
    }

    /// The full reply-text RabbitMQ sends (prefix included), identical for every reason:
    /// `ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details
    /// see the broker logfile.`
    pub fn refusal_text(&self, mechanism: &str) -> String {
        refusal_text(mechanism)
    }
}

/// The reply-text of a refused login for `mechanism` (`PLAIN` or `AMQPLAIN`), exactly as
/// RabbitMQ sends it with code 403, including its `ACCESS_REFUSED - ` prefix.
pub fn refusal_text(mechanism: &str) -> String {
    format!(
        "ACCESS_REFUSED - Login was refused using authentication mechanism {mechanism}. \
         For details see the broker logfile."
    )
}

/// Decodes a SASL PLAIN response (`\0user\0password`: as in RabbitMQ, an authorization
/// identity before the first NUL is not accepted) into
/// (user, password). `None` if there are not exactly two NUL separators or the user is not
/// UTF-8.
pub fn parse_plain(response: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut parts = response.split(|&b| b == 0);
    if !parts.next()?.is_empty() {
        return None;
    }
    let user = parts.next()?;
    let password = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let user = std::str::from_utf8(user).ok()?.to_string();
    Some((user, password.to_vec()))
}

/// Decodes an AMQPLAIN response (a field table body without the 4-byte length, keys LOGIN
/// and PASSWORD as long strings) into (user, password). Other entries are skipped; the first
/// LOGIN and PASSWORD win, as in RabbitMQ. `None` if the table is malformed, either key is
/// missing or not a long string, or the user is not UTF-8.
pub fn parse_amqplain(response: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut rest = response;
    let mut login: Option<&[u8]> = None;
    let mut password: Option<&[u8]> = None;
    while !rest.is_empty() {
        let (key, after_key) = take_short_str(rest)?;
        let (&kind, after_kind) = after_key.split_first()?;
        let (value, after_value) = take_value(kind, after_kind)?;
        match (key, kind) {
            (b"LOGIN", b'S') if login.is_none() => login = Some(value),
            (b"PASSWORD", b'S') if password.is_none() => password = Some(value),
            _ => {}
        }
        rest = after_value;
    }
    let user = std::str::from_utf8(login?).ok()?.to_string();
    Some((user, password?.to_vec()))
}

/// Splits `n` bytes off the front, or `None` if fewer remain.
fn take(input: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (input.len() >= n).then(|| input.split_at(n))
}

fn take_short_str(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = input.split_first()?;
    take(rest, usize::from(len))
}

fn take_long(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = take(input, 4)?;
    let len = u32::from_be_bytes(len.try_into().ok()?);
    take(rest, usize::try_from(len).ok()?)
}

/// Returns the value's bytes (the payload of a long string, table or array; the raw bytes
/// of a fixed-size value) and the rest. Type codes as RabbitMQ reads them.
fn take_value(kind: u8, input: &[u8]) -> Option<(&[u8], &[u8])> {
    let fixed = match kind {
        b'V' => 0,
        b't' | b'b' | b'B' => 1,
        b's' | b'u' => 2,
        b'I' | b'i' | b'f' => 4,
        b'D' => 5,
        b'l' | b'L' | b'd' | b'T' => 8,
        b'S' | b'x' | b'F' | b'A' => return take_long(input),
        _ => return None,
    };
    take(input, fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqplain_skips_other_entries_of_every_type() {
        let mut t = Vec::new();
        t.extend_from_slice(b"\x01at\x01");
        t.extend_from_slice(b"\x01bI\0\0\0\x07");
        t.extend_from_slice(b"\x01cF\0\0\0\x03\x01xV");
        t.extend_from_slice(b"\x01dD\x02\0\0\0\x09");
        t.extend_from_slice(b"\x05LOGINS\0\0\0\x02me");
        t.extend_from_slice(b"\x08PASSWORDS\0\0\0\x03p\0w");
        assert_eq!(
            parse_amqplain(&t),
            Some(("me".to_string(), b"p\0w".to_vec()))
        );
    }
}
