//! Warren: an AMQP 0-9-1 message broker that existing RabbitMQ clients use unchanged.
//!
//! # Architecture
//! - [`protocol`]: the pure codec (frames, generated methods, field tables, properties).
//! - [`connection`]: one driver task per socket owning its channels, plus a writer task
//!   that batches socket writes.
//! - [`channel`]: per-channel state (content assembly, delivery tags, consumers, confirms,
//!   transactions) and one handler file per AMQP class.
//! - [`broker`]: the shared model: vhosts, exchanges with their routers, queues.
//! - [`policy`]: policies and operator policies, and the effective arguments they give.
//! - [`server`]: accept loop and shutdown; [`listener`]: plain and TLS listeners giving one
//!   stream type; [`tls`]: certificates and rotation; [`config`]: settings; [`access`]:
//!   users, vhosts, permissions and limits; [`auth`]: SASL decoding; [`definitions`]:
//!   RabbitMQ's definitions export and import.
//! - [`management`]: the HTTP API (RabbitMQ's management plugin shapes) on its own
//!   listeners; [`metrics`]: counters, the rate sampler and the Prometheus endpoint. Neither
//!   is on the message path: they read atomics that the broker updates as events happen.
//! - [`cluster`]: replication on openraft (in progress): one Raft group, its LMDB log, the
//!   authenticated cluster port, `warren cluster status | join | remove`, followers handing
//!   AMQP clients to the leader ([`cluster::proxy`]). Nothing of it runs unless
//!   `cluster.enabled` is true.
//!
//! # Data flow
//! socket bytes → `read_frame` (no copy) → `Method::decode` → channel → content assembler →
//! `Arc<Message>` → `VHost::route` (per-exchange read lock, no global lock) → `Queue::publish`
//! (short mutex; delivers inline to consumers with credit) → consumer connection's inbox →
//! `Channel::deliver` assigns the delivery tag → `FrameSink` → writer task (vectored writes).
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(unsafe_code)]
// serde_json::json! of the management API's larger objects (nodes, overview) nests deeply.
#![recursion_limit = "256"]

pub mod access;
pub mod auth;
pub mod broker;
pub mod channel;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod definitions;
pub mod error;
pub mod idle_trim;
pub mod listener;
pub mod management;
pub mod metrics;
pub mod perf;
pub mod policy;
pub mod protocol;
pub mod server;
pub mod store;
pub mod tls;
