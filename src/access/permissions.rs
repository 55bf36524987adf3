//! Per-user, per-vhost permissions: configure / write / read regular expressions matched
//! against resource names, compiled once when they are set.
//!
//! As in RabbitMQ, a pattern matches anywhere in the name unless anchored, and an empty
//! pattern is read as `^$` (it matches only the empty name, so in practice nothing: the
//! default exchange is checked under the name `amq.default`).

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What an operation needs on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create or delete it.
    Configure,
    /// Publish to it (exchange) or bind to it (queue, destination exchange).
    Write,
    /// Consume, get or purge (queue), or bind from it (exchange).
    Read,
}

impl Permission {
    /// The lower-case name RabbitMQ uses (`configure`, `write`, `read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Configure => "configure",
            Permission::Write => "write",
            Permission::Read => "read",
        }
    }
}

/// The kind of resource a permission check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// An exchange (the default exchange is named `amq.default` for checks).
    Exchange,
    /// A queue.
    Queue,
}

impl ResourceKind {
    /// The word RabbitMQ uses in its refusal texts.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Exchange => "exchange",
            ResourceKind::Queue => "queue",
        }
    }
}

/// The three patterns as given (what is stored and exported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSpec {
    /// Names the user may declare and delete.
    pub configure: String,
    /// Names the user may publish to or bind to.
    pub write: String,
    /// Names the user may consume from or bind from.
    pub read: String,
}

impl PermissionSpec {
    /// `.*` for all three (RabbitMQ's `default_permissions`).
    pub fn all() -> PermissionSpec {
        PermissionSpec {
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        }
    }
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression '{pattern}': {reason}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What the regex compiler reported.
    pub reason: String,
}

/// One compiled pattern, with RabbitMQ's reading of the empty pattern.
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    /// Compiles `pattern`; the empty pattern becomes `^$`.
    pub fn compile(pattern: &str) -> Result<Pattern, PatternError> {
        let source = if pattern.is_empty() { "^$" } else { pattern };
        Regex::new(source).map(Pattern).map_err(|e| PatternError {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })
    }

    /// Whether the pattern matches anywhere in `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// A user's permissions on one vhost, compiled.
#[derive(Debug, Clone)]
pub struct CompiledPermissions {
    /// The patterns as given.
    pub spec: PermissionSpec,
    configure: Pattern,
    write: Pattern,
    read: Pattern,
}

impl CompiledPermissions {
    /// Compiles the three patterns.
    pub fn compile(spec: PermissionSpec) -> Result<CompiledPermissions, PatternError> {
        Ok(CompiledPermissions {
            configure: Pattern::compile(&spec.configure)?,
            write: Pattern::compile(&spec.write)?,
            read: Pattern::compile(&spec.read)?,
            spec,
        })
    }

    /// Whether `permission` is granted on a resource called `name`.
    pub fn allows(&self, permission: Permission, name: &str) -> bool {
        match permission {
            Permission::Configure => self.configure.matches(name),
            Permission::Write => self.write.matches(name),
            Permission::Read => self.read.matches(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(c: &str, w: &str, r: &str) -> CompiledPermissions {
        CompiledPermissions::compile(PermissionSpec {
            configure: c.into(),
            write: w.into(),
            read: r.into(),
        })
        .unwrap()
    }

    #[test]
    fn patterns_match_anywhere_unless_anchored() {
        let p = perms("^c", "w", ".*");
        assert!(p.allows(Permission::Configure, "cq"));
        assert!(!p.allows(Permission::Configure, "qc"));
        assert!(p.allows(Permission::Write, "new"));
        assert!(p.allows(Permission::Read, "anything"));
    }

    #[test]
    fn empty_pattern_matches_only_the_empty_name() {
        let p = perms("", "", "");
        for perm in [Permission::Configure, Permission::Write, Permission::Read] {
            assert!(!p.allows(perm, "amq.default"));
            assert!(!p.allows(perm, "q"));
        }
    }

    #[test]
    fn invalid_patterns_are_refused() {
        assert!(Pattern::compile("(").is_err());
    }
}
