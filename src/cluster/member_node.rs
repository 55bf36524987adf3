//! Asking another member for its own `/api/nodes` entry (its memory, file descriptors,
//! uptime and alarms), so that the leader's `/api/nodes` lists every running member in
//! full, as any RabbitMQ node lists the whole cluster.
//!
//! The member is reached at the management address of this node's own `[[cluster.peers]]`
//! entry for it, with the caller's credentials (a member authenticates against the same
//! replicated users), within [`TIMEOUT`]; the answer is bounded to [`MAX_ANSWER`] bytes and
//! taken only when it is a JSON object naming that member.

use std::time::Duration;

use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// How long a member may take to describe itself (a listing waits for the slowest).
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// The largest description taken.
pub const MAX_ANSWER: usize = 1 << 20;

/// The HTTP client that asks members.
#[derive(Debug, Clone)]
pub struct MemberNodes {
    client: Option<reqwest::Client>,
}

impl MemberNodes {
    /// A client without proxies from the environment or redirects; without one (the
    /// client could not be built, which is logged), members are listed by name only.
    pub fn new() -> MemberNodes {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .build();
        match client {
            Ok(client) => MemberNodes {
                client: Some(client),
            },
            Err(e) => {
                tracing::warn!(error = %e, "cluster: no HTTP client to ask members for their statistics");
                MemberNodes { client: None }
            }
        }
    }

    /// Member `name`'s own entry from the management API at `addr` (`host:port`), or `None`
    /// when it does not answer in time with a JSON object of that name.
    pub async fn describe(
        &self,
        addr: &str,
        name: &str,
        authorization: Option<&HeaderValue>,
    ) -> Option<Value> {
        let client = self.client.as_ref()?;
        let url = format!(
            "http://{addr}/api/nodes/{}",
            utf8_percent_encode(name, NON_ALPHANUMERIC)
        );
        let mut request = client.get(url);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut answer = match request.send().await {
            Ok(answer) if answer.status().is_success() => answer,
            Ok(answer) => {
                tracing::debug!(%addr, status = %answer.status(), "cluster: member did not describe itself");
                return None;
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "cluster: member did not answer");
                return None;
            }
        };
        let mut bytes = Vec::new();
        while let Ok(Some(chunk)) = answer.chunk().await {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return None;
            }
            bytes.extend_from_slice(&chunk);
        }
        let described: Value = serde_json::from_slice(&bytes).ok()?;
        (described.get("name").and_then(Value::as_str) == Some(name)).then_some(described)
    }
}

impl Default for MemberNodes {
    fn default() -> Self {
        MemberNodes::new()
    }
}
