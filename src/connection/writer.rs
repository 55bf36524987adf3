//! The write half of a connection.
//!
//! The connection task encodes frames into its own `FrameSink` (no lock) while it handles a
//! batch of input, then hands the whole batch to the shared `Outbox` in one step. The writer
//! task drains the outbox and writes everything with vectored writes: one syscall per batch,
//! large bodies passed as the `Bytes` they arrived in (no copy).

use crate::listener::StreamWriter;
use crate::metrics::counters::connection::{SEND_CNT, SEND_OCT};
use crate::protocol::{
    FRAME_END, FrameType, Method, write_content_header_frame, write_frame_header,
    write_heartbeat_frame, write_method_frame,
};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// Bodies at least this large are passed through as their own `Bytes` instead of copied.
const ZERO_COPY_MIN: usize = 4096;
/// Size of the blocks frames are encoded into.
const BLOCK_SIZE: usize = 64 * 1024;
/// Header and end octet of a frame.
const FRAME_OVERHEAD_BYTES: usize = 8;
/// Most slices per vectored write.
const MAX_IOV: usize = 64;

/// Frames encoded by the connection task, not yet handed to the writer.
#[derive(Debug, Default)]
pub struct FrameSink {
    buf: BytesMut,
    chunks: Vec<Bytes>,
}

impl FrameSink {
    /// Appends a method frame.
    pub fn method(&mut self, channel: u16, method: &Method) {
        self.ensure(method.encoded_len() + 8);
        write_method_frame(&mut self.buf, channel, method);
    }

    /// Appends a heartbeat frame.
    pub fn heartbeat(&mut self) {
        self.ensure(8);
        write_heartbeat_frame(&mut self.buf);
    }

    /// Makes room for `n` more bytes without copying what is already encoded: a full block
    /// is handed on as a chunk and a fresh block started (growing one buffer by doubling
    /// would copy everything each time).
    fn ensure(&mut self, n: usize) {
        if self.buf.capacity() - self.buf.len() >= n {
            return;
        }
        if !self.buf.is_empty() {
            self.chunks.push(self.buf.split().freeze());
        }
        self.buf.reserve(n.max(BLOCK_SIZE));
    }

    /// Appends a content header and the body, cut into frames of at most `frame_max`.
    pub fn content(
        &mut self,
        channel: u16,
        raw_properties: &[u8],
        body: &[Bytes],
        body_size: u64,
        frame_max: u32,
    ) {
        let copied = usize::try_from(body_size)
            .unwrap_or(usize::MAX)
            .min(ZERO_COPY_MIN);
        self.ensure(raw_properties.len() + 24 + copied + 16);
        write_content_header_frame(
            &mut self.buf,
            channel,
            crate::protocol::CLASS_BASIC,
            body_size,
            raw_properties,
        );
        let max_payload = (frame_max as usize).saturating_sub(8).max(1);
        let mut chunk_idx = 0;
        let mut offset = 0;
        let mut left = usize::try_from(body_size).unwrap_or(usize::MAX);
        while left > 0 {
            let frame_len = left.min(max_payload);
            self.ensure(FRAME_OVERHEAD_BYTES + frame_len.min(ZERO_COPY_MIN));
            write_frame_header(&mut self.buf, FrameType::Body, channel, frame_len as u32);
            let mut need = frame_len;
            while need > 0 {
                let Some(chunk) = body.get(chunk_idx) else {
                    return;
                };
                let take = (chunk.len() - offset).min(need);
                self.push_body_piece(chunk, offset, take);
                need -= take;
                offset += take;
                if offset == chunk.len() {
                    chunk_idx += 1;
                    offset = 0;
                }
            }
            self.ensure(1);
            self.buf.extend_from_slice(&[FRAME_END]);
            left -= frame_len;
        }
    }

    /// Appends raw bytes (the protocol header sent to a client that spoke another version).
    pub fn push_raw(&mut self, bytes: Bytes) {
        self.buf.extend_from_slice(&bytes);
    }

    /// Large pieces go out as slices of the body (no copy); small ones are copied into the
    /// current block, which is cheaper than one more slice in the vectored write.
    fn push_body_piece(&mut self, chunk: &Bytes, offset: usize, len: usize) {
        if len >= ZERO_COPY_MIN {
            if !self.buf.is_empty() {
                self.chunks.push(self.buf.split().freeze());
            }
            self.chunks.push(chunk.slice(offset..offset + len));
        } else if let Some(piece) = chunk.get(offset..offset + len) {
            self.ensure(len + 1);
            self.buf.extend_from_slice(piece);
        }
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.chunks.is_empty()
    }

    /// Moves everything encoded so far into the outbox and wakes the writer.
    pub fn flush_to(&mut self, outbox: &Outbox) {
        if self.is_empty() {
            return;
        }
        if !self.buf.is_empty() {
            self.chunks.push(self.buf.split().freeze());
        }
        let bytes: usize = self.chunks.iter().map(Bytes::len).sum();
        outbox.flow.queued(bytes as u64);
        outbox.push(self.chunks.drain(..));
        // Start the next batch with a fresh block: keeping the tail of this one would pin a
        // whole block per idle connection.
        self.buf = BytesMut::new();
    }
}

/// Frames handed over by the connection task, drained by the writer task.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<VecDeque<Bytes>>,
    notify: Notify,
    closed: AtomicBool,
    /// Delivery bytes not yet written (consumers pause when it is over budget).
    pub flow: std::sync::Arc<crate::broker::consumer::OutboundFlow>,
    /// Socket counters: the writer counts what it sends, the connection task what it reads.
    pub io: std::sync::Arc<crate::metrics::counters::SocketStats>,
}

impl Outbox {
    fn push(&self, chunks: impl Iterator<Item = Bytes>) {
        self.queue.lock().extend(chunks);
        self.notify.notify_one();
    }

    /// Tells the writer to finish what is queued and stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// Runs until the outbox is closed and drained, or the socket fails.
pub async fn run_writer(outbox: std::sync::Arc<Outbox>, mut socket: StreamWriter) {
    let mut batch: Vec<Bytes> = Vec::new();
    loop {
        {
            let mut q = outbox.queue.lock();
            batch.extend(q.drain(..));
        }
        if batch.is_empty() {
            if outbox.closed.load(Ordering::Acquire) {
                break;
            }
            outbox.notify.notified().await;
            continue;
        }
        // A TLS session may keep records it could not write yet: flush pushes them out
        // (a no-op on plain TCP).
        // Counted as handed to the socket, so a client that has read them sees them counted.
        let written: usize = batch.iter().map(Bytes::len).sum();
        outbox.io.add(SEND_OCT, written as u64);
        outbox.io.add(SEND_CNT, 1);
        if write_all_vectored(&mut socket, &batch).await.is_err() || socket.flush().await.is_err() {
            break;
        }
        outbox.flow.written(written as u64);
        batch.clear();
    }
    let _ = socket.shutdown().await;
}

async fn write_all_vectored(socket: &mut StreamWriter, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut idx = 0;
    let mut offset = 0;
    while idx < chunks.len() {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(MAX_IOV.min(chunks.len() - idx));
        for (i, chunk) in chunks.iter().enumerate().skip(idx).take(MAX_IOV) {
            let start = if i == idx { offset } else { 0 };
            if let Some(rest) = chunk.get(start..) {
                slices.push(IoSlice::new(rest));
            }
        }
        let mut written = socket.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 && idx < chunks.len() {
            let left = chunks[idx].len() - offset;
            if written >= left {
                written -= left;
                idx += 1;
                offset = 0;
            } else {
                offset += written;
                written = 0;
            }
        }
    }
    Ok(())
}
