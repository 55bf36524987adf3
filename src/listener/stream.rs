//! The one stream type a connection task gets, plain or TLS, split into halves for the
//! driver (reads) and the writer task (writes).
//!
//! An enum rather than a trait object or a generic: a `match` per read or write is all a
//! plain connection pays, and `Connection` stays one concrete type. Plain sockets split
//! without a lock (`TcpStream::into_split`); a TLS session is one state machine for both
//! directions, so its halves share it through `tokio::io::split`.

use rustls_pki_types::CertificateDer;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::server::TlsStream;

/// An accepted client connection.
#[derive(Debug)]
pub enum ClientStream {
    /// Plain AMQP.
    Plain(TcpStream),
    /// AMQP over TLS, the TLS handshake done.
    Tls(Box<TlsStream<TcpStream>>),
    /// An in-memory byte stream (the whole-connection fuzz harness); plain, no socket.
    Memory(DuplexStream),
}

/// What the connection knows about its transport.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// The connection runs over TLS.
    pub tls: bool,
    /// The client's certificate (leaf), when it sent one and it was verified.
    pub peer_certificate: Option<CertificateDer<'static>>,
}

impl ClientStream {
    /// What the connection knows about its transport.
    pub fn transport(&self) -> Transport {
        match self {
            ClientStream::Plain(_) | ClientStream::Memory(_) => Transport::default(),
            ClientStream::Tls(tls) => Transport {
                tls: true,
                peer_certificate: tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|c| c.clone().into_owned()),
            },
        }
    }

    /// The local address of the socket beneath (none for an in-memory stream).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            ClientStream::Plain(tcp) => tcp.local_addr(),
            ClientStream::Tls(tls) => tls.get_ref().0.local_addr(),
            ClientStream::Memory(_) => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }

    /// Disables Nagle's algorithm on the socket beneath.
    pub fn set_nodelay(&self) {
        let tcp = match self {
            ClientStream::Plain(tcp) => tcp,
            ClientStream::Tls(tls) => tls.get_ref().0,
            ClientStream::Memory(_) => return,
        };
        let _ = tcp.set_nodelay(true);
    }

    /// Splits into the read half (for the driver) and the write half (for the writer task).
    pub fn into_split(self) -> (StreamReader, StreamWriter) {
        match self {
            ClientStream::Plain(tcp) => {
                let (r, w) = tcp.into_split();
                (StreamReader::Plain(r), StreamWriter::Plain(w))
            }
            ClientStream::Tls(tls) => {
                let (r, w) = tokio::io::split(*tls);
                (StreamReader::Tls(r), StreamWriter::Tls(w))
            }
            ClientStream::Memory(stream) => {
                let (r, w) = tokio::io::split(stream);
                (StreamReader::Memory(r), StreamWriter::Memory(w))
            }
        }
    }
}

/// The read half of a [`ClientStream`].
#[derive(Debug)]
pub enum StreamReader {
    /// Plain TCP.
    Plain(OwnedReadHalf),
    /// TLS.
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
    /// In memory.
    Memory(tokio::io::ReadHalf<DuplexStream>),
}

/// The write half of a [`ClientStream`].
#[derive(Debug)]
pub enum StreamWriter {
    /// Plain TCP.
    Plain(OwnedWriteHalf),
    /// TLS.
    Tls(tokio::io::WriteHalf<TlsStream<TcpStream>>),
    /// In memory.
    Memory(tokio::io::WriteHalf<DuplexStream>),
}

impl AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            StreamReader::Plain(r) => Pin::new(r).poll_read(cx, buf),
            StreamReader::Tls(r) => Pin::new(r).poll_read(cx, buf),
            StreamReader::Memory(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            StreamWriter::Plain(w) => Pin::new(w).poll_write(cx, buf),
            StreamWriter::Tls(w) => Pin::new(w).poll_write(cx, buf),
            StreamWriter::Memory(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            StreamWriter::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            StreamWriter::Tls(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            StreamWriter::Memory(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            StreamWriter::Plain(w) => w.is_write_vectored(),
            StreamWriter::Tls(w) => w.is_write_vectored(),
            StreamWriter::Memory(w) => w.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            StreamWriter::Plain(w) => Pin::new(w).poll_flush(cx),
            StreamWriter::Tls(w) => Pin::new(w).poll_flush(cx),
            StreamWriter::Memory(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            StreamWriter::Plain(w) => Pin::new(w).poll_shutdown(cx),
            StreamWriter::Tls(w) => Pin::new(w).poll_shutdown(cx),
            StreamWriter::Memory(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}
