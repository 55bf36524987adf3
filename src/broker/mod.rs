//! The shared broker model: exchanges, queues and bindings, independent of any connection.

pub mod exchange;
