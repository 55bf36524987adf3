//! The cluster's Raft log storage alone (`warren::cluster::db::RaftDb`), no network and no
//! broker: appends N entries of 200 persistent 1 KiB messages each (~230 KiB encoded, what
//! the cluster benchmark's entries carry), each append synced and carrying the committed
//! hint as openraft's does, reads every entry back three times (two followers' replication
//! and the leader's apply), and purges up to 1,000 behind every 10,000 entries (the
//! default `snapshot_logs` / `keep_logs`). Prints the wall time per entry for each slice of
//! 2,000 entries and the process's user and system CPU time, then closes the log and times
//! opening it again (a restarting node's start-up; `--entries 9999` leaves the most behind).
//!
//! `cargo bench --bench raft_log -- [--entries 40000] [--dir /tmp/warren-raft-log] [--open-only]`
//!
//! The directory is emptied first and left behind for inspection. Runs on jemalloc, as the
//! `warren` binary does.

use bytes::Bytes;
use std::path::PathBuf;
use std::time::Instant;

use openraft::{CommittedLeaderId, EntryPayload};
use warren::cluster::db::RaftDb;
use warren::cluster::entry::{ClusterOp, Message, Request};
use warren::cluster::types::{Entry, LogId};

/// The allocator of the `warren` binary (the library leaves it to the binary).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Entries between two purges, and entries kept behind a purge (the cluster's defaults).
const PURGE_EVERY: u64 = 10_000;
const KEEP: u64 = 1_000;
/// Entries per reported slice.
const SLICE: u64 = 2_000;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// User and system CPU seconds of this process.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let entries: u64 = arg(&args, "--entries")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(40_000);
    let dir = PathBuf::from(arg(&args, "--dir").unwrap_or_else(|| "/tmp/warren-raft-log".into()));
    if args.iter().any(|a| a == "--open-only") {
        // Times opening what an earlier run left (after `echo 3 > /proc/sys/vm/drop_caches`:
        // a cold start).
        timed_open(&dir, "opened")?;
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let db = RaftDb::open(&dir)?;
    let ops: Vec<ClusterOp> = (0..200u64)
        .map(|i| ClusterOp::Publish {
            msg_id: i,
            message: Message {
                exchange: Bytes::new(),
                routing_key: Bytes::from_static(b"bench"),
                raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
                body: Bytes::from(vec![7; 1024]),
                persistent: true,
                published_at_ms: Some(1),
            },
            entries: vec![(1, i)],
        })
        .collect();
    let id = |index: u64| LogId::new(CommittedLeaderId::new(1, 1), index);
    let (user0, sys0) = cpu_seconds();
    let started = Instant::now();
    let mut slice = Instant::now();
    let mut worst_ms: f64 = 0.0;
    println!("entries  ms per entry (slice of {SLICE})");
    for index in 1..=entries {
        let entry = Entry {
            log_id: id(index),
            payload: EntryPayload::Normal(Request::new(ops.clone())),
        };
        db.append(std::slice::from_ref(&entry), Some(Some(id(index - 1))))?;
        for _ in 0..3 {
            let read = db.entries(index, index)?;
            if read.len() != 1 || read[0].log_id != entry.log_id {
                return Err(format!("entry {index} did not read back").into());
            }
        }
        if index % PURGE_EVERY == 0 {
            db.purge(&id(index - KEEP))?;
        }
        if index % SLICE == 0 {
            let ms = slice.elapsed().as_secs_f64() * 1000.0 / SLICE as f64;
            worst_ms = worst_ms.max(ms);
            println!("{index:>7}  {ms:.2}");
            slice = Instant::now();
        }
    }
    let (user1, sys1) = cpu_seconds();
    println!(
        "{entries} entries: wall {:.2} s, user {:.2} s, system {:.2} s, worst slice {worst_ms:.2} ms per entry, {} entries left",
        started.elapsed().as_secs_f64(),
        user1 - user0,
        sys1 - sys0,
        db.log_len()?
    );
    // Start-up: what a restarting node spends reading its log back.
    let held = db.log_len()?;
    drop(db);
    let reopened = timed_open(&dir, "reopened")?;
    if reopened != held {
        return Err(format!("{held} entries before reopening, {reopened} after").into());
    }
    Ok(())
}

/// Opens the log in `dir`, prints how long that took, and returns its number of entries.
fn timed_open(dir: &std::path::Path, what: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let opening = Instant::now();
    let db = RaftDb::open(dir)?;
    let held = db.log_len()?;
    println!(
        "{what} with {held} entries in {:.3} s",
        opening.elapsed().as_secs_f64()
    );
    Ok(held)
}
