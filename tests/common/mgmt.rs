//! A small client of the management API for tests: requests as guest, answers as
//! (status, JSON) with a hang guard on every step.

use super::{TestBroker, guard};
use serde_json::Value;

/// A management API client bound to one broker.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    user: String,
    pass: String,
}

impl Api {
    /// A client of `broker`'s management API.
    pub fn new(broker: &TestBroker) -> Api {
        Api::as_user(broker, "guest", "guest")
    }

    /// A client of `broker`'s management API that authenticates as `user`.
    pub fn as_user(broker: &TestBroker, user: &str, pass: &str) -> Api {
        Api {
            base: broker.mgmt_url(),
            http: reqwest::Client::new(),
            user: user.to_string(),
            pass: pass.to_string(),
        }
    }

    /// Sends `method path` with an optional JSON body; returns the status and the body
    /// (JSON, or `Null` when empty).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.pass));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = guard(req.send()).await.unwrap();
        let status = response.status().as_u16();
        let bytes = guard(response.bytes()).await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, value)
    }

    /// Sends a raw body with a content type.
    pub async fn raw(&self, method: &str, path: &str, body: &'static [u8]) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = guard(
            self.http
                .request(method, format!("{}{path}", self.base))
                .basic_auth(&self.user, Some(&self.pass))
                .header("content-type", "application/json")
                .body(body)
                .send(),
        )
        .await
        .unwrap();
        let status = response.status().as_u16();
        let bytes = guard(response.bytes()).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// GET, expecting 200.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}
