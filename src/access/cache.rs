//! A channel's cache of access decisions: the permissions it was granted and the user's
//! topic rules, valid while [`Access::generation`] stays the same. A publish to an exchange
//! already granted costs one atomic load and a short scan, with no lock; any change to the
//! model bumps the generation, so a revoked permission is refused from the next operation.

use super::control::{Access, check_topic_in};
use super::error::AccessError;
use super::permissions::{Permission, ResourceKind};
use super::state::TopicRules;
use std::sync::Arc;

/// Most grants remembered per channel (RabbitMQ's channels remember 12).
const MAX_GRANTS: usize = 12;

/// Decisions cached by one channel.
#[derive(Debug, Default)]
pub struct DecisionCache {
    generation: u64,
    granted: Vec<(ResourceKind, Permission, String)>,
    topics: Option<Arc<TopicRules>>,
}

impl DecisionCache {
    fn refresh(&mut self, access: &Access) {
        let generation = access.generation();
        if generation != self.generation {
            self.generation = generation;
            self.granted.clear();
            self.topics = None;
        }
    }

    /// [`Access::check`], answered from the cache when this channel was granted the same
    /// permission on the same resource under the current generation.
    pub fn check(
        &mut self,
        access: &Access,
        user: &str,
        vhost: &str,
        kind: ResourceKind,
        name: &str,
        permission: Permission,
    ) -> Result<(), AccessError> {
        self.refresh(access);
        if self
            .granted
            .iter()
            .any(|(k, p, n)| *k == kind && *p == permission && n == name)
        {
            return Ok(());
        }
        access.check(user, vhost, kind, name, permission)?;
        if self.granted.len() >= MAX_GRANTS {
            self.granted.remove(0);
        }
        self.granted.push((kind, permission, name.to_string()));
        Ok(())
    }

    /// Whether the user has a topic permission on `exchange` (so the exchange's type must
    /// be looked up and the routing key checked).
    pub fn has_topic_rule(
        &mut self,
        access: &Access,
        user: &str,
        vhost: &str,
        exchange: &str,
    ) -> bool {
        self.refresh(access);
        self.topics
            .get_or_insert_with(|| access.topic_rules(user, vhost))
            .contains_key(exchange)
    }

    /// [`Access::check_topic`] against the cached rules.
    pub fn check_topic(
        &mut self,
        access: &Access,
        user: &str,
        vhost: &str,
        exchange: &str,
        routing_key: &str,
        permission: Permission,
    ) -> Result<(), AccessError> {
        self.refresh(access);
        let rules = self
            .topics
            .get_or_insert_with(|| access.topic_rules(user, vhost));
        check_topic_in(rules, user, vhost, exchange, routing_key, permission)
    }
}
