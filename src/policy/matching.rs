//! Which policy applies to a queue or exchange: among the policies of its vhost whose
//! apply-to covers it and whose pattern matches its name, the highest priority wins.
//! Pure.
//!
//! Ties: RabbitMQ 3.10 keeps the first of equal-priority policies in the order its
//! parameter table returns them, which is not an order a user can rely on (observed on
//! 3.10.8: of `b`, `a`, `c` created in that order, `c` applied). Warren breaks ties by
//! name, the greatest name winning, so the outcome is at least stable across restarts.

use super::model::{Policy, Target};
use std::sync::Arc;

/// The policy that applies to a `target` called `name`, if any.
pub fn best_match<'a>(
    policies: impl IntoIterator<Item = &'a Arc<Policy>>,
    target: Target,
    name: &[u8],
) -> Option<Arc<Policy>> {
    policies
        .into_iter()
        .filter(|p| p.matches(target, name))
        .max_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::PolicyKind;
    use serde_json::json;

    fn policy(name: &str, pattern: &str, apply_to: &str, priority: i64) -> Arc<Policy> {
        Arc::new(
            Policy::new(
                PolicyKind::Policy,
                "/",
                name,
                pattern,
                Some(apply_to),
                priority,
                &json!({"max-length": 1}),
            )
            .unwrap(),
        )
    }

    fn winner(policies: &[Arc<Policy>], target: Target, name: &str) -> Option<String> {
        best_match(policies, target, name.as_bytes()).map(|p| p.name.clone())
    }

    #[test]
    fn highest_priority_wins_even_when_less_specific() {
        let ps = [
            policy("narrow", "^orders$", "queues", 1),
            policy("broad", ".*", "all", 5),
        ];
        assert_eq!(
            winner(&ps, Target::Queue, "orders").as_deref(),
            Some("broad")
        );
    }

    #[test]
    fn equal_priorities_pick_the_greatest_name() {
        let ps = [
            policy("b", "^q", "queues", 0),
            policy("a", "^q", "queues", 0),
            policy("c", "^q", "queues", 0),
        ];
        assert_eq!(winner(&ps, Target::Queue, "q1").as_deref(), Some("c"));
    }

    #[test]
    fn apply_to_filters_before_priority() {
        let ps = [
            policy("xs", "", "exchanges", 9),
            policy("qs", "", "queues", 0),
        ];
        assert_eq!(winner(&ps, Target::Queue, "q").as_deref(), Some("qs"));
        assert_eq!(winner(&ps, Target::Exchange, "x").as_deref(), Some("xs"));
        assert_eq!(winner(&ps[..1], Target::Queue, "q"), None);
    }

    #[test]
    fn negative_priorities_order_too() {
        let ps = [policy("low", "", "all", -5), policy("zero", "", "all", 0)];
        assert_eq!(winner(&ps, Target::Queue, "q").as_deref(), Some("zero"));
    }
}
