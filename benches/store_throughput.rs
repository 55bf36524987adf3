//! Store benchmarks (harness = false). Run:
//! `cargo bench --bench store_throughput -- [commit] [filldrain] [recovery]` (default: all).
//! `WARREN_BENCH_RECOVERY` sets the recovery backlog (default 5,000,000 messages of 1 KiB).
//!
//! - commit: group-commit publish rate (sync on) with many concurrent submitters, each
//!   keeping a confirm window of outstanding ops, plus the one-at-a-time commit rate.
//! - filldrain: data file size across fill/drain cycles and under a rolling backlog, for
//!   1 KiB, 16 KiB and 1 MiB bodies.
//! - recovery: open + queue_stats + first read_queue page over a large backlog, and a full
//!   scan of it for comparison.
//! - compact (only when named): fills a data file of `WARREN_BENCH_COMPACT_GIB` GiB
//!   (default 5) with 64 KiB messages, drains all but `WARREN_BENCH_COMPACT_LIVE` percent
//!   (default 10), then times `warren::store::compact`. Uses about twice that much of /tmp.

use std::sync::mpsc;
use std::time::Instant;

use bytes::Bytes;
use warren::store::{Store, StoreOp, StoreOptions, StoredMessage};

fn message(body: &Bytes) -> StoredMessage {
    StoredMessage {
        exchange: Bytes::from_static(b"amq.direct"),
        routing_key: Bytes::from_static(b"bench"),
        raw_properties: Bytes::from_static(b"\x10\x00\x02"),
        body: body.clone(),
        persistent: true,
        published_at_ms: None,
    }
}

fn mib(n: u64) -> f64 {
    n as f64 / (1 << 20) as f64
}

/// `publishers` threads each publish `per` messages with up to `window` unconfirmed.
fn group_commit(publishers: u64, per: u64, window: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let body = Bytes::from(vec![0x42; 1024]);
    let start = Instant::now();
    let threads: Vec<_> = (0..publishers)
        .map(|p| {
            let store = store.clone();
            let body = body.clone();
            std::thread::spawn(move || {
                let (tx, rx) = mpsc::sync_channel(window);
                for _ in 0..window {
                    tx.send(()).unwrap();
                }
                for i in 0..per {
                    rx.recv().unwrap();
                    let tx = tx.clone();
                    store.submit(
                        StoreOp::Publish {
                            msg_id: p * per + i + 1,
                            message: message(&body),
                            entries: vec![(p + 1, i + 1)],
                        },
                        Some(Box::new(move |r| {
                            r.unwrap();
                            let _ = tx.send(());
                        })),
                    );
                }
                for _ in 0..window {
                    rx.recv().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let (commits, ops) = store.commit_counts();
    let total = publishers * per;
    println!(
        "commit: {publishers:>3} publishers x window {window:>4}: {:>9.0} msg/s ({:.1} MiB/s), \
         {commits} commits, {:.1} ops/commit",
        total as f64 / secs,
        mib(total * 1024) / secs,
        ops as f64 / commits.max(1) as f64
    );
}

fn publish_range(store: &Store, body: &Bytes, ids: std::ops::RangeInclusive<u64>) {
    for id in ids {
        store.submit(
            StoreOp::Publish {
                msg_id: id,
                message: message(body),
                entries: vec![(1, id)],
            },
            None,
        );
        if id % 8192 == 0 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
}

fn remove_range(store: &Store, seqs: std::ops::RangeInclusive<u64>) {
    for seq in seqs {
        store.submit(StoreOp::Remove { queue: 1, seq }, None);
        if seq % 8192 == 0 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
}

fn fill_drain(body_len: usize) {
    let volume: u64 = 256 << 20;
    let count = volume / body_len as u64;
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        sync: false,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let body = Bytes::from(vec![0x17; body_len]);
    let mut sizes = Vec::new();
    let start = Instant::now();
    for cycle in 0..5u64 {
        let base = cycle * count;
        publish_range(&store, &body, base + 1..=base + count);
        let full = store.file_size();
        remove_range(&store, base + 1..=base + count);
        sizes.push(format!("{:.0}/{:.0}", mib(full), mib(store.file_size())));
    }
    println!(
        "filldrain: {:>7} B x {count:>6} (256 MiB) x 5 cycles in {:.1}s, file MiB full/drained: {}",
        body_len,
        start.elapsed().as_secs_f64(),
        sizes.join(", ")
    );
    // Rolling backlog: 64 MiB kept, 1 GiB pushed through, head deleted as tail grows.
    let backlog = (64u64 << 20) / body_len as u64;
    let through = (1024u64 << 20) / body_len as u64;
    let first = 5 * count;
    publish_range(&store, &body, first + 1..=first + backlog);
    let mut samples = Vec::new();
    // Publish and remove in slices of 1/16 of the backlog, sampling the size 4 times.
    let slice = (backlog / 16).max(1);
    let sample_every = (through / 4).max(1);
    let mut head = first + 1;
    let mut next = first + backlog + 1;
    let stop = first + backlog + through;
    while next <= stop {
        let end = (next + slice - 1).min(stop);
        publish_range(&store, &body, next..=end);
        remove_range(&store, head..=head + (end - next));
        head += end - next + 1;
        let done_before = next - first - backlog - 1;
        next = end + 1;
        if done_before / sample_every != (next - first - backlog - 1) / sample_every {
            samples.push(format!("{:.0}", mib(store.file_size())));
        }
    }
    println!(
        "filldrain: {:>7} B rolling 64 MiB backlog, 1 GiB through: file MiB {}",
        body_len,
        samples.join(" → ")
    );
}

fn recovery(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    {
        let options = StoreOptions {
            sync: false,
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path(), options).unwrap();
        let body = Bytes::from(vec![0x33; 1024]);
        let start = Instant::now();
        publish_range(&store, &body, 1..=n);
        println!(
            "recovery: filled {n} x 1 KiB in {:.1}s ({:.0} msg/s, unsynced), file {:.0} MiB",
            start.elapsed().as_secs_f64(),
            n as f64 / start.elapsed().as_secs_f64(),
            mib(store.file_size())
        );
        store.close();
    }
    let start = Instant::now();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let opened = start.elapsed();
    let stats = store.queue_stats(1).unwrap();
    let page = store.read_queue(1, 0, 1000).unwrap();
    let total = start.elapsed();
    assert_eq!(stats.count, n);
    assert_eq!(page.len() as u64, n.min(1000));
    println!(
        "recovery: {n} msgs: open {:.1} ms, open+queue_stats+first 1000 entries {:.1} ms",
        opened.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
    let start = Instant::now();
    let mut from = 0;
    let mut seen = 0u64;
    loop {
        let page = store.read_queue(1, from, 10_000).unwrap();
        let Some(last) = page.last() else { break };
        seen += page.len() as u64;
        from = last.seq + 1;
    }
    assert_eq!(seen, n);
    println!(
        "recovery: full scan of all {n} entries with bodies in pages of 10k: {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fills `gib` GiB, keeps `live_percent` of it, compacts.
fn compaction(gib: u64, live_percent: u64) {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        sync: false,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let body = Bytes::from(vec![0x42; 64 * 1024]);
    let n = gib * 16 * 1024;
    let start = Instant::now();
    for i in 1..=n {
        store.submit(
            StoreOp::Publish {
                msg_id: i,
                message: message(&body),
                entries: vec![(1, i)],
            },
            None,
        );
        if i % 4096 == 0 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
    let filled = start.elapsed();
    let keep_every = 100 / live_percent.clamp(1, 100);
    for i in (1..=n).filter(|i| live_percent == 0 || i % keep_every != 0) {
        store.submit(StoreOp::Remove { queue: 1, seq: i }, None);
        if i % 4096 == 0 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
    let live = store.queue_stats(1).unwrap().count;
    let (size, reusable) = (store.file_size(), store.reusable_bytes().unwrap());
    store.close();
    println!(
        "compact: filled {:.0} MiB in {:.1} s; {live} of {n} messages live, {:.0} MiB reusable",
        mib(size),
        filled.as_secs_f64(),
        mib(reusable)
    );
    let c = warren::store::compact(dir.path()).unwrap();
    println!(
        "compact: {:.0} MiB -> {:.0} MiB in {:.2} s",
        mib(c.before),
        mib(c.after),
        c.elapsed.as_secs_f64()
    );
    let start = Instant::now();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.queue_stats(1).unwrap().count, live);
    println!(
        "compact: reopened in {:.3} s",
        start.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    if want("commit") {
        group_commit(1, 2000, 1);
        group_commit(1, 100_000, 256);
        group_commit(16, 20_000, 256);
        group_commit(64, 5_000, 64);
    }
    if want("filldrain") {
        for len in [1024, 16 * 1024, 1 << 20] {
            fill_drain(len);
        }
    }
    if want("recovery") {
        let n = std::env::var("WARREN_BENCH_RECOVERY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5_000_000);
        recovery(n);
    }
    if args.iter().any(|a| a == "compact") {
        compaction(
            env_u64("WARREN_BENCH_COMPACT_GIB", 5),
            env_u64("WARREN_BENCH_COMPACT_LIVE", 10),
        );
    }
}
