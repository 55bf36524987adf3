//! The `[management]` and `[prometheus]` sections: where the HTTP API and the Prometheus
//! endpoint listen. Each takes a list of addresses; an empty list turns the listener off.
//! The defaults listen on every IPv4 and IPv6 address, as RabbitMQ's plugins do (a machine
//! without IPv6 keeps the IPv4 listener). `tls_listen` adds HTTPS listeners (off by default)
//! with the `[tls]` section's certificate settings.

use super::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;

/// The `[management]` section: the HTTP API (RabbitMQ's management plugin, port 15672).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementSettings {
    /// Addresses to listen on; empty turns the API off.
    pub listen: Vec<String>,
    /// Addresses of the HTTPS API (RabbitMQ's `management.ssl.port`, 15671); empty is off.
    pub tls_listen: Vec<String>,
    /// How long an HTTP client (API, UI or Prometheus scrape) may take to send a request's
    /// head, and how long a kept-alive connection may sit idle, in milliseconds (RabbitMQ's
    /// `management.tcp.idle_timeout`, 60 s by default).
    pub request_timeout_ms: u64,
}

/// The `[prometheus]` section: the metrics endpoint (RabbitMQ's prometheus plugin, port 15692).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusSettings {
    /// Addresses to listen on; empty turns the endpoint off.
    pub listen: Vec<String>,
    /// Addresses of the HTTPS endpoint (RabbitMQ's `prometheus.ssl.port`, 15691); empty is off.
    pub tls_listen: Vec<String>,
}

fn any_address(port: u16) -> Vec<String> {
    vec![format!("0.0.0.0:{port}"), format!("[::]:{port}")]
}

impl Default for ManagementSettings {
    fn default() -> Self {
        ManagementSettings {
            listen: any_address(15672),
            tls_listen: Vec::new(),
            request_timeout_ms: 60_000,
        }
    }
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        PrometheusSettings {
            listen: any_address(15692),
            tls_listen: Vec::new(),
        }
    }
}

/// Parses every address of a listen list, naming the bad entry (`management.listen[1]`).
pub(super) fn parse_listen_list(
    key: &str,
    listen: &[String],
) -> Result<Vec<SocketAddr>, ConfigError> {
    listen
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            addr.parse().map_err(|_| ConfigError::Invalid {
                key: format!("{key}[{i}]"),
                reason: format!(
                    "expected IP:PORT such as 0.0.0.0:15672 or [::]:15672, got {addr:?}"
                ),
            })
        })
        .collect()
}

impl ManagementSettings {
    /// The HTTP request-head and keep-alive timeout; the error names the setting.
    pub fn request_timeout(&self) -> Result<std::time::Duration, ConfigError> {
        if !(100..=3_600_000).contains(&self.request_timeout_ms) {
            return Err(ConfigError::invalid(
                "management.request_timeout_ms",
                format!(
                    "must be between 100 and 3600000, got {}",
                    self.request_timeout_ms
                ),
            ));
        }
        Ok(std::time::Duration::from_millis(self.request_timeout_ms))
    }

    /// The listen addresses, parsed; the error names the bad entry.
    pub fn addresses(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        parse_listen_list("management.listen", &self.listen)
    }

    /// The HTTPS listen addresses, parsed; the error names the bad entry.
    pub fn tls_addresses(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        parse_listen_list("management.tls_listen", &self.tls_listen)
    }
}

impl PrometheusSettings {
    /// The listen addresses, parsed; the error names the bad entry.
    pub fn addresses(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        parse_listen_list("prometheus.listen", &self.listen)
    }

    /// The HTTPS listen addresses, parsed; the error names the bad entry.
    pub fn tls_addresses(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        parse_listen_list("prometheus.tls_listen", &self.tls_listen)
    }
}
