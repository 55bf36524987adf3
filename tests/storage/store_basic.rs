//! The store's contract: what is written comes back exactly, in order, across reopen.

use std::sync::mpsc;

use bytes::Bytes;
use warren::store::{
    DefinitionKind, QueueEntry, QueueStats, Store, StoreError, StoreOp, StoreOptions, StoredMessage,
};

fn msg(body: &[u8], persistent: bool) -> StoredMessage {
    StoredMessage {
        exchange: Bytes::from_static(b"amq.direct"),
        routing_key: Bytes::from_static(b"key"),
        raw_properties: Bytes::from_static(b"\x10\x00\x02"),
        body: Bytes::copy_from_slice(body),
        persistent,
        published_at_ms: Some(1_795_000_000_000),
    }
}

fn publish(store: &Store, msg_id: u64, m: StoredMessage, entries: Vec<(u64, u64)>) {
    store.submit(
        StoreOp::Publish {
            msg_id,
            message: m,
            entries,
        },
        None,
    );
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

fn all(store: &Store, q: u64) -> Vec<QueueEntry> {
    store.read_queue(q, 0, usize::MAX).unwrap()
}

#[test]
fn published_messages_read_back_exactly_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = store.allocate_queue_id().unwrap();
    let big = vec![0xabu8; 100_000];
    let (tx, rx) = mpsc::channel();
    for seq in 1..=3u64 {
        let tx = tx.clone();
        let body = if seq == 2 {
            big.clone()
        } else {
            vec![seq as u8; 10]
        };
        store.submit(
            StoreOp::Publish {
                msg_id: seq + 100,
                message: msg(&body, true),
                entries: vec![(q, seq)],
            },
            Some(Box::new(move |r| tx.send((seq, r.is_ok())).unwrap())),
        );
    }
    let done: Vec<_> = rx.iter().take(3).collect();
    assert_eq!(done, vec![(1, true), (2, true), (3, true)]);
    let entries = all(&store, q);
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].seq, 2);
    assert_eq!(entries[1].msg_id, 102);
    assert!(!entries[1].redelivered);
    assert_eq!(entries[1].message, msg(&big, true));
    assert_eq!(entries[2].message.body, Bytes::from(vec![3u8; 10]));
    let page = store.read_queue(q, 2, 1).unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2]);
    assert_eq!(
        store.queue_stats(q).unwrap(),
        QueueStats {
            count: 3,
            bytes: 100_020,
            max_seq: 3
        }
    );
    assert_eq!(store.queues_with_entries().unwrap(), vec![q]);
}

#[test]
fn a_body_in_three_queues_is_stored_once_and_goes_with_its_last_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let body = vec![5u8; 50_000];
    publish(&store, 1, msg(&body, true), vec![(1, 1), (2, 1), (3, 7)]);
    store.flush().unwrap();
    assert_eq!(store.message_count().unwrap(), 1);
    let before = store.file_size();
    store.submit(StoreOp::Remove { queue: 1, seq: 1 }, None);
    store.submit(StoreOp::Remove { queue: 3, seq: 7 }, None);
    store.flush().unwrap();
    assert_eq!(store.message_count().unwrap(), 1);
    assert!(all(&store, 1).is_empty());
    assert_eq!(all(&store, 2)[0].message.body, Bytes::from(body));
    store.submit(StoreOp::Remove { queue: 2, seq: 1 }, None);
    // Removing twice is harmless.
    store.submit(StoreOp::Remove { queue: 2, seq: 1 }, None);
    store.flush().unwrap();
    assert_eq!(store.message_count().unwrap(), 0);
    assert_eq!(store.queue_stats(2).unwrap().count, 0);
    assert_eq!(store.queue_stats(2).unwrap().bytes, 0);
    assert!(store.queues_with_entries().unwrap().is_empty());
    assert!(store.file_size() >= before);
}

#[test]
fn reopen_keeps_order_ids_and_sets_redelivered_from_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = store.allocate_queue_id().unwrap();
    let q2 = store.allocate_queue_id().unwrap();
    assert_ne!(q, q2);
    for seq in 1..=10u64 {
        publish(&store, seq, msg(&seq.to_be_bytes(), true), vec![(q, seq)]);
    }
    publish(&store, 11, msg(b"transient", false), vec![(q, 11)]);
    store.submit(StoreOp::MarkDelivered { queue: q, up_to: 4 }, None);
    store.submit(StoreOp::MarkDelivered { queue: q, up_to: 2 }, None);
    store.submit(StoreOp::Remove { queue: q, seq: 3 }, None);
    store.close();
    assert!(matches!(store.queue_stats(q), Err(StoreError::Closed)));
    assert!(matches!(store.flush(), Err(StoreError::Closed)));
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.max_msg_id(), 10, "the transient message was dropped");
    let q3 = store.allocate_queue_id().unwrap();
    assert!(q3 > q2, "queue ids are not reused: {q3} after {q2}");
    let entries = all(&store, q);
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 4, 5, 6, 7, 8, 9, 10]);
    let redelivered: Vec<u64> = entries
        .iter()
        .filter(|e| e.redelivered)
        .map(|e| e.seq)
        .collect();
    assert_eq!(redelivered, vec![1, 2, 4]);
    assert_eq!(
        entries[3].message.body,
        Bytes::copy_from_slice(&5u64.to_be_bytes())
    );
    assert_eq!(
        store.queue_stats(q).unwrap(),
        QueueStats {
            count: 9,
            bytes: 72,
            max_seq: 11
        }
    );
}

#[test]
fn purge_empties_a_queue_and_forget_drops_its_counters() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for seq in 1..=1000u64 {
        publish(&store, seq, msg(&[1; 3000], true), vec![(1, seq), (2, seq)]);
    }
    store.submit(StoreOp::MarkDelivered { queue: 1, up_to: 5 }, None);
    store.submit(
        StoreOp::Purge {
            queue: 1,
            forget: false,
        },
        None,
    );
    store.flush().unwrap();
    assert!(all(&store, 1).is_empty());
    assert_eq!(store.queue_stats(1).unwrap().max_seq, 1000);
    assert_eq!(store.message_count().unwrap(), 1000);
    store.drop_queues(&[2]).unwrap();
    assert_eq!(store.message_count().unwrap(), 0);
    assert_eq!(store.queue_stats(2).unwrap(), QueueStats::default());
    assert!(store.queues_with_entries().unwrap().is_empty());
}

#[test]
fn bad_ops_fail_alone_and_their_batch_still_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (tx, rx) = mpsc::channel();
    let ops = vec![
        (1, 1, vec![(1, 1)]),
        (1, 2, vec![(1, 2)]), // duplicate msg_id
        (2, 3, vec![(1, 1)]), // duplicate (queue, seq)
        (3, 4, vec![(1, 3), (1, 3)]),
        (4, 5, vec![(1, 4)]),
    ];
    for (msg_id, tag, entries) in ops {
        let tx = tx.clone();
        store.submit(
            StoreOp::Publish {
                msg_id,
                message: msg(b"x", true),
                entries,
            },
            Some(Box::new(move |r| tx.send((tag, r)).unwrap())),
        );
    }
    let results: Vec<_> = rx.iter().take(5).collect();
    let ok: Vec<_> = results.iter().map(|(t, r)| (*t, r.is_ok())).collect();
    assert_eq!(
        ok,
        vec![(1, true), (2, false), (3, false), (4, false), (5, true)]
    );
    assert!(matches!(results[1].1, Err(StoreError::Rejected(_))));
    let seqs: Vec<_> = all(&store, 1).iter().map(|e| (e.seq, e.msg_id)).collect();
    assert_eq!(seqs, vec![(1, 1), (4, 4)]);
    assert_eq!(store.message_count().unwrap(), 2);
    assert_eq!(store.queue_stats(1).unwrap().count, 2);
}

#[test]
fn definitions_put_replace_delete_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let long_a = [vec![b'a'; 600], b"-one".to_vec()].concat();
    let long_b = [vec![b'a'; 600], b"-two".to_vec()].concat();
    let put = |kind, key: &[u8], value: &[u8]| {
        store.submit(
            StoreOp::PutDefinition {
                kind,
                key: key.to_vec(),
                value: value.to_vec(),
            },
            None,
        )
    };
    put(DefinitionKind::Queue, b"/\0q1", b"v1");
    put(DefinitionKind::Queue, b"/\0q2", b"v2");
    put(DefinitionKind::Queue, b"/\0q1", b"v1b");
    put(DefinitionKind::Exchange, b"/\0ex", b"e");
    put(DefinitionKind::Binding, &long_a, b"A");
    put(DefinitionKind::Binding, &long_b, b"B");
    put(DefinitionKind::Binding, &long_a, b"A2");
    store.submit(
        StoreOp::DeleteDefinition {
            kind: DefinitionKind::Queue,
            key: b"/\0q2".to_vec(),
        },
        None,
    );
    store.submit(
        StoreOp::DeleteDefinition {
            kind: DefinitionKind::User,
            key: b"nobody".to_vec(),
        },
        None,
    );
    store.close();
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store.definitions(DefinitionKind::Queue).unwrap(),
        vec![(b"/\0q1".to_vec(), b"v1b".to_vec())]
    );
    assert_eq!(
        store.definitions(DefinitionKind::Exchange).unwrap(),
        vec![(b"/\0ex".to_vec(), b"e".to_vec())]
    );
    let mut bindings = store.definitions(DefinitionKind::Binding).unwrap();
    bindings.sort();
    assert_eq!(
        bindings,
        vec![(long_a.clone(), b"A2".to_vec()), (long_b, b"B".to_vec())]
    );
    assert!(store.definitions(DefinitionKind::User).unwrap().is_empty());
    assert!(store.definitions(DefinitionKind::VHost).unwrap().is_empty());
}

#[test]
fn a_second_open_of_the_same_dir_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::Locked { dir: ref d } if d == dir.path()),
        "{err}"
    );
    assert!(err.to_string().contains("in use by another Warren process"));
    let clone = store.clone();
    store.close();
    // Even with a handle still alive, close released the directory.
    let again = open(dir.path());
    drop(clone);
    drop(again);
}

#[test]
fn a_tiny_map_grows_under_a_large_batch() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        initial_map_size: 1 << 20,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 1..=2000u64 {
        let tx = tx.clone();
        store.submit(
            StoreOp::Publish {
                msg_id: i,
                message: msg(&vec![i as u8; 16 * 1024], true),
                entries: vec![(1, i)],
            },
            Some(Box::new(move |r| tx.send(r.is_ok()).unwrap())),
        );
    }
    assert!(rx.iter().take(2000).all(|ok| ok));
    assert!(store.file_size() > 30 << 20, "{}", store.file_size());
    assert_eq!(store.queue_stats(1).unwrap().count, 2000);
    let last = store.read_queue(1, 2000, 10).unwrap();
    assert_eq!(
        last[0].message.body,
        Bytes::from(vec![2000u64 as u8; 16 * 1024])
    );
}

#[test]
fn a_map_at_its_maximum_fails_ops_with_map_full_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        initial_map_size: 1 << 20,
        max_map_size: 2 << 20,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    store.submit(
        StoreOp::Publish {
            msg_id: 1,
            message: msg(&vec![0; 4 << 20], true),
            entries: vec![(1, 1)],
        },
        Some(Box::new(move |r| tx.send(r).unwrap())),
    );
    let err = rx.recv().unwrap().unwrap_err();
    assert!(matches!(err, StoreError::MapFull), "{err}");
    store.submit(
        StoreOp::Publish {
            msg_id: 2,
            message: msg(b"small", true),
            entries: vec![(1, 2)],
        },
        Some(Box::new(move |r| tx2.send(r).unwrap())),
    );
    rx.recv().unwrap().unwrap();
    assert_eq!(all(&store, 1).len(), 1);
}

#[test]
fn dropping_the_last_handle_drains_and_releases_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for seq in 1..=500u64 {
        publish(&store, seq, msg(b"m", true), vec![(9, seq)]);
    }
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.queue_stats(9).unwrap().count, 500);
}

#[test]
fn a_panicking_completion_does_not_stop_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.submit(
        StoreOp::MarkDelivered { queue: 1, up_to: 1 },
        Some(Box::new(|_| panic!("caller bug"))),
    );
    publish(&store, 1, msg(b"after", true), vec![(1, 1)]);
    store.flush().unwrap();
    assert_eq!(all(&store, 1).len(), 1);
}

#[test]
fn submits_after_close_complete_with_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.close();
    let (tx, rx) = mpsc::channel();
    store.submit(
        StoreOp::Remove { queue: 1, seq: 1 },
        Some(Box::new(move |r| tx.send(r).unwrap())),
    );
    assert!(matches!(rx.recv().unwrap(), Err(StoreError::Closed)));
    assert!(matches!(store.allocate_queue_id(), Err(StoreError::Closed)));
}

#[test]
fn a_backlog_larger_than_one_batch_commits_in_several_batches_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = store.allocate_queue_id().unwrap();
    store.flush().unwrap();
    let (commits_before, _) = store.commit_counts();
    // Held while 40 publishes of 100 KB queue up: the writer would take them all at once
    // if a batch were bounded by its op count alone.
    let pause = store.pause_writer();
    let (tx, rx) = mpsc::channel();
    for seq in 1..=40u64 {
        let tx = tx.clone();
        store.submit(
            StoreOp::Publish {
                msg_id: seq,
                message: msg(&vec![seq as u8; 100_000], true),
                entries: vec![(q, seq)],
            },
            Some(Box::new(move |r| tx.send((seq, r.is_ok())).unwrap())),
        );
    }
    drop(pause);
    let confirmed: Vec<_> = rx.iter().take(40).collect();
    assert_eq!(
        confirmed,
        (1..=40u64).map(|s| (s, true)).collect::<Vec<_>>()
    );
    let (commits_after, _) = store.commit_counts();
    // 4 MB of bodies against a budget of 1 MiB per transaction.
    assert!(
        commits_after - commits_before >= 4,
        "{} commits",
        commits_after - commits_before
    );
    let back = all(&store, q);
    assert_eq!(
        back.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=40u64).collect::<Vec<_>>()
    );
    assert!(
        back.iter()
            .all(|e| e.message.body.len() == 100_000 && e.message.body[0] == e.seq as u8)
    );
}
