//! The PROXY protocol v1 line a cluster follower writes before the bytes of a client it
//! hands to the leader, so the leader sees the real client address (for `loopback_users`
//! and the connection list). Parsed with the `ppp` crate; taken only from trusted sources
//! (the cluster's own nodes), refused from anyone else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The start of a PROXY v1 line.
const PREFIX: &[u8] = b"PROXY ";
/// The longest PROXY v1 line, `\r\n` included (the specification's limit).
pub const MAX_LINE: usize = 107;
/// How long to wait between looks when a line arrived only in part (rare: the line is
/// written in one piece).
const PARTIAL_RETRY: Duration = Duration::from_millis(2);

/// Why a connection's PROXY line was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    /// A PROXY line from an address that is not one of the cluster's nodes.
    #[error("PROXY header from {0}, which is not a cluster peer")]
    Untrusted(IpAddr),
    /// The line is not a valid PROXY v1 line.
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    /// The whole line did not arrive in time.
    #[error("PROXY header not complete within {0:?}")]
    TimedOut(Duration),
    /// The socket failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
}

/// Takes a PROXY v1 line off the start of `tcp`, if the stream starts with one: returns the
/// client address it names (`None` when there is no line, or it says `UNKNOWN`; then the
/// socket's own peer address stands). Nothing is consumed when the stream starts with
/// anything else (an AMQP client's protocol header). A line from a source that is not
/// `trusted` is refused.
pub async fn take(
    tcp: &mut TcpStream,
    source: IpAddr,
    trusted: bool,
    timeout: Duration,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    tokio::time::timeout(timeout, take_now(tcp, source, trusted))
        .await
        .map_err(|_| ProxyHeaderError::TimedOut(timeout))?
}

async fn take_now(
    tcp: &mut TcpStream,
    source: IpAddr,
    trusted: bool,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let mut buf = [0u8; MAX_LINE];
    loop {
        let n = tcp.peek(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        let seen = &buf[..n];
        let k = n.min(PREFIX.len());
        if seen[..k] != PREFIX[..k] {
            return Ok(None);
        }
        if k == PREFIX.len() && !trusted {
            return Err(ProxyHeaderError::Untrusted(source));
        }
        if let Some(end) = seen.windows(2).position(|w| w == b"\r\n") {
            let line = &seen[..end + 2];
            let addr = parse(line)?;
            let mut consumed = vec![0u8; line.len()];
            tcp.read_exact(&mut consumed).await?;
            return Ok(addr);
        }
        if n == MAX_LINE {
            return Err(ProxyHeaderError::Malformed(format!(
                "no line end within {MAX_LINE} bytes"
            )));
        }
        // Only part of the line is here: look again shortly (bounded by the timeout).
        tokio::time::sleep(PARTIAL_RETRY).await;
    }
}

/// The client address a complete PROXY v1 `line` names.
pub fn parse(line: &[u8]) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let header =
        ppp::v1::Header::try_from(line).map_err(|e| ProxyHeaderError::Malformed(e.to_string()))?;
    Ok(match header.addresses {
        ppp::v1::Addresses::Tcp4(a) => {
            Some(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
        }
        ppp::v1::Addresses::Tcp6(a) => {
            Some(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
        }
        ppp::v1::Addresses::Unknown => None,
    })
}

/// The PROXY v1 line for a client at `client` that connected to `local`.
pub fn line(client: SocketAddr, local: SocketAddr) -> String {
    ppp::v1::Addresses::from((client, local)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_bad_ones_are_refused() {
        let client: SocketAddr = "10.1.2.3:4567".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5672".parse().unwrap();
        let l = line(client, local);
        assert_eq!(l, "PROXY TCP4 10.1.2.3 127.0.0.1 4567 5672\r\n");
        assert_eq!(parse(l.as_bytes()).unwrap(), Some(client));
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let l6 = line(v6, "[::1]:5672".parse().unwrap());
        assert_eq!(parse(l6.as_bytes()).unwrap(), Some(v6));
        assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap(), None);
        assert!(parse(b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n").is_err());
        assert!(parse(b"PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n").is_err());
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        (a, b)
    }

    #[tokio::test]
    async fn a_trusted_line_is_consumed_and_amqp_left_alone() {
        use tokio::io::AsyncWriteExt;
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t = Duration::from_secs(5);
        let (mut a, mut b) = pair().await;
        a.write_all(b"PROXY TCP4 10.0.0.9 127.0.0.1 1000 5672\r\nAMQP\x00\x00\x09\x01")
            .await
            .unwrap();
        let got = take(&mut b, ip, true, t).await.unwrap();
        assert_eq!(got, Some("10.0.0.9:1000".parse().unwrap()));
        let mut rest = [0u8; 8];
        b.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"AMQP\x00\x00\x09\x01");

        let (mut a, mut b) = pair().await;
        a.write_all(b"AMQP\x00\x00\x09\x01").await.unwrap();
        assert_eq!(take(&mut b, ip, false, t).await.unwrap(), None);
        b.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"AMQP\x00\x00\x09\x01");

        let (mut a, mut b) = pair().await;
        a.write_all(b"PROXY TCP4 10.0.0.9 127.0.0.1 1000 5672\r\n")
            .await
            .unwrap();
        let refused = take(&mut b, ip, false, t).await;
        assert!(matches!(refused, Err(ProxyHeaderError::Untrusted(_))));

        let (mut a, mut b) = pair().await;
        a.write_all(&[b'P'; 10]).await.unwrap();
        assert_eq!(take(&mut b, ip, true, t).await.unwrap(), None);
        let (mut a, mut b) = pair().await;
        a.write_all(b"PROXY ").await.unwrap();
        a.write_all(&[b'x'; 200]).await.unwrap();
        assert!(matches!(
            take(&mut b, ip, true, t).await,
            Err(ProxyHeaderError::Malformed(_))
        ));
    }
}
