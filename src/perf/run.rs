//! One load run: declare, connect consumers then producers, sample once a second, stop,
//! drain, delete, report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amqprs::connection::Connection;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::args::PerfArgs;
use super::consumer::{Consumer, ConsumerSpec};
use super::error::PerfError;
use super::producer::{Producer, ProducerSpec};
use super::report::{Options, Rates, Report, Totals, progress_line};
use super::stats::{
    Counters, LatencyLog, Percentiles, Recorder, SharedRecorder, merge_total, take_interval,
};
use super::topology::Plan;
use super::uri::connection_args;

/// How often the end conditions are checked.
const TICK: Duration = Duration::from_millis(100);
/// How long consumers may go without a delivery while draining before the run gives up.
const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// The running load: tasks, their stop signals and what they record.
struct Load {
    counters: Arc<Counters>,
    producers: Vec<JoinHandle<Result<(), PerfError>>>,
    consumers: Vec<JoinHandle<Result<(), PerfError>>>,
    /// Per producer: messages published and deliveries each makes.
    expected: Vec<(Arc<AtomicU64>, u64)>,
    latency: Vec<SharedRecorder>,
    confirm_latency: Vec<SharedRecorder>,
    stop_producers: watch::Sender<bool>,
    stop_consumers: watch::Sender<bool>,
}

impl Load {
    fn expected_deliveries(&self) -> u64 {
        self.expected
            .iter()
            .map(|(n, per)| n.load(Ordering::Relaxed) * per)
            .sum()
    }

    fn producers_done(&self) -> bool {
        self.producers.iter().all(|h| h.is_finished())
    }

    /// Whether a task ended early: a consumer ends only when told to, and so does a
    /// producer without a message limit (`fixed`).
    fn failed(&self, fixed: bool) -> bool {
        self.consumers.iter().any(|h| h.is_finished())
            || (!fixed && self.producers.iter().any(|h| h.is_finished()))
    }
}

/// Runs the load described by `args` and returns its result. Progress lines go to stderr
/// unless `args.quiet`.
pub async fn run(args: &PerfArgs) -> Result<Report, PerfError> {
    if !(args.rate >= 0.0 && args.time > 0.0 && args.warmup >= 0.0) {
        return Err(PerfError::Options(
            "--rate and --warmup must be 0 or more and --time above 0".into(),
        ));
    }
    let plan = Plan::new(args)?;
    let setup_args = connection_args(&args.uri, args.ca_file.as_deref(), "warren-perf setup")?;
    let setup = Connection::open(&setup_args)
        .await
        .map_err(PerfError::amqp("opening setup connection"))?;
    let broker = {
        let p = setup.server_properties();
        format!("{} {}", p.product(), p.version())
    };
    let ch = setup
        .open_channel(None)
        .await
        .map_err(PerfError::amqp("opening setup channel"))?;
    plan.declare(&ch).await?;
    let log = args.latency_log.as_ref().map(|_| LatencyLog::shared());
    let result = match start(args, &plan, log.clone()).await {
        Ok(load) => measure(args, load).await,
        Err(e) => Err(e),
    };
    let deleted = if args.keep_queues {
        Ok(())
    } else {
        plan.delete(&ch).await
    };
    let _ = ch.close().await;
    let _ = setup.close().await;
    let (duration_s, rates, totals, latency_us, confirm_latency_us) = result?;
    deleted?;
    if let (Some(path), Some(log)) = (&args.latency_log, &log) {
        write_log(path, log)?;
    }
    Ok(Report {
        broker,
        options: Options::of(args),
        duration_s,
        rates,
        totals,
        latency_us,
        confirm_latency_us,
    })
}

/// Connects every consumer (consuming before anything is published), then every producer.
async fn start(
    args: &PerfArgs,
    plan: &Plan,
    log: Option<Arc<LatencyLog>>,
) -> Result<Load, PerfError> {
    let counters = Arc::new(Counters::default());
    let (stop_producers, producers_rx) = watch::channel(false);
    let (stop_consumers, consumers_rx) = watch::channel(false);
    let mut load = Load {
        counters: counters.clone(),
        producers: Vec::new(),
        consumers: Vec::new(),
        expected: Vec::new(),
        latency: Vec::new(),
        confirm_latency: Vec::new(),
        stop_producers,
        stop_consumers,
    };
    let mut ready = Vec::new();
    for j in 0..args.consumers {
        let conn = connection_args(
            &args.uri,
            args.ca_file.as_deref(),
            &format!("warren-perf consumer {j}"),
        )?;
        let spec = ConsumerSpec {
            queue: plan.consumer_queue(j).to_string(),
            prefetch: args.prefetch,
            auto_ack: args.auto_ack,
            multi_ack: args.multi_ack,
            log: log.clone(),
        };
        let recorder = Recorder::shared();
        load.latency.push(recorder.clone());
        ready.push(Consumer::connect(&conn, spec, counters.clone(), recorder).await);
    }
    let mut producers = Vec::new();
    for i in 0..args.producers {
        let conn = connection_args(
            &args.uri,
            args.ca_file.as_deref(),
            &format!("warren-perf producer {i}"),
        )?;
        let spec = ProducerSpec {
            exchange: plan.exchange.clone(),
            routing_key: plan.producer_queue(i).to_string(),
            size: args.size as usize,
            rate: args.rate,
            confirm: args.confirm,
            persistent: args.persistent,
            limit: args.pmessages,
        };
        let recorder = Recorder::shared();
        load.confirm_latency.push(recorder.clone());
        let p = Producer::connect(&conn, spec, counters.clone(), recorder).await;
        if let Ok(p) = &p {
            load.expected.push((
                p.published.clone(),
                plan.deliveries_per_message(i, args.consumers),
            ));
        }
        producers.push(p);
    }
    // Spawn only once everything connected, so a failure leaves nothing running.
    let consumers: Vec<Consumer> = ready.into_iter().collect::<Result<_, _>>()?;
    let producers: Vec<Producer> = producers.into_iter().collect::<Result<_, _>>()?;
    counters
        .measuring
        .store(args.warmup == 0.0 || fixed_count(args), Ordering::Relaxed);
    for c in consumers {
        load.consumers
            .push(tokio::spawn(c.run(consumers_rx.clone())));
    }
    for p in producers {
        load.producers
            .push(tokio::spawn(p.run(producers_rx.clone())));
    }
    Ok(load)
}

/// Writes the latency log to `path`.
fn write_log(path: &std::path::Path, log: &LatencyLog) -> Result<(), PerfError> {
    let failed = |source| PerfError::LatencyLog {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::create(path).map_err(failed)?;
    let mut out = std::io::BufWriter::new(file);
    log.write_to(&mut out).map_err(failed)?;
    std::io::Write::flush(&mut out).map_err(failed)
}

/// Whether the run ends on message counts (--pmessages or --cmessages) rather than time.
fn fixed_count(args: &PerfArgs) -> bool {
    args.pmessages.is_some() || args.cmessages.is_some()
}

type Measured = (f64, Rates, Totals, Option<Percentiles>, Option<Percentiles>);

/// Samples until the run is over, then stops the producers, drains, stops the consumers.
async fn measure(args: &PerfArgs, mut load: Load) -> Result<Measured, PerfError> {
    let started = Instant::now();
    let fixed = fixed_count(args);
    let warmup = if fixed { 0.0 } else { args.warmup };
    let mut from = (started, load.counters.snapshot());
    let mut measuring = warmup == 0.0;
    let mut last_line = (started, from.1);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let elapsed = now.duration_since(started).as_secs_f64();
        let snap = load.counters.snapshot();
        if now.duration_since(last_line.0) >= Duration::from_secs(1) {
            let secs = now.duration_since(last_line.0).as_secs_f64();
            let rates = Rates::between(last_line.1, snap, secs);
            let lat = Percentiles::of(&take_interval(&load.latency));
            if !args.quiet {
                eprintln!(
                    "{}",
                    progress_line(elapsed, &rates, lat, args.confirm.is_some())
                );
            }
            last_line = (now, snap);
        }
        if !measuring && elapsed >= warmup {
            measuring = true;
            load.counters.measuring.store(true, Ordering::Relaxed);
            from = (now, snap);
        }
        let measured = now.duration_since(from.0).as_secs_f64();
        if load.failed(args.pmessages.is_some()) {
            break;
        }
        let done = if fixed {
            // Producers without a message count run until the consumers have theirs.
            let published = args.pmessages.is_none() || load.producers_done();
            let received = match args.cmessages {
                Some(n) => snap.delivered >= n.saturating_mul(args.consumers as u64),
                None => snap.delivered >= load.expected_deliveries(),
            };
            (published && received) || measured >= args.time
        } else {
            measuring && measured >= args.time
        };
        if done {
            break;
        }
    }
    let end = (Instant::now(), load.counters.snapshot());
    let secs = end.0.duration_since(from.0).as_secs_f64();
    let rates = Rates::between(from.1, end.1, secs);
    let _ = load.stop_producers.send(true);
    let mut errors = Vec::new();
    for h in load.producers.iter_mut() {
        collect(h.await, &mut errors);
    }
    drain(&load).await;
    let _ = load.stop_consumers.send(true);
    for h in load.consumers.iter_mut() {
        collect(h.await, &mut errors);
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let snap = load.counters.snapshot();
    let totals = Totals {
        published: snap.published,
        confirmed: snap.confirmed,
        nacked: snap.nacked,
        delivered: snap.delivered,
        expected_deliveries: load.expected_deliveries(),
    };
    Ok((
        secs,
        rates,
        totals,
        Percentiles::of(&merge_total(&load.latency)),
        Percentiles::of(&merge_total(&load.confirm_latency)),
    ))
}

/// Waits until consumers have received every expected delivery, or made no progress for
/// [`DRAIN_IDLE`].
async fn drain(load: &Load) {
    let expected = load.expected_deliveries();
    let mut last = (Instant::now(), load.counters.snapshot().delivered);
    while last.1 < expected && last.0.elapsed() < DRAIN_IDLE {
        if load.consumers.iter().any(|h| h.is_finished()) {
            return;
        }
        tokio::time::sleep(TICK).await;
        let delivered = load.counters.snapshot().delivered;
        if delivered != last.1 {
            last = (Instant::now(), delivered);
        }
    }
}

fn collect(
    joined: Result<Result<(), PerfError>, tokio::task::JoinError>,
    errors: &mut Vec<PerfError>,
) {
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(e)) => errors.push(e),
        Err(e) => errors.push(PerfError::Task(e.to_string())),
    }
}
