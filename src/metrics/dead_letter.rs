//! The `rabbitmq_global_messages_dead_lettered_*_total` counters: the node's
//! [`DeadLetterTotals`], with exactly the families, HELP texts and label combinations
//! (zeros included, in this order) RabbitMQ 3.10.8 serves on `/metrics` and
//! `/metrics/per-object`.

use super::exposition::{Family, Kind, Scrape, labels};
use crate::broker::Broker;
use crate::broker::dead_letter_totals::{DeadLetterTotals, Strategy};
use crate::broker::queue::args::QueueType;
use crate::broker::queue::dead_letter::DeathReason;

/// One family: (name without `_total`, HELP, what it counts, its series).
type Row = (
    &'static str,
    &'static str,
    Counted,
    &'static [(QueueType, Strategy)],
);

/// What a family counts.
#[derive(Clone, Copy)]
enum Counted {
    /// At-least-once dead letters confirmed by their target queues.
    Confirmed,
    /// Messages dead-lettered for this reason.
    Reason(DeathReason),
}

const CLASSIC: QueueType = QueueType::Classic;
const QUORUM: QueueType = QueueType::Quorum;

/// Classic queues: at most once or disabled; quorum queues: any strategy.
const ALL: &[(QueueType, Strategy)] = &[
    (CLASSIC, Strategy::AtMostOnce),
    (CLASSIC, Strategy::Disabled),
    (QUORUM, Strategy::AtLeastOnce),
    (QUORUM, Strategy::AtMostOnce),
    (QUORUM, Strategy::Disabled),
];

/// RabbitMQ's families in its order.
const FAMILIES: [Row; 5] = [
    (
        "rabbitmq_global_messages_dead_lettered_confirmed",
        "Total number of messages dead-lettered and confirmed by target queues",
        Counted::Confirmed,
        &[(QUORUM, Strategy::AtLeastOnce)],
    ),
    (
        "rabbitmq_global_messages_dead_lettered_delivery_limit",
        "Total number of messages dead-lettered due to delivery-limit exceeded",
        Counted::Reason(DeathReason::DeliveryLimit),
        &[
            (QUORUM, Strategy::AtLeastOnce),
            (QUORUM, Strategy::AtMostOnce),
            (QUORUM, Strategy::Disabled),
        ],
    ),
    (
        "rabbitmq_global_messages_dead_lettered_expired",
        "Total number of messages dead-lettered due to message TTL exceeded",
        Counted::Reason(DeathReason::Expired),
        ALL,
    ),
    (
        "rabbitmq_global_messages_dead_lettered_maxlen",
        "Total number of messages dead-lettered due to overflow drop-head or reject-publish-dlx",
        Counted::Reason(DeathReason::MaxLen),
        &[
            (CLASSIC, Strategy::AtMostOnce),
            (CLASSIC, Strategy::Disabled),
            (QUORUM, Strategy::AtMostOnce),
            (QUORUM, Strategy::Disabled),
        ],
    ),
    (
        "rabbitmq_global_messages_dead_lettered_rejected",
        "Total number of messages dead-lettered due to basic.reject or basic.nack",
        Counted::Reason(DeathReason::Rejected),
        ALL,
    ),
];

/// Adds the global dead-letter counters to `scrape`.
pub fn dead_lettered(broker: &Broker, scrape: &mut Scrape) {
    add_families(&broker.dead_letters, scrape);
}

fn add_families(totals: &DeadLetterTotals, scrape: &mut Scrape) {
    for (name, help, counted, series) in FAMILIES {
        let mut f = Family::new(name, help, Kind::Counter);
        for &(queue_type, strategy) in series {
            let value = match counted {
                Counted::Confirmed => totals.confirmed(),
                Counted::Reason(reason) => totals.dead_lettered(reason, queue_type, strategy),
            };
            f.push_u64(
                labels(&[
                    ("queue_type", queue_type.module_name()),
                    ("dead_letter_strategy", strategy.label()),
                ]),
                value,
            );
        }
        scrape.add(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text RabbitMQ 3.10.8 serves on a fresh node (its TYPE / HELP order aside), with
    /// one count in a few series.
    #[test]
    fn the_families_and_series_are_rabbitmqs() {
        let totals = DeadLetterTotals::default();
        totals.record(DeathReason::Rejected, QUORUM, Strategy::AtLeastOnce);
        totals.record_confirmed();
        totals.record(DeathReason::Expired, CLASSIC, Strategy::Disabled);
        totals.record(DeathReason::Expired, CLASSIC, Strategy::Disabled);
        totals.record(DeathReason::MaxLen, QUORUM, Strategy::AtMostOnce);
        // No series: RabbitMQ never counts these.
        totals.record(DeathReason::DeliveryLimit, CLASSIC, Strategy::Disabled);
        let mut scrape = Scrape::default();
        add_families(&totals, &mut scrape);
        let text = scrape.encode().unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let c = |name: &str, t: &str, s: &str, v: u64| {
            format!(
                "rabbitmq_global_messages_dead_lettered_{name}_total{{queue_type=\"rabbit_{t}_queue\",dead_letter_strategy=\"{s}\"}} {v}"
            )
        };
        let expected = [
            c("confirmed", "quorum", "at_least_once", 1),
            c("delivery_limit", "quorum", "at_least_once", 0),
            c("delivery_limit", "quorum", "at_most_once", 0),
            c("delivery_limit", "quorum", "disabled", 0),
            c("expired", "classic", "at_most_once", 0),
            c("expired", "classic", "disabled", 2),
            c("expired", "quorum", "at_least_once", 0),
            c("expired", "quorum", "at_most_once", 0),
            c("expired", "quorum", "disabled", 0),
            c("maxlen", "classic", "at_most_once", 0),
            c("maxlen", "classic", "disabled", 0),
            c("maxlen", "quorum", "at_most_once", 1),
            c("maxlen", "quorum", "disabled", 0),
            c("rejected", "classic", "at_most_once", 0),
            c("rejected", "classic", "disabled", 0),
            c("rejected", "quorum", "at_least_once", 1),
            c("rejected", "quorum", "at_most_once", 0),
            c("rejected", "quorum", "disabled", 0),
        ];
        assert_eq!(samples, expected);
        assert!(text.contains(
            "# HELP rabbitmq_global_messages_dead_lettered_maxlen_total Total number of \
             messages dead-lettered due to overflow drop-head or reject-publish-dlx\n"
        ));
        assert!(
            text.contains("# TYPE rabbitmq_global_messages_dead_lettered_maxlen_total counter\n")
        );
    }
}
