//! Users, password hashes, vhosts, permissions, topic permissions and limits, behind one
//! facade, [`Access`], that the connection (logins, connection.open), the channels (every
//! operation's permission) and the management API (changes) call.
//!
//! - [`password`]: RabbitMQ's salted hashes (SHA-256 by default, SHA-512, MD5).
//! - [`users`]: user records and tags.
//! - [`permissions`]: configure / write / read patterns, compiled once per change.
//! - [`topic`]: topic permissions on routing keys.
//! - [`limits`]: per-vhost and per-user limits.
//! - [`cache`]: a channel's cache of decisions, valid while the generation holds.
//! - `state` (the model in memory), `store` (its durable records), `control` (the facade).
//!
//! RabbitMQ's wording of every refusal is in [`AccessError`].

pub mod cache;
mod control;
mod error;
pub mod limits;
pub mod password;
pub mod permissions;
mod state;
mod store;
pub mod topic;
pub mod users;

pub use control::{Access, NewPassword, Session, check_topic_in};
pub use error::AccessError;
pub use permissions::{Permission, PermissionSpec, ResourceKind};
pub use state::{TopicRules, VHostRecord};
pub use topic::TopicPermissionSpec;
