//! A blocking client of the management HTTP API: Basic credentials, JSON answers, and
//! RabbitMQ's error bodies turned into [`CliError`]s.

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::RequestBuilder;
use serde_json::Value;

use super::args::ConnectionArgs;
use super::error::CliError;

/// A safety net against a server that never answers (not a synchronisation delay).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A management API client.
#[derive(Debug)]
pub struct Client {
    base: String,
    username: String,
    password: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client for the API at `--url`, or `http://--host:--port`.
    pub fn new(args: &ConnectionArgs) -> Result<Client, CliError> {
        let base = match &args.url {
            Some(url) => base_from_url(url)?,
            None => {
                if args.host.is_empty() || args.host.contains(['/', '?', '#', '@', ' ']) {
                    return Err(CliError::Usage(format!(
                        "--host: not a host name: {:?}",
                        args.host
                    )));
                }
                let host = if args.host.contains(':') && !args.host.starts_with('[') {
                    format!("[{}]", args.host)
                } else {
                    args.host.clone()
                };
                format!("http://{host}:{}", args.port)
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| CliError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            base,
            username: args.username.clone(),
            password: args.password.clone(),
            http,
        })
    }

    /// The API's base URL (without `/api`).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api{path}", self.base))
            .basic_auth(&self.username, Some(&self.password))
    }

    /// GET `path` (below `/api`), expecting JSON.
    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(self.request(Method::GET, path), path)
    }

    /// PUT a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(self.request(Method::PUT, path).json(body), path)
    }

    /// POST a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(self.request(Method::POST, path).json(body), path)
    }

    /// DELETE `path`, with extra headers (e.g. `X-Reason`).
    pub fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Result<Value, CliError> {
        let mut req = self.request(Method::DELETE, path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.send(req, path)
    }

    fn send(&self, req: RequestBuilder, path: &str) -> Result<Value, CliError> {
        let response = req.send().map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes).chars().take(500).collect())
            })
        };
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(CliError::NotAuthorised(format!(
                "not authorised ({status}): {}",
                reason(&body)
            ))),
            404 => Err(CliError::NotFound {
                what: format!("/api{}", path.split('?').next().unwrap_or(path)),
                user: false,
            }),
            _ => Err(CliError::Server {
                status,
                reason: reason(&body),
            }),
        }
    }
}

/// RabbitMQ's `reason` (or `error`) of an error body, else the body itself.
fn reason(body: &Value) -> String {
    match body {
        Value::Object(map) => map
            .get("reason")
            .or_else(|| map.get("error"))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_else(|| body.to_string()),
        Value::String(s) => s.clone(),
        Value::Null => "(empty answer)".to_string(),
        other => other.to_string(),
    }
}

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

/// Validates `--url` and strips a trailing `/` or `/api`.
fn base_from_url(url: &str) -> Result<String, CliError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        CliError::Usage(format!(
            "--url: only http:// URLs are supported, got {url:?}"
        ))
    })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', '@', ' ']) {
        return Err(CliError::Usage(format!("--url: not a base URL: {url:?}")));
    }
    let trimmed = url.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api").unwrap_or(trimmed);
    Ok(trimmed.to_string())
}

/// Percent-encodes one path segment (a vhost `/` becomes `%2F`).
pub fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("/"), "%2F");
        assert_eq!(seg("a b.c"), "a%20b.c");
        assert_eq!(seg("é"), "%C3%A9");
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(base_from_url("http://h:1/api/").unwrap(), "http://h:1");
        assert!(matches!(base_from_url("ftp://h"), Err(CliError::Usage(_))));
        assert!(matches!(base_from_url("http://"), Err(CliError::Usage(_))));
    }
}
