//! Policies on a vhost: setting and clearing them (persisted, serialised with topology
//! changes by the topology lock) and re-applying the effective limits to every queue and
//! exchange whose policy changed, as RabbitMQ does on each policy change. New queues and
//! exchanges get theirs when declared.

use super::{VHost, is_reply_address};
use crate::broker::exchange::Exchange;
use crate::broker::queue::args::{QueueArgs, QueueLimits};
use crate::policy::effective::queue_limits;
use crate::policy::{Applied, Policy, PolicyKind, Target, store};
use crate::protocol::ShortStr;
use crate::store::StoreOp;
use std::sync::Arc;

impl VHost {
    /// The effective limits and policies of a queue called `name` declared with `args`.
    /// A direct reply-to address is no queue to policies.
    pub(crate) fn queue_policies(
        &self,
        name: &ShortStr,
        args: &QueueArgs,
    ) -> (QueueLimits, Applied) {
        let applied = if is_reply_address(name) {
            Applied::default()
        } else {
            self.policies.read().applied(Target::Queue, name.as_bytes())
        };
        (queue_limits(args, &applied), applied)
    }

    /// Gives a new exchange the policies matching it.
    pub(super) fn apply_exchange_policies(&self, x: &Exchange) {
        let applied = self
            .policies
            .read()
            .applied(Target::Exchange, x.name.as_bytes());
        x.apply_policies(applied);
    }

    /// Adds a policy read back from the store (start-up, before queues and exchanges).
    pub(crate) fn restore_policy(&self, policy: Policy) {
        self.policies.write().set(policy);
    }

    /// Adds or replaces a policy, stores it, and applies it to what it now matches.
    pub fn set_policy(&self, policy: Policy) {
        let _guard = self.topology.lock();
        let kind = store::definition_kind(policy.kind);
        let key = store::key(&policy.vhost, &policy.name);
        let value = store::encode(&policy);
        self.store
            .submit(StoreOp::PutDefinition { kind, key, value }, None);
        self.policies.write().set(policy);
        self.reapply_policies();
    }

    /// Removes a policy; false when there was none by that name.
    pub fn clear_policy(&self, kind: PolicyKind, name: &str) -> bool {
        let _guard = self.topology.lock();
        if self.policies.write().clear(kind, name).is_none() {
            return false;
        }
        self.store.submit(
            StoreOp::DeleteDefinition {
                kind: store::definition_kind(kind),
                key: store::key(&self.name, name),
            },
            None,
        );
        self.reapply_policies();
        true
    }

    /// The policy of `kind` called `name`.
    pub fn policy(&self, kind: PolicyKind, name: &str) -> Option<Arc<Policy>> {
        self.policies.read().get(kind, name)
    }

    /// Every policy of `kind`, by name.
    pub fn list_policies(&self, kind: PolicyKind) -> Vec<Arc<Policy>> {
        self.policies.read().list(kind)
    }

    /// Re-applies policies to every queue and exchange whose matching policies changed
    /// (topology lock held).
    fn reapply_policies(&self) {
        let mut queues = Vec::new();
        {
            let policies = self.policies.read();
            for entry in self.queues.iter() {
                let q = entry.value();
                if is_reply_address(q.name()) {
                    continue;
                }
                let applied = policies.applied(Target::Queue, q.name().as_bytes());
                if !q.applied_policies().same_as(&applied) {
                    queues.push((Arc::clone(q), applied));
                }
            }
            for entry in self.exchanges.iter() {
                let x = entry.value();
                x.apply_policies(policies.applied(Target::Exchange, x.name.as_bytes()));
            }
        }
        // Outside the policy lock: applying may dead-letter into other queues.
        for (q, applied) in queues {
            let limits = queue_limits(&q.args, &applied);
            q.apply_policies(limits, applied);
        }
    }
}
