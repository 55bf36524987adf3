//! Forwarding a management request from a follower to the leader's management API:
//! method, path, query, body and headers (the `Authorization` header with them) go as they
//! came; the leader's status, headers and body come back. Bodies are bounded both ways,
//! the whole exchange has a deadline, and a forwarded request is marked so a node that is
//! not the leader either answers 503 instead of forwarding it again.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};

use crate::management::error::ApiError;

/// Header a forwarded request carries (its value: the forwarding node's id).
pub const FORWARDED: &str = "x-warren-forwarded-by";
/// Largest request body forwarded (the API's own limit).
pub const MAX_REQUEST: usize = crate::management::json::BODY_LIMIT;
/// Largest response body forwarded back (listings of many queues are large).
pub const MAX_RESPONSE: usize = 256 << 20;
/// How long the leader may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to the leader may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The request body was over [`MAX_REQUEST`] or unreadable.
    #[error("request body too large or unreadable")]
    RequestBody,
    /// The leader did not answer (refused, timed out, broke off).
    #[error("the leader's management API at {addr} did not answer: {reason}")]
    Unreachable {
        /// The address dialed.
        addr: String,
        /// What happened.
        reason: String,
    },
    /// The leader's answer was over [`MAX_RESPONSE`].
    #[error("the leader's answer is over {MAX_RESPONSE} bytes")]
    ResponseTooLarge,
}

impl IntoResponse for ForwardError {
    fn into_response(self) -> Response {
        match self {
            ForwardError::RequestBody => ApiError::TooLarge.into_response(),
            other => ApiError::Unavailable(other.to_string()).into_response(),
        }
    }
}

/// Headers that describe one hop, not the message: never forwarded either way.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter(|(name, _)| !hop_by_hop(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The HTTP client a follower forwards with.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    me: u64,
}

impl Forwarder {
    /// A client for node `me`: no proxy from the environment, no redirects followed.
    pub fn new(me: u64) -> Result<Forwarder, ForwardError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ForwardError::Client(e.to_string()))?;
        Ok(Forwarder { client, me })
    }

    /// Sends `request` to the management API at `addr` (`host:port`) and returns its answer.
    pub async fn forward(&self, addr: &str, request: Request) -> Result<Response, ForwardError> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_REQUEST)
            .await
            .map_err(|_| ForwardError::RequestBody)?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("http://{addr}{path}");
        let unreachable = |reason: String| ForwardError::Unreachable {
            addr: addr.to_string(),
            reason,
        };
        let mut headers = end_to_end(&parts.headers);
        if let Ok(value) = self.me.to_string().parse() {
            headers.insert(FORWARDED, value);
        }
        let mut answer = self
            .client
            .request(parts.method, url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        if answer
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE as u64)
        {
            return Err(ForwardError::ResponseTooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE {
                return Err(ForwardError::ResponseTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = answer.status();
        *response.headers_mut() = end_to_end(answer.headers());
        response.headers_mut().remove(header::CONTENT_LENGTH);
        Ok(response)
    }
}

/// An error with its sources, for the 503 reason.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_dropped_and_credentials_kept() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "Basic Z3Vlc3Q6Z3Vlc3Q=".parse().expect("value"),
        );
        h.insert(header::CONNECTION, "close".parse().expect("value"));
        h.insert(header::HOST, "node2:15672".parse().expect("value"));
        h.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("value"),
        );
        let kept = end_to_end(&h);
        assert!(kept.contains_key(header::AUTHORIZATION));
        assert!(kept.contains_key(header::CONTENT_TYPE));
        assert!(!kept.contains_key(header::CONNECTION) && !kept.contains_key(header::HOST));
    }
}
