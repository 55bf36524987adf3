//! Warren: an AMQP 0-9-1 message broker that existing RabbitMQ clients use unchanged.
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(unsafe_code)]

pub mod broker;
pub mod config;
pub mod protocol;
pub mod server;
