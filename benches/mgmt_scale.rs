//! Management at scale: declares N queues (default 100,000) in an in-process Warren, then
//! times `GET /api/queues/%2F?page=P&page_size=500` for the first, a middle and the last
//! page (default sort, and `sort=messages`), `GET /api/overview`, and the Prometheus
//! scrapes `/metrics` and `/metrics/per-object` (the latter also with
//! `Accept-Encoding: gzip`, its size then the compressed one). Each request is timed end to
//! end over loopback HTTP (median of 5).
//!
//! `cargo bench --bench mgmt_scale -- [--queues N] [--hold SECONDS]`
//!
//! With `--hold`, the broker stays up that long after the table, its AMQP, management and
//! Prometheus addresses printed, so the `throughput` bench (`--uri`) can drive it with and
//! without a poller running beside it (see benches/README.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut queues = 100_000usize;
    let mut hold = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = |args: &mut std::iter::Skip<std::env::Args>| {
            args.next().and_then(|v| v.parse::<u64>().ok())
        };
        match arg.as_str() {
            "--queues" => {
                if let Some(n) = value(&mut args) {
                    queues = usize::try_from(n).unwrap_or(usize::MAX);
                }
            }
            "--hold" => hold = value(&mut args).unwrap_or(0),
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(queues, hold));
}

async fn run(queues: usize, hold: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = warren::config::Settings::default();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.data_dir = dir.path().to_path_buf();
    settings.management.listen = vec!["127.0.0.1:0".into()];
    settings.prometheus.listen = vec!["127.0.0.1:0".into()];
    let handle = warren::server::start(Arc::new(settings))
        .await
        .expect("broker starts");
    let vhost = handle
        .broker()
        .expect("single-node broker")
        .vhost("/")
        .expect("default vhost");
    let started = Instant::now();
    for i in 0..queues {
        vhost
            .declare_queue(warren::broker::vhost::QueueDeclareRequest {
                name: warren::protocol::ShortStr::from(format!("bench-{i:06}")),
                passive: false,
                durable: false,
                exclusive: false,
                auto_delete: false,
                arguments: Default::default(),
                connection_id: 0,
                max_queues: None,
            })
            .expect("declare");
    }
    println!("declared {queues} queues in {:?}", started.elapsed());
    let api = format!("http://{}", handle.management_addrs()[0]);
    let metrics = format!("http://{}", handle.prometheus_addrs()[0]);
    let client = reqwest::Client::new();
    let last = queues.div_ceil(500).max(1);
    let middle = last.div_ceil(2);
    let mut rows = Vec::new();
    for page in [1, middle, last] {
        let url = format!("{api}/api/queues/%2F?page={page}&page_size=500");
        rows.push((
            format!("queues page {page} of {last}"),
            time(&client, &url, true).await,
        ));
    }
    let url = format!("{api}/api/queues/%2F?page={middle}&page_size=500&sort=messages");
    rows.push((
        format!("queues page {middle}, sort=messages"),
        time(&client, &url, true).await,
    ));
    rows.push((
        "overview".to_string(),
        time(&client, &format!("{api}/api/overview"), true).await,
    ));
    rows.push((
        "/metrics".to_string(),
        time(&client, &format!("{metrics}/metrics"), false).await,
    ));
    let broker = Arc::clone(handle.broker().expect("single-node broker"));
    let per_object = format!("{metrics}/metrics/per-object");
    rows.push((
        "/metrics/per-object, a new sampler tick before each".to_string(),
        time_fresh(&client, &per_object, &broker).await,
    ));
    rows.push((
        "/metrics/per-object, back to back".to_string(),
        time(&client, &per_object, false).await,
    ));
    rows.push((
        "/metrics/per-object gzip, a new sampler tick before each".to_string(),
        time_fresh_as(&client, &per_object, &broker, Ask::Gzip).await,
    ));
    rows.push((
        "/metrics/per-object gzip, back to back".to_string(),
        time_as(&client, &per_object, Ask::Gzip).await,
    ));
    println!("| request ({queues} queues) | median | bytes |");
    println!("|---|---:|---:|");
    for (what, (median, bytes)) in rows {
        println!("| {what} | {median:.1?} | {bytes} |");
    }
    if hold > 0 {
        println!(
            "holding for {hold} s: amqp://guest:guest@{}/%2f management {api} metrics {metrics}",
            handle.local_addr()
        );
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }
    handle.shutdown().await;
}

/// How a request is made.
#[derive(Clone, Copy, PartialEq)]
enum Ask {
    /// Plain, no credentials (Prometheus).
    Plain,
    /// As guest (the management API).
    Auth,
    /// With `Accept-Encoding: gzip`, no credentials; the size counted is the compressed one.
    Gzip,
}

/// Median time of 5 scrapes, each after a sampler tick (so none is served from the
/// scrape cache of an earlier one), and the response size.
async fn time_fresh(
    client: &reqwest::Client,
    url: &str,
    broker: &Arc<warren::broker::Broker>,
) -> (Duration, usize) {
    time_fresh_as(client, url, broker, Ask::Plain).await
}

/// [`time_fresh`], asking as `ask` says.
async fn time_fresh_as(
    client: &reqwest::Client,
    url: &str,
    broker: &Arc<warren::broker::Broker>,
    ask: Ask,
) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        broker.sampler.sample(broker);
        let (took, size) = timed(client, url, ask).await;
        times.push(took);
        bytes = size;
    }
    times.sort();
    (times[2], bytes)
}

/// Median time of 5 requests, and the response size.
async fn time(client: &reqwest::Client, url: &str, auth: bool) -> (Duration, usize) {
    time_as(client, url, if auth { Ask::Auth } else { Ask::Plain }).await
}

/// [`time`], asking as `ask` says.
async fn time_as(client: &reqwest::Client, url: &str, ask: Ask) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let (took, size) = timed(client, url, ask).await;
        times.push(took);
        bytes = size;
    }
    times.sort();
    (times[2], bytes)
}

/// One request's time end to end, and its response size.
async fn timed(client: &reqwest::Client, url: &str, ask: Ask) -> (Duration, usize) {
    let mut req = client.get(url);
    match ask {
        Ask::Plain => {}
        Ask::Auth => req = req.basic_auth("guest", Some("guest")),
        Ask::Gzip => req = req.header("accept-encoding", "gzip"),
    }
    let start = Instant::now();
    let response = req.send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let bytes = response.bytes().await.expect("body").len();
    (start.elapsed(), bytes)
}
