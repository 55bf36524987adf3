//! Exchange routing: pure routing tables, one file per exchange kind (no tokio, no locks,
//! no I/O). The broker keeps one [`Router`] per exchange behind its own lock and asks it
//! where a message goes.
//!
//! Semantics follow RabbitMQ (checked against RabbitMQ 3.10):
//! - binding identity is (destination, routing key, arguments), where the arguments are
//!   compared after a stable sort of their top-level keys (RabbitMQ sorts them on bind, so
//!   `{a,b}` and `{b,a}` are one binding; nested tables are not sorted);
//! - a message reaches each destination at most once per [`Router::route`] call, however many
//!   bindings match;
//! - direct matches the routing key exactly, fanout ignores it, topic matches `.`-separated
//!   words with `*` (one word) and `#` (zero or more), headers matches the message headers.

mod direct;
mod fanout;
mod headers;
mod router;
mod topic;

pub use router::Router;

use crate::protocol::{FieldTable, ShortStr};

/// The four exchange kinds of AMQP 0-9-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExchangeKind {
    /// Routes on an exact routing-key match.
    Direct,
    /// Routes to every bound destination.
    Fanout,
    /// Routes on `.`-separated routing-key patterns with `*` and `#` wildcards.
    Topic,
    /// Routes on message header values.
    Headers,
}

impl ExchangeKind {
    /// Parses the type name of `exchange.declare` (`direct`, `fanout`, `topic`, `headers`);
    /// `None` for anything else (case matters, as in RabbitMQ).
    pub fn parse(name: &[u8]) -> Option<ExchangeKind> {
        match name {
            b"direct" => Some(ExchangeKind::Direct),
            b"fanout" => Some(ExchangeKind::Fanout),
            b"topic" => Some(ExchangeKind::Topic),
            b"headers" => Some(ExchangeKind::Headers),
            _ => None,
        }
    }

    /// The type name as declared on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
        }
    }
}

/// Where a binding sends messages: a queue, or another exchange (exchange-to-exchange
/// bindings, which the broker follows itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// A queue, by name.
    Queue(ShortStr),
    /// An exchange, by name.
    Exchange(ShortStr),
}

/// One binding of an exchange: destination, routing key (a pattern for topic exchanges) and
/// arguments (the match table for headers exchanges).
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Where matching messages go.
    pub destination: Destination,
    /// The binding key.
    pub routing_key: ShortStr,
    /// The binding arguments.
    pub arguments: FieldTable,
}

/// Why a binding's arguments are refused. The broker closes the channel with
/// 406 PRECONDITION_FAILED and `"PRECONDITION_FAILED - "` followed by this text (values are
/// printed the way RabbitMQ's Erlang formatting prints them).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BindingError {
    /// `x-match` is a long string but not one of the four known modes.
    #[error("Invalid x-match field value {value}; expected all, any, all-with-x, or any-with-x")]
    InvalidXMatch {
        /// The value as RabbitMQ prints it, e.g. `<<"foo">>`.
        value: String,
    },
    /// `x-match` is not a long string.
    #[error("Invalid x-match field type {type_name} (value {value}); expected longstr")]
    InvalidXMatchType {
        /// RabbitMQ's name of the field type, e.g. `signedint`.
        type_name: &'static str,
        /// The value as RabbitMQ prints it, e.g. `5`.
        value: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in [
            ExchangeKind::Direct,
            ExchangeKind::Fanout,
            ExchangeKind::Topic,
            ExchangeKind::Headers,
        ] {
            assert_eq!(ExchangeKind::parse(kind.as_str().as_bytes()), Some(kind));
        }
        assert_eq!(ExchangeKind::parse(b"Direct"), None);
        assert_eq!(ExchangeKind::parse(b"x-delayed-message"), None);
        assert_eq!(ExchangeKind::parse(b""), None);
    }

    #[test]
    fn binding_error_texts_match_rabbitmq() {
        let e = BindingError::InvalidXMatch {
            value: "<<\"foo\">>".into(),
        };
        assert_eq!(
            e.to_string(),
            "Invalid x-match field value <<\"foo\">>; expected all, any, all-with-x, or any-with-x"
        );
        let e = BindingError::InvalidXMatchType {
            type_name: "signedint",
            value: "5".into(),
        };
        assert_eq!(
            e.to_string(),
            "Invalid x-match field type signedint (value 5); expected longstr"
        );
    }
}
