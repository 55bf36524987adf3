//! `warren-perf`: a load tool built on a real client library (amqprs), in the style of
//! RabbitMQ's PerfTest and lavinmqperf, for measuring Warren or any AMQP 0-9-1 broker.
//!
//! - [`args`]: the command-line options ([`PerfArgs`]).
//! - [`topology`]: queue names, routes, declaring and deleting them.
//! - [`producer`] and [`consumer`]: one connection each; rate, confirm window, acks.
//! - [`stats`]: counters and latency histograms; [`report`]: the result and its output.
//! - [`run()`]: the library entry point the binary and the tests call.

pub mod args;
pub mod consumer;
pub mod error;
pub mod producer;
pub mod report;
pub mod run;
pub mod stats;
pub mod topology;
pub mod uri;

pub use args::{ExchangeKind, PerfArgs};
pub use error::PerfError;
pub use report::Report;
pub use run::run;
