//! Topic permissions: per user, vhost and topic exchange, write and read patterns matched
//! against routing keys (write when publishing, read when binding and unbinding). As in
//! RabbitMQ, an exchange without a topic permission for the user is unrestricted, the
//! patterns may use `{username}` and `{vhost}`, and an empty pattern reads as `^$`.

use super::permissions::{Pattern, PatternError, Permission};
use serde::{Deserialize, Serialize};

/// A topic permission as given (what is stored and exported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPermissionSpec {
    /// The topic exchange it applies to.
    pub exchange: String,
    /// Routing keys the user may publish with.
    pub write: String,
    /// Routing keys the user may bind with.
    pub read: String,
}

/// A topic permission compiled for one user and vhost (variables expanded).
#[derive(Debug, Clone)]
pub struct CompiledTopicPermission {
    /// The permission as given.
    pub spec: TopicPermissionSpec,
    write: Pattern,
    read: Pattern,
}

/// Replaces `{username}` and `{vhost}` as RabbitMQ does before compiling.
fn expand(pattern: &str, user: &str, vhost: &str) -> String {
    pattern
        .replace("{username}", &regex::escape(user))
        .replace("{vhost}", &regex::escape(vhost))
}

impl CompiledTopicPermission {
    /// Compiles `spec` for `user` on `vhost`.
    pub fn compile(
        spec: TopicPermissionSpec,
        user: &str,
        vhost: &str,
    ) -> Result<CompiledTopicPermission, PatternError> {
        let compile = |p: &str| {
            Pattern::compile(&expand(p, user, vhost)).map_err(|e| PatternError {
                pattern: p.to_string(),
                reason: e.reason,
            })
        };
        Ok(CompiledTopicPermission {
            write: compile(&spec.write)?,
            read: compile(&spec.read)?,
            spec,
        })
    }

    /// Whether `permission` (write or read) is granted for `routing_key`. Configure is not
    /// a topic permission and is always refused.
    pub fn allows(&self, permission: Permission, routing_key: &str) -> bool {
        match permission {
            Permission::Write => self.write.matches(routing_key),
            Permission::Read => self.read.matches(routing_key),
            Permission::Configure => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_expanded_and_escaped() {
        let spec = TopicPermissionSpec {
            exchange: "amq.topic".into(),
            write: "^{username}\\.".into(),
            read: "^{vhost}$".into(),
        };
        let p = CompiledTopicPermission::compile(spec, "a.b", "/").unwrap();
        assert!(p.allows(Permission::Write, "a.b.x"));
        assert!(!p.allows(Permission::Write, "axb.x"));
        assert!(p.allows(Permission::Read, "/"));
        assert!(!p.allows(Permission::Configure, "/"));
    }
}
