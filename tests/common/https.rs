//! An HTTPS client for tests: tokio-rustls with the test PKI's client config (so the test
//! sees the server's certificate and can present its own), HTTP/1.1 by hyper on top.

use super::guard;
use super::tls::tls_connect;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// `guest:guest` as a Basic authorization header value.
pub const GUEST: &str = "Basic Z3Vlc3Q6Z3Vlc3Q=";

/// An HTTP/1.1 connection over TLS, and the certificate the server presented.
pub struct Https {
    /// The HTTP/1.1 connection.
    pub sender: SendRequest<Empty<Bytes>>,
    /// The server's leaf certificate.
    pub server_cert: CertificateDer<'static>,
}

/// A reply: status, content type, body.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The Content-Type header (empty when absent).
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Connects to `addr` with `config` (the TLS handshake done) and starts HTTP/1.1 on it.
pub async fn https(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::io::Result<Https> {
    let tls = tls_connect(addr, config).await?;
    let server_cert = tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    let io = hyper_util::rt::TokioIo::new(tls);
    let (sender, conn) = guard(hyper::client::conn::http1::handshake(io))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(Https {
        sender,
        server_cert,
    })
}

impl Https {
    /// `GET path`, with guest's credentials when `auth`.
    pub async fn get(&mut self, path: &str, auth: bool) -> Result<Reply, hyper::Error> {
        let mut request = hyper::Request::get(path).header(hyper::header::HOST, "127.0.0.1");
        if auth {
            request = request.header(hyper::header::AUTHORIZATION, GUEST);
        }
        let request = request.body(Empty::new()).unwrap();
        let response = guard(self.sender.send_request(request)).await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = guard(response.into_body().collect()).await?.to_bytes();
        Ok(Reply {
            status,
            content_type,
            body: body.to_vec(),
        })
    }
}
