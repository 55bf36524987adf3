//! Durability and backlog workloads against a broker running as its own process (so its
//! memory can be read from /proc and it can be stopped and restarted):
//!
//! - `confirmed`: durable queue, persistent messages, one confirm-mode publisher with a
//!   bounded number in flight, one manual-ack consumer; confirmed and delivered msg/s and
//!   confirm latency percentiles, median of `--runs`.
//! - `backlog-one` / `backlog-spread`: `--count` messages into 1 / `--queues` queues with no
//!   consumer, then drained; publish and drain rates, the broker's VmRSS / RssAnon /
//!   RssFile each second, an exact order check, and memory each second for `--after`
//!   seconds once drained (does it go back?). Queues are named `--prefix`-backlog-N.
//! - `cycles`: fill and drain one durable queue `--cycles` times, `du -sb --data-dir` after
//!   each step.
//! - `recovery` (Warren only): fill with persistent messages, SIGTERM `--pid`, start
//!   `--warren-bin` on the same data directory and time until a passive declare reports
//!   every message; then check the head comes back in order.
//!
//! `cargo bench --bench durability -- --mode MODE --uri amqp://guest:guest@127.0.0.1:PORT/%2f
//! --pid PID [--runs 3] [--seconds 20] [--warmup 5] [--count N] [--queues 1000]
//! [--tls-ca CA.pem (amqps://)] [--persistent] [--in-flight 1000] [--prefetch P] [--ack-every 100] [--cycles 4]
//! [--data-dir DIR] [--warren-bin PATH] [--log FILE] [--verify-all] [--stall 60]
//! [--prefix durbench] [--after 10]`
//!
//! See `benches/README.md` for results.

mod common;

use common::durable::{
    ConsumePlan, ConsumeReport, PublishPlan, du_bytes, percentile, run_consumer, run_publisher,
};
use common::monitor::{Monitor, mib, settle};
use common::{RawConn, Target, arg_num, arg_value};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};
use warren::protocol::ShortStr;

#[derive(Debug, Clone)]
struct Options {
    mode: String,
    target: Target,
    pid: Option<u32>,
    runs: usize,
    seconds: u64,
    warmup: u64,
    count: u64,
    queues: usize,
    persistent: bool,
    body: usize,
    in_flight: usize,
    prefetch: Option<u16>,
    ack_every: u64,
    cycles: usize,
    data_dir: Option<PathBuf>,
    warren_bin: Option<PathBuf>,
    log: Option<PathBuf>,
    verify_all: bool,
    stall: u64,
    prefix: String,
    after: u64,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Err(e) = real_main(&args) {
        eprintln!("durability: {e}");
        std::process::exit(1);
    }
}

fn real_main(args: &[String]) -> Result<(), String> {
    let flag = |name: &str| args.iter().any(|a| a == name);
    let uri = arg_value(args, "--uri").ok_or("--uri is required")?;
    let opts = Options {
        mode: arg_value(args, "--mode").ok_or("--mode is required")?,
        target: Target::parse(&uri)?.with_tls_ca(arg_value(args, "--tls-ca").as_deref())?,
        pid: arg_value(args, "--pid")
            .map(|p| p.parse().map_err(|_| format!("--pid {p}: not a pid")))
            .transpose()?,
        runs: arg_num(args, "--runs", 3)?,
        seconds: arg_num(args, "--seconds", 20)?,
        warmup: arg_num(args, "--warmup", 5)?,
        count: arg_num(args, "--count", 5_000_000)?,
        queues: arg_num(args, "--queues", 1000)?,
        persistent: flag("--persistent"),
        body: arg_num(args, "--body", 1024)?,
        in_flight: arg_num(args, "--in-flight", 1000)?,
        prefetch: arg_value(args, "--prefetch")
            .map(|p| p.parse().map_err(|_| format!("--prefetch {p}: not a u16")))
            .transpose()?,
        ack_every: arg_num(args, "--ack-every", 100)?,
        cycles: arg_num(args, "--cycles", 4)?,
        data_dir: arg_value(args, "--data-dir").map(PathBuf::from),
        warren_bin: arg_value(args, "--warren-bin").map(PathBuf::from),
        log: arg_value(args, "--log").map(PathBuf::from),
        verify_all: flag("--verify-all"),
        stall: arg_num(args, "--stall", 60)?,
        prefix: arg_value(args, "--prefix").unwrap_or_else(|| "durbench".into()),
        after: arg_num(args, "--after", 10)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("durbench")
        .build()
        .map_err(|e| e.to_string())?;
    println!(
        "durability {} against {uri} (broker pid {:?})",
        opts.mode, opts.pid
    );
    let result = match opts.mode.as_str() {
        "confirmed" => runtime.block_on(confirmed(&opts)),
        "backlog-one" => runtime.block_on(backlog(&opts, 1)),
        "backlog-spread" => runtime.block_on(backlog(&opts, opts.queues)),
        "cycles" => runtime.block_on(cycles(&opts)),
        "recovery" => runtime.block_on(recovery(&opts)),
        other => return Err(format!("unknown --mode {other}")),
    };
    result.map_err(|e| e.to_string())
}

async fn channel(target: &Target) -> io::Result<RawConn> {
    let mut conn = RawConn::connect(target).await?;
    conn.open_channel(1).await?;
    Ok(conn)
}

fn publish_plan(
    opts: &Options,
    queues: &[ShortStr],
    total: Option<u64>,
    persistent: bool,
) -> PublishPlan {
    PublishPlan {
        queues: queues.to_vec(),
        body_len: opts.body,
        persistent,
        total,
        max_in_flight: opts.in_flight,
        batch: 64,
    }
}

fn consume_plan(opts: &Options, queues: &[ShortStr], default_prefetch: u16) -> ConsumePlan {
    ConsumePlan {
        queues: queues.to_vec(),
        prefetch: opts.prefetch.unwrap_or(default_prefetch),
        ack_every: opts.ack_every,
        spread: queues.len() as u64,
    }
}

async fn join<T>(task: tokio::task::JoinHandle<io::Result<T>>) -> io::Result<T> {
    task.await
        .map_err(|e| io::Error::other(format!("task panicked: {e}")))?
}

fn check(report: &ConsumeReport, expected: u64) -> String {
    let verdict = if report.delivered == expected && report.out_of_order == 0 {
        "OK"
    } else {
        "FAILED"
    };
    let mut s = format!(
        "{verdict}: {} of {expected} delivered, {} out of order, {} redelivered",
        report.delivered, report.out_of_order, report.redelivered
    );
    for e in &report.examples {
        s.push_str(&format!("\n    {e}"));
    }
    s
}

/// Publishes `total` to `queues` with confirms under the monitor; returns the elapsed time.
async fn fill(
    opts: &Options,
    mon: &mut Monitor,
    phase: &str,
    queues: &[ShortStr],
    total: u64,
    persistent: bool,
) -> io::Result<Duration> {
    mon.pubs = Arc::default();
    let publisher = channel(&opts.target).await?;
    let (_stop_tx, stop) = watch::channel(false);
    let plan = publish_plan(opts, queues, Some(total), persistent);
    let task = tokio::spawn(run_publisher(publisher, plan, Arc::clone(&mon.pubs), stop));
    let (_, took) = mon.watch(phase, join(task)).await?;
    let nacked = mon.pubs.nacked.load(Ordering::Relaxed);
    println!(
        "{phase}: {total} published in {:.1} s = {:.0} msg/s confirmed; {nacked} nacked; {}",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        mon.phase_peaks()
    );
    Ok(took)
}

/// Consumes `total` from `queues` with the order check; returns the report and elapsed time.
async fn drain(
    opts: &Options,
    mon: &mut Monitor,
    phase: &str,
    queues: &[ShortStr],
    total: u64,
    default_prefetch: u16,
) -> io::Result<(ConsumeReport, Duration)> {
    mon.cons = Arc::default();
    let consumer = channel(&opts.target).await?;
    let (_limit_tx, limit) = watch::channel(total);
    let plan = consume_plan(opts, queues, default_prefetch);
    let task = tokio::spawn(run_consumer(consumer, plan, Arc::clone(&mon.cons), limit));
    let (report, took) = mon.watch(phase, join(task)).await?;
    println!(
        "{phase}: {total} in {:.1} s = {:.0} msg/s; {}; order check {}",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        mon.phase_peaks(),
        check(&report, total)
    );
    Ok((report, took))
}

async fn confirmed(opts: &Options) -> io::Result<()> {
    let mut rows = Vec::new();
    for run in 1..=opts.runs {
        let mut mon = Monitor::new(opts.pid, Duration::from_secs(opts.stall));
        let name = format!("durbench-confirmed-{}-{run}", std::process::id());
        let mut admin = channel(&opts.target).await?;
        admin.declare_durable(1, &name).await?;
        let queues = [ShortStr::truncated(&name)];
        let (limit_tx, limit) = watch::channel(u64::MAX);
        let consumer = channel(&opts.target).await?;
        let cons = tokio::spawn(run_consumer(
            consumer,
            consume_plan(opts, &queues, 1000),
            Arc::clone(&mon.cons),
            limit,
        ));
        let (stop_tx, stop) = watch::channel(false);
        let publisher = channel(&opts.target).await?;
        let plan = publish_plan(opts, &queues, None, true);
        let publ = tokio::spawn(run_publisher(publisher, plan, Arc::clone(&mon.pubs), stop));
        let nap = |s| async move {
            tokio::time::sleep(Duration::from_secs(s)).await;
            Ok(())
        };
        mon.watch("warm-up", nap(opts.warmup)).await?;
        let snap = |m: &Monitor| {
            (
                Instant::now(),
                m.pubs.confirmed.load(Ordering::Relaxed),
                m.cons.delivered.load(Ordering::Relaxed),
            )
        };
        let (t0, p0, c0) = snap(&mon);
        mon.pubs.recording.store(true, Ordering::Relaxed);
        mon.watch("measure", nap(opts.seconds)).await?;
        let (t1, p1, c1) = snap(&mon);
        mon.pubs.recording.store(false, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        let (mut lat, _) = mon.watch("stop", join(publ)).await?;
        let _ = limit_tx.send(mon.pubs.confirmed.load(Ordering::Relaxed));
        let (report, _) = mon.watch("drain", join(cons)).await?;
        admin.delete_queue(1, &name).await?;
        admin.close().await?;
        lat.sort_unstable();
        let secs = t1.duration_since(t0).as_secs_f64();
        let row = [
            (p1 - p0) as f64 / secs,
            (c1 - c0) as f64 / secs,
            f64::from(percentile(&lat, 50.0)) / 1000.0,
            f64::from(percentile(&lat, 99.0)) / 1000.0,
            mib(mon.peak),
        ];
        println!(
            "run {run}: confirmed {:.0} msg/s, delivered {:.0} msg/s, confirm latency p50 {:.2} ms p99 {:.2} ms ({} samples), peak RssAnon {:.1} MiB, nacked {}; order check {}",
            row[0],
            row[1],
            row[2],
            row[3],
            lat.len(),
            row[4],
            mon.pubs.nacked.load(Ordering::Relaxed),
            check(&report, mon.pubs.confirmed.load(Ordering::Relaxed))
        );
        rows.push(row);
    }
    let median = |i: usize| {
        let mut v: Vec<f64> = rows.iter().filter_map(|r| r.get(i).copied()).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "\n| confirmed msg/s | delivered msg/s | confirm p50 ms | confirm p99 ms | peak RssAnon MiB |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {:.0} | {:.0} | {:.2} | {:.2} | {:.1} |  (median of {} runs)",
        median(0),
        median(1),
        median(2),
        median(3),
        median(4),
        rows.len()
    );
    Ok(())
}

async fn backlog(opts: &Options, nqueues: usize) -> io::Result<()> {
    let mut mon = Monitor::new(opts.pid, Duration::from_secs(opts.stall));
    let mut admin = channel(&opts.target).await?;
    let names: Vec<String> = (0..nqueues)
        .map(|i| format!("{}-backlog-{i}", opts.prefix))
        .collect();
    for n in &names {
        admin.delete_queue(1, n).await?;
        admin.declare_durable(1, n).await?;
    }
    let queues: Vec<ShortStr> = names.iter().map(|n| ShortStr::truncated(n)).collect();
    let kind = if opts.persistent {
        "persistent"
    } else {
        "transient"
    };
    println!(
        "{} x {} B {kind} into {nqueues} durable queue(s), {} in flight; at start {}",
        opts.count,
        opts.body,
        opts.in_flight,
        mon.mem()
    );
    fill(
        opts,
        &mut mon,
        "publish",
        &queues,
        opts.count,
        opts.persistent,
    )
    .await?;
    let mut held = 0u64;
    for n in &names {
        held += u64::from(admin.declare_passive(1, n).await?);
    }
    println!("queues report {held} ready messages; now {}", mon.mem());
    let prefetch = if nqueues == 1 { 1000 } else { 10 };
    drain(opts, &mut mon, "drain", &queues, opts.count, prefetch).await?;
    println!(
        "after drain {}; peak RssAnon overall {:.1} MiB",
        mon.mem(),
        mib(mon.peak)
    );
    for n in &names {
        admin.delete_queue(1, n).await?;
    }
    admin.close().await?;
    let last = settle(opts.pid, "after drain", opts.after).await;
    println!("{} s after the drain: {last}", opts.after);
    Ok(())
}

async fn cycles(opts: &Options) -> io::Result<()> {
    let mut mon = Monitor::new(opts.pid, Duration::from_secs(opts.stall));
    let name = "durbench-cycles";
    let mut admin = channel(&opts.target).await?;
    admin.delete_queue(1, name).await?;
    admin.declare_durable(1, name).await?;
    let queues = [ShortStr::truncated(name)];
    let du = |when: &str| match &opts.data_dir {
        Some(dir) => format!("{when}: {}", du_line(dir)),
        None => format!("{when}: (no --data-dir)"),
    };
    println!("{}", du("before"));
    for c in 1..=opts.cycles {
        fill(
            opts,
            &mut mon,
            &format!("fill {c}"),
            &queues,
            opts.count,
            true,
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("{}", du(&format!("cycle {c} after fill")));
        drain(
            opts,
            &mut mon,
            &format!("drain {c}"),
            &queues,
            opts.count,
            1000,
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "{}; RssAnon {:.1} MiB",
            du(&format!("cycle {c} after drain")),
            mib(mon.rss())
        );
    }
    admin.delete_queue(1, name).await?;
    admin.close().await
}

async fn recovery(opts: &Options) -> io::Result<()> {
    let (Some(pid), Some(dir), Some(bin)) = (opts.pid, &opts.data_dir, &opts.warren_bin) else {
        return Err(io::Error::other(
            "recovery needs --pid, --data-dir and --warren-bin",
        ));
    };
    let mut mon = Monitor::new(opts.pid, Duration::from_secs(opts.stall));
    let name = "durbench-recovery";
    let queues = [ShortStr::truncated(name)];
    let mut admin = channel(&opts.target).await?;
    let held = u64::from(admin.declare_durable(1, name).await?);
    if held == 0 {
        fill(opts, &mut mon, "fill", &queues, opts.count, true).await?;
    } else if held != opts.count {
        return Err(io::Error::other(format!(
            "{name} holds {held}, not 0 or {}",
            opts.count
        )));
    }
    let held = u64::from(admin.declare_passive(1, name).await?);
    admin.close().await?;
    println!("before restart: {held} messages; {}", du_line(dir));
    let stopping = Instant::now();
    // SAFETY: kill(2) with a pid and a signal number has no memory-safety preconditions.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) } != 0 {
        return Err(io::Error::last_os_error());
    }
    while process_alive(pid) {
        if stopping.elapsed() > Duration::from_secs(300) {
            return Err(io::Error::other(format!(
                "pid {pid} still running 300 s after SIGTERM"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "pid {pid} exited {:.3} s after SIGTERM",
        stopping.elapsed().as_secs_f64()
    );
    let log = opts
        .log
        .clone()
        .unwrap_or_else(|| dir.with_extension("log"));
    let log_file = std::fs::File::create(&log)?;
    let started = Instant::now();
    let child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(bin)
            .arg("--listen")
            .arg(&opts.target.addr)
            .arg("--data-dir")
            .arg(dir)
            .args(["--log-level", "warn"])
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .process_group(0)
            .spawn()?
    };
    let new_pid = child.id();
    mon.pid = Some(new_pid);
    mon.peak = 0;
    let (mut conn, accepted) = loop {
        mon.rss();
        if let Ok(c) = channel(&opts.target).await {
            break (c, started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(io::Error::other(
                "restarted broker never accepted a connection",
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let (count, full) = loop {
        mon.rss();
        let count = match conn.declare_passive(1, name).await {
            Ok(n) => u64::from(n),
            Err(_) => {
                conn = channel(&opts.target).await?;
                0
            }
        };
        if count >= held || started.elapsed() > Duration::from_secs(600) {
            break (count, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    conn.close().await?;
    println!(
        "restarted as pid {new_pid} (log {}): accepted a connection after {:.3} s, passive declare reported {count} of {held} after {:.3} s; RssAnon {:.1} MiB (peak during start {:.1} MiB)",
        log.display(),
        accepted.as_secs_f64(),
        full.as_secs_f64(),
        mib(mon.rss()),
        mib(mon.peak)
    );
    // The head: ten messages, not acked (they go back to the queue when the channel closes).
    let head = {
        let consumer = channel(&opts.target).await?;
        let (_tx, limit) = watch::channel(10);
        let plan = ConsumePlan {
            ack_every: 0,
            ..consume_plan(opts, &queues, 10)
        };
        run_consumer(consumer, plan, Arc::default(), limit).await?
    };
    println!("head check: {}", check(&head, 10));
    if opts.verify_all {
        drain(opts, &mut mon, "drain", &queues, held, 1000).await?;
    }
    println!("broker left running as pid {new_pid}");
    Ok(())
}

fn du_line(dir: &std::path::Path) -> String {
    match du_bytes(dir) {
        Ok(b) => format!(
            "du -sb {} = {b} ({:.1} MiB)",
            dir.display(),
            b as f64 / 1048576.0
        ),
        Err(e) => format!("du failed: {e}"),
    }
}

/// True while /proc/<pid> exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => !s
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
        Err(_) => false,
    }
}
