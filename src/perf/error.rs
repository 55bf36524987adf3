//! What can stop a `warren-perf` run.

use thiserror::Error;

/// A failed load run.
#[derive(Debug, Error)]
pub enum PerfError {
    /// The options do not describe a runnable load.
    #[error("invalid options: {0}")]
    Options(String),
    /// The broker URI could not be parsed.
    #[error("invalid URI {uri:?}: {reason}")]
    Uri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA file could not be read or holds no usable certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// An AMQP operation failed (connection refused, access refused, channel closed, …).
    #[error("{what}: {source}")]
    Amqp {
        /// The step that failed, e.g. "opening connection".
        what: String,
        /// The client library's error.
        #[source]
        source: amqprs::error::Error,
    },
    /// A producer or consumer task ended abnormally.
    #[error("load task failed: {0}")]
    Task(String),
    /// The latency log could not be written.
    #[error("latency log {path}: {source}")]
    LatencyLog {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl PerfError {
    /// Wraps a client error with the step that failed.
    pub(crate) fn amqp(what: impl Into<String>) -> impl FnOnce(amqprs::error::Error) -> Self {
        let what = what.into();
        move |source| PerfError::Amqp { what, source }
    }
}
