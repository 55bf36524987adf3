//! The `[cluster.tls]` section: TLS on the cluster port (see
//! [`crate::cluster::network::peer_tls`]). Off by default.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// The `[cluster.tls]` section: mutual TLS between the nodes (and `warren cluster`
/// commands), as RabbitMQ's inter-node TLS with `verify_peer` and `fail_if_no_peer_cert`.
/// Every node presents `certfile` both when it dials and when it accepts, and accepts only
/// a peer whose certificate chains to `cacertfile`; the shared secret is still checked
/// inside the encrypted link.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterTlsSettings {
    /// Encrypt the cluster port. Every node of a cluster must agree.
    pub enabled: bool,
    /// This node's certificate chain, PEM, leaf first; used as server and as client.
    pub certfile: PathBuf,
    /// Its private key, PEM.
    pub keyfile: PathBuf,
    /// CA certificates, PEM, that every node's certificate chains to.
    pub cacertfile: PathBuf,
    /// The name (DNS name or IP address) every peer's certificate must carry; empty: the
    /// host of the address dialed (the peer's `cluster` address in `[[cluster.peers]]`).
    pub server_name: String,
}

impl ClusterTlsSettings {
    /// Checks what can be checked without reading the files.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.server_name.is_empty()
            && rustls_pki_types::ServerName::try_from(self.server_name.as_str()).is_err()
        {
            return Err(ConfigError::invalid(
                "cluster.tls.server_name",
                format!(
                    "{:?} is neither a DNS name nor an IP address",
                    self.server_name
                ),
            ));
        }
        if !self.enabled {
            return Ok(());
        }
        for (key, path) in [
            ("cluster.tls.certfile", &self.certfile),
            ("cluster.tls.keyfile", &self.keyfile),
            ("cluster.tls.cacertfile", &self.cacertfile),
        ] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    "must name a PEM file when cluster.tls.enabled = true",
                ));
            }
        }
        Ok(())
    }
}
