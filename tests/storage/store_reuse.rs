//! Disk space is reused across fill/drain cycles: with no long-lived read transaction, the
//! pages freed by a drain are reused by the next fill, so the file stops growing after the
//! first cycle. While a fill reuses those pages, the pages of the file mapped into the
//! process meanwhile are given back as it goes (issue #11: RssFile is not left to grow to
//! the size of the backlog).

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
    let data_file = std::fs::canonicalize(dir.path().join("data.mdb")).unwrap();
    let mut sizes = Vec::new();
    let mut mapped_after_fill = Vec::new();
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
        mapped_after_fill.push(mapped_kib(&data_file));
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
    eprintln!("KiB of the file mapped after each fill: {mapped_after_fill:?}");
    // Each fill writes about 200 MiB over the free pages of the previous one; the store
    // gives back what it mapped every 64 MiB of writes.
    for kib in &mapped_after_fill {
        assert!(
            *kib < 100 << 10,
            "mapped pages not given back while writing: {mapped_after_fill:?} KiB"
        );
    }
    let first = sizes[0];
    assert!(first > MESSAGES * 1024, "{sizes:?}");
    let last = *sizes.last().unwrap();
    // 5% plus 8 MiB of slack for freelist bookkeeping.
    assert!(
        last <= first + first / 20 + (8 << 20),
        "file grew across cycles: {sizes:?}"
    );
}

/// KiB of `path`'s mappings resident in this process (the `Rss:` of its entries in
/// `/proc/self/smaps`); 0 where there is no such file (not Linux).
fn mapped_kib(path: &std::path::Path) -> u64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let path = path.to_str().unwrap();
    let mut ours = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping's header: address range, perms, offset, device, inode, path.
            ours = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ")
                == path;
        } else if ours && first == "Rss:" {
            kib += line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    kib
}
