//! What a log entry carries: one [`Request`] is a batch of [`ClusterOp`]s that every node
//! applies to its own store, in log order, all or nothing.
//!
//! The format is postcard (a variant is a varint index): new kinds of ops are appended at the
//! end of [`ClusterOp`] so entries written by this build stay readable. Next to come, each
//! one entry so that it happens exactly once on every node: durable-queue publishes (the
//! message with its `(queue, seq)` entries), acks (`Remove`), requeues with their delivery
//! count, purges, and a dead-letter move as `Publish` to the targets plus `Remove` from the
//! source in the same [`Request`].

use serde::{Deserialize, Serialize};

use crate::store::{DefinitionKind, StoreOp};

/// Most ops in one entry.
pub const MAX_OPS: usize = 4096;
/// Most bytes of keys and values in one entry.
pub const MAX_ENTRY_BYTES: usize = 4 << 20;

/// The payload of one log entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Request {
    /// Applied in order, as one unit.
    pub ops: Vec<ClusterOp>,
}

/// One replicated change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterOp {
    /// Insert or replace a definition (vhost, user, permission, policy, exchange, durable
    /// queue, binding), encoded by the broker as the store keeps it.
    PutDefinition {
        /// Kind.
        kind: DefKind,
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Delete a definition (missing is not an error).
    DeleteDefinition {
        /// Kind.
        kind: DefKind,
        /// Key.
        key: Vec<u8>,
    },
}

/// The reply to an applied entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Response {
    /// Every op was applied (or the entry carried none: a membership or blank entry).
    #[default]
    Applied,
    /// The store refused an op; the same happens on every node, so it is an answer, not a
    /// failure of the node.
    Refused(String),
}

/// Kinds of definitions, as replicated (a stable wire enum beside the store's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DefKind {
    /// Virtual hosts.
    VHost,
    /// Exchanges.
    Exchange,
    /// Queues.
    Queue,
    /// Bindings.
    Binding,
    /// Users.
    User,
    /// Permissions.
    Permission,
    /// Topic permissions.
    TopicPermission,
    /// The access store's bookkeeping.
    AccessMeta,
    /// Policies.
    Policy,
    /// Operator policies.
    OperatorPolicy,
}

impl DefKind {
    /// Every kind, in a fixed order (snapshots walk them in it).
    pub const ALL: [DefKind; 10] = [
        DefKind::VHost,
        DefKind::Exchange,
        DefKind::Queue,
        DefKind::Binding,
        DefKind::User,
        DefKind::Permission,
        DefKind::TopicPermission,
        DefKind::AccessMeta,
        DefKind::Policy,
        DefKind::OperatorPolicy,
    ];

    /// The store's kind.
    pub fn store_kind(self) -> DefinitionKind {
        match self {
            DefKind::VHost => DefinitionKind::VHost,
            DefKind::Exchange => DefinitionKind::Exchange,
            DefKind::Queue => DefinitionKind::Queue,
            DefKind::Binding => DefinitionKind::Binding,
            DefKind::User => DefinitionKind::User,
            DefKind::Permission => DefinitionKind::Permission,
            DefKind::TopicPermission => DefinitionKind::TopicPermission,
            DefKind::AccessMeta => DefinitionKind::AccessMeta,
            DefKind::Policy => DefinitionKind::Policy,
            DefKind::OperatorPolicy => DefinitionKind::OperatorPolicy,
        }
    }
}

impl Request {
    /// A request of the given ops.
    pub fn new(ops: Vec<ClusterOp>) -> Request {
        Request { ops }
    }

    /// Refuses a request over [`MAX_OPS`] ops or [`MAX_ENTRY_BYTES`] bytes.
    pub fn check_size(&self) -> Result<(), String> {
        if self.ops.len() > MAX_OPS {
            return Err(format!(
                "{} ops in one entry; at most {MAX_OPS}",
                self.ops.len()
            ));
        }
        let bytes: usize = self.ops.iter().map(ClusterOp::size).sum();
        if bytes > MAX_ENTRY_BYTES {
            return Err(format!(
                "{bytes} bytes in one entry; at most {MAX_ENTRY_BYTES}"
            ));
        }
        Ok(())
    }
}

impl ClusterOp {
    fn size(&self) -> usize {
        match self {
            ClusterOp::PutDefinition { key, value, .. } => key.len().saturating_add(value.len()),
            ClusterOp::DeleteDefinition { key, .. } => key.len(),
        }
    }

    /// The store operation this op applies as.
    pub fn to_store_op(&self) -> StoreOp {
        match self {
            ClusterOp::PutDefinition { kind, key, value } => StoreOp::PutDefinition {
                kind: kind.store_kind(),
                key: key.clone(),
                value: value.clone(),
            },
            ClusterOp::DeleteDefinition { kind, key } => StoreOp::DeleteDefinition {
                kind: kind.store_kind(),
                key: key.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_stay_compact() {
        let r = Request::new(vec![
            ClusterOp::PutDefinition {
                kind: DefKind::Queue,
                key: b"/\0orders".to_vec(),
                value: vec![7; 10],
            },
            ClusterOp::DeleteDefinition {
                kind: DefKind::Binding,
                key: b"k".to_vec(),
            },
        ]);
        let bytes = postcard::to_allocvec(&r).expect("encode");
        assert!(bytes.len() < 40, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<Request>(&bytes).expect("decode"), r);
    }

    #[test]
    fn garbage_never_decodes_into_a_huge_request() {
        // A length prefix claiming 2^60 ops in a few bytes fails instead of allocating.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(postcard::from_bytes::<Request>(&bytes).is_err());
    }

    #[test]
    fn oversized_requests_are_refused() {
        let many = Request::new(vec![
            ClusterOp::DeleteDefinition {
                kind: DefKind::User,
                key: vec![],
            };
            MAX_OPS + 1
        ]);
        assert!(many.check_size().is_err());
        let big = Request::new(vec![ClusterOp::PutDefinition {
            kind: DefKind::User,
            key: vec![],
            value: vec![0; MAX_ENTRY_BYTES + 1],
        }]);
        assert!(big.check_size().is_err());
        assert!(Request::default().check_size().is_ok());
    }
}
