//! End-to-end throughput: one publisher connection pipelining basic.publish into a fresh
//! queue, one consumer connection draining it, both written on Warren's own codec over raw
//! sockets so that the client costs as little as possible. Reports publish and delivery rates.
//!
//! `cargo bench --bench throughput -- [--uri amqp://guest:guest@127.0.0.1:5672/%2f]
//! [--tls-ca CA.pem (with an amqps:// URI)]
//! [--seconds 10] [--warmup 2] [--runs 3] [--backlog 100000] [--ack-every 100] [--only a,b,c]`
//!
//! Without `--uri` Warren runs in-process on its own multi-thread runtime. See
//! `benches/README.md`.

mod common;

use bytes::{Bytes, BytesMut};
use common::{InProcessBroker, RawConn, Target, arg_num, arg_value, close_error};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use warren::protocol::{
    BasicAck, BasicProperties, BasicPublish, ConnectionClose, FrameType, Method, ShortStr,
    read_frame, write_body_frame, write_content_header_frame, write_heartbeat_frame,
    write_method_frame,
};

/// Roughly how many bytes the publisher hands to one `write_all`.
const CHUNK_BYTES: usize = 64 * 1024;
/// Hang guard for tearing a run down.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// One workload.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    key: &'static str,
    label: &'static str,
    body_len: usize,
    /// None: consumer uses no-ack. Some(n): manual acks with basic.qos prefetch n.
    prefetch: Option<u16>,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        key: "a",
        label: "a: 16 B, transient, auto-ack",
        body_len: 16,
        prefetch: None,
    },
    Scenario {
        key: "b",
        label: "b: 1 KiB, transient, auto-ack",
        body_len: 1024,
        prefetch: None,
    },
    Scenario {
        key: "c",
        label: "c: 1 KiB, manual ack, prefetch 1000",
        body_len: 1024,
        prefetch: Some(1000),
    },
];

#[derive(Debug, Clone)]
struct Options {
    seconds: u64,
    warmup: u64,
    runs: usize,
    backlog: u64,
    ack_every: u64,
    only: Vec<String>,
}

/// Counters both clients share; `progress` wakes a publisher waiting on the backlog bound.
#[derive(Debug, Default)]
struct Shared {
    published: AtomicU64,
    consumed: AtomicU64,
    progress: Notify,
}

/// Rates measured in one run, msg/s.
#[derive(Debug, Clone, Copy)]
struct Sample {
    published: f64,
    delivered: f64,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Err(e) = real_main(&args) {
        eprintln!("throughput: {e}");
        std::process::exit(1);
    }
}

fn real_main(args: &[String]) -> Result<(), String> {
    let opts = Options {
        seconds: arg_num(args, "--seconds", 10)?,
        warmup: arg_num(args, "--warmup", 2)?,
        runs: arg_num(args, "--runs", 3)?,
        backlog: arg_num(args, "--backlog", 100_000)?,
        ack_every: arg_num(args, "--ack-every", 100)?,
        only: arg_value(args, "--only")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    };
    let (target, _broker, described) = match arg_value(args, "--uri") {
        Some(uri) => {
            let ca = arg_value(args, "--tls-ca");
            (Target::parse(&uri)?.with_tls_ca(ca.as_deref())?, None, uri)
        }
        None => {
            let broker = InProcessBroker::start().map_err(|e| e.to_string())?;
            let d = format!("in-process Warren on {}", broker.addr);
            (Target::local(broker.addr), Some(broker), d)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .map_err(|e| e.to_string())?;
    println!("target: {described}");
    println!(
        "warm-up {} s, measured {} s, {} runs, backlog bound {}, manual ack every {}",
        opts.warmup, opts.seconds, opts.runs, opts.backlog, opts.ack_every
    );
    println!(
        "{:<38} {:>3} {:>16} {:>16}",
        "scenario", "run", "published msg/s", "delivered msg/s"
    );
    let mut medians = Vec::new();
    for sc in SCENARIOS {
        if !opts.only.is_empty() && !opts.only.iter().any(|k| k == sc.key) {
            continue;
        }
        let mut samples = Vec::new();
        for run in 1..=opts.runs {
            let s = runtime
                .block_on(run_once(&target, sc, &opts, run))
                .map_err(|e| format!("{} run {run}: {e}", sc.label))?;
            println!(
                "{:<38} {:>3} {:>16.0} {:>16.0}",
                sc.label, run, s.published, s.delivered
            );
            samples.push(s);
        }
        medians.push((sc, median(samples)));
    }
    println!("\nmedian of {} runs ({described}):\n", opts.runs);
    println!("| scenario | published msg/s | delivered msg/s |");
    println!("|---|---:|---:|");
    for (sc, m) in medians {
        println!("| {} | {:.0} | {:.0} |", sc.label, m.published, m.delivered);
    }
    Ok(())
}

/// The per-field median (each column sorted on its own).
fn median(samples: Vec<Sample>) -> Sample {
    let pick = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Sample {
        published: pick(samples.iter().map(|s| s.published).collect()),
        delivered: pick(samples.iter().map(|s| s.delivered).collect()),
    }
}

async fn run_once(target: &Target, sc: Scenario, opts: &Options, run: usize) -> io::Result<Sample> {
    let queue = format!("warren-bench-{}-{}-{run}", sc.key, std::process::id());
    let mut consumer = RawConn::connect(target).await?;
    consumer.open_channel(1).await?;
    let queue = consumer.declare_queue(1, &queue, false, true).await?;
    if let Some(prefetch) = sc.prefetch {
        consumer.qos(1, prefetch).await?;
    }
    consumer.consume(1, &queue, sc.prefetch.is_none()).await?;
    let mut publisher = RawConn::connect(target).await?;
    publisher.open_channel(1).await?;

    let shared = Arc::new(Shared::default());
    let (pub_stop_tx, pub_stop) = watch::channel(false);
    let (cons_stop_tx, cons_stop) = watch::channel(false);
    let (chunk, per_chunk) = publish_chunk(&queue, sc.body_len);
    let cons_task = tokio::spawn(consume_loop(
        consumer,
        Arc::clone(&shared),
        cons_stop,
        sc.prefetch.is_some().then_some(opts.ack_every),
    ));
    let pub_task = tokio::spawn(publish_loop(
        publisher,
        Arc::clone(&shared),
        pub_stop,
        chunk,
        per_chunk,
        opts.backlog,
    ));

    tokio::time::sleep(Duration::from_secs(opts.warmup)).await;
    let (t0, p0, c0) = snapshot(&shared);
    tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
    let (t1, p1, c1) = snapshot(&shared);

    let _ = pub_stop_tx.send(true);
    shared.progress.notify_one();
    join_guarded(pub_task, "publisher").await?;
    let _ = cons_stop_tx.send(true);
    join_guarded(cons_task, "consumer").await?;

    let secs = t1.duration_since(t0).as_secs_f64();
    Ok(Sample {
        published: (p1 - p0) as f64 / secs,
        delivered: (c1 - c0) as f64 / secs,
    })
}

fn snapshot(shared: &Shared) -> (Instant, u64, u64) {
    (
        Instant::now(),
        shared.published.load(Ordering::Relaxed),
        shared.consumed.load(Ordering::Relaxed),
    )
}

async fn join_guarded(task: tokio::task::JoinHandle<io::Result<()>>, who: &str) -> io::Result<()> {
    match tokio::time::timeout(TEARDOWN_TIMEOUT, task).await {
        Err(_) => Err(io::Error::other(format!("{who} did not finish"))),
        Ok(Err(join)) => Err(io::Error::other(format!("{who} panicked: {join}"))),
        Ok(Ok(result)) => result.map_err(|e| io::Error::other(format!("{who}: {e}"))),
    }
}

/// Many publish + header + body frame triples back to back, and how many messages they hold.
fn publish_chunk(queue: &ShortStr, body_len: usize) -> (Bytes, u64) {
    let props = BasicProperties {
        delivery_mode: Some(1),
        ..BasicProperties::default()
    }
    .to_raw();
    let body = vec![b'x'; body_len];
    let mut one = BytesMut::new();
    let publish = BasicPublish {
        routing_key: queue.clone(),
        ..BasicPublish::default()
    };
    write_method_frame(&mut one, 1, &Method::BasicPublish(publish));
    write_content_header_frame(&mut one, 1, 60, body_len as u64, &props);
    write_body_frame(&mut one, 1, &body);
    let count = (CHUNK_BYTES / one.len()).max(1);
    let mut chunk = BytesMut::with_capacity(one.len() * count);
    for _ in 0..count {
        chunk.extend_from_slice(&one);
    }
    (chunk.freeze(), count as u64)
}

/// Writes `chunk` over and over, keeping at most `backlog` messages published but not yet
/// delivered; on stop, closes the connection.
async fn publish_loop(
    conn: RawConn,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    chunk: Bytes,
    per_chunk: u64,
    backlog: u64,
) -> io::Result<()> {
    let RawConn { stream, rbuf, .. } = conn;
    let (reader, mut writer) = stream.into_split();
    let drainer = tokio::spawn(drain_until_close_ok(reader, rbuf));
    'publishing: while !*stop.borrow() {
        loop {
            let published = shared.published.load(Ordering::Relaxed);
            let consumed = shared.consumed.load(Ordering::Relaxed);
            if published.saturating_sub(consumed) <= backlog {
                break;
            }
            tokio::select! {
                _ = shared.progress.notified() => {}
                _ = stop.changed() => break 'publishing,
            }
        }
        if drainer.is_finished() {
            break;
        }
        writer.write_all(&chunk).await?;
        shared.published.fetch_add(per_chunk, Ordering::Relaxed);
    }
    let mut close = BytesMut::new();
    let method = Method::ConnectionClose(ConnectionClose {
        reply_code: 200,
        reply_text: ShortStr::from_static("bench done"),
        class_id: 0,
        method_id: 0,
    });
    write_method_frame(&mut close, 0, &method);
    // The drainer may already have seen the broker close the connection.
    let _ = writer.write_all(&close).await;
    drainer
        .await
        .map_err(|e| io::Error::other(format!("drainer panicked: {e}")))?
}

/// Reads the publisher's socket until connection.close-ok; a close from the broker is an error.
async fn drain_until_close_ok(
    mut reader: common::BenchReader,
    mut rbuf: BytesMut,
) -> io::Result<()> {
    loop {
        while let Some(frame) = read_frame(&mut rbuf, 0).map_err(io::Error::other)? {
            if frame.frame_type != FrameType::Method {
                continue;
            }
            let method = Method::decode(frame.payload).map_err(io::Error::other)?;
            if matches!(method, Method::ConnectionCloseOk(_)) {
                return Ok(());
            }
            if let Some(err) = close_error(&method) {
                return Err(err);
            }
        }
        rbuf.reserve(4096);
        if reader.read_buf(&mut rbuf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// The first four payload bytes of basic.deliver: class 60, method 60.
const DELIVER_IDS: [u8; 4] = [0, 60, 0, 60];

/// Counts deliveries; with `ack_every`, acks (multiple) once that many are pending at the
/// end of a read. Answers heartbeats. On stop, closes the connection.
async fn consume_loop(
    mut conn: RawConn,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    ack_every: Option<u64>,
) -> io::Result<()> {
    let mut pending = 0u64;
    let mut last_tag = 0u64;
    // Sanity check that whole messages arrive: deliveries and body frames must match.
    let (mut deliveries, mut bodies) = (0u64, 0u64);
    let mut out = BytesMut::with_capacity(64);
    conn.rbuf.reserve(256 * 1024);
    loop {
        let mut delivered = 0u64;
        while let Some(frame) = read_frame(&mut conn.rbuf, 0).map_err(io::Error::other)? {
            match frame.frame_type {
                FrameType::Method if frame.payload.starts_with(&DELIVER_IDS) => {
                    delivered += 1;
                    if ack_every.is_some()
                        && let Method::BasicDeliver(d) =
                            Method::decode(frame.payload).map_err(io::Error::other)?
                    {
                        last_tag = d.delivery_tag;
                    }
                }
                FrameType::Method => {
                    let method = Method::decode(frame.payload).map_err(io::Error::other)?;
                    if let Some(err) = close_error(&method) {
                        return Err(err);
                    }
                }
                FrameType::Heartbeat => write_heartbeat_frame(&mut out),
                FrameType::Body => bodies += 1,
                FrameType::Header => {}
            }
        }
        deliveries += delivered;
        if delivered > 0 {
            shared.consumed.fetch_add(delivered, Ordering::Relaxed);
            shared.progress.notify_one();
            pending += delivered;
        }
        if let Some(every) = ack_every
            && pending >= every
        {
            let ack = BasicAck {
                delivery_tag: last_tag,
                multiple: true,
            };
            write_method_frame(&mut out, 1, &Method::BasicAck(ack));
            pending = 0;
        }
        if !out.is_empty() {
            conn.stream.write_all(&out).await?;
            out.clear();
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
            _ = stop.changed() => break,
        }
    }
    if deliveries.abs_diff(bodies) > 1 {
        return Err(io::Error::other(format!(
            "{deliveries} basic.deliver but {bodies} body frames"
        )));
    }
    conn.close().await
}
