//! The peer handshake: both sides prove they know the shared secret (HMAC-SHA256 over fresh
//! nonces from both sides) before any Raft message is read. It authenticates, it does not
//! encrypt: with `[cluster.tls]` it runs inside mutual TLS ([`super::peer_tls`]); without,
//! run the cluster port on a trusted network.
//!
//! ```text
//! acceptor  → dialer   : "WRNC" 1 nonce_a[32]
//! dialer    → acceptor : from_id u64 BE, nonce_d[32], HMAC(secret, "dial" nonce_a nonce_d from_id)
//! acceptor  → dialer   : HMAC(secret, "accept" nonce_d nonce_a from_id)
//! ```
//! Every handshake frame has a fixed size; anything else closes the connection.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};

use super::frame::{FrameError, read_frame, write_frame};

const MAGIC: &[u8; 4] = b"WRNC";
const VERSION: u8 = 1;
const NONCE: usize = 32;
const MAC: usize = 32;
const HELLO_LEN: usize = 4 + 1 + NONCE;
const PROOF_LEN: usize = 8 + NONCE + MAC;

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The link failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The other side is not a Warren cluster port of this version.
    #[error("not a Warren cluster peer (bad greeting)")]
    Protocol,
    /// The other side does not know the shared secret.
    #[error("cluster peer failed authentication (different cluster.secret_file?)")]
    BadSecret,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], label: &[u8], first: &[u8], second: &[u8], from: u64) -> HmacSha256 {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => HmacSha256::new(&Default::default()),
    };
    m.update(label);
    m.update(first);
    m.update(second);
    m.update(&from.to_be_bytes());
    m
}

fn nonce() -> [u8; NONCE] {
    rand::random()
}

/// The accepting side. Returns the dialer's claimed node id (0 for an admin client).
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8],
) -> Result<u64, AuthError> {
    let nonce_a = nonce();
    let mut hello = Vec::with_capacity(HELLO_LEN);
    hello.extend_from_slice(MAGIC);
    hello.push(VERSION);
    hello.extend_from_slice(&nonce_a);
    write_frame(stream, &hello).await?;
    let proof = read_frame(stream, PROOF_LEN).await?;
    let (Some(from), Some(nonce_d), Some(tag)) = (
        proof.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()),
        proof.get(8..8 + NONCE),
        proof.get(8 + NONCE..),
    ) else {
        return Err(AuthError::Protocol);
    };
    if tag.len() != MAC {
        return Err(AuthError::Protocol);
    }
    let from = u64::from_be_bytes(from);
    mac(secret, b"dial", &nonce_a, nonce_d, from)
        .verify_slice(tag)
        .map_err(|_| AuthError::BadSecret)?;
    let reply = mac(secret, b"accept", nonce_d, &nonce_a, from)
        .finalize()
        .into_bytes();
    write_frame(stream, &reply).await?;
    Ok(from)
}

/// The dialing side, as node `from` (0 for an admin client).
pub async fn dial<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8],
    from: u64,
) -> Result<(), AuthError> {
    let hello = read_frame(stream, HELLO_LEN).await?;
    if hello.len() != HELLO_LEN || &hello[..4] != MAGIC || hello[4] != VERSION {
        return Err(AuthError::Protocol);
    }
    let nonce_a = &hello[5..];
    let nonce_d = nonce();
    let tag = mac(secret, b"dial", nonce_a, &nonce_d, from)
        .finalize()
        .into_bytes();
    let mut proof = Vec::with_capacity(PROOF_LEN);
    proof.extend_from_slice(&from.to_be_bytes());
    proof.extend_from_slice(&nonce_d);
    proof.extend_from_slice(&tag);
    write_frame(stream, &proof).await?;
    let reply = match read_frame(stream, MAC).await {
        Ok(reply) => reply,
        // The acceptor closes without a word when our proof is wrong.
        Err(FrameError::Closed) => return Err(AuthError::BadSecret),
        Err(e) => return Err(e.into()),
    };
    mac(secret, b"accept", &nonce_d, nonce_a, from)
        .verify_slice(&reply)
        .map_err(|_| AuthError::BadSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_secret_authenticates_both_ways() {
        let (mut a, mut d) = tokio::io::duplex(4096);
        let (accepted, dialed) = tokio::join!(
            accept(&mut a, b"0123456789abcdef"),
            dial(&mut d, b"0123456789abcdef", 7)
        );
        assert_eq!(accepted.expect("accept"), 7);
        dialed.expect("dial");
    }

    #[tokio::test]
    async fn a_different_secret_is_refused_on_both_sides() {
        let (mut a, mut d) = tokio::io::duplex(4096);
        let acceptor = async {
            let r = accept(&mut a, b"0123456789abcdef").await;
            drop(a);
            r
        };
        let (accepted, dialed) = tokio::join!(acceptor, dial(&mut d, b"fedcba9876543210", 2));
        assert!(matches!(accepted, Err(AuthError::BadSecret)));
        assert!(matches!(dialed, Err(AuthError::BadSecret)));
    }

    #[tokio::test]
    async fn garbage_greetings_and_proofs_are_refused() {
        let (mut a, mut d) = tokio::io::duplex(4096);
        write_frame(&mut a, b"HTTP/1.1 200 OK")
            .await
            .expect("write");
        assert!(matches!(
            dial(&mut d, b"0123456789abcdef", 1).await,
            Err(AuthError::Frame(FrameError::TooLarge { .. }) | AuthError::Protocol)
        ));
        let (mut a, mut d) = tokio::io::duplex(4096);
        let acceptor = tokio::spawn(async move { accept(&mut a, b"0123456789abcdef").await });
        read_frame(&mut d, HELLO_LEN).await.expect("hello");
        write_frame(&mut d, &[0u8; 10]).await.expect("short proof");
        assert!(matches!(
            acceptor.await.expect("join"),
            Err(AuthError::Protocol)
        ));
    }
}
