//! Tests of the segment log: reopening, crash cuts, damage, truncate and purge.

use super::*;
use crate::cluster::segment_file::{HEADER, KIND_ENTRY, list_segments, push_record, segment_path};
use openraft::{CommittedLeaderId, EntryPayload};

fn id(index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(3, 1), index)
}

fn entries(from: u64, to: u64) -> Vec<Entry> {
    (from..=to)
        .map(|index| Entry {
            log_id: id(index),
            payload: EntryPayload::Blank,
        })
        .collect()
}

fn indexes(log: &SegmentLog, from: u64, to: u64) -> Vec<u64> {
    log.entries(from, to)
        .expect("read")
        .iter()
        .map(|e| e.log_id.index)
        .collect()
}

fn files(dir: &Path) -> Vec<u64> {
    list_segments(dir).expect("list")
}

#[test]
fn appended_entries_and_the_committed_hint_come_back_after_reopening() {
    let dir = tempfile::tempdir().expect("dir");
    let log = SegmentLog::open(dir.path(), None).expect("open");
    log.append(&entries(0, 4), Some(Some(id(2))))
        .expect("append");
    log.append(&entries(5, 6), None).expect("append");
    assert_eq!(indexes(&log, 2, 5), vec![2, 3, 4, 5]);
    assert_eq!(indexes(&log, 6, u64::MAX), vec![6]);
    assert!(indexes(&log, 7, 9).is_empty());
    drop(log);
    let log = SegmentLog::open(dir.path(), None).expect("reopen");
    assert_eq!(log.len(), 7);
    assert_eq!(log.last_log_id(), Some(id(6)));
    assert_eq!(log.committed(), Some(Some(id(2))));
    assert_eq!(indexes(&log, 0, 100), vec![0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_record_cut_short_at_the_end_is_cut_off_and_appends_continue() {
    let dir = tempfile::tempdir().expect("dir");
    let log = SegmentLog::open(dir.path(), None).expect("open");
    log.append(&entries(0, 2), None).expect("append");
    drop(log);
    let path = segment_path(dir.path(), 1);
    let whole = std::fs::metadata(&path).expect("size").len();
    // Half of another record, as a crash in the middle of a write leaves it.
    let torn = &entries(3, 3)[0];
    let mut more = push_record(Vec::new(), KIND_ENTRY, |b| {
        postcard::to_extend(torn, postcard::to_extend(&torn.log_id, b)?)
    })
    .expect("encode")
    .0;
    more.truncate(more.len() / 2);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &more))
        .expect("tear");
    let log = SegmentLog::open(dir.path(), None).expect("reopen");
    assert_eq!(std::fs::metadata(&path).expect("size").len(), whole);
    assert_eq!(log.last_log_id(), Some(id(2)));
    log.append(&entries(3, 4), None).expect("append");
    drop(log);
    let log = SegmentLog::open(dir.path(), None).expect("reopen");
    assert_eq!(indexes(&log, 0, 10), vec![0, 1, 2, 3, 4]);
}

#[test]
fn damage_before_the_last_segment_refuses_the_open() {
    let dir = tempfile::tempdir().expect("dir");
    let log = SegmentLog::open_with(dir.path(), None, 1).expect("open");
    log.append(&entries(0, 0), None).expect("append");
    log.append(&entries(1, 1), None).expect("append");
    drop(log);
    assert_eq!(files(dir.path()), vec![1, 2]);
    let path = segment_path(dir.path(), 1);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");
    let err = SegmentLog::open_with(dir.path(), None, 1).expect_err("damaged");
    assert!(
        matches!(err, SegmentLogError::Damaged { ref reason, .. } if reason == "checksum mismatch"),
        "{err}"
    );
}

#[test]
fn truncate_removes_later_segments_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("dir");
    let log = SegmentLog::open_with(dir.path(), None, 1).expect("open");
    for i in 0..5 {
        log.append(&entries(i, i), None).expect("append");
    }
    assert_eq!(files(dir.path()), vec![1, 2, 3, 4, 5]);
    log.truncate(2).expect("truncate");
    assert_eq!(files(dir.path()), vec![1, 2, 3]);
    assert_eq!(log.last_log_id(), Some(id(1)));
    assert!(indexes(&log, 2, 9).is_empty());
    // A new term's entries take the removed indexes.
    let newer = Entry {
        log_id: LogId::new(CommittedLeaderId::new(4, 2), 2),
        payload: EntryPayload::Blank,
    };
    log.append(std::slice::from_ref(&newer), None)
        .expect("append");
    drop(log);
    let log = SegmentLog::open_with(dir.path(), None, 1).expect("reopen");
    assert_eq!(indexes(&log, 0, 9), vec![0, 1, 2]);
    assert_eq!(log.last_log_id(), Some(newer.log_id));
    // Truncating past the end, or an empty log, changes nothing.
    log.truncate(10).expect("truncate");
    assert_eq!(log.len(), 3);
}

#[test]
fn purge_deletes_whole_segments_and_reopening_skips_purged_entries() {
    let dir = tempfile::tempdir().expect("dir");
    let log = SegmentLog::open_with(dir.path(), None, 1).expect("open");
    log.append(&entries(0, 1), None).expect("append");
    log.append(&entries(2, 3), None).expect("append");
    log.append(&entries(4, 5), None).expect("append");
    assert_eq!(files(dir.path()), vec![1, 2, 3]);
    log.purge(2).expect("purge");
    // Segment 2 still holds entry 3.
    assert_eq!(files(dir.path()), vec![2, 3]);
    assert_eq!(indexes(&log, 0, 9), vec![3, 4, 5]);
    drop(log);
    let log = SegmentLog::open_with(dir.path(), Some(&id(2)), 1).expect("reopen");
    assert_eq!(indexes(&log, 0, 9), vec![3, 4, 5]);
    log.purge(5).expect("purge all");
    assert!(log.is_empty());
    assert_eq!(log.last_log_id(), None);
    assert_eq!(files(dir.path()), vec![3]);
    log.append(&entries(6, 6), None).expect("append");
    drop(log);
    let log = SegmentLog::open_with(dir.path(), Some(&id(5)), 1).expect("reopen");
    assert_eq!(indexes(&log, 0, 9), vec![6]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A crash can leave the last segment cut anywhere (the write was never reported
    /// as flushed): reopening keeps exactly the records that lie wholly before the cut,
    /// and appending goes on from there.
    #[test]
    fn a_cut_anywhere_in_the_last_segment_keeps_the_whole_records_before_it(
        batches in proptest::collection::vec(1u64..4, 1..6),
        cut_at in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let log = SegmentLog::open(dir.path(), None).expect("open");
        let mut next = 0;
        for n in &batches {
            log.append(&entries(next, next + n - 1), Some(Some(id(next)))).expect("append");
            next += n;
        }
        // Where each entry's record ends.
        let ends: Vec<(u64, u64)> = {
            let state = log.state.lock();
            state
                .slots
                .iter()
                .map(|s| (s.log_id.index, s.offset + HEADER as u64 + u64::from(s.len)))
                .collect()
        };
        drop(log);
        let path = segment_path(dir.path(), 1);
        let size = std::fs::metadata(&path).expect("size").len();
        let cut = (size as f64 * cut_at) as u64;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(cut))
            .expect("cut");
        let log = SegmentLog::open(dir.path(), None).expect("reopen");
        let kept: Vec<u64> = ends.iter().filter(|(_, end)| *end <= cut).map(|(i, _)| *i).collect();
        proptest::prop_assert_eq!(indexes(&log, 0, u64::MAX - 1), kept.clone());
        let resume = kept.last().map_or(0, |i| i + 1);
        log.append(&entries(resume, resume + 1), None).expect("append after the cut");
        drop(log);
        let log = SegmentLog::open(dir.path(), None).expect("reopen again");
        let mut expected = kept;
        expected.extend([resume, resume + 1]);
        proptest::prop_assert_eq!(indexes(&log, 0, u64::MAX - 1), expected);
    }
}

#[test]
fn a_gap_in_the_indexes_is_damage() {
    let dir = tempfile::tempdir().expect("dir");
    let log = SegmentLog::open(dir.path(), None).expect("open");
    log.append(&entries(0, 1), None).expect("append");
    log.append(&entries(3, 3), None).expect("append");
    drop(log);
    let err = SegmentLog::open(dir.path(), None).expect_err("gap");
    assert!(err.to_string().contains("entry 3 follows entry 1"), "{err}");
}
