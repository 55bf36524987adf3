//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes. The length is
//! checked against a cap before anything is allocated.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame after the handshake (an append-entries batch or a snapshot chunk).
pub const MAX_FRAME: usize = 32 << 20;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed or closed mid-frame.
    #[error("cluster link I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer announced a frame over the cap.
    #[error("cluster peer sent a {len}-byte frame; the limit is {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The peer closed the connection between frames.
    #[error("cluster peer closed the connection")]
    Closed,
}

/// Reads one frame of at most `max` bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(FrameError::Io(e)),
    }
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Writes one frame and flushes.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    payload: &[u8],
) -> Result<(), FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len(),
        max: u32::MAX as usize,
    })?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(payload).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversized_ones_are_refused_before_allocating() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        write_frame(&mut a, b"hello").await.expect("write");
        assert_eq!(read_frame(&mut b, 16).await.expect("read"), b"hello");
        a.write_all(&u32::MAX.to_be_bytes()).await.expect("write");
        assert!(matches!(
            read_frame(&mut b, MAX_FRAME).await,
            Err(FrameError::TooLarge { .. })
        ));
        drop(a);
        assert!(matches!(
            read_frame(&mut b, 16).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_truncated_frame_is_an_error() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&[0, 0, 0, 9, 1, 2]).await.expect("write");
        drop(a);
        assert!(matches!(
            read_frame(&mut b, 16).await,
            Err(FrameError::Io(_))
        ));
    }
}
