//! What can go wrong in `warrenctl`, and the exit code rabbitmqctl uses for it.

use thiserror::Error;

/// A failed `warrenctl` command.
#[derive(Debug, Error)]
pub enum CliError {
    /// Bad arguments (exit 64, EX_USAGE).
    #[error("{0}")]
    Usage(String),
    /// The management API could not be reached (exit 69, EX_UNAVAILABLE).
    #[error("could not reach the management API at {url}: {reason}")]
    Unreachable {
        /// The URL that was tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The server refused the credentials or the operation (exit 77, EX_NOPERM).
    #[error("{0}")]
    NotAuthorised(String),
    /// The named object does not exist (exit 69 as rabbitmqctl, 67 for a user).
    #[error("{what} does not exist")]
    NotFound {
        /// What was looked for, e.g. `Queue 'q' in vhost '/'`.
        what: String,
        /// Whether it was a user (rabbitmqctl exits 67, EX_NOUSER).
        user: bool,
    },
    /// The object to create exists already (exit 70, as rabbitmqctl's `add_user`).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Any other error answer of the server (exit 70, EX_SOFTWARE).
    #[error("the server answered {status}: {reason}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// RabbitMQ's `reason` text, or the body.
        reason: String,
    },
    /// The server's answer is not what the API promises (exit 70).
    #[error("unexpected answer from the server: {0}")]
    BadAnswer(String),
    /// A file could not be read or written (exit 74, EX_IOERR).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file or argument holds bad data (exit 65, EX_DATAERR).
    #[error("{0}")]
    Data(String),
}

impl CliError {
    /// The process exit code for this error, as rabbitmqctl's (sysexits).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 64,
            CliError::Data(_) => 65,
            CliError::NotFound { user: true, .. } => 67,
            CliError::Unreachable { .. } | CliError::NotFound { .. } => 69,
            CliError::Server { .. } | CliError::AlreadyExists(_) | CliError::BadAnswer(_) => 70,
            CliError::Io { .. } => 74,
            CliError::NotAuthorised(_) => 77,
        }
    }
}
