//! The access model in memory: users, vhosts, compiled permissions and topic permissions,
//! with the pure checks and changes. [`super::Access`] wraps it in a lock, persists the
//! changes and bumps the generation counter channels cache against.

use super::error::AccessError;
use super::limits::VHostLimits;
use super::permissions::{CompiledPermissions, Permission, PermissionSpec, ResourceKind};
use super::topic::{CompiledTopicPermission, TopicPermissionSpec};
use super::users::User;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A vhost's record: what definitions export holds besides its objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VHostRecord {
    /// Its name.
    pub name: String,
    /// Free-text description (management metadata).
    #[serde(default)]
    pub description: String,
    /// Free-form tags (management metadata).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Limits.
    #[serde(default)]
    pub limits: VHostLimits,
}

/// A user's topic permissions on one vhost, by exchange.
pub type TopicRules = HashMap<String, CompiledTopicPermission>;

/// Everything the access model holds.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) users: BTreeMap<String, Arc<User>>,
    pub(super) vhosts: BTreeMap<String, VHostRecord>,
    /// vhost → user → permissions.
    pub(super) permissions: BTreeMap<String, BTreeMap<String, Arc<CompiledPermissions>>>,
    /// vhost → user → exchange → topic permission.
    pub(super) topics: BTreeMap<String, BTreeMap<String, Arc<TopicRules>>>,
}

impl State {
    /// The user's permissions on `vhost`.
    pub(super) fn permissions(&self, user: &str, vhost: &str) -> Option<&Arc<CompiledPermissions>> {
        self.permissions.get(vhost)?.get(user)
    }

    /// Checks `permission` on a resource; the default exchange (`""`) is checked as
    /// `amq.default`, as RabbitMQ does.
    pub(super) fn check(
        &self,
        user: &str,
        vhost: &str,
        kind: ResourceKind,
        name: &str,
        permission: Permission,
    ) -> Result<(), AccessError> {
        let name = if kind == ResourceKind::Exchange && name.is_empty() {
            "amq.default"
        } else {
            name
        };
        match self.permissions(user, vhost) {
            Some(p) if p.allows(permission, name) => Ok(()),
            _ => Err(AccessError::Refused {
                kind,
                name: name.to_string(),
                vhost: vhost.to_string(),
                user: user.to_string(),
            }),
        }
    }

    /// The user's topic permissions on `vhost` (empty when none).
    pub(super) fn topic_rules(&self, user: &str, vhost: &str) -> Arc<TopicRules> {
        self.topics
            .get(vhost)
            .and_then(|m| m.get(user))
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn set_permissions(
        &mut self,
        user: &str,
        vhost: &str,
        spec: PermissionSpec,
    ) -> Result<(), AccessError> {
        let compiled = CompiledPermissions::compile(spec)?;
        self.permissions
            .entry(vhost.to_string())
            .or_default()
            .insert(user.to_string(), Arc::new(compiled));
        Ok(())
    }

    pub(super) fn clear_permissions(&mut self, user: &str, vhost: &str) -> bool {
        let removed = self
            .permissions
            .get_mut(vhost)
            .is_some_and(|m| m.remove(user).is_some());
        if self.permissions.get(vhost).is_some_and(BTreeMap::is_empty) {
            self.permissions.remove(vhost);
        }
        removed
    }

    pub(super) fn set_topic_permission(
        &mut self,
        user: &str,
        vhost: &str,
        spec: TopicPermissionSpec,
    ) -> Result<(), AccessError> {
        let compiled = CompiledTopicPermission::compile(spec, user, vhost)?;
        let rules = self
            .topics
            .entry(vhost.to_string())
            .or_default()
            .entry(user.to_string())
            .or_default();
        Arc::make_mut(rules).insert(compiled.spec.exchange.clone(), compiled);
        Ok(())
    }

    /// Clears one exchange's topic permission (`Some`) or all of them (`None`); returns the
    /// exchanges cleared.
    pub(super) fn clear_topic_permissions(
        &mut self,
        user: &str,
        vhost: &str,
        exchange: Option<&str>,
    ) -> Vec<String> {
        let Some(by_user) = self.topics.get_mut(vhost) else {
            return Vec::new();
        };
        let Some(rules) = by_user.get_mut(user) else {
            return Vec::new();
        };
        let cleared: Vec<String> = match exchange {
            Some(x) => Arc::make_mut(rules)
                .remove(x)
                .map(|p| p.spec.exchange)
                .into_iter()
                .collect(),
            None => {
                let all: Vec<String> = rules.keys().cloned().collect();
                Arc::make_mut(rules).clear();
                all
            }
        };
        if rules.is_empty() {
            by_user.remove(user);
        }
        if by_user.is_empty() {
            self.topics.remove(vhost);
        }
        cleared
    }

    /// Forgets everything about `vhost`; returns the users whose permissions went and
    /// (user, exchange) pairs of the topic permissions that went.
    pub(super) fn remove_vhost(&mut self, vhost: &str) -> (Vec<String>, Vec<(String, String)>) {
        self.vhosts.remove(vhost);
        let users = self
            .permissions
            .remove(vhost)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default();
        let topics = self
            .topics
            .remove(vhost)
            .map(|m| {
                m.into_iter()
                    .flat_map(|(u, rules)| {
                        rules
                            .keys()
                            .map(|x| (u.clone(), x.clone()))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .unwrap_or_default();
        (users, topics)
    }

    /// Forgets `user` and its permissions; returns the vhosts it had permissions on and the
    /// (vhost, exchange) pairs of its topic permissions.
    pub(super) fn remove_user(&mut self, user: &str) -> (Vec<String>, Vec<(String, String)>) {
        self.users.remove(user);
        let mut vhosts = Vec::new();
        self.permissions.retain(|vhost, by_user| {
            if by_user.remove(user).is_some() {
                vhosts.push(vhost.clone());
            }
            !by_user.is_empty()
        });
        let mut topics = Vec::new();
        self.topics.retain(|vhost, by_user| {
            if let Some(rules) = by_user.remove(user) {
                topics.extend(rules.keys().map(|x| (vhost.clone(), x.clone())));
            }
            !by_user.is_empty()
        });
        (vhosts, topics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(c: &str, w: &str, r: &str) -> PermissionSpec {
        PermissionSpec {
            configure: c.into(),
            write: w.into(),
            read: r.into(),
        }
    }

    #[test]
    fn default_exchange_is_checked_as_amq_default() {
        let mut s = State::default();
        s.set_permissions("u", "/", spec("", "^amq\\.default$", ""))
            .unwrap();
        assert!(
            s.check("u", "/", ResourceKind::Exchange, "", Permission::Write)
                .is_ok()
        );
        let err = s
            .check("u", "/", ResourceKind::Exchange, "", Permission::Read)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "access to exchange 'amq.default' in vhost '/' refused for user 'u'"
        );
        assert!(
            s.check("v", "/", ResourceKind::Exchange, "", Permission::Write)
                .is_err()
        );
    }

    #[test]
    fn removing_a_user_or_vhost_forgets_its_permissions() {
        let mut s = State::default();
        s.set_permissions("u", "a", PermissionSpec::all()).unwrap();
        s.set_permissions("u", "b", PermissionSpec::all()).unwrap();
        s.set_permissions("w", "a", PermissionSpec::all()).unwrap();
        s.set_topic_permission(
            "u",
            "a",
            TopicPermissionSpec {
                exchange: "amq.topic".into(),
                write: ".*".into(),
                read: ".*".into(),
            },
        )
        .unwrap();
        let (vhosts, topics) = s.remove_user("u");
        assert_eq!(vhosts, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(topics, vec![("a".to_string(), "amq.topic".to_string())]);
        assert!(s.permissions("w", "a").is_some());
        let (users, _) = s.remove_vhost("a");
        assert_eq!(users, vec!["w".to_string()]);
        assert!(s.permissions.is_empty() && s.topics.is_empty());
    }
}
