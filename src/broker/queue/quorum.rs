//! What sets a quorum queue (`x-queue-type=quorum`) apart from a classic one on a single
//! node, as RabbitMQ 3.10.8 shows it to clients (checked live with
//! `interop/probes/quorum.py`):
//! - the declare rules (durable, not exclusive, not auto-delete, not server-named, its own
//!   set of arguments) live in [`super::args`];
//! - redeclare equivalence compares the quorum queue type's own argument list
//!   ([`equivalence_args`]);
//! - a delivery limit (`x-delivery-limit`, policy `delivery-limit`, the smaller of both)
//!   and the `x-delivery-count` header ([`super::delivery_count`]);
//! - a channel with a global prefetch limit cannot consume from one: the connection is
//!   closed with 540 NOT_IMPLEMENTED ([`global_qos_refusal`]);
//! - every message is kept on disk, whatever its delivery mode ([`keeps`]); deliveries
//!   still show the delivery mode it was published with;
//! - `x-overflow=reject-publish` accepts the publish that takes the queue past its limit and
//!   refuses the ones after it until the queue is down to 80% of the limit
//!   ([`RejectPublish`]); `reject-publish-dlx` acts as drop-head.

use super::args::{Overflow, QueueArgs, QueueLimits, QueueType};
use crate::error::AmqpError;
use crate::protocol::ReplyCode;

/// Arguments compared on redeclare for classic (and stream) queues, in RabbitMQ's order.
const CLASSIC_EQUIVALENCE: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-queue-type",
    "x-single-active-consumer",
    "x-queue-master-locator",
];

/// Arguments compared on redeclare for quorum queues, in RabbitMQ's order (the first one
/// that differs is named in the 406).
const QUORUM_EQUIVALENCE: &[&str] = &[
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-dead-letter-strategy",
    "x-expires",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-in-memory-length",
    "x-max-in-memory-bytes",
    "x-overflow",
    "x-single-active-consumer",
    "x-queue-type",
    "x-quorum-initial-group-size",
    "x-delivery-limit",
    "x-message-ttl",
    "x-queue-leader-locator",
];

/// The arguments whose values must match when a queue of `queue_type` is redeclared.
pub fn equivalence_args(queue_type: QueueType) -> &'static [&'static str] {
    match queue_type {
        QueueType::Quorum => QUORUM_EQUIVALENCE,
        QueueType::Classic | QueueType::Stream => CLASSIC_EQUIVALENCE,
    }
}

/// The delivery limit a queue declared with `args` acts on, given the `delivery-limit` of
/// its policies: the smaller of the two, for quorum queues only. An `x-delivery-limit` that
/// is not an integer never limits (RabbitMQ compares the count with it as an Erlang term,
/// and a number is always smaller than a string), so a policy's value wins over it.
pub fn delivery_limit(args: &QueueArgs, policy: Option<i64>) -> Option<i64> {
    if args.queue_type != QueueType::Quorum {
        return None;
    }
    match (args.delivery_limit, policy) {
        (Some(a), Some(p)) => Some(a.min(p)),
        (a, p) => a.or(p),
    }
}

/// Whether a queue of `queue_type` keeps a message on disk: persistent messages in
/// durable queues, and every message of a quorum queue (which is always durable).
pub fn keeps(queue_type: QueueType, persistent: bool, durable: bool) -> bool {
    durable && (persistent || queue_type == QueueType::Quorum)
}

/// The overflow a quorum queue acts on: RabbitMQ 3.10 accepts `reject-publish-dlx` on a
/// quorum queue but logs it as invalid and drops from the head instead.
pub fn overflow(queue_type: QueueType, overflow: Overflow) -> Overflow {
    match (queue_type, overflow) {
        (QueueType::Quorum, Overflow::RejectPublishDlx) => Overflow::DropHead,
        (_, overflow) => overflow,
    }
}

/// The low mark of a quorum queue refusing publishes: it accepts them again once its ready
/// messages (and their bytes) are at most 80% of its limits, rounded down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectPublish {
    low_count: Option<u64>,
    low_bytes: Option<u64>,
}

impl RejectPublish {
    /// The low mark of `limits`.
    pub fn of(limits: &QueueLimits) -> RejectPublish {
        let low = |max: u64| max.saturating_mul(4) / 5;
        RejectPublish {
            low_count: limits.max_length.map(low),
            low_bytes: limits.max_length_bytes.map(low),
        }
    }

    /// True when `count` ready messages of `bytes` are at or under the mark.
    pub fn is_low(self, count: u64, bytes: u64) -> bool {
        self.low_count.is_none_or(|low| count <= low)
            && self.low_bytes.is_none_or(|low| bytes <= low)
    }
}

/// basic.consume from a quorum queue on a channel with a global prefetch limit: RabbitMQ
/// closes the connection with "540 NOT_IMPLEMENTED - queue 'q' in vhost '/' does not
/// support global qos".
pub fn global_qos_refusal(queue: &str, vhost: &str) -> AmqpError {
    AmqpError::new(
        ReplyCode::NotImplemented,
        format!("queue '{queue}' in vhost '{vhost}' does not support global qos"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quorum(limit: Option<i64>) -> QueueArgs {
        QueueArgs {
            queue_type: QueueType::Quorum,
            delivery_limit: limit,
            ..QueueArgs::default()
        }
    }

    #[test]
    fn the_smaller_of_argument_and_policy_limits() {
        assert_eq!(delivery_limit(&quorum(Some(5)), Some(2)), Some(2));
        assert_eq!(delivery_limit(&quorum(Some(1)), Some(2)), Some(1));
        assert_eq!(delivery_limit(&quorum(None), Some(2)), Some(2));
        assert_eq!(delivery_limit(&quorum(Some(3)), None), Some(3));
        assert_eq!(delivery_limit(&quorum(None), None), None);
    }

    #[test]
    fn classic_queues_have_no_delivery_limit() {
        let classic = QueueArgs {
            delivery_limit: Some(1),
            ..QueueArgs::default()
        };
        assert_eq!(delivery_limit(&classic, Some(1)), None);
    }

    #[test]
    fn quorum_queues_compare_their_own_arguments() {
        assert!(equivalence_args(QueueType::Quorum).contains(&"x-delivery-limit"));
        assert!(!equivalence_args(QueueType::Quorum).contains(&"x-max-priority"));
        assert!(!equivalence_args(QueueType::Classic).contains(&"x-delivery-limit"));
    }

    #[test]
    fn the_low_mark_is_four_fifths_of_the_limits_rounded_down() {
        let limits = QueueLimits {
            max_length: Some(2),
            max_length_bytes: Some(100),
            ..QueueLimits::default()
        };
        let mark = RejectPublish::of(&limits);
        assert!(mark.is_low(1, 80));
        assert!(!mark.is_low(2, 0));
        assert!(!mark.is_low(0, 81));
        assert!(RejectPublish::of(&QueueLimits::default()).is_low(u64::MAX, u64::MAX));
    }

    #[test]
    fn reject_publish_dlx_is_drop_head_on_quorum_queues() {
        let dlx = Overflow::RejectPublishDlx;
        assert_eq!(overflow(QueueType::Quorum, dlx), Overflow::DropHead);
        assert_eq!(overflow(QueueType::Classic, dlx), dlx);
        let reject = Overflow::RejectPublish;
        assert_eq!(overflow(QueueType::Quorum, reject), reject);
    }

    #[test]
    fn quorum_queues_keep_transient_messages() {
        assert!(keeps(QueueType::Quorum, false, true));
        assert!(!keeps(QueueType::Classic, false, true));
        assert!(keeps(QueueType::Classic, true, true));
        assert!(!keeps(QueueType::Classic, true, false));
    }

    #[test]
    fn the_global_qos_refusal_is_a_connection_error() {
        let e = global_qos_refusal("q", "/");
        assert!(e.code.is_hard());
        assert_eq!(
            e.reply_text(),
            "NOT_IMPLEMENTED - queue 'q' in vhost '/' does not support global qos"
        );
    }
}
