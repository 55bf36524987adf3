//! Node-wide dead-letter totals, RabbitMQ 3.10.8's `messages_dead_lettered_*` global
//! counters (`rabbitmq_global_messages_dead_lettered_*_total` on the Prometheus endpoint):
//! one count per message that leaves a queue for a dead-letter reason, by reason, queue
//! type and dead-letter strategy, and the at-least-once dead letters their target queues
//! took. Relaxed atomics bumped where a queue dead-letters (`Queue::dead_letter`); nothing
//! is locked or allocated per message.
//!
//! The strategy label, as RabbitMQ decides it (checked live against 3.10.8):
//! - `disabled`: the queue has no dead-letter exchange (the message is dropped), or, for
//!   at-most-once, the exchange it names does not exist;
//! - `at_least_once`: a quorum queue with a dead-letter exchange, dead-letter strategy
//!   at-least-once and overflow reject-publish (the label holds even when the exchange is
//!   missing or routes nowhere; such messages are just never confirmed);
//! - `at_most_once`: any other queue with a dead-letter exchange that exists (whether or not
//!   it routes the message anywhere).
//!
//! Stream queues never dead-letter in RabbitMQ and have no series: they are not counted.

use crate::broker::queue::args::{DeadLetterStrategy, Overflow, QueueLimits, QueueType};
use crate::broker::queue::dead_letter::DeathReason;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The `dead_letter_strategy` label of a dead-lettered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Dropped: no dead-letter exchange (or, at most once, a missing one).
    Disabled,
    /// Published once to the dead-letter exchange.
    AtMostOnce,
    /// A quorum queue's at-least-once dead-lettering.
    AtLeastOnce,
}

impl Strategy {
    /// The label value: "disabled" | "at_most_once" | "at_least_once".
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Disabled => "disabled",
            Strategy::AtMostOnce => "at_most_once",
            Strategy::AtLeastOnce => "at_least_once",
        }
    }

    /// The strategy a queue of `queue_type` acting on `limits` dead-letters with, before
    /// the dead-letter exchange is looked up (RabbitMQ's `dead_letter_handler`): disabled
    /// without a dead-letter exchange, at-least-once for a quorum queue asking for it with
    /// overflow reject-publish (with drop-head RabbitMQ falls back to at-most-once), else
    /// at-most-once.
    pub fn of(queue_type: QueueType, limits: &QueueLimits) -> Strategy {
        if limits.dead_letter_exchange.is_none() {
            Strategy::Disabled
        } else if queue_type == QueueType::Quorum
            && limits.dead_letter_strategy == DeadLetterStrategy::AtLeastOnce
            && limits.overflow == Overflow::RejectPublish
        {
            Strategy::AtLeastOnce
        } else {
            Strategy::AtMostOnce
        }
    }

    /// The label a message dead-lettered for `reason` by a queue with this strategy is
    /// counted under, given whether its dead-letter exchange existed: at-most-once to a
    /// missing exchange counts as disabled (RabbitMQ: "we know for certain that the
    /// message won't be delivered"); at-least-once keeps its label. A length-limit drop
    /// (which RabbitMQ's at-least-once never makes: it needs reject-publish; Warren makes it
    /// when a policy turns drop-head into reject-publish) is an at-most-once one.
    pub fn counted(self, reason: DeathReason, exchange_found: bool) -> Strategy {
        match self {
            Strategy::Disabled => Strategy::Disabled,
            Strategy::AtLeastOnce if reason != DeathReason::MaxLen => Strategy::AtLeastOnce,
            _ if exchange_found => Strategy::AtMostOnce,
            _ => Strategy::Disabled,
        }
    }

    fn index(self) -> usize {
        match self {
            Strategy::Disabled => 0,
            Strategy::AtMostOnce => 1,
            Strategy::AtLeastOnce => 2,
        }
    }
}

const REASONS: usize = 4;
const TYPES: usize = 2;
const STRATEGIES: usize = 3;
const SLOTS: usize = REASONS * TYPES * STRATEGIES;

fn reason_index(reason: DeathReason) -> usize {
    match reason {
        DeathReason::Rejected => 0,
        DeathReason::Expired => 1,
        DeathReason::MaxLen => 2,
        DeathReason::DeliveryLimit => 3,
    }
}

fn slot(reason: DeathReason, queue_type: QueueType, strategy: Strategy) -> Option<usize> {
    let t = match queue_type {
        QueueType::Classic => 0,
        QueueType::Quorum => 1,
        QueueType::Stream => return None,
    };
    Some((reason_index(reason) * TYPES + t) * STRATEGIES + strategy.index())
}

/// The node's dead-letter totals (one per broker, shared by its vhosts).
#[derive(Debug, Default)]
pub struct DeadLetterTotals {
    dead_lettered: [AtomicU64; SLOTS],
    confirmed: AtomicU64,
}

impl DeadLetterTotals {
    /// Counts one message dead-lettered for `reason` from a queue of `queue_type`, under
    /// `strategy` (see [`Strategy::counted`]). Stream queues are not counted.
    pub fn record(&self, reason: DeathReason, queue_type: QueueType, strategy: Strategy) {
        if let Some(counter) =
            slot(reason, queue_type, strategy).and_then(|i| self.dead_lettered.get(i))
        {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Counts one at-least-once dead letter that its target queues took.
    pub fn record_confirmed(&self) {
        self.confirmed.fetch_add(1, Relaxed);
    }

    /// Messages dead-lettered so far for `reason` from queues of `queue_type` under
    /// `strategy`.
    pub fn dead_lettered(
        &self,
        reason: DeathReason,
        queue_type: QueueType,
        strategy: Strategy,
    ) -> u64 {
        slot(reason, queue_type, strategy)
            .and_then(|i| self.dead_lettered.get(i))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// At-least-once dead letters confirmed by their target queues so far.
    pub fn confirmed(&self) -> u64 {
        self.confirmed.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ShortStr;

    const REASON_LIST: [DeathReason; 4] = [
        DeathReason::Rejected,
        DeathReason::Expired,
        DeathReason::MaxLen,
        DeathReason::DeliveryLimit,
    ];
    const STRATEGY_LIST: [Strategy; 3] = [
        Strategy::Disabled,
        Strategy::AtMostOnce,
        Strategy::AtLeastOnce,
    ];

    fn limits(dlx: bool, strategy: DeadLetterStrategy, overflow: Overflow) -> QueueLimits {
        QueueLimits {
            dead_letter_exchange: dlx.then(|| ShortStr::from_static("dlx")),
            dead_letter_strategy: strategy,
            overflow,
            ..QueueLimits::default()
        }
    }

    #[test]
    fn the_strategy_follows_rabbitmq_dead_letter_handler() {
        use DeadLetterStrategy::{AtLeastOnce as Alo, AtMostOnce as Amo};
        use Overflow::{DropHead, RejectPublish, RejectPublishDlx};
        #[rustfmt::skip]
        let table = [
            // queue type, has dlx, strategy, overflow => strategy
            (QueueType::Classic, false, Amo, DropHead,         Strategy::Disabled),
            (QueueType::Classic, true,  Amo, DropHead,         Strategy::AtMostOnce),
            (QueueType::Classic, true,  Alo, RejectPublish,    Strategy::AtMostOnce),
            (QueueType::Quorum,  false, Alo, RejectPublish,    Strategy::Disabled),
            (QueueType::Quorum,  true,  Amo, RejectPublish,    Strategy::AtMostOnce),
            (QueueType::Quorum,  true,  Alo, DropHead,         Strategy::AtMostOnce),
            (QueueType::Quorum,  true,  Alo, RejectPublishDlx, Strategy::AtMostOnce),
            (QueueType::Quorum,  true,  Alo, RejectPublish,    Strategy::AtLeastOnce),
        ];
        for (queue_type, dlx, strategy, overflow, expected) in table {
            assert_eq!(
                Strategy::of(queue_type, &limits(dlx, strategy, overflow)),
                expected,
                "{queue_type:?} dlx={dlx} {strategy:?} {overflow:?}"
            );
        }
    }

    #[test]
    fn a_missing_exchange_disables_at_most_once_only() {
        for reason in REASON_LIST {
            assert_eq!(Strategy::Disabled.counted(reason, true), Strategy::Disabled);
            assert_eq!(
                Strategy::AtMostOnce.counted(reason, true),
                Strategy::AtMostOnce
            );
            assert_eq!(
                Strategy::AtMostOnce.counted(reason, false),
                Strategy::Disabled
            );
        }
        for found in [true, false] {
            assert_eq!(
                Strategy::AtLeastOnce.counted(DeathReason::Rejected, found),
                Strategy::AtLeastOnce
            );
            assert_eq!(
                Strategy::AtLeastOnce.counted(DeathReason::Expired, found),
                Strategy::AtLeastOnce
            );
            assert_eq!(
                Strategy::AtLeastOnce.counted(DeathReason::DeliveryLimit, found),
                Strategy::AtLeastOnce
            );
        }
        assert_eq!(
            Strategy::AtLeastOnce.counted(DeathReason::MaxLen, true),
            Strategy::AtMostOnce
        );
        assert_eq!(
            Strategy::AtLeastOnce.counted(DeathReason::MaxLen, false),
            Strategy::Disabled
        );
    }

    #[test]
    fn every_combination_has_its_own_counter() {
        let totals = DeadLetterTotals::default();
        let mut n = 0;
        for reason in REASON_LIST {
            for queue_type in [QueueType::Classic, QueueType::Quorum] {
                for strategy in STRATEGY_LIST {
                    n += 1;
                    for _ in 0..n {
                        totals.record(reason, queue_type, strategy);
                    }
                }
            }
        }
        let mut n = 0;
        for reason in REASON_LIST {
            for queue_type in [QueueType::Classic, QueueType::Quorum] {
                for strategy in STRATEGY_LIST {
                    n += 1;
                    assert_eq!(totals.dead_lettered(reason, queue_type, strategy), n);
                }
            }
        }
        assert_eq!(n as usize, SLOTS);
        assert_eq!(totals.confirmed(), 0);
        totals.record_confirmed();
        assert_eq!(totals.confirmed(), 1);
    }

    #[test]
    fn stream_queues_are_not_counted() {
        let totals = DeadLetterTotals::default();
        totals.record(DeathReason::MaxLen, QueueType::Stream, Strategy::Disabled);
        assert_eq!(
            totals.dead_lettered(DeathReason::MaxLen, QueueType::Stream, Strategy::Disabled),
            0
        );
        for queue_type in [QueueType::Classic, QueueType::Quorum] {
            assert_eq!(
                totals.dead_lettered(DeathReason::MaxLen, queue_type, Strategy::Disabled),
                0
            );
        }
    }
}
