//! Quorum queues' delivery counts in the store: kept with their entry across a reopen, 0
//! for entries that never had one, gone with the entry (remove or purge), and a no-op for
//! an entry that is not there; a count only grows.

use bytes::Bytes;
use warren::store::{Store, StoreOp, StoreOptions, StoredMessage};

fn publish(store: &Store, queue: u64, seq: u64) {
    let message = StoredMessage {
        exchange: Bytes::new(),
        routing_key: Bytes::from_static(b"q"),
        raw_properties: Bytes::from_static(b"\x10\x00\x02"),
        body: Bytes::from(format!("m{seq}")),
        persistent: true,
        published_at_ms: Some(1_795_000_000_000),
    };
    let op = StoreOp::Publish {
        msg_id: queue * 1000 + seq,
        message,
        entries: vec![(queue, seq)],
    };
    store.submit(op, None);
}

fn count(store: &Store, queue: u64, seq: u64, count: u32) {
    store.submit(StoreOp::DeliveryCount { queue, seq, count }, None);
}

/// (seq, delivery count) of every entry of `queue`.
fn counts(store: &Store, queue: u64) -> Vec<(u64, u32)> {
    let entries = store.read_queue(queue, 0, usize::MAX).unwrap();
    entries.iter().map(|e| (e.seq, e.delivery_count)).collect()
}

#[test]
fn counts_live_and_die_with_their_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    for seq in 1..=3 {
        publish(&store, 1, seq);
        publish(&store, 2, seq);
    }
    count(&store, 1, 1, 1);
    count(&store, 1, 1, 2);
    count(&store, 1, 3, 5);
    count(&store, 1, 9, 4); // no such entry
    count(&store, 2, 2, 1);
    store.flush().unwrap();
    assert_eq!(counts(&store, 1), [(1, 2), (2, 0), (3, 5)]);
    store.close();
    drop(store);

    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(counts(&store, 1), [(1, 2), (2, 0), (3, 5)], "after reopen");
    assert_eq!(counts(&store, 2), [(1, 0), (2, 1), (3, 0)]);
    assert_eq!(store.queue_stats(1).unwrap().count, 3);
    // Removed, its count goes: the same position written again starts from 0.
    store.submit(StoreOp::Remove { queue: 1, seq: 3 }, None);
    publish(&store, 1, 3);
    store.submit(
        StoreOp::Purge {
            queue: 2,
            forget: true,
        },
        None,
    );
    publish(&store, 2, 2);
    store.flush().unwrap();
    assert_eq!(counts(&store, 1), [(1, 2), (2, 0), (3, 0)]);
    assert_eq!(counts(&store, 2), [(2, 0)]);
    assert_eq!(store.message_count().unwrap(), 4);
}

#[test]
fn a_lower_count_that_lands_late_never_replaces_a_higher_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    publish(&store, 1, 1);
    count(&store, 1, 1, 3);
    // A count written again after a failed transaction can arrive after a newer one.
    count(&store, 1, 1, 2);
    store.flush().unwrap();
    assert_eq!(counts(&store, 1), [(1, 3)]);
    count(&store, 1, 1, 4);
    store.flush().unwrap();
    assert_eq!(counts(&store, 1), [(1, 4)]);
}
