//! Building a rustls `ServerConfig` from [`TlsSettings`], checking what rustls would only
//! find out at the first handshake (a key for another certificate, an expired certificate).

use super::TlsError;
use crate::config::tls::{TlsSettings, TlsVerify};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Builds the server config described by `settings`: the chain in `certfile`, the key in
/// `keyfile` (checked to match the leaf), client verification against `cacertfile` with
/// `verify_peer`, and the `versions` and `ciphers` allowed. Reusable by any TLS listener.
pub fn load_server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(provider(&settings.ciphers)?);
    let chain = read_chain(settings)?;
    let key = read_key(settings)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::Invalid {
            key: "tls.keyfile",
            reason: format!("unusable private key: {e}"),
        })?;
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
        CertifiedKey::new(chain.clone(), signing_key).keys_match()
    {
        return Err(TlsError::KeyMismatch {
            keyfile: settings.keyfile.clone(),
            certfile: settings.certfile.clone(),
        });
    }

    let versions = versions(&settings.versions);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Invalid {
            key: "tls.ciphers",
            reason: format!("no cipher suite left for tls.versions: {e}"),
        })?;
    let builder = match settings.verify {
        TlsVerify::VerifyNone => builder.with_no_client_auth(),
        TlsVerify::VerifyPeer => {
            let roots = read_roots(settings)?;
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if !settings.fail_if_no_peer_cert {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier.build().map_err(|e| TlsError::Invalid {
                key: "tls.cacertfile",
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Invalid {
            key: "tls.keyfile",
            reason: e.to_string(),
        })?;
    Ok(Arc::new(config))
}

/// Builds a client config that trusts only the CAs in `cacertfile` and presents the chain
/// in `certfile` with the key in `keyfile` (mutual TLS between peers, such as cluster
/// nodes), with the `versions` and `ciphers` allowed.
pub fn load_client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(provider(&settings.ciphers)?);
    let chain = read_chain(settings)?;
    let key = read_key(settings)?;
    let roots = read_roots(settings)?;
    let versions = versions(&settings.versions);
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Invalid {
            key: "tls.ciphers",
            reason: format!("no cipher suite left for tls.versions: {e}"),
        })?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| TlsError::Invalid {
            key: "tls.keyfile",
            reason: e.to_string(),
        })?;
    Ok(Arc::new(config))
}

/// The certificate chain in `certfile`, its leaf checked to be valid now.
fn read_chain(settings: &TlsSettings) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = read_certs("tls.certfile", &settings.certfile)?;
    if let Some(leaf) = chain.first() {
        check_validity("tls.certfile", &settings.certfile, leaf)?;
    }
    Ok(chain)
}

/// The private key in `keyfile`.
fn read_key(settings: &TlsSettings) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(&settings.keyfile).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Missing {
            key: "tls.keyfile",
            path: settings.keyfile.clone(),
            what: "private key",
        },
        source => TlsError::Read {
            key: "tls.keyfile",
            path: settings.keyfile.clone(),
            source,
        },
    })
}

/// The CA certificates in `cacertfile`.
fn read_roots(settings: &TlsSettings) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs("tls.cacertfile", &settings.cacertfile)? {
        roots.add(cert).map_err(|e| TlsError::Certificate {
            key: "tls.cacertfile",
            path: settings.cacertfile.clone(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}

/// ring's provider, with only the named cipher suites when `ciphers` is not empty.
fn provider(ciphers: &[String]) -> Result<CryptoProvider, TlsError> {
    let mut provider = super::crypto_provider();
    if ciphers.is_empty() {
        return Ok(provider);
    }
    let mut chosen = Vec::with_capacity(ciphers.len());
    for name in ciphers {
        let suite = provider
            .cipher_suites
            .iter()
            .find(|s| suite_name(s).eq_ignore_ascii_case(name))
            .ok_or_else(|| TlsError::Invalid {
                key: "tls.ciphers",
                reason: format!(
                    "unknown cipher suite {name:?}; known: {}",
                    provider
                        .cipher_suites
                        .iter()
                        .map(suite_name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        chosen.push(*suite);
    }
    provider.cipher_suites = chosen;
    Ok(provider)
}

/// The IANA name rustls gives a suite, e.g. `TLS13_AES_128_GCM_SHA256`.
fn suite_name(suite: &rustls::SupportedCipherSuite) -> String {
    format!("{:?}", suite.suite())
}

fn versions(names: &[String]) -> Vec<&'static SupportedProtocolVersion> {
    names
        .iter()
        .filter_map(|v| match v.as_str() {
            "tlsv1.3" => Some(&rustls::version::TLS13),
            "tlsv1.2" => Some(&rustls::version::TLS12),
            _ => None,
        })
        .collect()
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_error = |source| TlsError::Read {
        key,
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            key,
            path: path.to_path_buf(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// Refuses a leaf certificate that cannot be parsed or is outside its validity period now:
/// every client would refuse it at the handshake.
fn check_validity(
    key: &'static str,
    path: &Path,
    cert: &CertificateDer<'_>,
) -> Result<(), TlsError> {
    let fail = |reason: String| TlsError::Certificate {
        key,
        path: path.to_path_buf(),
        reason,
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| fail(format!("not a valid X.509 certificate: {e}")))?;
    let validity = parsed.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(fail(format!(
            "the certificate expired on {}; renew it",
            validity.not_after
        )));
    }
    if now < validity.not_before {
        return Err(fail(format!(
            "the certificate is not valid before {}",
            validity.not_before
        )));
    }
    Ok(())
}
