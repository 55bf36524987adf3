//! The newest entries of the Raft log, kept in memory after their append so the leader's
//! replication sends them without reading them back from the segment files and decoding
//! them again (a profile put that at ~7% of a leader's CPU under confirmed publishing).
//!
//! Only a window: entries leave one commit after their own (openraft saves a commit and
//! then reads its entries to apply them, so the newest commit's entries stay for that read;
//! a follower that falls behind, or an apply that lags more than a commit, reads from disk
//! as before), when truncated or purged, and the oldest leave first when the
//! window would hold more than [`MAX_BYTES`]. An entry's message bytes are shared
//! ([`bytes::Bytes`]), so a read clones the ops' envelopes, not their bodies.

use std::collections::VecDeque;

use parking_lot::Mutex;

use super::entry::entry_bytes;
use super::types::Entry;

/// Most estimated bytes of entries the window holds.
pub const MAX_BYTES: usize = 16 << 20;

/// The window: consecutive entries, oldest first.
#[derive(Debug, Default)]
struct Window {
    entries: VecDeque<Entry>,
    /// Sum of [`entry_bytes`] of `entries`.
    bytes: usize,
}

impl Window {
    fn pop_front(&mut self) {
        if let Some(entry) = self.entries.pop_front() {
            self.bytes = self.bytes.saturating_sub(entry_bytes(&entry));
        }
    }

    fn pop_back(&mut self) {
        if let Some(entry) = self.entries.pop_back() {
            self.bytes = self.bytes.saturating_sub(entry_bytes(&entry));
        }
    }

    fn last_index(&self) -> Option<u64> {
        self.entries.back().map(|e| e.log_id.index)
    }
}

/// The newest appended entries of one node's log.
#[derive(Debug, Default)]
pub struct RecentEntries {
    window: Mutex<Window>,
    /// The newest committed index reported, whose entries are still to be applied.
    committed: Mutex<Option<u64>>,
}

/// Entries the window held for a range: `entries` start at index `first`.
#[derive(Debug)]
pub struct Cached {
    /// Index of the first entry.
    pub first: u64,
    /// Consecutive entries.
    pub entries: Vec<Entry>,
}

impl RecentEntries {
    /// Keeps `entries` (just written, consecutive) as the newest. Entries that do not follow
    /// the window's last one replace the window.
    pub fn appended(&self, entries: Vec<Entry>) {
        let mut window = self.window.lock();
        for entry in entries {
            if window
                .last_index()
                .is_some_and(|last| last.checked_add(1) != Some(entry.log_id.index))
            {
                *window = Window::default();
            }
            window.bytes = window.bytes.saturating_add(entry_bytes(&entry));
            window.entries.push_back(entry);
        }
        while window.bytes > MAX_BYTES && !window.entries.is_empty() {
            window.pop_front();
        }
    }

    /// Entries up to `index` are committed: forgets those of the commit before, keeping
    /// this commit's entries for the apply that reads them next.
    pub fn committed(&self, index: u64) {
        let previous = self.committed.lock().replace(index);
        if let Some(previous) = previous.filter(|&p| p < index) {
            self.forget_through(previous);
        }
    }

    /// Forgets the entries up to `index`: they are applied, or purged.
    pub fn forget_through(&self, index: u64) {
        let mut window = self.window.lock();
        while window
            .entries
            .front()
            .is_some_and(|e| e.log_id.index <= index)
        {
            window.pop_front();
        }
    }

    /// Forgets the entries from `index` on (a truncate).
    pub fn truncated(&self, index: u64) {
        let mut window = self.window.lock();
        while window
            .entries
            .back()
            .is_some_and(|e| e.log_id.index >= index)
        {
            window.pop_back();
        }
    }

    /// Copies of the entries with `start <= index <= end` that the window holds, if any.
    pub fn get(&self, start: u64, end: u64) -> Option<Cached> {
        let window = self.window.lock();
        let first_held = window.entries.front()?.log_id.index;
        let first = start.max(first_held);
        let last = end.min(window.last_index()?);
        if first > last {
            return None;
        }
        let skip = usize::try_from(first - first_held).ok()?;
        let count = usize::try_from(last - first).ok()?.checked_add(1)?;
        let entries = window
            .entries
            .iter()
            .skip(skip)
            .take(count)
            .cloned()
            .collect();
        Some(Cached { first, entries })
    }

    /// Entries held (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.window.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::entry::{ClusterOp, Message, Request};
    use crate::cluster::types::LogId;
    use bytes::Bytes;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(term: u64, index: u64, body: usize) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(Request::new(vec![ClusterOp::Publish {
                msg_id: index,
                message: Message {
                    exchange: Bytes::new(),
                    routing_key: Bytes::from_static(b"q"),
                    raw_properties: Bytes::new(),
                    body: Bytes::from(vec![index as u8; body]),
                    persistent: true,
                    published_at_ms: None,
                },
                entries: vec![(1, index)],
            }])),
        }
    }

    fn ops(entry: &Entry) -> Vec<ClusterOp> {
        match &entry.payload {
            EntryPayload::Normal(request) => request.ops.clone(),
            _ => Vec::new(),
        }
    }

    fn indexes(cached: &Option<Cached>) -> Vec<u64> {
        cached
            .as_ref()
            .map(|c| c.entries.iter().map(|e| e.log_id.index).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_range_comes_back_as_far_as_the_window_holds_it() {
        let recent = RecentEntries::default();
        recent.appended((5..=9).map(|i| entry(1, i, 10)).collect());
        let inside = recent.get(6, 8);
        assert_eq!(indexes(&inside), vec![6, 7, 8]);
        assert_eq!(inside.as_ref().map(|c| c.first), Some(6));
        // Overlapping the start or the end: only what is held, from its first index.
        let overlapping = recent.get(2, 100);
        assert_eq!(indexes(&overlapping), vec![5, 6, 7, 8, 9]);
        assert_eq!(overlapping.map(|c| c.first), Some(5));
        assert!(recent.get(1, 4).is_none());
        assert!(recent.get(10, 12).is_none());
        // The copies are the entries, bodies included.
        let got = recent.get(7, 7).expect("held");
        assert_eq!(got.entries[0].log_id, entry(1, 7, 10).log_id);
        let EntryPayload::Normal(request) = &got.entries[0].payload else {
            panic!("normal entry");
        };
        assert_eq!(request.ops, ops(&entry(1, 7, 10)));
    }

    #[test]
    fn commits_truncates_and_gaps_shrink_the_window() {
        let recent = RecentEntries::default();
        recent.appended((1..=6).map(|i| entry(1, i, 10)).collect());
        recent.forget_through(2);
        assert_eq!(indexes(&recent.get(0, 100)), vec![3, 4, 5, 6]);
        recent.truncated(5);
        assert_eq!(indexes(&recent.get(0, 100)), vec![3, 4]);
        // A new leader's entries continue after the truncate.
        recent.appended(vec![entry(2, 5, 10)]);
        let tail = recent.get(5, 5).expect("held");
        assert_eq!(tail.entries[0].log_id.leader_id.term, 2);
        // Entries that do not follow the last one replace the window.
        recent.appended(vec![entry(2, 9, 10)]);
        assert_eq!(indexes(&recent.get(0, 100)), vec![9]);
        recent.forget_through(9);
        assert_eq!(recent.len(), 0);
        assert!(recent.get(0, u64::MAX).is_none());
    }

    #[test]
    fn a_commits_entries_stay_until_the_next_commit_for_the_apply() {
        let recent = RecentEntries::default();
        recent.appended((1..=6).map(|i| entry(1, i, 10)).collect());
        recent.committed(3);
        // openraft reads 1..=3 to apply them right after saving the commit.
        assert_eq!(indexes(&recent.get(1, 3)), vec![1, 2, 3]);
        recent.committed(5);
        assert_eq!(indexes(&recent.get(0, 100)), vec![4, 5, 6]);
        // A commit id that does not move forward forgets nothing more.
        recent.committed(5);
        assert_eq!(indexes(&recent.get(0, 100)), vec![4, 5, 6]);
        recent.committed(6);
        assert_eq!(indexes(&recent.get(0, 100)), vec![6]);
    }

    #[test]
    fn the_window_keeps_the_newest_entries_within_its_byte_bound() {
        let recent = RecentEntries::default();
        let body = 1 << 20;
        let count = MAX_BYTES / body + 5;
        for i in 1..=count as u64 {
            recent.appended(vec![entry(1, i, body)]);
        }
        let held = recent.len();
        assert!(held < count, "{held} of {count} held");
        assert!(held * body <= MAX_BYTES, "{held} entries of {body} bytes");
        let all = recent.get(0, u64::MAX).expect("held");
        assert_eq!(all.first, (count - held + 1) as u64);
        assert_eq!(
            all.entries.last().map(|e| e.log_id.index),
            Some(count as u64)
        );
    }
}
