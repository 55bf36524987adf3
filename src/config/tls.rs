//! The `[tls]` section: the AMQPS listener, named after RabbitMQ's `ssl_options` so an
//! operator maps them one to one (`ssl_options.certfile` → `tls.certfile`, ...).
//!
//! Only what can be checked without reading files is checked here; reading and matching the
//! certificate, key and CA bundle is `crate::tls::load_server_config`, which also names the
//! setting in its errors.

use super::{ConfigError, listen};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The protocol versions Warren can speak, by RabbitMQ's names.
pub const TLS_VERSIONS: [&str; 2] = ["tlsv1.3", "tlsv1.2"];

/// Whether client certificates are asked for (RabbitMQ's `ssl_options.verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsVerify {
    /// No client certificate is requested.
    #[default]
    VerifyNone,
    /// A client certificate is requested and, when sent, must chain to `cacertfile`.
    VerifyPeer,
}

/// The `[tls]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// Addresses of the AMQPS listener (RabbitMQ's port is 5671); empty means off.
    #[serde(deserialize_with = "listen::deserialize")]
    pub listen: String,
    /// The server's certificate chain, PEM, leaf first.
    pub certfile: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 RSA or SEC1 EC; RSA, ECDSA, Ed25519).
    pub keyfile: PathBuf,
    /// CA certificates, PEM, that client certificates must chain to (for `verify_peer`).
    pub cacertfile: PathBuf,
    /// `verify_none` or `verify_peer`.
    pub verify: TlsVerify,
    /// With `verify_peer`: refuse a client that sends no certificate.
    pub fail_if_no_peer_cert: bool,
    /// Protocol versions offered: `tlsv1.3`, `tlsv1.2`.
    pub versions: Vec<String>,
    /// Cipher suites by IANA name (e.g. `TLS13_AES_256_GCM_SHA384`,
    /// `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`); empty means rustls's safe defaults.
    pub ciphers: Vec<String>,
    /// Milliseconds a client has to finish the TLS handshake (RabbitMQ's
    /// `ssl_handshake_timeout`).
    pub handshake_timeout_ms: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            listen: String::new(),
            certfile: PathBuf::new(),
            keyfile: PathBuf::new(),
            cacertfile: PathBuf::new(),
            verify: TlsVerify::VerifyNone,
            fail_if_no_peer_cert: false,
            versions: TLS_VERSIONS.iter().map(|v| v.to_string()).collect(),
            ciphers: Vec::new(),
            handshake_timeout_ms: 5_000,
        }
    }
}

impl TlsSettings {
    /// The AMQPS listen addresses, parsed; empty when TLS is off.
    pub fn listen_addrs(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        listen::parse("tls.listen", &self.listen)
    }

    /// True when an AMQPS listener is configured.
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }

    /// The settings as RabbitMQ's `/api/overview` shows a TLS listener's `ssl_opts`
    /// (file paths, `verify`, `fail_if_no_peer_cert`, `versions`; never key material).
    pub fn ssl_opts(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        let path = |p: &PathBuf| serde_json::Value::String(p.display().to_string());
        out.insert("versions".into(), serde_json::json!(self.versions));
        out.insert("keyfile".into(), path(&self.keyfile));
        out.insert("certfile".into(), path(&self.certfile));
        if !self.cacertfile.as_os_str().is_empty() {
            out.insert("cacertfile".into(), path(&self.cacertfile));
        }
        out.insert(
            "fail_if_no_peer_cert".into(),
            self.fail_if_no_peer_cert.into(),
        );
        let verify = match self.verify {
            TlsVerify::VerifyNone => "verify_none",
            TlsVerify::VerifyPeer => "verify_peer",
        };
        out.insert("verify".into(), verify.into());
        serde_json::Value::Object(out)
    }

    /// Checks the section; `needed_by` names the first TLS listener setting that is set
    /// (`tls.listen`, `management.tls_listen`, `prometheus.tls_listen`), if any, and makes the
    /// certificate settings required.
    pub(super) fn validate(&self, needed_by: Option<&str>) -> Result<(), ConfigError> {
        self.listen_addrs()?;
        for (i, version) in self.versions.iter().enumerate() {
            if !TLS_VERSIONS.contains(&version.as_str()) {
                return Err(ConfigError::invalid(
                    format!("tls.versions[{i}]"),
                    format!(
                        "{version:?} is not supported; use tlsv1.3 and/or tlsv1.2 (older \
                         versions are not offered)"
                    ),
                ));
            }
        }
        if self.handshake_timeout_ms < 1 {
            return Err(ConfigError::invalid(
                "tls.handshake_timeout_ms",
                format!("must be at least 1, got {}", self.handshake_timeout_ms),
            ));
        }
        let Some(needed_by) = needed_by else {
            return Ok(());
        };
        if self.versions.is_empty() {
            return Err(ConfigError::invalid(
                "tls.versions",
                "must name at least one of tlsv1.3, tlsv1.2",
            ));
        }
        for (key, path) in [
            ("tls.certfile", &self.certfile),
            ("tls.keyfile", &self.keyfile),
        ] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    format!("required when {needed_by} is set; give a PEM file"),
                ));
            }
        }
        if self.verify == TlsVerify::VerifyPeer && self.cacertfile.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "tls.cacertfile",
                "required with tls.verify = \"verify_peer\"; give the PEM bundle of the CAs \
                 that sign client certificates",
            ));
        }
        if self.fail_if_no_peer_cert && self.verify != TlsVerify::VerifyPeer {
            return Err(ConfigError::invalid(
                "tls.fail_if_no_peer_cert",
                "needs tls.verify = \"verify_peer\" (no certificate is asked for otherwise)",
            ));
        }
        Ok(())
    }
}
