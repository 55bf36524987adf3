//! [`ConfigError`]: why settings could not be loaded or are not usable.

use std::path::PathBuf;

/// Why the settings could not be loaded or are not usable. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` named a file that does not exist.
    #[error("config file {} does not exist; check the --config path", path.display())]
    FileNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The config file exists but could not be read or is not valid TOML.
    #[error("cannot read config file {}: {message}", path.display())]
    File {
        /// The path given.
        path: PathBuf,
        /// What the reader or TOML parser reported.
        message: String,
    },
    /// A `WARREN_*` environment variable holds bytes that are not UTF-8.
    #[error("environment variable {name} is not valid UTF-8; unset it or fix its value")]
    EnvNotUnicode {
        /// The variable's name.
        name: String,
    },
    /// The merged settings do not fit the `Settings` shape: an unknown key or a wrong type.
    /// The message names the key and, when known, the file or "the environment".
    #[error("{0}; see conf/warren.toml for every setting and its type")]
    Shape(String),
    /// A value has the right type but is out of range or malformed.
    #[error("{key}: {reason}")]
    Invalid {
        /// Dotted path of the setting, e.g. `amqp.frame_max` or `auth.users[1].name`.
        key: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
}

impl ConfigError {
    /// The dotted path of the offending setting, for [`ConfigError::Invalid`].
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
