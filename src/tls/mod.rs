//! TLS for the AMQPS listener (and, later, any HTTPS listener): settings → rustls
//! `ServerConfig`, a holder that swaps the config on reload, and the peer's identity for
//! SASL EXTERNAL.
//!
//! Owns: nothing that runs. [`load_server_config`] reads the PEM files named by
//! [`TlsSettings`] and checks them (readable, a key that matches the certificate, a
//! certificate valid now, known versions and cipher suites); every error names the setting.
//! [`ReloadableTlsConfig`] keeps the current config behind a lock that accepts take a clone
//! of (an `Arc`), so a reload on SIGHUP changes what new connections get while open
//! connections keep the config they were accepted with.

mod load;
pub mod peer;

use crate::config::tls::TlsSettings;
pub use load::{load_client_config, load_server_config};
use parking_lot::RwLock;
use rustls::ServerConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a TLS configuration could not be built. Each message starts with the setting at
/// fault (`tls.keyfile: ...`) and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key}: cannot read {}: {source}", path.display())]
    Read {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O or PEM error.
        source: rustls_pki_types::pem::Error,
    },
    /// A file holds no item of the expected kind.
    #[error("{key}: {} holds no {what} in PEM form", path.display())]
    Missing {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What was looked for ("certificate", "private key").
        what: &'static str,
    },
    /// A certificate could not be parsed or is not valid now.
    #[error("{key}: {}: {reason}", path.display())]
    Certificate {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong (expired, not yet valid, malformed).
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error(
        "tls.keyfile: the key in {} does not match the certificate in {}; give the key the \
         certificate was issued for",
        keyfile.display(),
        certfile.display()
    )]
    KeyMismatch {
        /// The key file.
        keyfile: PathBuf,
        /// The certificate file.
        certfile: PathBuf,
    },
    /// rustls refused a setting (an unsupported key type, no cipher suite left for the
    /// versions, a CA bundle it cannot use).
    #[error("{key}: {reason}")]
    Invalid {
        /// The setting at fault.
        key: &'static str,
        /// What rustls or Warren reported.
        reason: String,
    },
}

/// The cryptography Warren's TLS uses: *ring* (no C toolchain or CMake needed to build,
/// unlike aws-lc-rs). rustls 0.23.48 deprecated it for lacking post-quantum key exchange;
/// clients still get X25519 or the NIST curves, as from RabbitMQ on Erlang/OTP 25.
#[allow(deprecated)]
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The TLS server config in use, replaceable while the broker runs (certificate rotation).
#[derive(Debug)]
pub struct ReloadableTlsConfig {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
}

impl ReloadableTlsConfig {
    /// Loads the files named by `settings` (see [`load_server_config`]).
    pub fn load(settings: &TlsSettings) -> Result<ReloadableTlsConfig, TlsError> {
        let config = load_server_config(settings)?;
        Ok(ReloadableTlsConfig {
            settings: settings.clone(),
            current: RwLock::new(config),
        })
    }

    /// The config new connections are accepted with.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read())
    }

    /// Reads the files again. On success new connections use them; on failure the previous
    /// config stays in use and the error is returned (for the log).
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = load_server_config(&self.settings)?;
        *self.current.write() = config;
        Ok(())
    }
}
