//! TLS on the cluster port (`[cluster.tls]`): every link between nodes, and every
//! `warren cluster` command, runs inside mutual TLS when it is on. Both ends present their
//! certificate and accept only one that chains to `cacertfile`; the dialer checks the
//! peer's certificate against `server_name`, or else against the host of the address it
//! dialed. The shared-secret handshake ([`super::auth`]) then runs inside the encrypted link.

use std::sync::Arc;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::cluster::view::host_of;
use crate::config::cluster::ClusterTlsSettings;
use crate::config::tls::{TlsSettings, TlsVerify};
use crate::tls::TlsError;

/// A cluster link: plain TCP or TLS over it.
pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> PeerIo for T {}

/// A connected cluster link, whichever transport it runs on.
pub type PeerStream = Box<dyn PeerIo>;

/// Why the cluster's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cluster.tls: {0}")]
pub struct PeerTlsError(#[from] TlsError);

/// The TLS both ends of a cluster link use.
#[derive(Clone)]
pub struct PeerTls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl PeerTls {
    /// The TLS of `settings`, or `None` when it is off. Reads and checks the files.
    pub fn load(settings: &ClusterTlsSettings) -> Result<Option<Arc<PeerTls>>, PeerTlsError> {
        if !settings.enabled {
            return Ok(None);
        }
        let files = TlsSettings {
            certfile: settings.certfile.clone(),
            keyfile: settings.keyfile.clone(),
            cacertfile: settings.cacertfile.clone(),
            verify: TlsVerify::VerifyPeer,
            fail_if_no_peer_cert: true,
            ..TlsSettings::default()
        };
        let server = crate::tls::load_server_config(&files)?;
        let client = crate::tls::load_client_config(&files)?;
        let server_name = if settings.server_name.is_empty() {
            None
        } else {
            Some(
                ServerName::try_from(settings.server_name.clone()).map_err(|e| {
                    TlsError::Invalid {
                        key: "server_name",
                        reason: e.to_string(),
                    }
                })?,
            )
        };
        Ok(Some(Arc::new(PeerTls {
            connector: TlsConnector::from(client),
            acceptor: TlsAcceptor::from(server),
            server_name,
        })))
    }

    /// The same TLS, checking peers against `name` when no `server_name` is set (the
    /// `warren cluster` commands dial their own node on loopback but check it by the name
    /// its peers use).
    pub fn named_by_default(&self, name: &str) -> PeerTls {
        let mut tls = self.clone();
        if tls.server_name.is_none() {
            tls.server_name = ServerName::try_from(name.to_string()).ok();
        }
        tls
    }

    /// TLS over `tcp` as the dialing side, to the peer at `addr` (`host:port`).
    pub async fn connect(&self, tcp: TcpStream, addr: &str) -> std::io::Result<PeerStream> {
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => ServerName::try_from(host_of(addr).to_string())
                .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?,
        };
        Ok(Box::new(self.connector.connect(name, tcp).await?))
    }

    /// TLS over `tcp` as the accepting side.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<PeerStream> {
        Ok(Box::new(self.acceptor.accept(tcp).await?))
    }
}

/// How a node proves itself on the cluster port: the shared secret, inside TLS when
/// `[cluster.tls]` is on. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PeerAuth {
    /// The shared secret.
    pub secret: Arc<[u8]>,
    /// The link's TLS, if on.
    pub tls: Option<Arc<PeerTls>>,
}

impl PeerAuth {
    /// The secret alone, without TLS.
    pub fn plain(secret: &[u8]) -> PeerAuth {
        PeerAuth {
            secret: Arc::from(secret),
            tls: None,
        }
    }

    /// Dials `addr`'s already connected `tcp` (TLS when on).
    pub async fn connect(&self, tcp: TcpStream, addr: &str) -> std::io::Result<PeerStream> {
        match &self.tls {
            Some(tls) => tls.connect(tcp, addr).await,
            None => Ok(Box::new(tcp)),
        }
    }

    /// Accepts `tcp` (TLS when on).
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<PeerStream> {
        match &self.tls {
            Some(tls) => tls.accept(tcp).await,
            None => Ok(Box::new(tcp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loads_nothing() {
        let off = ClusterTlsSettings::default();
        assert!(PeerTls::load(&off).expect("off").is_none());
    }

    #[test]
    fn missing_files_name_the_section() {
        let on = ClusterTlsSettings {
            enabled: true,
            certfile: "/nonexistent/cert.pem".into(),
            keyfile: "/nonexistent/key.pem".into(),
            cacertfile: "/nonexistent/ca.pem".into(),
            server_name: String::new(),
        };
        let err = PeerTls::load(&on).expect_err("no files");
        let text = err.to_string();
        assert!(text.starts_with("cluster.tls: "), "{text}");
        assert!(text.contains("/nonexistent/cert.pem"), "{text}");
    }
}
