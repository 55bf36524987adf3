//! Compaction gives back the space of a drained backlog: the data file keeps its peak size
//! after a drain (LMDB reuses freed pages but never shrinks), and compacting — at start-up
//! when the file is mostly free, or offline with `warren compact` — shrinks it to its live
//! data, which stays intact.

use bytes::Bytes;
use std::path::Path;
use warren::store::{Store, StoreError, StoreOp, StoreOptions, StoredMessage, compact};

const BACKLOG: u64 = 4_000;

fn body(seq: u64) -> Bytes {
    Bytes::from(
        (0..8192)
            .map(|i| (seq as usize + i) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn options(compact_free_percent: u8) -> StoreOptions {
    StoreOptions {
        sync: false,
        compact_free_percent,
        ..StoreOptions::default()
    }
}

fn publish(store: &Store, queue: u64, seq: u64) {
    store.submit(
        StoreOp::Publish {
            msg_id: queue * 1_000_000 + seq,
            message: StoredMessage {
                exchange: Bytes::new(),
                routing_key: Bytes::from_static(b"q"),
                raw_properties: Bytes::new(),
                body: body(seq),
                persistent: true,
                published_at_ms: None,
            },
            entries: vec![(queue, seq)],
        },
        None,
    );
}

/// A store in `dir` whose queue 1 held a large backlog, now drained, while queue 2 keeps 5
/// messages; returns the data file's size.
fn drained_backlog(dir: &Path) -> u64 {
    let store = Store::open(dir, options(0)).unwrap();
    for seq in 1..=5 {
        publish(&store, 2, seq);
    }
    for seq in 1..=BACKLOG {
        publish(&store, 1, seq);
    }
    store.flush().unwrap();
    for seq in 1..=BACKLOG {
        store.submit(StoreOp::Remove { queue: 1, seq }, None);
    }
    store.flush().unwrap();
    let size = store.file_size();
    assert!(size > BACKLOG * 8192, "the file kept its peak size: {size}");
    store.close();
    size
}

/// Queue 2's five messages are there, with their bodies; queue 1 is empty.
fn assert_live_data_intact(store: &Store) {
    let entries = store.read_queue(2, 0, 100).unwrap();
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    for e in &entries {
        assert_eq!(e.message.body, body(e.seq));
    }
    assert_eq!(store.queue_stats(1).unwrap().count, 0);
}

#[test]
fn the_offline_compaction_shrinks_a_drained_store_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let before = drained_backlog(dir.path());
    let done = compact(dir.path()).unwrap();
    assert_eq!(done.before, before);
    assert!(
        done.after < before / 10,
        "compacted from {before} to {} bytes",
        done.after
    );
    let store = Store::open(dir.path(), options(0)).unwrap();
    assert_eq!(store.file_size(), done.after);
    assert_live_data_intact(&store);
    // Still a working store: new writes go in.
    publish(&store, 2, 6);
    store.flush().unwrap();
    assert_eq!(store.queue_stats(2).unwrap().count, 6);
}

#[test]
fn a_mostly_free_store_is_compacted_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let before = drained_backlog(dir.path());
    // Compaction off: the file stays as it was.
    let store = Store::open(dir.path(), options(0)).unwrap();
    assert_eq!(store.file_size(), before);
    store.close();
    let store = Store::open(dir.path(), options(50)).unwrap();
    let after = store.file_size();
    assert!(
        after < before / 10,
        "compacted from {before} to {after} bytes"
    );
    assert_live_data_intact(&store);
}

#[test]
fn a_store_in_use_or_missing_is_not_compacted() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        compact(dir.path()),
        Err(StoreError::NoData { .. })
    ));
    let store = Store::open(dir.path(), options(0)).unwrap();
    publish(&store, 2, 1);
    store.flush().unwrap();
    assert!(matches!(
        compact(dir.path()),
        Err(StoreError::Locked { .. })
    ));
    assert_eq!(store.queue_stats(2).unwrap().count, 1);
}

#[test]
fn warren_compact_shrinks_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let before = drained_backlog(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("compact")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("compacted "), "{stdout}");
    let store = Store::open(dir.path(), options(0)).unwrap();
    assert!(store.file_size() < before / 10);
    assert_live_data_intact(&store);
}
