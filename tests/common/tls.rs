//! TLS test helpers: a throwaway PKI made at run time with rcgen (nothing private is checked
//! in), Warren started with an AMQPS listener, rustls client configs, and lapin / amqprs /
//! raw clients over TLS.

use super::{TestBroker, guard};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use warren::config::Settings;

/// A certificate and its key, as PEM text and as files.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8).
    pub key_pem: String,
    /// Where the certificate is written.
    pub cert_path: PathBuf,
    /// Where the key is written.
    pub key_path: PathBuf,
}

/// A test certificate authority with its files in a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// Where the CA certificate is written.
    pub ca_path: PathBuf,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Pki {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_pem = ca.pem();
        let ca_path = dir.path().join(format!("{name}-ca.pem"));
        std::fs::write(&ca_path, &ca_pem).unwrap();
        Pki {
            dir,
            ca,
            ca_pem,
            ca_path,
        }
    }

    /// A path in this PKI's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Signs `params` for `key` and writes `<stem>.pem` and `<stem>-key.pem`.
    pub fn sign(&self, stem: &str, params: CertificateParams, key: KeyPair) -> Leaf {
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let leaf = Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_path: self.path(&format!("{stem}.pem")),
            key_path: self.path(&format!("{stem}-key.pem")),
        };
        std::fs::write(&leaf.cert_path, &leaf.cert_pem).unwrap();
        std::fs::write(&leaf.key_path, &leaf.key_pem).unwrap();
        leaf
    }

    /// Server certificate parameters for 127.0.0.1 and localhost.
    pub fn server_params() -> CertificateParams {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params
    }

    /// A server certificate (ECDSA P-256) for 127.0.0.1 and localhost.
    pub fn server(&self, stem: &str) -> Leaf {
        self.sign(stem, Self::server_params(), KeyPair::generate().unwrap())
    }

    /// A cluster node's certificate (ECDSA P-256) for 127.0.0.1 and localhost, usable both
    /// to serve and to dial (`[cluster.tls]`).
    pub fn node(&self, stem: &str) -> Leaf {
        let mut params = Self::server_params();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.sign(stem, params, KeyPair::generate().unwrap())
    }

    /// `[cluster.tls]` on, with `leaf` and this CA.
    pub fn cluster_tls(&self, leaf: &Leaf) -> warren::config::cluster::ClusterTlsSettings {
        warren::config::cluster::ClusterTlsSettings {
            enabled: true,
            certfile: leaf.cert_path.clone(),
            keyfile: leaf.key_path.clone(),
            cacertfile: self.ca_path.clone(),
            server_name: String::new(),
        }
    }

    /// A client certificate with subject `O=Warren Tests, CN=<cn>` (in certificate order;
    /// `CN=<cn>,O=Warren Tests` as RFC 4514 prints it).
    pub fn client(&self, stem: &str, cn: &str) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        // A fresh name: rcgen's default holds a CN that would come first.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Warren Tests");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(stem, params, KeyPair::generate().unwrap())
    }

    /// A rustls client config trusting this CA, presenting `identity` when given.
    pub fn client_config(&self, identity: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let builder =
            rustls::ClientConfig::builder_with_provider(Arc::new(warren::tls::crypto_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some(leaf) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
                )
                .unwrap(),
        };
        Arc::new(config)
    }

    /// lapin's TLS settings: trust this CA, present `identity` when given.
    pub fn lapin_tls(&self, identity: Option<&Leaf>) -> OwnedTLSConfig {
        OwnedTLSConfig {
            identity: identity.map(|leaf| OwnedIdentity::PKCS8 {
                pem: leaf.cert_pem.clone().into_bytes(),
                key: leaf.key_pem.clone().into_bytes(),
            }),
            cert_chain: Some(self.ca_pem.clone()),
        }
    }
}

/// Turns on the AMQPS listener on 127.0.0.1 (any port) with `server`'s files.
pub fn enable_tls(s: &mut Settings, server: &Leaf) {
    s.tls.listen = "127.0.0.1:0".to_string();
    s.tls.certfile = server.cert_path.clone();
    s.tls.keyfile = server.key_path.clone();
    s.tls.handshake_timeout_ms = 2_000;
}

/// Also asks clients for certificates signed by `pki`'s CA, and offers EXTERNAL.
pub fn verify_peers(s: &mut Settings, pki: &Pki, fail_if_no_peer_cert: bool) {
    s.tls.cacertfile = pki.ca_path.clone();
    s.tls.verify = warren::config::tls::TlsVerify::VerifyPeer;
    s.tls.fail_if_no_peer_cert = fail_if_no_peer_cert;
    s.auth.mechanisms = vec!["PLAIN".into(), "AMQPLAIN".into(), "EXTERNAL".into()];
}

impl TestBroker {
    /// The first AMQPS listener's address.
    pub fn tls_addr(&self) -> SocketAddr {
        self.server()
            .expect("a Warren under test")
            .tls_local_addrs()[0]
    }

    /// An `amqps://` URI for guest (the query may add `auth_mechanism=external`).
    pub fn amqps_uri(&self, query: &str) -> String {
        format!("amqps://guest:guest@{}/%2f{query}", self.tls_addr())
    }

    /// A lapin connection over TLS.
    pub async fn lapin_tls(
        &self,
        uri: &str,
        tls: OwnedTLSConfig,
    ) -> Result<lapin::Connection, lapin::Error> {
        let builder = lapin::ConnectionBuilder::new()
            .unwrap()
            .with_uri_str(uri.to_string())
            .with_tls_config(tls);
        guard(builder.connect()).await
    }

    /// An amqprs connection over TLS with `credentials`.
    pub async fn amqprs_tls(
        &self,
        config: Arc<rustls::ClientConfig>,
        credentials: amqprs::security::SecurityCredentials,
    ) -> Result<amqprs::connection::Connection, amqprs::error::Error> {
        let addr = self.tls_addr();
        let mut args =
            amqprs::connection::OpenConnectionArguments::new("127.0.0.1", addr.port(), "", "");
        args.credentials(credentials);
        args.tls_adaptor(amqprs::tls::TlsAdaptor::new(
            tokio_rustls::TlsConnector::from(config),
            "127.0.0.1".to_string(),
        ));
        guard(amqprs::connection::Connection::open(&args)).await
    }
}

/// A TLS connection to `addr` as 127.0.0.1, the handshake done.
pub async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = guard(TcpStream::connect(addr)).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]));
    guard(connector.connect(name, tcp)).await
}

/// Reads until the peer ends the stream; `Ok` with what was read at a clean end (TLS
/// close_notify or FIN), `Err` if the stream ended otherwise (a reset, a TLS alert).
pub async fn read_until_closed<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match guard(stream.read(&mut chunk)).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Writes a file atomically enough for a reload (the broker never sees half a file).
pub fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
