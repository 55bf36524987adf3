//! Durability workloads on the raw client: a confirm-mode publisher that keeps a bounded
//! number of publishes in flight and times each one until its basic.ack, and a consumer that
//! checks every message arrives exactly once and in order (bodies carry a sequence number).
//!
//! Message `seq` (0-based) goes to queue `seq % queues.len()`, so queue `q` must deliver
//! `q, q + n, q + 2n, …` in that order.

use super::{RawConn, close_error};
use bytes::BytesMut;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Duration, Instant};
use warren::protocol::{
    BasicAck, BasicConsume, BasicProperties, BasicPublish, ConfirmSelect, ConnectionClose,
    FrameType, Method, QueueDeclare, QueueDeclareOk, QueueDelete, ShortStr, read_frame,
    write_body_frame, write_content_header_frame, write_heartbeat_frame, write_method_frame,
};

/// Bytes of a body that hold its sequence number (big-endian u64).
pub const SEQ_BYTES: usize = 8;
/// Hang guard while waiting for the last confirms or deliveries.
const DRAIN_GUARD: Duration = Duration::from_secs(600);
/// A consumer acks what it holds once no delivery arrived for this long.
const IDLE_ACK: Duration = Duration::from_millis(20);

impl RawConn {
    /// queue.declare with every field given; returns declare-ok (name and counts).
    pub async fn declare(
        &mut self,
        channel: u16,
        declare: QueueDeclare,
    ) -> io::Result<QueueDeclareOk> {
        self.send(channel, &Method::QueueDeclare(declare)).await?;
        match self
            .expect(
                |m| matches!(m, Method::QueueDeclareOk(_)),
                "queue.declare-ok",
            )
            .await?
        {
            Method::QueueDeclareOk(ok) => Ok(ok),
            _ => Err(io::Error::other("queue.declare-ok expected")),
        }
    }

    /// Declares a durable, non-exclusive, non-auto-delete queue; returns its message count.
    pub async fn declare_durable(&mut self, channel: u16, name: &str) -> io::Result<u32> {
        let declare = QueueDeclare {
            queue: ShortStr::truncated(name),
            durable: true,
            ..QueueDeclare::default()
        };
        Ok(self.declare(channel, declare).await?.message_count)
    }

    /// Passive queue.declare; returns the queue's ready message count.
    pub async fn declare_passive(&mut self, channel: u16, name: &str) -> io::Result<u32> {
        let declare = QueueDeclare {
            queue: ShortStr::truncated(name),
            passive: true,
            ..QueueDeclare::default()
        };
        Ok(self.declare(channel, declare).await?.message_count)
    }

    /// queue.delete; returns how many messages went with it.
    pub async fn delete_queue(&mut self, channel: u16, name: &str) -> io::Result<u32> {
        let delete = QueueDelete {
            queue: ShortStr::truncated(name),
            ..QueueDelete::default()
        };
        self.send(channel, &Method::QueueDelete(delete)).await?;
        match self
            .expect(|m| matches!(m, Method::QueueDeleteOk(_)), "queue.delete-ok")
            .await?
        {
            Method::QueueDeleteOk(ok) => Ok(ok.message_count),
            _ => Err(io::Error::other("queue.delete-ok expected")),
        }
    }

    /// confirm.select on `channel`.
    pub async fn confirm_select(&mut self, channel: u16) -> io::Result<()> {
        self.send(
            channel,
            &Method::ConfirmSelect(ConfirmSelect { nowait: false }),
        )
        .await?;
        self.expect(
            |m| matches!(m, Method::ConfirmSelectOk(_)),
            "confirm.select-ok",
        )
        .await
        .map(drop)
    }
}

/// What a confirm-mode publisher sends.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    /// Routing keys (default exchange), used round-robin.
    pub queues: Vec<ShortStr>,
    /// Body size in bytes (at least [`SEQ_BYTES`]).
    pub body_len: usize,
    /// delivery-mode 2 when true, else 1.
    pub persistent: bool,
    /// Publish exactly this many, then wait for their confirms; `None`: until stopped.
    pub total: Option<u64>,
    /// Most publishes sent but not yet confirmed.
    pub max_in_flight: usize,
    /// Most messages handed to one socket write.
    pub batch: usize,
}

/// Counters a publisher updates as it goes (read by samplers).
#[derive(Debug, Default)]
pub struct PubStats {
    /// Messages written to the socket.
    pub published: AtomicU64,
    /// Messages confirmed with basic.ack.
    pub confirmed: AtomicU64,
    /// Messages refused with basic.nack.
    pub nacked: AtomicU64,
    /// connection.blocked notifications received.
    pub blocked: AtomicU64,
    /// While true, each confirm's latency is recorded.
    pub recording: AtomicBool,
}

/// Publishes under `plan` on channel 1 of `conn` (confirm.select must not have been sent
/// yet); returns the recorded confirm latencies in microseconds. On stop (or once `total`
/// are sent) it waits for every outstanding confirm, then closes the connection.
pub async fn run_publisher(
    mut conn: RawConn,
    plan: PublishPlan,
    stats: Arc<PubStats>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<Vec<u32>> {
    conn.confirm_select(1).await?;
    let RawConn { stream, rbuf, .. } = conn;
    let (reader, mut writer) = stream.into_split();
    let pending: Arc<parking_lot::Mutex<BTreeMap<u64, Instant>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(plan.max_in_flight));
    let reader_task = tokio::spawn(confirm_reader(
        reader,
        rbuf,
        Arc::clone(&pending),
        Arc::clone(&permits),
        Arc::clone(&stats),
    ));
    let props = BasicProperties {
        delivery_mode: Some(if plan.persistent { 2 } else { 1 }),
        ..BasicProperties::default()
    }
    .to_raw();
    // Publish method frame + content header frame, per routing key.
    let prefixes: Vec<BytesMut> = plan
        .queues
        .iter()
        .map(|q| {
            let mut b = BytesMut::new();
            let publish = BasicPublish {
                routing_key: q.clone(),
                ..BasicPublish::default()
            };
            write_method_frame(&mut b, 1, &Method::BasicPublish(publish));
            write_content_header_frame(&mut b, 1, 60, plan.body_len as u64, &props);
            b
        })
        .collect();
    let mut body = vec![b'x'; plan.body_len.max(SEQ_BYTES)];
    let mut out = BytesMut::with_capacity(plan.batch * (plan.body_len + 128));
    let mut seq = 0u64;
    let limit = plan.total.unwrap_or(u64::MAX);
    while seq < limit && !*stop.borrow() {
        tokio::select! {
            permit = permits.acquire() => match permit {
                Ok(p) => p.forget(),
                Err(_) => break, // the reader failed; its error is reported below
            },
            _ = stop.changed() => continue,
        }
        let room = (limit - seq).min(plan.batch as u64) as usize;
        let extra = permits.available_permits().min(room.saturating_sub(1));
        if extra > 0
            && let Ok(p) = permits.try_acquire_many(extra as u32)
        {
            p.forget();
        }
        let n = 1 + extra as u64;
        out.clear();
        for s in seq..seq + n {
            let q = (s % prefixes.len() as u64) as usize;
            if let Some(prefix) = prefixes.get(q) {
                out.extend_from_slice(prefix);
            }
            if let Some(head) = body.get_mut(..SEQ_BYTES) {
                head.copy_from_slice(&s.to_be_bytes());
            }
            write_body_frame(&mut out, 1, &body);
        }
        {
            let now = Instant::now();
            let mut map = pending.lock();
            // Delivery tags of a confirm channel count from 1.
            for tag in seq + 1..=seq + n {
                map.insert(tag, now);
            }
        }
        writer.write_all(&out).await?;
        seq += n;
        stats.published.fetch_add(n, Ordering::Relaxed);
    }
    // Wait until every publish is confirmed (all permits back), unless the reader failed.
    let all = u32::try_from(plan.max_in_flight).unwrap_or(u32::MAX);
    if !reader_task.is_finished() {
        match tokio::time::timeout(DRAIN_GUARD, permits.acquire_many(all)).await {
            Err(_) => return Err(io::Error::other("outstanding confirms never arrived")),
            Ok(Ok(p)) => p.forget(),
            Ok(Err(_)) => {}
        }
    }
    let mut close = BytesMut::new();
    let method = Method::ConnectionClose(ConnectionClose {
        reply_code: 200,
        reply_text: ShortStr::from_static("bench done"),
        class_id: 0,
        method_id: 0,
    });
    write_method_frame(&mut close, 0, &method);
    let _ = writer.write_all(&close).await;
    reader_task
        .await
        .map_err(|e| io::Error::other(format!("confirm reader panicked: {e}")))?
}

/// Reads basic.ack / basic.nack (single or multiple) until connection.close-ok, returning
/// permits and recording latencies; closes `permits` on failure so the writer stops.
async fn confirm_reader(
    mut reader: super::BenchReader,
    mut rbuf: BytesMut,
    pending: Arc<parking_lot::Mutex<BTreeMap<u64, Instant>>>,
    permits: Arc<Semaphore>,
    stats: Arc<PubStats>,
) -> io::Result<Vec<u32>> {
    let mut latencies = Vec::new();
    let result = async {
        loop {
            while let Some(frame) = read_frame(&mut rbuf, 0).map_err(io::Error::other)? {
                if frame.frame_type != FrameType::Method {
                    continue;
                }
                let method = Method::decode(frame.payload).map_err(io::Error::other)?;
                let (tag, multiple, acked) = match method {
                    Method::BasicAck(a) => (a.delivery_tag, a.multiple, true),
                    Method::BasicNack(n) => (n.delivery_tag, n.multiple, false),
                    Method::ConnectionCloseOk(_) => return Ok(()),
                    Method::ConnectionBlocked(_) => {
                        stats.blocked.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    other => match close_error(&other) {
                        Some(err) => return Err(err),
                        None => continue,
                    },
                };
                let now = Instant::now();
                let done: Vec<Instant> = {
                    let mut map = pending.lock();
                    if multiple {
                        let rest = map.split_off(&(tag + 1));
                        std::mem::replace(&mut *map, rest).into_values().collect()
                    } else {
                        map.remove(&tag).into_iter().collect()
                    }
                };
                let n = done.len() as u64;
                if stats.recording.load(Ordering::Relaxed) {
                    latencies.extend(done.iter().map(|t| {
                        u32::try_from(now.duration_since(*t).as_micros()).unwrap_or(u32::MAX)
                    }));
                }
                let counter = if acked {
                    &stats.confirmed
                } else {
                    &stats.nacked
                };
                counter.fetch_add(n, Ordering::Relaxed);
                permits.add_permits(done.len());
            }
            rbuf.reserve(4096);
            if reader.read_buf(&mut rbuf).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
        }
    }
    .await;
    if result.is_err() {
        permits.close();
    }
    result.map(|()| latencies)
}

/// What a checking consumer reads.
#[derive(Debug, Clone)]
pub struct ConsumePlan {
    /// Queues to consume from (one consumer each, all on channel 1).
    pub queues: Vec<ShortStr>,
    /// basic.qos prefetch count (per consumer).
    pub prefetch: u16,
    /// Ack (multiple) once this many deliveries are unacknowledged; 0: never ack.
    pub ack_every: u64,
    /// Number of queues the publisher spread over (for the order check).
    pub spread: u64,
}

/// Counters a consumer updates as it goes.
#[derive(Debug, Default)]
pub struct ConsStats {
    /// Messages delivered.
    pub delivered: AtomicU64,
}

/// What a checking consumer found.
#[derive(Debug, Default, Clone)]
pub struct ConsumeReport {
    /// Messages delivered.
    pub delivered: u64,
    /// Of those, flagged redelivered.
    pub redelivered: u64,
    /// Deliveries whose sequence number was not the one expected next for its queue.
    pub out_of_order: u64,
    /// The first few of those, described.
    pub examples: Vec<String>,
}

/// Consumes with manual acks, checking each queue's sequence numbers run on without gaps,
/// duplicates or reordering from `q` for queue `q`. It stops, after acking, once as many
/// messages arrived as `limit` currently says (`u64::MAX`: until told otherwise; 0: now),
/// then closes the connection (unacked messages, if any, are requeued by the broker).
pub async fn run_consumer(
    mut conn: RawConn,
    plan: ConsumePlan,
    stats: Arc<ConsStats>,
    mut limit: watch::Receiver<u64>,
) -> io::Result<ConsumeReport> {
    conn.qos(1, plan.prefetch).await?;
    let mut out = BytesMut::new();
    for (i, q) in plan.queues.iter().enumerate() {
        let consume = BasicConsume {
            queue: q.clone(),
            consumer_tag: ShortStr::truncated(&format!("durbench-{i}")),
            ..BasicConsume::default()
        };
        write_method_frame(&mut out, 1, &Method::BasicConsume(consume));
    }
    conn.stream.write_all(&out).await?;
    out.clear();
    let spread = plan.spread.max(1);
    let mut next: HashMap<u64, u64> = HashMap::new();
    let mut report = ConsumeReport::default();
    // `last_tag`: the newest delivery whose body arrived (only those are acked, so a
    // multiple ack never covers a delivery still being read and no tag is acked twice).
    let (mut unacked, mut last_tag, mut body_tag, mut want_body) = (0u64, 0u64, 0u64, false);
    // Set when nothing arrived for a moment: ack what is pending, lest consumers that each
    // hold `prefetch` unacked deliveries wait for an ack that waits for more deliveries.
    let mut idle = false;
    conn.rbuf.reserve(256 * 1024);
    loop {
        let max = *limit.borrow_and_update();
        if report.delivered >= max {
            break;
        }
        while let Some(frame) = read_frame(&mut conn.rbuf, 0).map_err(io::Error::other)? {
            match frame.frame_type {
                FrameType::Method => {
                    match Method::decode(frame.payload).map_err(io::Error::other)? {
                        Method::BasicDeliver(d) => {
                            body_tag = d.delivery_tag;
                            report.redelivered += u64::from(d.redelivered);
                            want_body = true;
                        }
                        other => {
                            if let Some(err) = close_error(&other) {
                                return Err(err);
                            }
                        }
                    }
                }
                FrameType::Body if want_body => {
                    want_body = false;
                    let seq = frame
                        .payload
                        .get(..SEQ_BYTES)
                        .and_then(|b| <[u8; SEQ_BYTES]>::try_from(b).ok())
                        .map(u64::from_be_bytes)
                        .ok_or_else(|| io::Error::other("body shorter than its sequence number"))?;
                    let q = seq % spread;
                    let expected = next.get(&q).copied().unwrap_or(q);
                    if seq != expected {
                        report.out_of_order += 1;
                        if report.examples.len() < 10 {
                            report.examples.push(format!(
                                "delivery #{}: queue {q} gave seq {seq}, expected {expected}",
                                report.delivered + 1
                            ));
                        }
                    }
                    next.insert(q, seq + spread);
                    last_tag = body_tag;
                    report.delivered += 1;
                    unacked += 1;
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                }
                FrameType::Heartbeat => write_heartbeat_frame(&mut out),
                FrameType::Body | FrameType::Header => {}
            }
        }
        let done = report.delivered >= *limit.borrow();
        if plan.ack_every > 0 && (unacked >= plan.ack_every || (unacked > 0 && (done || idle))) {
            let ack = BasicAck {
                delivery_tag: last_tag,
                multiple: true,
            };
            write_method_frame(&mut out, 1, &Method::BasicAck(ack));
            unacked = 0;
        }
        idle = false;
        if !out.is_empty() {
            conn.stream.write_all(&out).await?;
            out.clear();
        }
        if done {
            break;
        }
        if conn.rbuf.capacity() - conn.rbuf.len() < 64 * 1024 {
            conn.rbuf.reserve(256 * 1024);
        }
        tokio::select! {
            read = conn.stream.read_buf(&mut conn.rbuf) => {
                if read? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            _ = tokio::time::sleep(IDLE_ACK), if unacked > 0 && plan.ack_every > 0 => idle = true,
            changed = limit.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    conn.close().await?;
    Ok(report)
}

/// Apparent size in bytes of everything under `dir`, as `du -sb` reports it.
pub fn du_bytes(dir: &std::path::Path) -> io::Result<u64> {
    let out = std::process::Command::new("du")
        .arg("-sb")
        .arg(dir)
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| io::Error::other(format!("du -sb {}: no size", dir.display())))
}

/// The p-th percentile (0..=100) of `sorted` (ascending), or 0 when empty.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank).copied().unwrap_or(0)
}
