//! What a log entry carries: one [`Request`] is a batch of [`ClusterOp`]s that every node
//! applies to its own store, in log order, all or nothing.
//!
//! The format is postcard (a variant is a varint index): new kinds of ops are appended at the
//! end of [`ClusterOp`] so entries written by this build stay readable. Besides definitions
//! an entry carries the broker's message writes (persistent publishes with their
//! `(queue, seq)` entries, removes, delivered marks, delivery counts, purges) and the queue-id
//! counter, in the order the leader's broker made them (see [`super::proposer`]).

use bytes::Bytes;
use openraft::EntryPayload;
use serde::{Deserialize, Serialize};

use crate::cluster::types::Entry;
use crate::store::{DefinitionKind, StoreOp, StoredMessage};

/// Most ops in one entry.
pub const MAX_OPS: usize = 4096;
/// Most bytes of keys, values and bodies in one entry of several ops.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
/// Most bytes of an entry of one op (a large message travels alone; the cluster port's
/// frames are capped at 32 MiB).
pub const MAX_SINGLE_OP_BYTES: usize = 24 << 20;

/// Envelope bytes counted per op on top of its contents (tags, lengths, ids: postcard
/// varints take fewer).
const OP_OVERHEAD: usize = 48;
/// Bytes counted for an entry's log id and tags, and for a whole membership entry.
const ENTRY_OVERHEAD: usize = 64;
const MEMBERSHIP_BYTES: usize = 4096;

/// An upper estimate of `entry`'s encoded size (request byte budgets, buffer capacities).
pub fn entry_bytes(entry: &Entry) -> usize {
    let payload = match &entry.payload {
        EntryPayload::Blank => 0,
        EntryPayload::Membership(_) => MEMBERSHIP_BYTES,
        EntryPayload::Normal(request) => request
            .ops
            .iter()
            .map(|op| ClusterOp::size(op).saturating_add(OP_OVERHEAD))
            .fold(0usize, usize::saturating_add),
    };
    payload.saturating_add(ENTRY_OVERHEAD)
}

/// The payload of one log entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Request {
    /// Applied in order, as one unit.
    pub ops: Vec<ClusterOp>,
    /// The leader's proposer's number for this entry (0: none), so that its log store can
    /// report where the entry landed ([`super::commit_progress`]). Never stored or sent:
    /// only the leader's in-memory copy, on its way from the proposer to the log, has it.
    #[serde(skip)]
    pub proposal: u64,
}

impl PartialEq for Request {
    /// Equal when the ops are: the proposal number is not part of the entry.
    fn eq(&self, other: &Request) -> bool {
        self.ops == other.ops
    }
}

impl Eq for Request {}

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
    /// Store a message once, referenced by each `(queue, seq)` ([`StoreOp::Publish`]).
    Publish {
        /// Unique message id (assigned by the leader).
        msg_id: u64,
        /// The message.
        message: Message,
        /// Queue entries referencing it, as `(queue, seq)`.
        entries: Vec<(u64, u64)>,
    },
    /// Remove one queue entry ([`StoreOp::Remove`]).
    Remove {
        /// The queue.
        queue: u64,
        /// The entry's seq.
        seq: u64,
    },
    /// Delivered watermark ([`StoreOp::MarkDelivered`]).
    MarkDelivered {
        /// The queue.
        queue: u64,
        /// Highest delivered seq.
        up_to: u64,
    },
    /// Delete a queue's entries ([`StoreOp::Purge`]).
    Purge {
        /// The queue.
        queue: u64,
        /// Also forget its counters (queue deleted).
        forget: bool,
    },
    /// Queue ids below `next` are taken.
    QueueCounter {
        /// The next free queue id.
        next: u64,
    },
    /// [`StoreOp::DeliveryCount`]: a quorum queue's entry was returned `count` times.
    DeliveryCount {
        /// The queue.
        queue: u64,
        /// The entry's seq.
        seq: u64,
        /// How many times it was returned.
        count: u32,
    },
}

/// A replicated message, field for field [`StoredMessage`]. Its byte fields are shared
/// [`Bytes`]: the leader's log keeps recent entries to replicate them
/// ([`super::log_store`]) and each node's apply hands them to its store, without copying a
/// body. Each encodes as postcard's length-prefixed bytes, as the `Vec<u8>` fields of
/// earlier builds did (a sequence of `u8` and a byte string are the same bytes in
/// postcard), so their logs and snapshots read unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Exchange it was published to.
    pub exchange: Bytes,
    /// Routing key.
    pub routing_key: Bytes,
    /// The content header's property bytes.
    pub raw_properties: Bytes,
    /// The body.
    pub body: Bytes,
    /// Delivery mode 2.
    pub persistent: bool,
    /// When it was published (Unix ms).
    pub published_at_ms: Option<u64>,
}

/// The reply to an applied entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Response {
    /// Every op was applied (or the entry carried none: a membership or blank entry).
    #[default]
    Applied,
    /// The store refused some ops (index in the entry, reason); the same happens on every
    /// node, so it is an answer, not a failure of the node.
    Refused(Vec<(u32, String)>),
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

    /// The replicated kind of a store kind.
    pub fn from_store_kind(kind: DefinitionKind) -> DefKind {
        match kind {
            DefinitionKind::VHost => DefKind::VHost,
            DefinitionKind::Exchange => DefKind::Exchange,
            DefinitionKind::Queue => DefKind::Queue,
            DefinitionKind::Binding => DefKind::Binding,
            DefinitionKind::User => DefKind::User,
            DefinitionKind::Permission => DefKind::Permission,
            DefinitionKind::TopicPermission => DefKind::TopicPermission,
            DefinitionKind::AccessMeta => DefKind::AccessMeta,
            DefinitionKind::Policy => DefKind::Policy,
            DefinitionKind::OperatorPolicy => DefKind::OperatorPolicy,
        }
    }

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
        Request { ops, proposal: 0 }
    }

    /// Refuses a request over [`MAX_OPS`] ops or [`MAX_ENTRY_BYTES`] bytes, except that
    /// its largest op may take up to [`MAX_SINGLE_OP_BYTES`] (one large message, alone or
    /// in a group such as a dead-letter move) beside [`MAX_ENTRY_BYTES`] of others.
    pub fn check_size(&self) -> Result<(), String> {
        if let [op] = self.ops.as_slice() {
            let bytes = op.size();
            if bytes > MAX_SINGLE_OP_BYTES {
                return Err(format!(
                    "{bytes} bytes in one op; at most {MAX_SINGLE_OP_BYTES}"
                ));
            }
            return Ok(());
        }
        if self.ops.len() > MAX_OPS {
            return Err(format!(
                "{} ops in one entry; at most {MAX_OPS}",
                self.ops.len()
            ));
        }
        let bytes: usize = self.ops.iter().map(ClusterOp::size).sum();
        let largest = self.ops.iter().map(ClusterOp::size).max().unwrap_or(0);
        if largest > MAX_SINGLE_OP_BYTES {
            return Err(format!(
                "{largest} bytes in one op; at most {MAX_SINGLE_OP_BYTES}"
            ));
        }
        if bytes.saturating_sub(largest) > MAX_ENTRY_BYTES {
            return Err(format!(
                "{bytes} bytes in one entry; at most {MAX_ENTRY_BYTES}"
            ));
        }
        Ok(())
    }
}

/// A copy of `bytes` in an allocation of its own. A publish's fields are slices of its
/// connection's read buffer; a log entry keeps them until it is committed and applied, and
/// holding the buffer that long makes the connection allocate a new one for its next reads.
/// (The one cluster benchmark run with the buffers held had Warren at 15-16k confirmed
/// msg/s in four of five rounds; interleaved runs later could not separate the two builds,
/// so the copy earlier builds made stays.)
fn compact(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

impl ClusterOp {
    /// Bytes of keys, values and message contents (what [`Request::check_size`] counts).
    pub fn size(&self) -> usize {
        match self {
            ClusterOp::PutDefinition { key, value, .. } => key.len().saturating_add(value.len()),
            ClusterOp::DeleteDefinition { key, .. } => key.len(),
            ClusterOp::Publish {
                message, entries, ..
            } => message
                .body
                .len()
                .saturating_add(message.raw_properties.len())
                .saturating_add(message.exchange.len())
                .saturating_add(message.routing_key.len())
                .saturating_add(entries.len().saturating_mul(16)),
            ClusterOp::Remove { .. }
            | ClusterOp::MarkDelivered { .. }
            | ClusterOp::Purge { .. }
            | ClusterOp::QueueCounter { .. } => 16,
            ClusterOp::DeliveryCount { .. } => 20,
        }
    }

    /// The replicated form of a store op.
    pub fn from_store_op(op: StoreOp) -> ClusterOp {
        match op {
            StoreOp::PutDefinition { kind, key, value } => ClusterOp::PutDefinition {
                kind: DefKind::from_store_kind(kind),
                key,
                value,
            },
            StoreOp::DeleteDefinition { kind, key } => ClusterOp::DeleteDefinition {
                kind: DefKind::from_store_kind(kind),
                key,
            },
            StoreOp::Publish {
                msg_id,
                message,
                entries,
            } => ClusterOp::Publish {
                msg_id,
                message: Message {
                    exchange: compact(&message.exchange),
                    routing_key: compact(&message.routing_key),
                    raw_properties: compact(&message.raw_properties),
                    body: compact(&message.body),
                    persistent: message.persistent,
                    published_at_ms: message.published_at_ms,
                },
                entries,
            },
            StoreOp::Remove { queue, seq } => ClusterOp::Remove { queue, seq },
            StoreOp::MarkDelivered { queue, up_to } => ClusterOp::MarkDelivered { queue, up_to },
            StoreOp::Purge { queue, forget } => ClusterOp::Purge { queue, forget },
            StoreOp::DeliveryCount { queue, seq, count } => {
                ClusterOp::DeliveryCount { queue, seq, count }
            }
        }
    }

    /// The store operation this op applies as (`None` for the queue counter, which the
    /// store records on its own path: [`crate::store::Store::queue_counter_local`]).
    pub fn to_store_op(&self) -> Option<StoreOp> {
        Some(match self {
            ClusterOp::Publish {
                msg_id,
                message,
                entries,
            } => StoreOp::Publish {
                msg_id: *msg_id,
                message: StoredMessage {
                    exchange: message.exchange.clone(),
                    routing_key: message.routing_key.clone(),
                    raw_properties: message.raw_properties.clone(),
                    body: message.body.clone(),
                    persistent: message.persistent,
                    published_at_ms: message.published_at_ms,
                },
                entries: entries.clone(),
            },
            ClusterOp::Remove { queue, seq } => StoreOp::Remove {
                queue: *queue,
                seq: *seq,
            },
            ClusterOp::MarkDelivered { queue, up_to } => StoreOp::MarkDelivered {
                queue: *queue,
                up_to: *up_to,
            },
            ClusterOp::Purge { queue, forget } => StoreOp::Purge {
                queue: *queue,
                forget: *forget,
            },
            ClusterOp::QueueCounter { .. } => return None,
            ClusterOp::DeliveryCount { queue, seq, count } => StoreOp::DeliveryCount {
                queue: *queue,
                seq: *seq,
                count: *count,
            },
            ClusterOp::PutDefinition { kind, key, value } => StoreOp::PutDefinition {
                kind: kind.store_kind(),
                key: key.clone(),
                value: value.clone(),
            },
            ClusterOp::DeleteDefinition { kind, key } => StoreOp::DeleteDefinition {
                kind: kind.store_kind(),
                key: key.clone(),
            },
        })
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

    /// [`Message`] as earlier builds declared it (`Vec<u8>` fields), which wrote the logs
    /// and snapshots a node may open.
    #[derive(Serialize)]
    struct EarlierMessage {
        exchange: Vec<u8>,
        routing_key: Vec<u8>,
        #[serde(with = "serde_bytes")]
        raw_properties: Vec<u8>,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
        persistent: bool,
        published_at_ms: Option<u64>,
    }

    #[test]
    fn a_proposed_publish_keeps_no_slice_of_the_read_buffer() {
        // As the connection hands them over: slices of one frame buffer.
        let frame = Bytes::from(b"amq.topicorders.newpropsthe body".to_vec());
        let stored = StoredMessage {
            exchange: frame.slice(0..9),
            routing_key: frame.slice(9..19),
            raw_properties: frame.slice(19..24),
            body: frame.slice(24..),
            persistent: true,
            published_at_ms: Some(5),
        };
        let op = ClusterOp::from_store_op(StoreOp::Publish {
            msg_id: 9,
            message: stored,
            entries: vec![(1, 2)],
        });
        let ClusterOp::Publish { message, .. } = &op else {
            panic!("a publish");
        };
        assert_eq!(message.exchange, Bytes::from_static(b"amq.topic"));
        assert_eq!(message.routing_key, Bytes::from_static(b"orders.new"));
        assert_eq!(message.raw_properties, Bytes::from_static(b"props"));
        assert_eq!(message.body, Bytes::from_static(b"the body"));
        let inside = frame.as_ptr_range();
        for field in [
            &message.exchange,
            &message.routing_key,
            &message.raw_properties,
            &message.body,
        ] {
            assert!(
                !inside.contains(&field.as_ptr()),
                "{field:?} still points into the frame"
            );
        }
        // The store op applied on each node carries the same bytes.
        let Some(StoreOp::Publish {
            message: applied,
            msg_id,
            entries,
        }) = op.to_store_op()
        else {
            panic!("a publish");
        };
        assert_eq!((msg_id, entries), (9, vec![(1, 2)]));
        assert_eq!(applied.body, Bytes::from_static(b"the body"));
        assert_eq!(applied.published_at_ms, Some(5));
    }

    #[test]
    fn messages_encode_as_earlier_builds_wrote_them() {
        let earlier = EarlierMessage {
            exchange: b"amq.direct".to_vec(),
            routing_key: vec![0, 200, 255, 7],
            raw_properties: vec![0x90, 0, 1, 2],
            body: (0..=255u8).cycle().take(1000).collect(),
            persistent: true,
            published_at_ms: Some(1_700_000_000_000),
        };
        let written = postcard::to_allocvec(&earlier).expect("encode");
        let message: Message = postcard::from_bytes(&written).expect("decode");
        assert_eq!(message.exchange, Bytes::from_static(b"amq.direct"));
        assert_eq!(message.routing_key, Bytes::from(vec![0, 200, 255, 7]));
        assert_eq!(message.raw_properties, Bytes::from(vec![0x90, 0, 1, 2]));
        assert_eq!(message.body, Bytes::from(earlier.body.clone()));
        assert!(message.persistent);
        assert_eq!(message.published_at_ms, Some(1_700_000_000_000));
        assert_eq!(postcard::to_allocvec(&message).expect("encode"), written);
    }

    #[test]
    fn delivery_counts_are_appended_so_older_entries_decode_unchanged() {
        // Variant indexes are the format: the ops before it keep theirs.
        let counter = ClusterOp::QueueCounter { next: 5 };
        assert_eq!(postcard::to_allocvec(&counter).expect("encode"), [6, 5]);
        let op = ClusterOp::DeliveryCount {
            queue: 1,
            seq: 300,
            count: 3,
        };
        let bytes = postcard::to_allocvec(&op).expect("encode");
        assert_eq!(bytes, [7, 1, 0xac, 0x02, 3]);
        assert_eq!(
            postcard::from_bytes::<ClusterOp>(&bytes).expect("decode"),
            op
        );
        let store_op = op.to_store_op().expect("a store op");
        assert!(matches!(
            store_op,
            StoreOp::DeliveryCount {
                queue: 1,
                seq: 300,
                count: 3
            }
        ));
        assert_eq!(ClusterOp::from_store_op(store_op), op);
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
        let put = |n: usize| ClusterOp::PutDefinition {
            kind: DefKind::User,
            key: vec![],
            value: vec![0; n],
        };
        assert!(
            Request::new(vec![put(MAX_SINGLE_OP_BYTES + 1)])
                .check_size()
                .is_err()
        );
        // One large op travels alone, or with up to the entry cap of others (a dead-letter
        // move of a large message); the others must share the entry cap.
        assert!(
            Request::new(vec![put(MAX_ENTRY_BYTES + 1)])
                .check_size()
                .is_ok()
        );
        let grouped = Request::new(vec![put(MAX_SINGLE_OP_BYTES), put(MAX_ENTRY_BYTES)]);
        assert!(grouped.check_size().is_ok());
        let three = Request::new(vec![
            put(MAX_ENTRY_BYTES),
            put(MAX_ENTRY_BYTES / 2 + 1),
            put(MAX_ENTRY_BYTES / 2),
        ]);
        assert!(three.check_size().is_err());
        assert!(Request::default().check_size().is_ok());
    }
}
