//! Broker memory per idle connection: opens N connections, each with one channel and one
//! consumer on its own exclusive, auto-delete queue, and reports the growth of the broker
//! process's RssAnon divided by N.
//!
//! `cargo bench --bench idle_memory -- [--connections 1000] [--concurrency 50] [--settle 3]
//! [--uri amqp://guest:guest@127.0.0.1:5672/%2f --pid PID] [--after-backlog N]
//! [--prefix idlebench]`
//!
//! With `--after-backlog N` (an external broker, best a fresh process) it first publishes N
//! transient 1 KiB messages into one queue (`PREFIX-backlog`) with no consumer, drains it,
//! and prints VmRSS / RssAnon / RssFile each second for 10 s; then measures the idle
//! connections as usual, and after they have closed prints memory for 10 s again: the
//! "large backlog, then idle connections coming and going" sequence of issue #11.
//!
//! Without `--uri` Warren runs in-process and the bench reads its own RssAnon; the client
//! side then keeps only the sockets (no tasks, no buffers) while measuring. See
//! `benches/README.md`.

mod common;

use bytes::BytesMut;
use common::durable::{ConsumePlan, PublishPlan, run_consumer, run_publisher};
use common::monitor::{Mem, settle};
use common::{InProcessBroker, RawConn, Target, arg_num, arg_value, rss_anon_kib};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use warren::protocol::ShortStr;

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
    let backlog: u64 = arg_num(args, "--after-backlog", 0)?;
    let prefix = arg_value(args, "--prefix").unwrap_or_else(|| "idlebench".into());
    if backlog > 0 {
        runtime
            .block_on(backlog_first(&target, pid, backlog, &prefix))
            .map_err(|e| e.to_string())?;
    }
    let report = runtime
        .block_on(measure(&target, pid, connections, concurrency, settle))
        .map_err(|e| e.to_string())?;
    if backlog > 0 {
        runtime.block_on(settle_mem(pid, "connections closed"));
    }
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

/// Prints the broker's memory each second for 10 s.
async fn settle_mem(pid: u32, label: &str) -> Mem {
    settle(Some(pid), label, 10).await
}

/// Fills one queue with `count` transient 1 KiB messages (no consumer), drains it, deletes
/// it, and prints the broker's memory at each step.
async fn backlog_first(target: &Target, pid: u32, count: u64, prefix: &str) -> io::Result<()> {
    let name = format!("{prefix}-backlog");
    let queue = ShortStr::truncated(&name);
    println!("before the backlog: {}", Mem::of(pid)?);
    let mut admin = RawConn::connect(target).await?;
    admin.open_channel(1).await?;
    admin.delete_queue(1, &name).await?;
    admin.declare_durable(1, &name).await?;
    let mut publisher = RawConn::connect(target).await?;
    publisher.open_channel(1).await?;
    let plan = PublishPlan {
        queues: vec![queue.clone()],
        body_len: 1024,
        persistent: false,
        total: Some(count),
        max_in_flight: 1000,
        batch: 64,
    };
    let (_stop_tx, stop) = watch::channel(false);
    run_publisher(publisher, plan, Arc::default(), stop).await?;
    println!("{count} x 1 KiB published: {}", Mem::of(pid)?);
    let mut consumer = RawConn::connect(target).await?;
    consumer.open_channel(1).await?;
    let plan = ConsumePlan {
        queues: vec![queue],
        prefetch: 1000,
        ack_every: 100,
        spread: 1,
    };
    let (_limit_tx, limit) = watch::channel(count);
    let report = run_consumer(consumer, plan, Arc::default(), limit).await?;
    if report.delivered != count || report.out_of_order != 0 {
        return Err(io::Error::other(format!(
            "drained {} of {count}, {} out of order",
            report.delivered, report.out_of_order
        )));
    }
    admin.delete_queue(1, &name).await?;
    admin.close().await?;
    settle_mem(pid, "backlog drained").await;
    Ok(())
}
