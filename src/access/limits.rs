//! Per-vhost limits (`max-connections`, `max-queues`) and per-user limits
//! (`max-connections`, `max-channels`). As in RabbitMQ, a negative limit means none and 0
//! refuses everything.

use serde::{Deserialize, Serialize};

/// Why a limit could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Not a limit of this kind of object.
    #[error("unknown limit '{0}'")]
    Unknown(String),
}

/// Limits of a vhost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VHostLimits {
    /// Most client connections to the vhost at once.
    #[serde(
        rename = "max-connections",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_connections: Option<i64>,
    /// Most queues in the vhost.
    #[serde(
        rename = "max-queues",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_queues: Option<i64>,
}

/// Limits of a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLimits {
    /// Most connections of the user at once.
    #[serde(
        rename = "max-connections",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_connections: Option<i64>,
    /// Most channels of the user at once, over all its connections.
    #[serde(
        rename = "max-channels",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_channels: Option<i64>,
}

/// Whether `current` objects already reach `limit` (so one more is refused).
pub fn reached(limit: Option<i64>, current: usize) -> bool {
    match limit.and_then(|l| u64::try_from(l).ok()) {
        Some(l) => current as u64 >= l,
        None => false,
    }
}

impl VHostLimits {
    /// Sets (`Some`) or clears (`None`) the limit called `name`.
    pub fn set(&mut self, name: &str, value: Option<i64>) -> Result<(), LimitError> {
        match name {
            "max-connections" => self.max_connections = value,
            "max-queues" => self.max_queues = value,
            other => return Err(LimitError::Unknown(other.to_string())),
        }
        Ok(())
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == VHostLimits::default()
    }
}

impl UserLimits {
    /// Sets (`Some`) or clears (`None`) the limit called `name`.
    pub fn set(&mut self, name: &str, value: Option<i64>) -> Result<(), LimitError> {
        match name {
            "max-connections" => self.max_connections = value,
            "max-channels" => self.max_channels = value,
            other => return Err(LimitError::Unknown(other.to_string())),
        }
        Ok(())
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == UserLimits::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_is_unlimited_and_zero_refuses_all() {
        assert!(!reached(None, 1000));
        assert!(!reached(Some(-1), 1000));
        assert!(reached(Some(0), 0));
        assert!(!reached(Some(2), 1));
        assert!(reached(Some(2), 2));
    }

    #[test]
    fn limits_use_rabbitmq_names() {
        let mut l = VHostLimits::default();
        l.set("max-queues", Some(3)).unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"max-queues":3}"#);
        assert!(l.set("max-channels", Some(1)).is_err());
    }
}
