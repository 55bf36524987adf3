//! HTTP authentication: Basic credentials checked against the broker's users, with the
//! loopback rule RabbitMQ applies to `guest`.
//!
//! One small interface ([`authenticate`], [`Principal::may_access_vhost`]) so the access
//! control work can bring user tags and permissions: for now every authenticated user is
//! an `administrator`, as the broker has no tags yet.

use super::error::ApiError;
use crate::auth::{AuthError, Authenticator};
use axum::http::HeaderMap;
use base64::Engine;
use std::net::SocketAddr;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name.
    pub name: String,
    /// Management tags (`administrator`, `monitoring`, ...).
    pub tags: Vec<String>,
}

impl Principal {
    /// Whether this user may see and change `vhost` through the API.
    pub fn may_access_vhost(&self, _vhost: &str) -> bool {
        // Every user is an administrator until permissions exist.
        true
    }

    /// Whether the user holds `tag` (`administrator` implies every tag).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag || t == "administrator")
    }
}

/// Checks `user`/`password` presented from `peer`.
pub fn authenticate(
    auth: &Authenticator,
    user: &str,
    password: &str,
    peer: SocketAddr,
) -> Result<Principal, ApiError> {
    match auth.authenticate(user, password.as_bytes(), peer) {
        Ok(()) => Ok(Principal {
            name: user.to_string(),
            tags: vec!["administrator".to_string()],
        }),
        Err(AuthError::LoopbackOnly { .. }) => Err(ApiError::Unauthorised(
            "User can only log in via localhost".to_string(),
        )),
        Err(e) => {
            tracing::warn!("HTTP access refused: {e}");
            Err(ApiError::Unauthorised("Login failed".to_string()))
        }
    }
}

/// Reads Basic credentials from the `Authorization` header.
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let refused = || ApiError::Unauthorised("Login failed".to_string());
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(refused)?
        .to_str()
        .map_err(|_| refused())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refused())?;
    let text = String::from_utf8(decoded).map_err(|_| refused())?;
    let (user, pass) = text.split_once(':').ok_or_else(refused)?;
    Ok((user.to_string(), pass.to_string()))
}
