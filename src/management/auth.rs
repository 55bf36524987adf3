//! HTTP authentication and authorisation: Basic credentials checked against the broker's
//! users (with the loopback rule RabbitMQ applies to `guest`), and RabbitMQ's management
//! scoping by user tags and vhost permissions.
//!
//! Tags as RabbitMQ reads them: `administrator` implies every other tag; `monitoring` and
//! `policymaker` imply `management`; a user with none of the four cannot use the API at
//! all (401 "Login failed"). Refusals are 401 with RabbitMQ's reasons, never 403.

use super::error::ApiError;
use crate::access::Access;
use crate::access::users::{ADMINISTRATOR, MANAGEMENT, MONITORING, POLICYMAKER};
use crate::auth::AuthError;
use axum::http::HeaderMap;
use base64::Engine;
use std::collections::BTreeSet;
use std::net::SocketAddr;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name.
    pub name: String,
    /// The user's tags, as stored.
    pub tags: Vec<String>,
    /// The vhosts the user has permissions on (when the request was authenticated).
    pub vhosts: BTreeSet<String>,
}

impl Principal {
    /// Whether the user holds `tag`, as RabbitMQ reads tags: `administrator` implies every
    /// tag, `monitoring` and `policymaker` imply `management`.
    pub fn has_tag(&self, tag: &str) -> bool {
        let holds = |t: &str| self.tags.iter().any(|x| x == t);
        holds(ADMINISTRATOR)
            || holds(tag)
            || (tag == MANAGEMENT && (holds(MONITORING) || holds(POLICYMAKER)))
    }

    /// Whether this user may see and change `vhost` through the API: administrators may
    /// use every vhost, other users those they have permissions on.
    pub fn may_access_vhost(&self, vhost: &str) -> bool {
        self.has_tag(ADMINISTRATOR) || self.vhosts.contains(vhost)
    }

    /// 401 "Not administrator user" unless the user is an administrator.
    pub fn require_administrator(&self) -> Result<(), ApiError> {
        if self.has_tag(ADMINISTRATOR) {
            return Ok(());
        }
        Err(ApiError::NotAuthorised(
            "Not administrator user".to_string(),
        ))
    }

    /// 401 "Not monitor user" unless the user is a monitor (or administrator).
    pub fn require_monitor(&self) -> Result<(), ApiError> {
        if self.has_tag(MONITORING) {
            return Ok(());
        }
        Err(ApiError::NotAuthorised("Not monitor user".to_string()))
    }

    /// Whether the user may see the connection (and its channels and consumers) of `owner`:
    /// monitors and administrators see every connection, other users their own.
    pub fn may_see_connection(&self, owner: &str) -> bool {
        self.has_tag(MONITORING) || self.name == owner
    }

    /// Whether the user may close the connection of `owner`: administrators any, other
    /// users their own (a monitor may look but not close).
    pub fn may_close_connection(&self, owner: &str) -> bool {
        self.has_tag(ADMINISTRATOR) || self.name == owner
    }

    /// Whether `/api/vhosts` lists `vhost` to this user: monitors see every vhost, other
    /// users those they have permissions on.
    pub fn lists_vhost(&self, vhost: &str) -> bool {
        self.has_tag(MONITORING) || self.may_access_vhost(vhost)
    }

    /// 401 "User not authorised to access object" unless the user is a policymaker with
    /// access to `vhost` (reading one policy, writing policies).
    pub fn require_policymaker(&self, vhost: &str) -> Result<(), ApiError> {
        if self.has_tag(POLICYMAKER) && self.may_access_vhost(vhost) {
            return Ok(());
        }
        Err(not_authorised_object())
    }

    /// 401 "User not authorised to access virtual host" unless [`Self::may_access_vhost`].
    pub fn require_vhost(&self, vhost: &str) -> Result<(), ApiError> {
        if self.may_access_vhost(vhost) {
            return Ok(());
        }
        Err(ApiError::NotAuthorised(
            "User not authorised to access virtual host".to_string(),
        ))
    }
}

/// RabbitMQ's refusal of an object the user may not touch.
pub fn not_authorised_object() -> ApiError {
    ApiError::NotAuthorised("User not authorised to access object".to_string())
}

/// Checks `user`/`password` presented from `peer`; users without a management tag are
/// refused as RabbitMQ refuses them.
pub fn authenticate(
    access: &Access,
    user: &str,
    password: &str,
    peer: SocketAddr,
) -> Result<Principal, ApiError> {
    match access.authenticate(user, password.as_bytes(), peer) {
        Ok(u) => {
            let principal = Principal {
                name: user.to_string(),
                tags: u.tags.clone(),
                vhosts: access.vhosts_of(user),
            };
            if !principal.has_tag(MANAGEMENT) {
                tracing::warn!(user, "HTTP access refused: user has no management tag");
                return Err(ApiError::NotAuthorised("Not management user".to_string()));
            }
            Ok(principal)
        }
        Err(AuthError::LoopbackOnly { .. }) => Err(ApiError::Unauthorised(
            "User can only log in via localhost".to_string(),
        )),
        Err(e) => {
            tracing::warn!("HTTP access refused: {e}");
            Err(ApiError::Unauthorised("Login failed".to_string()))
        }
    }
}

/// Reads Basic credentials from the `Authorization` header: 401 with the challenge when
/// there is none or it names another scheme, 400 when a Basic value does not decode to
/// `user:password` (as RabbitMQ answers each).
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let refused = || ApiError::Unauthorised("Login failed".to_string());
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ApiError::NoCredentials)?
        .to_str()
        .map_err(|_| refused())?;
    let value = value.trim();
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::MalformedCredentials)?;
    let (user, pass) = decoded
        .iter()
        .position(|&b| b == b':')
        .map(|at| (&decoded[..at], &decoded[at + 1..]))
        .ok_or(ApiError::MalformedCredentials)?;
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| refused());
    Ok((text(user)?, text(pass)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(tags: &[&str], vhosts: &[&str]) -> Principal {
        Principal {
            name: "u".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            vhosts: vhosts.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn tags_imply_as_in_rabbitmq() {
        let admin = principal(&["administrator"], &[]);
        assert!(admin.has_tag("monitoring") && admin.has_tag("management"));
        assert!(admin.may_access_vhost("any"));
        let monitor = principal(&["monitoring"], &["/"]);
        assert!(monitor.has_tag("management") && !monitor.has_tag("policymaker"));
        assert!(monitor.require_administrator().is_err());
        assert!(monitor.require_monitor().is_ok());
        let mgmt = principal(&["management"], &["/"]);
        assert!(mgmt.require_monitor().is_err());
        assert!(mgmt.require_vhost("/").is_ok() && mgmt.require_vhost("other").is_err());
        assert!(!principal(&[], &["/"]).has_tag("management"));
    }
}
