//! The effective arguments of a queue or exchange: its declared arguments merged with the
//! policy and the operator policy that apply to it, per key as RabbitMQ 3.10 merges them.
//! Pure; computed when a policy or the entity changes, never per message.
//!
//! | key | policy × operator policy | × queue argument |
//! | --- | --- | --- |
//! | `message-ttl`, `expires`, `max-length`, `max-length-bytes` | the smaller | the smaller |
//! | `dead-letter-exchange`, `dead-letter-routing-key`, `overflow` | (policy only) | the argument wins |
//! | `alternate-exchange` (exchanges) | (policy only) | the argument wins |
//! | `delivery-limit` (quorum queues only) | the smaller | the smaller |
//! | `dead-letter-strategy` (quorum queues only) | (policy only) | the argument wins |
//!
//! A value present on one side only is taken as it is. The "effective policy definition" a
//! queue shows is the policy's definition with the operator policy's keys merged in (the
//! smaller value where both set a limit); it leaves out the queue's own arguments.

use super::model::{Definition, Policy};
use super::registry::Applied;
use crate::broker::queue::args::{
    DeadLetterStrategy, MAX_EXPIRY_MS, Overflow, QueueArgs, QueueLimits,
};
use crate::protocol::ShortStr;
use bytes::Bytes;
use serde_json::Value;

/// Keys whose policy and operator policy values merge to the smaller.
const MIN_MERGED: [&str; 7] = [
    "message-ttl",
    "expires",
    "max-length",
    "max-length-bytes",
    "max-in-memory-length",
    "max-in-memory-bytes",
    "delivery-limit",
];

/// RabbitMQ's `rabbit_policy:get/2`: one key's value from the policy and operator policy.
fn policy_value<'a>(applied: &'a Applied, key: &str) -> Option<&'a Value> {
    let from = |p: &'a Option<std::sync::Arc<Policy>>| p.as_ref().and_then(|p| p.get(key));
    match (from(&applied.policy), from(&applied.operator)) {
        (Some(v), Some(op)) => Some(merge_value(key, v, op)),
        (v, op) => v.or(op),
    }
}

/// The merge of a value both kinds of policy set: the smaller number for limits, else the
/// policy's (operator policies can only set limits, so this does not happen).
fn merge_value<'a>(key: &str, value: &'a Value, op: &'a Value) -> &'a Value {
    match (MIN_MERGED.contains(&key), value.as_u64(), op.as_u64()) {
        (true, Some(a), Some(b)) if b < a => op,
        _ => value,
    }
}

/// A numeric limit from the policies: a non-negative integer (validated when set).
fn policy_number(applied: &Applied, key: &str) -> Option<u64> {
    policy_value(applied, key).and_then(Value::as_u64)
}

fn policy_str(applied: &Applied, key: &str) -> Option<Bytes> {
    match policy_value(applied, key) {
        Some(Value::String(s)) => Some(Bytes::copy_from_slice(s.as_bytes())),
        _ => None,
    }
}

/// The smaller of the two when both are set, else whichever is.
fn smaller(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A short string cut to 255 bytes (as the queue arguments are).
fn short(bytes: Bytes) -> Option<ShortStr> {
    ShortStr::from_bytes(bytes.slice(..bytes.len().min(ShortStr::MAX_LEN)))
}

/// The limits a queue declared with `args` acts on under `applied`.
pub fn queue_limits(args: &QueueArgs, applied: &Applied) -> QueueLimits {
    // Times beyond RabbitMQ's argument maximum (ten years) are capped there, so a policy's
    // huge value cannot overflow a deadline.
    let time = |key| policy_number(applied, key).map(|ms| ms.min(MAX_EXPIRY_MS));
    let overflow = if args.overflow_declared {
        args.overflow
    } else {
        match policy_value(applied, "overflow").and_then(Value::as_str) {
            Some("reject-publish") => Overflow::RejectPublish,
            Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
            _ => Overflow::DropHead,
        }
    };
    QueueLimits {
        message_ttl: smaller(args.message_ttl, time("message-ttl")),
        expires: smaller(args.expires, time("expires").filter(|&ms| ms > 0)),
        max_length: smaller(args.max_length, policy_number(applied, "max-length")),
        max_length_bytes: smaller(
            args.max_length_bytes,
            policy_number(applied, "max-length-bytes"),
        ),
        overflow: crate::broker::queue::quorum::overflow(args.queue_type, overflow),
        dead_letter_exchange: args.dead_letter_exchange.clone().or_else(|| {
            // A name longer than 255 bytes names no exchange: nothing is dead-lettered.
            policy_str(applied, "dead-letter-exchange").and_then(ShortStr::from_bytes)
        }),
        dead_letter_routing_key: args
            .dead_letter_routing_key
            .clone()
            .or_else(|| policy_str(applied, "dead-letter-routing-key").and_then(short)),
        delivery_limit: crate::broker::queue::quorum::delivery_limit(
            args,
            applied_number(applied, "delivery-limit"),
        ),
        dead_letter_strategy: args
            .dead_letter_strategy
            .or_else(|| {
                policy_str(applied, "dead-letter-strategy")
                    .and_then(|s| DeadLetterStrategy::parse(&s))
            })
            .unwrap_or_default(),
    }
}

/// A policy's integer value (policies validate `delivery-limit` as one).
fn applied_number(applied: &Applied, key: &str) -> Option<i64> {
    policy_value(applied, key).and_then(Value::as_i64)
}

/// An exchange's alternate exchange: its `alternate-exchange` argument when declared with
/// one (`declared`), else the policy's.
pub fn alternate_exchange(
    declared: Option<&ShortStr>,
    has_argument: bool,
    applied: &Applied,
) -> Option<ShortStr> {
    if has_argument {
        return declared.cloned();
    }
    policy_str(applied, "alternate-exchange").and_then(ShortStr::from_bytes)
}

/// The effective policy definition a queue or exchange shows (`effective_policy_definition`
/// in the HTTP API): the policy's keys with the operator policy's merged in. `None` when
/// no policy of either kind applies.
pub fn effective_definition(applied: &Applied) -> Option<Definition> {
    if applied.policy.is_none() && applied.operator.is_none() {
        return None;
    }
    let mut merged = Definition::new();
    for p in [&applied.policy, &applied.operator].into_iter().flatten() {
        for key in p.definition.keys() {
            if let Some(v) = policy_value(applied, key) {
                merged.insert(key.clone(), v.clone());
            }
        }
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::PolicyKind;
    use crate::protocol::{FieldTable, FieldValue};
    use serde_json::json;
    use std::sync::Arc;

    fn policy(kind: PolicyKind, def: Value) -> Option<Arc<Policy>> {
        Some(Arc::new(
            Policy::new(kind, "/", "p", ".*", None, 0, &def).unwrap(),
        ))
    }

    fn applied(pol: Option<Value>, op: Option<Value>) -> Applied {
        Applied {
            policy: pol.and_then(|d| policy(PolicyKind::Policy, d)),
            operator: op.and_then(|d| policy(PolicyKind::Operator, d)),
        }
    }

    fn args(entries: &[(&str, FieldValue)]) -> QueueArgs {
        let mut t = FieldTable::new();
        for (k, v) in entries {
            t.insert(*k, v.clone());
        }
        QueueArgs::parse(&t, "q", "/").unwrap()
    }

    fn text(s: Option<ShortStr>) -> Option<String> {
        s.map(|s| s.to_string_lossy().into_owned())
    }

    fn long(s: &str) -> FieldValue {
        FieldValue::LongStr(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// One row per key and combination: (queue argument, policy, operator policy) → the
    /// effective value, as RabbitMQ 3.10's queue process resolves it.
    #[test]
    fn numeric_limits_take_the_smallest_of_argument_policy_and_operator_policy() {
        type Get = fn(&QueueLimits) -> Option<u64>;
        // argument, policy, operator policy => effective
        type Row = (Option<i64>, Option<u64>, Option<u64>, Option<u64>);
        let keys: [(&str, &str, Get); 4] = [
            ("x-message-ttl", "message-ttl", |l| l.message_ttl),
            ("x-expires", "expires", |l| l.expires),
            ("x-max-length", "max-length", |l| l.max_length),
            ("x-max-length-bytes", "max-length-bytes", |l| {
                l.max_length_bytes
            }),
        ];
        #[rustfmt::skip]
        let table: [Row; 10] = [
            // argument, policy, operator policy => effective
            (None,      None,      None,      None),
            (Some(50),  None,      None,      Some(50)),
            (None,      Some(40),  None,      Some(40)),
            (None,      None,      Some(30),  Some(30)),
            (Some(50),  Some(40),  None,      Some(40)),
            (Some(20),  Some(40),  None,      Some(20)),
            (None,      Some(40),  Some(30),  Some(30)),
            (None,      Some(20),  Some(30),  Some(20)),
            (Some(50),  None,      Some(30),  Some(30)),
            (Some(10),  Some(40),  Some(30),  Some(10)),
        ];
        for (arg_key, key, get) in keys {
            for (arg, pol, op, expected) in table {
                let a = match arg {
                    Some(n) => args(&[(arg_key, FieldValue::I64(n))]),
                    None => args(&[]),
                };
                let ap = applied(
                    pol.map(|n| json!({ key: n })),
                    op.map(|n| json!({ key: n })),
                );
                assert_eq!(
                    get(&queue_limits(&a, &ap)),
                    expected,
                    "{key}: {arg:?} {pol:?} {op:?}"
                );
            }
        }
    }

    #[test]
    fn dead_letter_settings_and_overflow_prefer_the_argument() {
        let a = args(&[
            ("x-dead-letter-exchange", long("arg-dlx")),
            ("x-dead-letter-routing-key", long("arg-rk")),
            ("x-overflow", long("reject-publish")),
        ]);
        let ap = applied(
            Some(
                json!({"dead-letter-exchange": "pol-dlx", "dead-letter-routing-key": "pol-rk", "overflow": "reject-publish-dlx"}),
            ),
            None,
        );
        let l = queue_limits(&a, &ap);
        assert_eq!(text(l.dead_letter_exchange), Some("arg-dlx".to_string()));
        assert_eq!(text(l.dead_letter_routing_key), Some("arg-rk".to_string()));
        assert_eq!(l.overflow, Overflow::RejectPublish);
        let l = queue_limits(&args(&[]), &ap);
        assert_eq!(text(l.dead_letter_exchange), Some("pol-dlx".to_string()));
        assert_eq!(text(l.dead_letter_routing_key), Some("pol-rk".to_string()));
        assert_eq!(l.overflow, Overflow::RejectPublishDlx);
        // A declared drop-head is still an argument: the policy's overflow does not apply.
        let l = queue_limits(&args(&[("x-overflow", long("drop-head"))]), &ap);
        assert_eq!(l.overflow, Overflow::DropHead);
    }

    /// RabbitMQ 3.10.8's `dead_letter_handler`: the queue argument has precedence.
    #[test]
    fn the_dead_letter_strategy_argument_wins_over_the_policy() {
        let quorum = |strategy: Option<&str>| {
            let mut entries = vec![("x-queue-type", long("quorum"))];
            if let Some(s) = strategy {
                entries.push(("x-dead-letter-strategy", long(s)));
            }
            args(&entries)
        };
        let at_least_once = applied(Some(json!({"dead-letter-strategy": "at-least-once"})), None);
        let strategy = |a: &QueueArgs, ap: &Applied| queue_limits(a, ap).dead_letter_strategy;
        assert_eq!(
            strategy(&quorum(None), &Applied::default()),
            DeadLetterStrategy::AtMostOnce
        );
        assert_eq!(
            strategy(&quorum(None), &at_least_once),
            DeadLetterStrategy::AtLeastOnce
        );
        assert_eq!(
            strategy(&quorum(Some("at-most-once")), &at_least_once),
            DeadLetterStrategy::AtMostOnce
        );
        assert_eq!(
            strategy(&quorum(Some("at-least-once")), &Applied::default()),
            DeadLetterStrategy::AtLeastOnce
        );
    }

    #[test]
    fn no_policy_gives_the_arguments() {
        let a = args(&[
            ("x-max-length", FieldValue::I32(3)),
            ("x-dead-letter-exchange", long("")),
        ]);
        assert_eq!(queue_limits(&a, &Applied::default()), a.limits());
    }

    #[test]
    fn alternate_exchange_argument_wins_over_policy() {
        let ap = applied(Some(json!({"alternate-exchange": "pol-ae"})), None);
        let declared = ShortStr::from("arg-ae");
        assert_eq!(
            alternate_exchange(Some(&declared), true, &ap),
            Some(declared)
        );
        assert_eq!(
            text(alternate_exchange(None, false, &ap)),
            Some("pol-ae".to_string())
        );
        assert_eq!(alternate_exchange(None, false, &Applied::default()), None);
    }

    #[test]
    fn effective_definition_merges_operator_limits() {
        let ap = applied(
            Some(json!({"max-length": 10, "dead-letter-exchange": "dlx"})),
            Some(json!({"max-length": 5, "message-ttl": 1000})),
        );
        let def = effective_definition(&ap).unwrap();
        assert_eq!(
            serde_json::to_value(def).unwrap(),
            json!({"max-length": 5, "dead-letter-exchange": "dlx", "message-ttl": 1000})
        );
        let ap = applied(
            Some(json!({"max-length": 2})),
            Some(json!({"max-length": 5})),
        );
        assert_eq!(effective_definition(&ap).unwrap()["max-length"], json!(2));
        assert_eq!(effective_definition(&Applied::default()), None);
    }

    #[test]
    fn huge_policy_times_are_capped() {
        let ap = applied(Some(json!({"message-ttl": u64::MAX})), None);
        let l = queue_limits(&args(&[]), &ap);
        assert_eq!(l.message_ttl, Some(MAX_EXPIRY_MS));
    }
}
