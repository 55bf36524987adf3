//! Broker memory per idle connection: opens N connections, each with one channel and one
//! consumer on its own exclusive, auto-delete queue, and reports the growth of the broker
//! process's RssAnon divided by N.
//!
//! `cargo bench --bench idle_memory -- [--connections 1000] [--concurrency 50] [--settle 3]
//! [--uri amqp://guest:guest@127.0.0.1:5672/%2f --pid PID]`
//!
//! Without `--uri` Warren runs in-process and the bench reads its own RssAnon; the client
//! side then keeps only the sockets (no tasks, no buffers) while measuring. See
//! `benches/README.md`.

mod common;

use bytes::BytesMut;
use common::{InProcessBroker, RawConn, Target, arg_num, arg_value, rss_anon_kib};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Hang guard per connection (RabbitMQ stops accepting when out of file descriptors).
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Err(e) = real_main(&args) {
        eprintln!("idle_memory: {e}");
        std::process::exit(1);
    }
}

fn real_main(args: &[String]) -> Result<(), String> {
    let connections: usize = arg_num(args, "--connections", 1000)?;
    let concurrency: usize = arg_num(args, "--concurrency", 50)?;
    let settle: u64 = arg_num(args, "--settle", 3)?;
    let (target, _broker, pid, described) = match arg_value(args, "--uri") {
        Some(uri) => {
            let pid: u32 = arg_value(args, "--pid")
                .ok_or("--uri needs --pid PID of the broker process")?
                .parse()
                .map_err(|_| "--pid: not a process id")?;
            (Target::parse(&uri)?, None, pid, uri)
        }
        None => {
            let broker = InProcessBroker::start().map_err(|e| e.to_string())?;
            let d = format!("in-process Warren on {}", broker.addr);
            (
                Target::local(broker.addr),
                Some(broker),
                std::process::id(),
                d,
            )
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime
        .block_on(measure(&target, pid, connections, concurrency, settle))
        .map_err(|e| e.to_string())?;
    println!("target: {described} (pid {pid})");
    println!(
        "{connections} idle connections (1 channel + 1 consumer on its own queue each): \
         RssAnon {} KiB -> {} KiB, {:.1} KiB per connection",
        report.before,
        report.after,
        (report.after as f64 - report.before as f64) / connections as f64
    );
    Ok(())
}

struct Report {
    before: u64,
    after: u64,
}

/// One idle client: connected, channel 1 open, consuming from its own queue.
async fn open_idle(target: Arc<Target>) -> io::Result<RawConn> {
    let step =
        |what: &'static str| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let mut conn = RawConn::connect(&target).await.map_err(step("connect"))?;
    conn.open_channel(1).await.map_err(step("channel.open"))?;
    let queue = conn
        .declare_queue(1, "", true, true)
        .await
        .map_err(step("queue.declare"))?;
    conn.consume(1, &queue, false)
        .await
        .map_err(step("basic.consume"))?;
    // Keep only the socket while measuring; in-process this is memory the bench itself holds.
    conn.rbuf = BytesMut::new();
    conn.wbuf = BytesMut::new();
    Ok(conn)
}

async fn measure(
    target: &Target,
    pid: u32,
    connections: usize,
    concurrency: usize,
    settle: u64,
) -> io::Result<Report> {
    let target = Arc::new(target.clone());
    // One connection first, so one-off lazy initialisation is not charged to the N.
    let first = open_idle(Arc::clone(&target)).await?;
    tokio::time::sleep(Duration::from_secs(settle)).await;
    let before = rss_anon_kib(pid)?;

    let mut open = Vec::with_capacity(connections);
    let mut pending = JoinSet::new();
    let mut started = 0;
    while open.len() < connections {
        while started < connections && pending.len() < concurrency.max(1) {
            let open = open_idle(Arc::clone(&target));
            pending.spawn(async move {
                tokio::time::timeout(OPEN_TIMEOUT, open)
                    .await
                    .unwrap_or_else(|_| Err(io::Error::other("connection setup timed out")))
            });
            started += 1;
        }
        match pending.join_next().await {
            Some(Ok(conn)) => open.push(conn?),
            Some(Err(join)) => return Err(io::Error::other(join)),
            None => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(settle)).await;
    let after = rss_anon_kib(pid)?;

    open.push(first);
    let mut closing = JoinSet::new();
    for conn in open {
        closing.spawn(conn.close());
        while closing.len() >= concurrency.max(1) {
            if let Some(done) = closing.join_next().await {
                done.map_err(io::Error::other)?
                    .map_err(|e| io::Error::new(e.kind(), format!("close: {e}")))?;
            }
        }
    }
    while let Some(done) = closing.join_next().await {
        done.map_err(io::Error::other)?
            .map_err(|e| io::Error::new(e.kind(), format!("close: {e}")))?;
    }
    Ok(Report { before, after })
}
