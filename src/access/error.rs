//! Why an access check or an access change failed. Refusals map to the AMQP reply code and
//! text RabbitMQ 3.10 sends ([`AccessError::to_amqp`]); the rest are for the management
//! API.

use super::limits::LimitError;
use super::password::PasswordError;
use super::permissions::{PatternError, ResourceKind};
use crate::error::AmqpError;
use crate::protocol::ReplyCode;

/// An access refusal or a refused change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The user lacks a permission on a resource (403).
    #[error("access to {} '{name}' in vhost '{vhost}' refused for user '{user}'", kind.as_str())]
    Refused {
        /// Exchange or queue.
        kind: ResourceKind,
        /// The resource's name (`amq.default` for the default exchange).
        name: String,
        /// The vhost.
        vhost: String,
        /// The user.
        user: String,
    },
    /// A topic permission refuses the routing key (403).
    #[error(
        "access to topic '{routing_key}' in exchange '{exchange}' in vhost '{vhost}' refused \
         for user '{user}'"
    )]
    TopicRefused {
        /// The routing or binding key.
        routing_key: String,
        /// The topic exchange.
        exchange: String,
        /// The vhost.
        vhost: String,
        /// The user.
        user: String,
    },
    /// The user has no permissions on the vhost (530 at connection.open).
    #[error("access to vhost '{vhost}' refused for user '{user}'")]
    VHostRefused {
        /// The vhost.
        vhost: String,
        /// The user.
        user: String,
    },
    /// The vhost does not exist (530 at connection.open; 404 over HTTP).
    #[error("vhost {vhost} not found")]
    VHostNotFound {
        /// The vhost.
        vhost: String,
    },
    /// The vhost's `max-connections` is reached (530).
    #[error(
        "access to vhost '{vhost}' refused for user '{user}': connection limit ({limit}) is reached"
    )]
    VHostConnectionLimit {
        /// The vhost.
        vhost: String,
        /// The user.
        user: String,
        /// The limit.
        limit: i64,
    },
    /// The user's `max-connections` is reached (530).
    #[error("connection refused for user '{user}': user connection limit ({limit}) is reached")]
    UserConnectionLimit {
        /// The user.
        user: String,
        /// The limit.
        limit: i64,
    },
    /// The user's `max-channels` is reached (530, closes the connection).
    #[error(
        "number of channels opened for user '{user}' has reached the maximum allowed user \
         limit of ({limit})"
    )]
    UserChannelLimit {
        /// The user.
        user: String,
        /// The limit.
        limit: i64,
    },
    /// The vhost's `max-queues` is reached (406).
    #[error("cannot declare queue '{queue}': queue limit in vhost '{vhost}' ({limit}) is reached")]
    QueueLimit {
        /// The queue being declared.
        queue: String,
        /// The vhost.
        vhost: String,
        /// The limit.
        limit: i64,
    },
    /// No user by that name.
    #[error("no user '{0}'")]
    NoSuchUser(String),
    /// A user or vhost name that cannot be used (empty, or too long for AMQP).
    #[error("invalid name '{0}'")]
    InvalidName(String),
    /// A permission pattern does not compile.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// A password hash or algorithm was refused.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// An unknown limit name.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The change could not be stored.
    #[error("cannot store the change: {0}")]
    Store(String),
}

impl AccessError {
    /// The AMQP error RabbitMQ sends for this refusal.
    pub fn to_amqp(&self) -> AmqpError {
        let code = match self {
            AccessError::VHostRefused { .. }
            | AccessError::VHostNotFound { .. }
            | AccessError::VHostConnectionLimit { .. }
            | AccessError::UserConnectionLimit { .. }
            | AccessError::UserChannelLimit { .. } => ReplyCode::NotAllowed,
            AccessError::QueueLimit { .. } => ReplyCode::PreconditionFailed,
            AccessError::Store(_) => ReplyCode::InternalError,
            _ => ReplyCode::AccessRefused,
        };
        AmqpError::new(code, self.to_string())
    }
}

impl From<AccessError> for AmqpError {
    fn from(e: AccessError) -> AmqpError {
        e.to_amqp()
    }
}
