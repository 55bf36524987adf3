//! AMQP reply codes as a closed enum, each knowing whether it is a soft (channel) or hard
//! (connection) error.

/// Every reply code the 0-9-1 spec (with RabbitMQ's usage) defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ReplyCode {
    /// 200: normal close.
    ReplySuccess = 200,
    /// 311: content too large (soft).
    ContentTooLarge = 311,
    /// 312: mandatory message could not be routed (used in basic.return).
    NoRoute = 312,
    /// 313: immediate message had no consumers (used in basic.return).
    NoConsumers = 313,
    /// 320: the server closed the connection (shutdown, admin action).
    ConnectionForced = 320,
    /// 402: invalid path (vhost).
    InvalidPath = 402,
    /// 403: access refused (soft).
    AccessRefused = 403,
    /// 404: entity not found (soft).
    NotFound = 404,
    /// 405: resource locked, e.g. an exclusive queue of another connection (soft).
    ResourceLocked = 405,
    /// 406: precondition failed (soft).
    PreconditionFailed = 406,
    /// 501: malformed frame (hard).
    FrameError = 501,
    /// 502: malformed method or content (hard).
    SyntaxError = 502,
    /// 503: invalid command sequence (hard).
    CommandInvalid = 503,
    /// 504: invalid channel use (hard).
    ChannelError = 504,
    /// 505: frame of unexpected type (hard).
    UnexpectedFrame = 505,
    /// 506: server resources exhausted (hard).
    ResourceError = 506,
    /// 530: not allowed, e.g. unknown vhost (hard).
    NotAllowed = 530,
    /// 540: not implemented (hard).
    NotImplemented = 540,
    /// 541: internal error (hard).
    InternalError = 541,
}

impl ReplyCode {
    /// Every reply code, in numeric order.
    pub const ALL: [ReplyCode; 19] = [
        ReplyCode::ReplySuccess,
        ReplyCode::ContentTooLarge,
        ReplyCode::NoRoute,
        ReplyCode::NoConsumers,
        ReplyCode::ConnectionForced,
        ReplyCode::InvalidPath,
        ReplyCode::AccessRefused,
        ReplyCode::NotFound,
        ReplyCode::ResourceLocked,
        ReplyCode::PreconditionFailed,
        ReplyCode::FrameError,
        ReplyCode::SyntaxError,
        ReplyCode::CommandInvalid,
        ReplyCode::ChannelError,
        ReplyCode::UnexpectedFrame,
        ReplyCode::ResourceError,
        ReplyCode::NotAllowed,
        ReplyCode::NotImplemented,
        ReplyCode::InternalError,
    ];

    /// The reply code with this number, `None` for numbers AMQP does not define.
    pub fn from_code(code: u16) -> Option<ReplyCode> {
        ReplyCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The numeric code sent on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The spec's constant name, which RabbitMQ puts at the start of its reply texts.
    pub fn name(self) -> &'static str {
        match self {
            ReplyCode::ReplySuccess => "OK",
            ReplyCode::ContentTooLarge => "CONTENT_TOO_LARGE",
            ReplyCode::NoRoute => "NO_ROUTE",
            ReplyCode::NoConsumers => "NO_CONSUMERS",
            ReplyCode::ConnectionForced => "CONNECTION_FORCED",
            ReplyCode::InvalidPath => "INVALID_PATH",
            ReplyCode::AccessRefused => "ACCESS_REFUSED",
            ReplyCode::NotFound => "NOT_FOUND",
            ReplyCode::ResourceLocked => "RESOURCE_LOCKED",
            ReplyCode::PreconditionFailed => "PRECONDITION_FAILED",
            ReplyCode::FrameError => "FRAME_ERROR",
            ReplyCode::SyntaxError => "SYNTAX_ERROR",
            ReplyCode::CommandInvalid => "COMMAND_INVALID",
            ReplyCode::ChannelError => "CHANNEL_ERROR",
            ReplyCode::UnexpectedFrame => "UNEXPECTED_FRAME",
            ReplyCode::ResourceError => "RESOURCE_ERROR",
            ReplyCode::NotAllowed => "NOT_ALLOWED",
            ReplyCode::NotImplemented => "NOT_IMPLEMENTED",
            ReplyCode::InternalError => "INTERNAL_ERROR",
        }
    }

    /// True for codes that close the whole connection rather than one channel.
    pub fn is_hard(self) -> bool {
        !matches!(
            self,
            ReplyCode::ReplySuccess
                | ReplyCode::ContentTooLarge
                | ReplyCode::NoRoute
                | ReplyCode::NoConsumers
                | ReplyCode::AccessRefused
                | ReplyCode::NotFound
                | ReplyCode::ResourceLocked
                | ReplyCode::PreconditionFailed
        )
    }
}
