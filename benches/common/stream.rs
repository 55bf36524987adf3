//! The load tool's socket: plain TCP or TLS (`amqps://`, tokio-rustls with the *ring*
//! provider and the CA bundle given by `--tls-ca`), split into halves the same way for both.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::client::TlsStream;

/// A rustls client config trusting the PEM CA certificates in `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("--tls-ca {}: {e}", ca_file.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("--tls-ca {}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("--tls-ca {}: {e}", ca_file.display()))?;
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(warren::tls::crypto_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A connected socket, plain or TLS (handshake done).
pub enum BenchStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl BenchStream {
    /// Connects to `addr`; with `tls`, runs the TLS handshake for the name `host`.
    pub async fn connect(
        addr: &str,
        tls: Option<(&Arc<rustls::ClientConfig>, &str)>,
    ) -> io::Result<BenchStream> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let Some((config, host)) = tls else {
            return Ok(BenchStream::Plain(tcp));
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await?;
        Ok(BenchStream::Tls(Box::new(stream)))
    }

    /// Splits into a read half and a write half.
    pub fn into_split(self) -> (BenchReader, BenchWriter) {
        match self {
            BenchStream::Plain(tcp) => {
                let (r, w) = tcp.into_split();
                (BenchReader::Plain(r), BenchWriter::Plain(w))
            }
            BenchStream::Tls(tls) => {
                let (r, w) = tokio::io::split(*tls);
                (BenchReader::Tls(r), BenchWriter::Tls(w))
            }
        }
    }
}

/// The read half of a [`BenchStream`].
pub enum BenchReader {
    /// Plain TCP.
    Plain(OwnedReadHalf),
    /// TLS.
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

/// The write half of a [`BenchStream`].
pub enum BenchWriter {
    /// Plain TCP.
    Plain(OwnedWriteHalf),
    /// TLS.
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

macro_rules! delegate_read {
    ($t:ty, $($v:ident),+) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$v(s) => Pin::new(s).poll_read(cx, buf),)+
                }
            }
        }
    };
}

macro_rules! delegate_write {
    ($t:ty, $($v:ident),+) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$v(s) => Pin::new(s).poll_write(cx, buf),)+
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$v(s) => Pin::new(s).poll_flush(cx),)+
                }
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$v(s) => Pin::new(s).poll_shutdown(cx),)+
                }
            }
        }
    };
}

delegate_read!(BenchStream, Plain, Tls);
delegate_write!(BenchStream, Plain, Tls);
delegate_read!(BenchReader, Plain, Tls);
delegate_write!(BenchWriter, Plain, Tls);
