//! amqprs: background jobs on a pool of worker processes, one of them killed mid-job.
//!
//! A durable `jobs` queue and a durable `results` queue. The program re-executes itself
//! (`std::env::current_exe()` with a `worker` argument) as 4 worker processes, each with its
//! own connection, prefetch 10 and manual acks: a worker computes a digest of the job's
//! payload, publishes a result {job, worker, redelivered, digest} to `results`, then acks.
//! `INTEROP_JOBS` (default 10000) persistent jobs are published with publisher confirms,
//! at most 500 unconfirmed at a time; all must be acked. Worker 0 stalls mid-job after 300
//! jobs (holding its unacked prefetch), announces the job it is stuck on on `results`, and
//! is killed with SIGKILL.
//! Checks: every job has exactly one result with the right digest (a second result is
//! tolerated only when flagged redelivered); the stuck job was done by another worker with
//! redelivered=true; worker 0 did exactly 300 jobs and nothing after stalling; between 1
//! and 10 (worker 0's prefetch) jobs came back redelivered; the queues end empty and are
//! deleted. The job data and the result checks are shared with lapin (`interop::jobs`).

#[path = "helpers/util.rs"]
mod util;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicPublishArguments, BasicQosArguments,
    QueueDeclareArguments,
};
use interop::jobs::{self, STALL_AFTER, Tally, WINDOW, WORKERS, digest, payload};
use interop::rs::connect;
use interop::{bounded, unique};
use util::{Confirms, channel, confirm_channel, consume_manual, delete_empty, message_count, recv};

/// Worker process: `worker <jobs> <results> <id> [stall-after]`. Runs until its stdin
/// closes (the scenario's signal to stop), or forever once stalled (until killed).
async fn worker(jobs: String, results: String, id: usize, stall_after: Option<usize>) {
    let conn = connect().await;
    let (ch, _events) = channel(&conn).await;
    ch.basic_qos(BasicQosArguments::new(0, 10, false))
        .await
        .expect("basic.qos");
    let (tag, mut rx) = consume_manual(&ch, &jobs, &format!("worker-{id}")).await;
    // Stop when the parent closes our stdin.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = stop_tx.send(());
    });
    let mut done = 0usize;
    loop {
        let msg = tokio::select! {
            msg = rx.recv() => msg.expect("worker consumer stream ended"),
            _ = &mut stop_rx => break,
        };
        let deliver = msg.deliver.expect("deliver");
        let body = String::from_utf8(msg.content.expect("content")).expect("utf-8 job");
        let job: u64 = body
            .split('-')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad job {body:?}"));
        if stall_after.is_some_and(|n| done >= n) {
            ch.basic_publish(
                BasicProperties::default(),
                format!("stalled {job} {id}").into_bytes(),
                BasicPublishArguments::new("", &results),
            )
            .await
            .expect("announce stall");
            // Hang mid-job with this job and the rest of the prefetch unacked. The scenario
            // kills this process; the bound only keeps an orphan from living forever.
            tokio::time::sleep(Duration::from_secs(120)).await;
            std::process::exit(3);
        }
        let result = format!(
            "result {job} {id} {} {}",
            u8::from(deliver.redelivered()),
            digest(body.as_bytes())
        );
        ch.basic_publish(
            BasicProperties::default(),
            result.into_bytes(),
            BasicPublishArguments::new("", &results),
        )
        .await
        .expect("publish result");
        ch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
            .await
            .expect("basic.ack");
        done += 1;
    }
    ch.basic_cancel(BasicCancelArguments::new(&tag))
        .await
        .expect("basic.cancel");
    // Unacked prefetched jobs go back to the queue when the channel closes.
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
}

/// The worker processes; any still running are killed when this is dropped.
struct Pool(Vec<Option<Child>>);

impl Pool {
    /// SIGKILLs worker `i` (std's `Child::kill` sends SIGKILL on Unix) and reaps it.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.0[i].take() {
            child.kill().expect("SIGKILL worker");
            let status = child.wait().expect("wait for the killed worker");
            assert!(!status.success(), "killed worker exited with {status}");
        }
    }

    /// Closes every worker's stdin (their signal to finish) and waits for them (bounded).
    fn stop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for slot in self.0.iter_mut() {
            let Some(child) = slot.as_mut() else { continue };
            loop {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    assert!(status.success(), "worker exited with {status}");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "a worker did not stop within 20s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            slot.take();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        let id = args[4].parse().expect("worker id");
        let stall = args.get(5).map(|s| s.parse().expect("stall-after"));
        worker(args[2].clone(), args[3].clone(), id, stall).await;
        return;
    }
    let jobs_q = unique("amqprs.jobs");
    let results_q = unique("amqprs.job-results");
    util::run(
        vec![jobs_q.clone(), results_q.clone()],
        vec![],
        scenario(jobs_q, results_q),
    )
    .await;
}

async fn scenario(jobs_q: String, results_q: String) {
    let jobs = jobs::count();
    let conn = connect().await;
    let (ch, _events) = channel(&conn).await;
    for q in [&jobs_q, &results_q] {
        ch.queue_declare(QueueDeclareArguments::durable_client_named(q))
            .await
            .expect("queue.declare");
    }

    let exe = std::env::current_exe().expect("current_exe");
    let mut pool = Pool(Vec::new());
    for w in 0..WORKERS {
        let mut cmd = Command::new(&exe);
        cmd.args(["worker", &jobs_q, &results_q, &w.to_string()]);
        if w == 0 {
            cmd.arg(STALL_AFTER.to_string());
        }
        let child = cmd.stdin(Stdio::piped()).spawn().expect("spawn worker");
        pool.0.push(Some(child));
    }

    // The publisher: its own connection, confirms, at most WINDOW unconfirmed.
    let publisher = tokio::spawn({
        let jobs_q = jobs_q.clone();
        async move {
            let conn = connect().await;
            let (ch, mut events) = confirm_channel(&conn).await;
            let mut confirms = Confirms::default();
            for i in 0..jobs {
                confirms.wait_until(&mut events, WINDOW - 1).await;
                ch.basic_publish(
                    BasicProperties::default().with_persistence(true).finish(),
                    payload(i).into_bytes(),
                    BasicPublishArguments::new("", &jobs_q),
                )
                .await
                .expect("publish job");
                confirms.published();
            }
            confirms.wait_all(&mut events).await;
            ch.close().await.expect("channel close");
            conn.close().await.expect("connection close");
            confirms.acked
        }
    });

    let (rch, _revents) = channel(&conn).await;
    let (rtag, mut results) = consume_manual(&rch, &results_q, "results").await;
    let mut tally = Tally::new(jobs);
    let mut stalled: Option<u64> = None;
    let mut after_stall_from_0 = 0;
    let deadline = Instant::now() + Duration::from_secs(100);
    while !tally.complete() {
        assert!(
            Instant::now() < deadline,
            "only {} of {jobs} results within 100s",
            tally.results.len()
        );
        let (deliver, _props, body) = recv(&mut results, "a job result").await;
        let text = String::from_utf8(body).expect("utf-8 result");
        let parts: Vec<&str> = text.split(' ').collect();
        match parts.as_slice() {
            ["stalled", job, w] => {
                assert_eq!(*w, "0", "only worker 0 stalls");
                assert!(stalled.is_none(), "worker 0 stalled twice");
                stalled = Some(job.parse().expect("stalled job id"));
                pool.kill(0);
            }
            ["result", job, w, redelivered, dig] => {
                let job: u64 = job.parse().expect("job id");
                let w: usize = w.parse().expect("worker id");
                let redelivered = *redelivered == "1";
                if w == 0 && stalled.is_some() {
                    after_stall_from_0 += 1;
                }
                tally.record(job, w, redelivered, dig);
            }
            _ => panic!("unexpected result message {text:?}"),
        }
        rch.basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
            .await
            .expect("ack result");
    }
    let acked = bounded("the publisher", publisher)
        .await
        .expect("publisher");
    assert_eq!(acked, jobs, "jobs confirmed by the broker");
    rch.basic_cancel(BasicCancelArguments::new(&rtag))
        .await
        .expect("basic.cancel");
    // The workers finish their acks and close cleanly before the queues are checked.
    tokio::task::block_in_place(|| pool.stop());

    let (stalled, redone_by, redelivered) = tally.check(stalled);
    assert_eq!(
        after_stall_from_0, 0,
        "worker 0 produced nothing after stalling"
    );

    for q in [&jobs_q, &results_q] {
        assert_eq!(message_count(&ch, q).await, 0, "messages left in {q}");
    }
    delete_empty(&ch, &[&jobs_q, &results_q], &[]).await;
    rch.close().await.expect("channel close");
    ch.close().await.expect("channel close");
    conn.close().await.expect("connection close");
    println!(
        "amqprs background jobs: {jobs} jobs, per worker {:?}, stuck job {stalled} \
         redone by worker {redone_by}, {redelivered} redelivered, {} duplicates",
        tally.by_worker, tally.repeats
    );
}
