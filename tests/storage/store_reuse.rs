//! Disk space is reused across fill/drain cycles: with no long-lived read transaction, the
//! pages freed by a drain are reused by the next fill, so the file stops growing after the
//! first cycle.

use bytes::Bytes;
use warren::store::{Store, StoreOp, StoreOptions, StoredMessage};

const MESSAGES: u64 = 200_000;

#[test]
fn the_data_file_stops_growing_after_the_first_fill_drain_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        sync: false,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let body = Bytes::from(vec![0x5a; 1024]);
    let mut sizes = Vec::new();
    let mut msg_id = 0;
    for cycle in 0..5u64 {
        let base = cycle * MESSAGES;
        for seq in base + 1..=base + MESSAGES {
            msg_id += 1;
            store.submit(
                StoreOp::Publish {
                    msg_id,
                    message: StoredMessage {
                        exchange: Bytes::new(),
                        routing_key: Bytes::from_static(b"q"),
                        raw_properties: Bytes::new(),
                        body: body.clone(),
                        persistent: true,
                        published_at_ms: None,
                    },
                    entries: vec![(1, seq)],
                },
                None,
            );
            if seq % 20_000 == 0 {
                store.flush().unwrap();
            }
        }
        store.flush().unwrap();
        assert_eq!(store.queue_stats(1).unwrap().count, MESSAGES);
        // A reader between fill and drain, as recovery or paging would do.
        assert_eq!(store.read_queue(1, base, 100).unwrap().len(), 100);
        for seq in base + 1..=base + MESSAGES {
            store.submit(StoreOp::Remove { queue: 1, seq }, None);
            if seq % 20_000 == 0 {
                store.flush().unwrap();
            }
        }
        store.flush().unwrap();
        assert_eq!(store.queue_stats(1).unwrap().count, 0);
        sizes.push(store.file_size());
    }
    eprintln!("file size after each cycle: {sizes:?}");
    let first = sizes[0];
    assert!(first > MESSAGES * 1024, "{sizes:?}");
    let last = *sizes.last().unwrap();
    // 5% plus 8 MiB of slack for freelist bookkeeping.
    assert!(
        last <= first + first / 20 + (8 << 20),
        "file grew across cycles: {sizes:?}"
    );
}
