//! Metrics: counters kept where events happen, the rate sampler, and the Prometheus
//! endpoint.
//!
//! - [`counters`]: fixed arrays of relaxed atomics per queue, channel and exchange, with
//!   the rates the sampler computes. The broker bumps them as messages move; nothing else
//!   happens per message.
//! - [`sampler`]: a task that every 5 s turns counter changes into per-second rates.
//! - [`history`]: the last 10 minutes of those samples per object, for `*_details.samples`.
//! - [`prometheus`]: `/metrics`, `/metrics/per-object` and `/metrics/detailed` in
//!   RabbitMQ's metric names, encoded by prometheus-client, on their own listener;
//!   [`raft`]: cluster mode's `rabbitmq_raft_*` series and a follower's scrape.

pub mod counters;
pub mod dead_letter;
pub mod detailed;
pub mod exposition;
pub mod families;
pub mod history;
mod node_wide;
mod object_tables;
pub mod per_object;
pub mod prometheus;
pub mod queue_series;
pub mod raft;
pub mod sampler;
