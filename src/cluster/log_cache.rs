//! The newest Raft log entries kept in memory, so replication to the followers and the
//! state machine's apply read them without an LMDB read and a decode each: on a busy
//! leader every entry is read back three times (once per follower, once to apply) right
//! after it was appended.
//!
//! The cache holds a contiguous run of entries that ends at the log's last entry (or
//! nothing): it is filled by appends once they are on disk, cut by truncation and purge,
//! and bounded in entries and payload bytes (the oldest go first). Message contents are
//! shared buffers ([`bytes::Bytes`]), so a cached entry mostly costs its op list.

use std::collections::VecDeque;

use openraft::EntryPayload;

use super::types::Entry;

/// Entries kept at most.
pub const MAX_CACHED_ENTRIES: usize = 512;
/// Payload bytes (keys, values and message contents) kept at most; one larger entry is
/// kept alone.
pub const MAX_CACHED_BYTES: usize = 8 << 20;

/// The newest entries of one node's log.
#[derive(Debug)]
pub struct RecentEntries {
    entries: VecDeque<Entry>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for RecentEntries {
    fn default() -> Self {
        RecentEntries::new(MAX_CACHED_ENTRIES, MAX_CACHED_BYTES)
    }
}

/// What an entry counts against [`MAX_CACHED_BYTES`].
fn payload_size(entry: &Entry) -> usize {
    match &entry.payload {
        EntryPayload::Normal(request) => request.ops.iter().map(|op| op.size()).sum(),
        EntryPayload::Blank | EntryPayload::Membership(_) => 0,
    }
}

impl RecentEntries {
    /// An empty cache bounded by `max_entries` (at least 1) and `max_bytes`.
    pub fn new(max_entries: usize, max_bytes: usize) -> RecentEntries {
        RecentEntries {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    /// Records entries just appended to the log (in index order, after every entry the
    /// cache holds). A gap or overlap with what it holds means the log changed under it:
    /// it starts over from these.
    pub fn appended(&mut self, entries: &[Entry]) {
        for entry in entries {
            let follows = self
                .entries
                .back()
                .is_none_or(|last| last.log_id.index.checked_add(1) == Some(entry.log_id.index));
            if !follows {
                self.clear();
            }
            self.bytes = self.bytes.saturating_add(payload_size(entry));
            self.entries.push_back(entry.clone());
        }
        while self.entries.len() > self.max_entries
            || (self.bytes > self.max_bytes && self.entries.len() > 1)
        {
            self.pop_oldest();
        }
    }

    /// The entries with indexes `start..=end` when the cache can answer for the log: `None`
    /// when `start` is older than what it holds (or it holds nothing), so the caller reads
    /// the log itself. Indexes past the newest entry do not exist in the log either.
    pub fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.log_id.index;
        if start < first {
            return None;
        }
        if start > end {
            return Some(Vec::new());
        }
        let from = usize::try_from(start - first).ok()?;
        let to = usize::try_from(end - first)
            .unwrap_or(usize::MAX)
            .min(self.entries.len().saturating_sub(1));
        if from > to {
            return Some(Vec::new());
        }
        Some(self.entries.range(from..=to).cloned().collect())
    }

    /// Forgets the entries with index `from` and later (the log was truncated there).
    pub fn truncated(&mut self, from: u64) {
        while self
            .entries
            .back()
            .is_some_and(|last| last.log_id.index >= from)
        {
            if let Some(entry) = self.entries.pop_back() {
                self.bytes = self.bytes.saturating_sub(payload_size(&entry));
            }
        }
    }

    /// Forgets the entries with index `up_to` and earlier (the log was purged to there).
    pub fn purged(&mut self, up_to: u64) {
        while self
            .entries
            .front()
            .is_some_and(|first| first.log_id.index <= up_to)
        {
            self.pop_oldest();
        }
    }

    /// Forgets everything (the log changed in a way the cache cannot follow).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn pop_oldest(&mut self) {
        if let Some(entry) = self.entries.pop_front() {
            self.bytes = self.bytes.saturating_sub(payload_size(&entry));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::entry::{ClusterOp, DefKind, Request};
    use crate::cluster::types::LogId;
    use openraft::CommittedLeaderId;

    fn entry(term: u64, index: u64, value_len: usize) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(Request::new(vec![ClusterOp::PutDefinition {
                kind: DefKind::Queue,
                key: Vec::new(),
                value: vec![0; value_len],
            }])),
        }
    }

    fn indexes(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries
            .iter()
            .map(|e| (e.log_id.leader_id.term, e.log_id.index))
            .collect()
    }

    #[test]
    fn answers_for_the_run_it_holds_and_sends_older_reads_to_the_log() {
        let mut cache = RecentEntries::new(10, 1 << 20);
        assert_eq!(cache.get(1, 5), None);
        cache.appended(&(5..=8).map(|i| entry(1, i, 1)).collect::<Vec<_>>());
        assert_eq!(cache.get(4, 6), None);
        assert_eq!(indexes(&cache.get(5, 6).expect("held")), [(1, 5), (1, 6)]);
        assert_eq!(
            indexes(&cache.get(7, u64::MAX).expect("held")),
            [(1, 7), (1, 8)]
        );
        assert_eq!(cache.get(9, 20), Some(Vec::new()));
        assert_eq!(cache.get(6, 5), Some(Vec::new()));
    }

    #[test]
    fn truncation_and_purge_cut_the_run_and_a_gap_starts_it_over() {
        let mut cache = RecentEntries::new(10, 1 << 20);
        cache.appended(&(1..=6).map(|i| entry(1, i, 1)).collect::<Vec<_>>());
        cache.truncated(5);
        cache.appended(&[entry(2, 5, 1)]);
        assert_eq!(indexes(&cache.get(4, 9).expect("held")), [(1, 4), (2, 5)]);
        cache.purged(2);
        assert_eq!(cache.get(2, 3), None);
        assert_eq!(indexes(&cache.get(3, 3).expect("held")), [(1, 3)]);
        // Index 7 after 5: the cache cannot vouch for 6, so it holds only 7 on.
        cache.appended(&[entry(2, 7, 1)]);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(5, 7), None);
        cache.purged(7);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_oldest_entries_go_first_past_either_bound() {
        let mut by_count = RecentEntries::new(3, 1 << 20);
        by_count.appended(&(1..=5).map(|i| entry(1, i, 1)).collect::<Vec<_>>());
        assert_eq!(by_count.get(2, 5), None);
        assert_eq!(
            indexes(&by_count.get(3, 5).expect("held")),
            [(1, 3), (1, 4), (1, 5)]
        );
        let mut by_bytes = RecentEntries::new(100, 250);
        by_bytes.appended(&(1..=4).map(|i| entry(1, i, 100)).collect::<Vec<_>>());
        assert_eq!(by_bytes.len(), 2);
        // One entry above the byte bound is kept alone.
        by_bytes.appended(&[entry(1, 5, 1000)]);
        assert_eq!(indexes(&by_bytes.get(5, 5).expect("held")), [(1, 5)]);
        assert_eq!(by_bytes.len(), 1);
    }
}
