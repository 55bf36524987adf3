//! The `warren-perf` load tool's library entry point against an in-process Warren: fixed
//! message counts, so every count can be checked exactly (no timing is asserted).

use crate::common;

use clap::Parser;
use common::{TestBroker, unique};
use std::future::Future;
use std::time::Duration;
use warren::perf::{PerfArgs, Report, run};

/// Fails the test if a whole run has not finished within a minute.
async fn guard_run<F: Future>(fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(60), fut).await {
        Ok(out) => out,
        Err(_) => panic!("hang guard: the load run did not finish within 60 s"),
    }
}

/// Runs warren-perf with `extra` options, `pmessages` messages per producer.
async fn perf(broker: &TestBroker, pmessages: u64, extra: &[&str]) -> Report {
    let pattern = format!("{}-%d", unique("perf-tool"));
    let pm = pmessages.to_string();
    let mut argv = vec!["--pmessages", pm.as_str()];
    argv.extend_from_slice(extra);
    perf_on(broker, &pattern, &argv).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_one_delivers_everything_published() {
    let broker = TestBroker::start().await;
    let report = perf(&broker, 2000, &["--size", "1024", "--auto-ack"]).await;
    let t = report.totals;
    assert_eq!(t.published, 2000);
    assert_eq!(t.delivered, 2000);
    assert_eq!(t.expected_deliveries, 2000);
    let lat = report.latency_us.unwrap();
    assert_eq!(lat.count, 2000);
    assert!(lat.p50 <= lat.p99 && lat.p99 <= lat.p99_9 && lat.p99_9 <= lat.max);
    assert!(report.confirm_latency_us.is_none());
    if common::external_uri().is_none() {
        // Warren announces itself as the RabbitMQ release it reproduces.
        assert_eq!(
            report.broker,
            format!("RabbitMQ {}", warren::management::RABBITMQ_VERSION)
        );
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirms_persistent_and_multi_ack_settle_every_message() {
    let broker = TestBroker::start().await;
    let report = perf(
        &broker,
        1500,
        &[
            "--persistent",
            "--confirm",
            "100",
            "--prefetch",
            "50",
            "--multi-ack",
            "10",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--queues",
            "2",
        ],
    )
    .await;
    let t = report.totals;
    assert_eq!(t.published, 3000);
    assert_eq!(t.confirmed, 3000);
    assert_eq!(t.nacked, 0);
    assert_eq!(t.delivered, 3000);
    assert_eq!(report.confirm_latency_us.unwrap().count, 3000);
    assert_eq!(report.latency_us.unwrap().count, 3000);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_copies_each_message_to_every_queue() {
    let broker = TestBroker::start().await;
    let exchange = unique("perf-fanout");
    let report = perf(
        &broker,
        500,
        &[
            "--exchange",
            &exchange,
            "--type",
            "fanout",
            "--queues",
            "3",
            "--consumers",
            "3",
            "--auto-ack",
        ],
    )
    .await;
    let t = report.totals;
    assert_eq!(t.published, 500);
    assert_eq!(t.expected_deliveries, 1500);
    assert_eq!(t.delivered, 1500);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_document_has_every_field() {
    let broker = TestBroker::start().await;
    let report = perf(&broker, 200, &["--confirm", "10", "--json"]).await;
    let doc = serde_json::to_value(&report).unwrap();
    for key in [
        "broker",
        "options",
        "duration_s",
        "rates",
        "totals",
        "latency_us",
        "confirm_latency_us",
    ] {
        assert!(doc.get(key).is_some(), "missing {key} in {doc}");
    }
    for key in ["published_msg_s", "confirmed_msg_s", "delivered_msg_s"] {
        assert!(doc["rates"][key].is_number(), "missing rates.{key}");
    }
    for key in ["p50", "p95", "p99", "p99_9", "max", "count"] {
        assert!(doc["latency_us"][key].is_u64(), "missing latency_us.{key}");
        assert!(
            doc["confirm_latency_us"][key].is_u64(),
            "missing confirm_latency_us.{key}"
        );
    }
    assert_eq!(doc["totals"]["published"], 200);
    assert_eq!(doc["totals"]["confirmed"], 200);
    assert_eq!(doc["totals"]["delivered"], 200);
    assert_eq!(doc["options"]["confirm"], 10);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_are_deleted_afterwards() {
    let broker = TestBroker::start().await;
    let name = unique("perf-tool-gone");
    let args = PerfArgs::try_parse_from([
        "warren-perf",
        "--uri",
        &broker.uri(),
        "--queue-pattern",
        &name,
        "--pmessages",
        "10",
        "--quiet",
    ])
    .unwrap();
    guard_run(run(&args)).await.unwrap();
    let (_conn, ch) = broker.lapin_channel().await;
    assert_queue_gone(&ch, &name).await;
    broker.shutdown().await;
}

/// Fails unless `queue` no longer exists (a passive declare is refused; it closes `ch`).
async fn assert_queue_gone(ch: &lapin::Channel, queue: &str) {
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let declared = ch
        .queue_declare(queue.into(), passive, lapin::types::FieldTable::default())
        .await;
    assert!(declared.is_err(), "queue {queue} still exists");
}

/// Runs warren-perf on the queue(s) named by `queue` (a name or a `%d` pattern) with `extra`
/// options.
async fn perf_on(broker: &TestBroker, queue: &str, extra: &[&str]) -> Report {
    let uri = broker.uri();
    let mut argv = vec![
        "warren-perf",
        "--uri",
        &uri,
        "--queue-pattern",
        queue,
        "--time",
        "60",
        "--quiet",
    ];
    argv.extend_from_slice(extra);
    let args = PerfArgs::try_parse_from(argv).unwrap();
    guard_run(run(&args)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_backlog_is_drained_by_a_consumer_only_run() {
    let broker = TestBroker::start().await;
    let queue = unique("perf-backlog");
    // Publish only, and leave the queue with its backlog.
    let filled = perf_on(
        &broker,
        &queue,
        &[
            "--consumers",
            "0",
            "--pmessages",
            "700",
            "--confirm",
            "50",
            "--size",
            "512",
            "--keep-queues",
        ],
    )
    .await;
    assert_eq!(filled.totals.published, 700);
    assert_eq!(filled.totals.confirmed, 700);
    assert_eq!(filled.totals.delivered, 0);
    assert_eq!(filled.totals.expected_deliveries, 0);
    assert!(filled.options.keep_queues);
    let (_conn, ch) = broker.lapin_channel().await;
    assert_eq!(common::message_count(&ch, &queue).await, 700);
    // Consume only, until every message of the backlog has arrived; the queue then goes.
    let drained = perf_on(
        &broker,
        &queue,
        &["--producers", "0", "--cmessages", "700", "--auto-ack"],
    )
    .await;
    assert_eq!(drained.totals.published, 0);
    assert_eq!(drained.totals.delivered, 700);
    assert_eq!(drained.options.cmessages, Some(700));
    assert_eq!(drained.latency_us.unwrap().count, 700);
    assert_queue_gone(&ch, &queue).await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latency_log_has_one_line_per_delivery() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latencies.txt");
    let file = path.display().to_string();
    let report = perf(
        &broker,
        400,
        &["--size", "64", "--auto-ack", "--latency-log", &file],
    )
    .await;
    assert_eq!(report.totals.delivered, 400);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<(u64, u64)> = text
        .lines()
        .map(|line| {
            let (stamp, nanos) = line.split_once(' ').unwrap();
            assert_eq!(stamp.len(), 16, "{line}");
            (
                u64::from_str_radix(stamp, 16).unwrap(),
                nanos.parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 400);
    // Every message has its own send stamp, and the log agrees with the histogram.
    let stamps: std::collections::BTreeSet<u64> = lines.iter().map(|(s, _)| *s).collect();
    assert_eq!(stamps.len(), 400);
    let max_us = lines.iter().map(|(_, n)| n / 1000).max().unwrap();
    let lat = report.latency_us.unwrap();
    assert_eq!(lat.count, 400);
    assert!(
        max_us <= lat.max,
        "log max {max_us} µs, histogram max {}",
        lat.max
    );
    broker.shutdown().await;
}

#[test]
fn options_are_checked() {
    assert!(PerfArgs::try_parse_from(["warren-perf", "--size", "4"]).is_err());
    assert!(PerfArgs::try_parse_from(["warren-perf", "--multi-ack", "0"]).is_err());
    let fanout_without_exchange =
        PerfArgs::try_parse_from(["warren-perf", "--type", "fanout"]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(run(&fanout_without_exchange)).unwrap_err();
    assert!(err.to_string().contains("--exchange"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_over_amqps_trusting_a_ca_file() {
    skip_if_external!();
    let pki = common::tls::Pki::new("warren-perf");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| common::tls::enable_tls(s, &server)).await;
    let uri = broker.amqps_uri("");
    let ca = pki.ca_path.display().to_string();
    let pattern = unique("perf-tool-tls");
    let args = PerfArgs::try_parse_from([
        "warren-perf",
        "--uri",
        &uri,
        "--ca-file",
        &ca,
        "--queue-pattern",
        &pattern,
        "--pmessages",
        "300",
        "--confirm",
        "50",
        "--quiet",
    ])
    .unwrap();
    let report = guard_run(run(&args)).await.unwrap();
    assert_eq!(report.totals.published, 300);
    assert_eq!(report.totals.confirmed, 300);
    assert_eq!(report.totals.delivered, 300);
    // A CA that did not sign the server's certificate is refused.
    let other = common::tls::Pki::new("stranger");
    let stranger = other.ca_path.display().to_string();
    let args = PerfArgs::try_parse_from([
        "warren-perf",
        "--uri",
        &uri,
        "--ca-file",
        &stranger,
        "--quiet",
    ])
    .unwrap();
    assert!(guard_run(run(&args)).await.is_err());
    broker.shutdown().await;
}

/// `--quorum` declares quorum queues: a quorum queue that exists already is re-declared
/// without a 406 (RabbitMQ and Warren refuse a declare that omits `x-queue-type`), and every
/// message is confirmed and delivered; without `--quorum` the run is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_declares_quorum_queues() {
    let broker = TestBroker::start().await;
    let name = unique("perf-qq");
    let (_conn, ch) = broker.lapin_channel().await;
    let mut qq = lapin::types::FieldTable::default();
    qq.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    let options = lapin::options::QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(format!("{name}-1").as_str().into(), options, qq.clone())
        .await
        .unwrap();
    let uri = broker.uri();
    let pattern = format!("{name}-%d");
    let argv = |quorum: bool| {
        let mut v = vec![
            "warren-perf",
            "--uri",
            &uri,
            "--queue-pattern",
            &pattern,
            "--pmessages",
            "300",
            "--persistent",
            "--confirm",
            "50",
            "--prefetch",
            "50",
            "--time",
            "60",
            "--quiet",
        ];
        if quorum {
            v.push("--quorum");
        }
        PerfArgs::try_parse_from(v).unwrap()
    };
    assert!(guard_run(run(&argv(false))).await.is_err());
    ch.queue_declare(format!("{name}-1").as_str().into(), options, qq)
        .await
        .unwrap();
    let report = guard_run(run(&argv(true))).await.unwrap();
    assert_eq!(report.totals.published, 300);
    assert_eq!(report.totals.confirmed, 300);
    assert_eq!(report.totals.delivered, 300);
    broker.shutdown().await;
}
