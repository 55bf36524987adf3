//! Writing a batch of frames straight to a plain TCP socket from the connection task.
//!
//! A delivery at a moderate rate used to take two task wake-ups inside the broker after the
//! publisher's: the consumer's connection task (inbox) and then its writer task (outbox).
//! When the writer is idle with nothing queued, the connection task now writes the batch
//! itself with a non-blocking vectored write, and the writer is only woken for what the
//! socket did not take (issue #11, tail latency: every wake-up can wait for a CPU when the
//! machine is busy). The caller ([`super::writer::Outbox`]) decides when this is allowed and
//! holds the outbox lock meanwhile, which keeps frames in order.

use bytes::{Buf, Bytes};
use std::io::IoSlice;
use tokio::net::TcpStream;

/// Most slices per vectored write.
const MAX_IOV: usize = 64;

/// Writes as much of `chunks` as `tcp` takes without blocking and removes what was written
/// (a chunk written in part keeps its unwritten tail). Returns the bytes written. Stops at
/// the first write that would block or fails: what is left goes to the writer task, which
/// waits for the socket or sees the same error and ends the connection's writing.
pub(super) fn write_now(tcp: &TcpStream, chunks: &mut Vec<Bytes>) -> usize {
    let mut total = 0;
    while !chunks.is_empty() {
        let slices: Vec<IoSlice<'_>> = chunks
            .iter()
            .take(MAX_IOV)
            .map(|c| IoSlice::new(c))
            .collect();
        let mut written = match tcp.try_write_vectored(&slices) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        total += written;
        let mut done = 0;
        for chunk in chunks.iter_mut() {
            if written >= chunk.len() {
                written -= chunk.len();
                done += 1;
            } else {
                chunk.advance(written);
                break;
            }
        }
        chunks.drain(..done);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.expect("connect"), accepted.expect("accept").0)
    }

    /// Waits until the socket is known to be writable, so the first try is not refused.
    async fn writable(tcp: &TcpStream) {
        tcp.writable().await.expect("writable");
    }

    #[tokio::test]
    async fn writes_everything_in_order_when_the_socket_takes_it() {
        let (client, server) = pair().await;
        writable(&server).await;
        let mut chunks: Vec<Bytes> = (0..200u32)
            .map(|i| Bytes::from(i.to_be_bytes().to_vec()))
            .collect();
        let written = write_now(&server, &mut chunks);
        assert_eq!(written, 800);
        assert!(chunks.is_empty());
        let mut got = vec![0u8; 800];
        let mut client = client;
        client.read_exact(&mut got).await.expect("read");
        let expected: Vec<u8> = (0..200u32).flat_map(u32::to_be_bytes).collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn leaves_the_unwritten_tail_when_the_socket_is_full() {
        let (mut client, server) = pair().await;
        writable(&server).await;
        // Far more than the socket buffers hold while the peer reads nothing.
        let body: Vec<u8> = (0..32 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let mut chunks = vec![Bytes::from(body.clone())];
        let written = write_now(&server, &mut chunks);
        assert!(written > 0 && written < body.len(), "wrote {written}");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), body.len() - written);
        assert_eq!(chunks[0][..], body[written..]);
        // What was written arrives intact.
        let mut got = vec![0u8; written];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(got[..], body[..written]);
    }
}
