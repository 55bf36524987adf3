//! Broker URI (`amqp://` and `amqps://`) to the client's connection arguments.

use std::path::Path;
use std::sync::Arc;

use amqprs::connection::OpenConnectionArguments;
use amqprs::tls::TlsAdaptor;
use percent_encoding::percent_decode_str;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::error::PerfError;

/// Parses `uri` into connection arguments; `ca_file` is trusted for `amqps://`.
pub fn connection_args(
    uri: &str,
    ca_file: Option<&Path>,
    name: &str,
) -> Result<OpenConnectionArguments, PerfError> {
    let bad = |reason: &str| PerfError::Uri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(uri).map_err(|e| bad(&e.to_string()))?;
    let tls = match parsed.scheme() {
        "amqp" => false,
        "amqps" => true,
        _ => return Err(bad("the scheme must be amqp or amqps")),
    };
    let host = parsed.host_str().unwrap_or("localhost").to_string();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port().unwrap_or(if tls { 5671 } else { 5672 });
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = match parsed.username() {
        "" => "guest".to_string(),
        u => decode(u),
    };
    let pass = parsed
        .password()
        .map_or_else(|| "guest".to_string(), decode);
    let vhost = match parsed.path().strip_prefix('/').unwrap_or("") {
        "" => "/".to_string(),
        p if p.contains('/') => return Err(bad("the vhost must be one path segment (use %2f)")),
        p => decode(p),
    };
    let mut args = OpenConnectionArguments::new(&host, port, &user, &pass);
    args.virtual_host(&vhost).connection_name(name);
    if tls {
        args.tls_adaptor(tls_adaptor(&host, ca_file)?);
    }
    Ok(args.finish())
}

/// A TLS connector trusting `ca_file`, or the public web roots without one.
fn tls_adaptor(host: &str, ca_file: Option<&Path>) -> Result<TlsAdaptor, PerfError> {
    let Some(path) = ca_file else {
        return TlsAdaptor::without_client_auth(None, host.to_string()).map_err(|e| {
            PerfError::CaFile {
                path: "(web roots)".into(),
                reason: e.to_string(),
            }
        });
    };
    let ca_err = |reason: String| PerfError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| ca_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_err(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(ca_err("no certificate found".into()));
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(crate::tls::crypto_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ca_err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    Ok(TlsAdaptor::new(connector, host.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_port_and_vhost() {
        let args = connection_args("amqp://bob:s%40cret@10.0.0.1:5699/%2f", None, "t").unwrap();
        assert_eq!(args.get_host(), "10.0.0.1");
        assert_eq!(args.get_port(), 5699);
        assert_eq!(args.get_virtual_host(), "/");
        let args = connection_args("amqp://h/prod", None, "t").unwrap();
        assert_eq!(args.get_port(), 5672);
        assert_eq!(args.get_virtual_host(), "prod");
        let args = connection_args("amqp://h", None, "t").unwrap();
        assert_eq!(args.get_virtual_host(), "/");
    }

    #[test]
    fn rejects_other_schemes() {
        assert!(matches!(
            connection_args("http://h/", None, "t"),
            Err(PerfError::Uri { .. })
        ));
    }
}
