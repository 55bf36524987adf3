//! lapin: background jobs. A durable jobs queue and a results queue; a producer publishes
//! `INTEROP_JOBS` (default 10,000) persistent jobs with publisher confirms, 500 in flight.
//! Four workers, each a child process (this binary re-run with `worker ...`) with its own
//! connection, prefetch 10 and manual acks, compute a digest of each job's payload, publish
//! a result {job, worker, redelivered, digest} and ack. Worker 0 stalls mid-job after 300
//! jobs (before that job's result, holding its unacked prefetch), says which job on stdout,
//! and is killed with SIGKILL.
//!
//! Checks: every publish acked, none nacked; every job has exactly one result with the
//! right digest (a repeated result is accepted only from a redelivered job); the job worker
//! 0 was stuck on was done by another worker with redelivered=true; worker 0 produced
//! exactly 300 results (nothing after stalling); between 1 and 10 (worker 0's prefetch)
//! jobs came back redelivered; the queues end empty and are deleted; the other workers exit
//! cleanly when the jobs queue is deleted. The job data and the result checks are shared
//! with amqprs (`interop::jobs`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use futures_lite::StreamExt;
use interop::jobs::{self, STALL_AFTER, Tally, WINDOW, WORKERS, digest, payload};
use interop::lp::{self, depth};
use interop::{bounded, bounded_secs, json_field, unique};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, PublisherConfirm};
use tokio::sync::mpsc;

/// A worker process: `worker JOBS_QUEUE RESULTS_QUEUE ID [STALL_AFTER]`. Prints `ready`
/// once consuming and `stalled <job>` when it hangs; exits when its consumer is cancelled.
async fn worker(jobs_q: &str, results_q: &str, id: usize, stall_after: Option<usize>) {
    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("worker channel");
    ch.basic_qos(10, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let mut consumer = ch
        .basic_consume(
            jobs_q.into(),
            format!("worker-{id}").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");
    println!("ready");
    let mut done = 0usize;
    while let Some(delivery) = consumer.next().await {
        let d = delivery.expect("job delivery");
        let body = std::str::from_utf8(&d.data).expect("UTF-8 job");
        let job: u64 = json_field(body, "id").unwrap().parse().unwrap();
        if stall_after.is_some_and(|n| done >= n) {
            println!("stalled {job}");
            // Hang mid-job, holding this job and the rest of the prefetch, until killed.
            std::future::pending::<()>().await;
        }
        let result = format!(
            "{{\"job\": {job}, \"worker\": {id}, \"redelivered\": {}, \"digest\": \"{}\"}}",
            d.redelivered,
            digest(json_field(body, "payload").unwrap().as_bytes())
        );
        ch.basic_publish(
            "".into(),
            results_q.into(),
            BasicPublishOptions::default(),
            result.as_bytes(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("result publish");
        d.ack(BasicAckOptions::default()).await.expect("basic.ack");
        done += 1;
    }
    conn.close(200, "bye".into()).await.expect("worker close");
}

/// A line from a worker's stdout, or `None` once its stdout closed (the process ended).
type WorkerLine = (usize, Option<String>);

/// The worker processes; any still running when this is dropped are killed.
struct Pool(Vec<Child>);

impl Drop for Pool {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn spawn_workers(jobs_q: &str, results_q: &str, lines: mpsc::UnboundedSender<WorkerLine>) -> Pool {
    let exe = std::env::current_exe().expect("current_exe");
    let mut pool = Pool(Vec::new());
    for id in 0..WORKERS {
        let mut cmd = Command::new(&exe);
        cmd.args(["worker", jobs_q, results_q, &id.to_string()]);
        if id == 0 {
            cmd.arg(STALL_AFTER.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn worker");
        let stdout = child.stdout.take().expect("worker stdout");
        let tx = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        let _ = tx.send((id, Some(l)));
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send((id, None));
        });
        pool.0.push(child);
    }
    pool
}

/// Publishes every job with confirms, `WINDOW` in flight; returns how many were acked.
async fn produce(jobs_q: String, count: u64) -> u64 {
    let conn = lp::connect().await;
    let ch = lp::confirm_channel(&conn).await;
    let mut in_flight: VecDeque<PublisherConfirm> = VecDeque::with_capacity(WINDOW);
    let mut acked = 0;
    for i in 0..count {
        if in_flight.len() == WINDOW {
            lp::acked(in_flight.pop_front().unwrap(), "a job confirm").await;
            acked += 1;
        }
        let body = format!("{{\"id\": {i}, \"payload\": \"{}\"}}", payload(i));
        let confirm = ch
            .basic_publish(
                "".into(),
                jobs_q.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("job publish");
        in_flight.push_back(confirm);
    }
    for confirm in in_flight {
        lp::acked(confirm, "a job confirm").await;
        acked += 1;
    }
    conn.close(200, "bye".into()).await.expect("producer close");
    acked
}

async fn scenario() {
    let count = jobs::count();
    let jobs_q = unique("lapin.jobs");
    let results_q = unique("lapin.job-results");
    let conn = lp::connect().await;
    let ch = conn.create_channel().await.expect("channel");
    for q in [&jobs_q, &results_q] {
        lp::declare_queue(&ch, q, QueueDeclareOptions::durable()).await;
    }

    let (tx, mut lines) = mpsc::unbounded_channel();
    let mut pool = spawn_workers(&jobs_q, &results_q, tx);
    // Every worker consumes before the first job is published, so worker 0 gets its 300.
    let mut ready = 0;
    while ready < WORKERS {
        match bounded("the workers to start", lines.recv()).await {
            Some((_, Some(l))) if l == "ready" => ready += 1,
            other => panic!("worker output before ready: {other:?}"),
        }
    }
    let producer = tokio::spawn(produce(jobs_q.clone(), count));

    let mut results_consumer = ch
        .basic_consume(
            results_q.as_str().into(),
            "results".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume results");
    let mut tally = Tally::new(count);
    let mut stalled = None;
    bounded_secs(90, "every job's result", async {
        while !tally.complete() {
            tokio::select! {
                line = lines.recv() => match line.expect("worker output") {
                    (0, Some(l)) if l.starts_with("stalled ") => {
                        assert!(stalled.is_none(), "worker 0 stalled twice");
                        stalled = Some(l["stalled ".len()..].parse::<u64>().unwrap());
                        pool.0[0].kill().expect("SIGKILL worker 0");
                        pool.0[0].wait().expect("wait for worker 0");
                    }
                    (0, None) => assert!(stalled.is_some(), "worker 0 ended before stalling"),
                    (w, l) => panic!("unexpected output from worker {w}: {l:?}"),
                },
                delivery = results_consumer.next() => {
                    let d = delivery.expect("results stream").expect("result");
                    let body = std::str::from_utf8(&d.data).expect("UTF-8 result");
                    let field = |k| json_field(body, k).unwrap_or_else(|| panic!("{k} in {body}"));
                    let job: u64 = field("job").parse().unwrap();
                    let worker: usize = field("worker").parse().unwrap();
                    let redelivered = field("redelivered") == "true";
                    tally.record(job, worker, redelivered, field("digest"));
                    d.ack(BasicAckOptions::default()).await.expect("basic.ack");
                }
            }
        }
    })
    .await;
    let acked = bounded("the producer", producer)
        .await
        .expect("producer task");
    assert_eq!(acked, count, "jobs confirmed by the broker");

    let (stalled, redone_by, redelivered) = tally.check(stalled);
    println!(
        "lapin background jobs: {count} jobs, per worker {:?}, stalled job {stalled} redone by \
         worker {redone_by}, {redelivered} redelivered, {} repeated",
        tally.by_worker, tally.repeats
    );

    ch.basic_cancel("results".into(), BasicCancelOptions::default())
        .await
        .expect("basic.cancel");
    for q in [&jobs_q, &results_q] {
        assert_eq!(depth(&ch, q).await, 0, "messages left in {q}");
    }
    // Deleting the jobs queue cancels the workers' consumers; they close and exit.
    lp::delete(&ch, &[&jobs_q, &results_q], &[]).await;
    let mut running = WORKERS - 1;
    while running > 0 {
        match bounded("the workers to exit", lines.recv()).await {
            Some((w, None)) if w != 0 => running -= 1,
            other => panic!("unexpected worker output at the end: {other:?}"),
        }
    }
    for (w, child) in pool.0.iter_mut().enumerate().skip(1) {
        let status = child.wait().expect("wait for a worker");
        assert!(status.success(), "worker {w} exited with {status}");
    }
    conn.close(200, "bye".into()).await.expect("close");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if args.get(1).map(String::as_str) == Some("worker") {
        let id = args[4].parse().expect("worker id");
        let stall_after = args.get(5).map(|s| s.parse().expect("stall after"));
        rt.block_on(worker(&args[2], &args[3], id, stall_after));
    } else {
        rt.block_on(scenario());
    }
}
