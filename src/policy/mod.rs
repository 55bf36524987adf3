//! Policies and operator policies: which one applies to a queue or exchange, and the
//! effective arguments that result. Pure: the vhost (`broker::vhost::policies`) owns a
//! [`Policies`] registry, persists changes through [`store`], and re-applies the
//! [`effective`] limits to its queues and exchanges whenever a policy or entity changes;
//! queues then read only their precomputed limits, never a policy, per message.
//!
//! - [`model`]: `Policy` and its validation (RabbitMQ's error texts).
//! - [`matching`]: the highest-priority matching policy.
//! - [`effective`]: the merge of queue arguments × policy × operator policy, per key.
//! - [`registry`]: a vhost's policies and the pair applying to one entity.
//! - [`store`]: the stored form.

pub mod effective;
pub mod matching;
pub mod model;
pub mod registry;
pub mod store;

pub use model::{ApplyTo, Definition, Policy, PolicyError, PolicyKind, Target};
pub use registry::{Applied, Policies};
