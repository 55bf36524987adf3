//! Confirmed writes survive `kill -9`. The test re-runs its own binary as a child (selected by
//! an environment variable) that publishes as fast as the disk allows and prints each seq
//! whose completion reported a commit; the parent SIGKILLs it at a random point, reopens the
//! store and checks that every printed seq is there, once, in order, with its body.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use bytes::Bytes;
use warren::store::{Store, StoreOp, StoreOptions, StoredMessage};

const CHILD_DIR: &str = "WARREN_STORE_CRASH_CHILD_DIR";
const WINDOW: usize = 2048;

fn body(seq: u64) -> Bytes {
    let len = if seq.is_multiple_of(10) { 5000 } else { 300 };
    Bytes::from(
        (0..len)
            .map(|i| (seq as usize + i) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// The child: does nothing unless started by the parent below.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let store = Store::open(Path::new(&dir), StoreOptions::default()).unwrap();
    // A window of outstanding ops, so the child's memory stays bounded.
    let (permit_tx, permit_rx) = mpsc::sync_channel(WINDOW);
    for _ in 0..WINDOW {
        permit_tx.send(()).unwrap();
    }
    for seq in 1.. {
        permit_rx.recv().unwrap();
        let permit_tx = permit_tx.clone();
        store.submit(
            StoreOp::Publish {
                msg_id: seq,
                message: StoredMessage {
                    exchange: Bytes::from_static(b"ex"),
                    routing_key: Bytes::from_static(b"rk"),
                    raw_properties: Bytes::new(),
                    body: body(seq),
                    persistent: true,
                    published_at_ms: None,
                },
                entries: vec![(1, seq), (2, seq)],
            },
            Some(Box::new(move |r| {
                if r.is_ok() {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "seq {seq}");
                    let _ = out.flush();
                }
                let _ = permit_tx.send(());
            })),
        );
    }
}

/// The child test's name as the test harness lists it (the module path without the crate).
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::crash_child"),
        None => "crash_child".to_string(),
    }
}

fn parse(line: &str) -> Option<u64> {
    line.rsplit_once("seq ")?.1.trim().parse().ok()
}

#[test]
fn confirmed_publishes_survive_kill_9_in_order() {
    for round in 0..3u64 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                &child_test_name(),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let kill_after = 100 + (nanos + round * 7919) % 20_000;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        for line in lines.by_ref() {
            if let Some(seq) = parse(&line.unwrap()) {
                printed.push(seq);
                if printed.len() as u64 >= kill_after {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        // Whatever the child managed to print before dying counts too.
        printed.extend(lines.map_while(Result::ok).filter_map(|l| parse(&l)));
        child.wait().unwrap();
        assert!(printed.len() as u64 >= kill_after, "child stopped early");
        assert!(
            printed.windows(2).all(|w| w[0] < w[1]),
            "completions ran out of order"
        );

        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let last_printed = *printed.last().unwrap();
        for q in [1, 2] {
            let entries = store.read_queue(q, 0, usize::MAX).unwrap();
            let stored = entries.len() as u64;
            assert!(
                stored >= last_printed,
                "round {round} queue {q}: {stored} stored, {last_printed} confirmed"
            );
            for (i, e) in entries.iter().enumerate() {
                // Batches commit in submission order: what survives is a prefix 1..=n.
                assert_eq!(e.seq, i as u64 + 1);
                assert_eq!(e.msg_id, e.seq);
                assert_eq!(e.message.body, body(e.seq));
            }
            assert_eq!(store.queue_stats(q).unwrap().count, stored);
        }
        assert_eq!(store.max_msg_id(), store.queue_stats(1).unwrap().count);
        eprintln!(
            "round {round}: killed after {} confirmations, {} stored",
            printed.len(),
            store.queue_stats(1).unwrap().count
        );
    }
}
