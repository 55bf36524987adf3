//! `Policies`: the policies and operator policies of one vhost, and `Applied`, the pair that
//! applies to one queue or exchange. Pure data; the vhost re-applies them to its queues and
//! exchanges when they change (`broker::vhost::policies`).

use super::matching::best_match;
use super::model::{Policy, PolicyKind, Target};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The policy and operator policy applying to one queue or exchange.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The winning policy.
    pub policy: Option<Arc<Policy>>,
    /// The winning operator policy.
    pub operator: Option<Arc<Policy>>,
}

impl Applied {
    /// Whether both sides are the same policies (compared by value, so re-setting a policy
    /// to an identical definition changes nothing).
    pub fn same_as(&self, other: &Applied) -> bool {
        fn eq(a: &Option<Arc<Policy>>, b: &Option<Arc<Policy>>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
                _ => false,
            }
        }
        eq(&self.policy, &other.policy) && eq(&self.operator, &other.operator)
    }

    /// The policy's name (for listings), if one applies.
    pub fn policy_name(&self) -> Option<&str> {
        self.policy.as_ref().map(|p| p.name.as_str())
    }

    /// The operator policy's name, if one applies.
    pub fn operator_policy_name(&self) -> Option<&str> {
        self.operator.as_ref().map(|p| p.name.as_str())
    }
}

/// A vhost's policies of both kinds, by name.
#[derive(Debug, Default)]
pub struct Policies {
    policies: BTreeMap<String, Arc<Policy>>,
    operator: BTreeMap<String, Arc<Policy>>,
}

impl Policies {
    fn map(&self, kind: PolicyKind) -> &BTreeMap<String, Arc<Policy>> {
        match kind {
            PolicyKind::Policy => &self.policies,
            PolicyKind::Operator => &self.operator,
        }
    }

    fn map_mut(&mut self, kind: PolicyKind) -> &mut BTreeMap<String, Arc<Policy>> {
        match kind {
            PolicyKind::Policy => &mut self.policies,
            PolicyKind::Operator => &mut self.operator,
        }
    }

    /// Adds or replaces a policy (by kind and name).
    pub fn set(&mut self, policy: Policy) -> Arc<Policy> {
        let policy = Arc::new(policy);
        self.map_mut(policy.kind)
            .insert(policy.name.clone(), Arc::clone(&policy));
        policy
    }

    /// Removes a policy; the removed one, if it existed.
    pub fn clear(&mut self, kind: PolicyKind, name: &str) -> Option<Arc<Policy>> {
        self.map_mut(kind).remove(name)
    }

    /// The policy called `name`.
    pub fn get(&self, kind: PolicyKind, name: &str) -> Option<Arc<Policy>> {
        self.map(kind).get(name).cloned()
    }

    /// Every policy of `kind`, by name.
    pub fn list(&self, kind: PolicyKind) -> Vec<Arc<Policy>> {
        self.map(kind).values().cloned().collect()
    }

    /// What applies to a `target` called `name`.
    pub fn applied(&self, target: Target, name: &[u8]) -> Applied {
        Applied {
            policy: best_match(self.policies.values(), target, name),
            operator: best_match(self.operator.values(), target, name),
        }
    }
}
