//! User records: name, password hash and tags. Tags are free-form as in RabbitMQ; the ones
//! the management API acts on are [`ADMINISTRATOR`], [`MONITORING`], [`POLICYMAKER`] and
//! [`MANAGEMENT`].

use super::limits::UserLimits;
use super::password::PasswordHash;

/// Full access to the management API.
pub const ADMINISTRATOR: &str = "administrator";
/// Read access to everything in the management API.
pub const MONITORING: &str = "monitoring";
/// Management plus policies and parameters of the user's vhosts.
pub const POLICYMAKER: &str = "policymaker";
/// The management API for the user's own vhosts.
pub const MANAGEMENT: &str = "management";

/// A user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Salted password hash (never the password).
    pub password: PasswordHash,
    /// Tags, in the order given.
    pub tags: Vec<String>,
    /// Per-user limits.
    pub limits: UserLimits,
}

impl User {
    /// Whether the user has `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether the user is an administrator.
    pub fn is_administrator(&self) -> bool {
        self.has_tag(ADMINISTRATOR)
    }
}

/// Splits a comma-separated tag list (RabbitMQ's older export format and rabbitmqadmin's
/// `tags=a,b`), trimming blanks and dropping empty entries.
pub fn parse_tags(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists_split_on_commas() {
        assert_eq!(
            parse_tags(" administrator, ,monitoring"),
            vec!["administrator".to_string(), "monitoring".to_string()]
        );
        assert!(parse_tags("").is_empty());
    }
}
