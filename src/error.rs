//! `AmqpError`: an error the broker reports to a client as channel.close or
//! connection.close, carrying the reply code and the method that caused it.

use crate::protocol::ReplyCode;

/// An error that closes a channel (soft code) or the connection (hard code).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} - {text}", code.name())]
pub struct AmqpError {
    /// The reply code; `code.is_hard()` decides the scope.
    pub code: ReplyCode,
    /// Reply text without the code-name prefix (added when sent, as RabbitMQ does).
    pub text: String,
    /// Class of the method that failed (0 when none).
    pub class_id: u16,
    /// Method that failed (0 when none).
    pub method_id: u16,
}

impl AmqpError {
    /// An error with no method attached yet.
    pub fn new(code: ReplyCode, text: impl Into<String>) -> Self {
        AmqpError {
            code,
            text: text.into(),
            class_id: 0,
            method_id: 0,
        }
    }

    /// Attaches the failing method's ids, unless some are already set.
    pub fn with_method(mut self, class_id: u16, method_id: u16) -> Self {
        if self.class_id == 0 && self.method_id == 0 {
            self.class_id = class_id;
            self.method_id = method_id;
        }
        self
    }

    /// The reply text as sent on the wire: `"NOT_FOUND - no queue 'x' in vhost '/'"`.
    pub fn reply_text(&self) -> String {
        if self.text.is_empty() {
            // RabbitMQ's text for a crashed channel is the bare code name.
            return self.code.name().to_string();
        }
        let mut s = format!("{} - {}", self.code.name(), self.text);
        if s.len() > 255 {
            // RabbitMQ cuts long reply texts to 252 bytes and marks the cut with "...".
            let mut end = 252;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str("...");
        }
        s
    }

    /// 404 for a missing entity, worded as RabbitMQ does.
    pub fn not_found(kind: &str, name: &str, vhost: &str) -> Self {
        Self::new(
            ReplyCode::NotFound,
            format!("no {kind} '{name}' in vhost '{vhost}'"),
        )
    }

    /// 406 with the given text.
    pub fn precondition(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::PreconditionFailed, text)
    }

    /// 403 with the given text.
    pub fn access_refused(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::AccessRefused, text)
    }
}

/// Result alias for broker operations.
pub type AmqpResult<T> = Result<T, AmqpError>;
