//! The Raft log's entries on disk as append-only segment files (`<cluster dir>/log/`): an
//! append is one write and one `fdatasync`, a purge deletes whole files, a truncate cuts
//! the file the first removed entry starts in.
//!
//! Why not LMDB, which held the log before: an entry is a batch of operations, often
//! hundreds of KiB, so LMDB kept each in a run of contiguous overflow pages; between two
//! snapshots the log grew to gigabytes, a purge then freed hundreds of thousands of pages
//! at once, and finding a contiguous run in that fragmented free list made every later
//! append cost more CPU (README, Benchmarks). Each LMDB commit also synced twice.
//!
//! A segment file `<seq>.seg` (20 digits) is a sequence of checksummed records, log entries
//! and the committed log id hint (see [`super::log_store`]); the format is in
//! [`super::segment_file`]. New records go to the last segment; a new
//! one is started once it holds [`SEGMENT_BYTES`]. At open every segment is read back and
//! checked: a record cut short or failing its checksum at the end of the last segment is a
//! write a crash interrupted (openraft was never told it was flushed) and is cut off; one
//! anywhere else, or a gap in the indexes, is damage and refuses the open.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::entry::entry_bytes;
use super::segment_file::{
    HEADER, KIND_COMMITTED, KIND_ENTRY, Segment, io_err, list_segments, open_segment, push_record,
    scan_segment, segment_path, sync_dir,
};
use super::types::{Entry, LogId};

/// Most bytes of the log id that leads each record's payload (postcard varints).
const RECORD_LOG_ID_BYTES: usize = 32;

/// A segment is closed for appends once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// Why the segment log failed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentLogError {
    /// A file or directory operation failed.
    #[error("cluster log {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A segment holds something that is not a record this build wrote.
    #[error("cluster log file {} is damaged at byte {offset}: {reason}", path.display())]
    Damaged {
        /// The segment file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A record could not be encoded or decoded.
    #[error("cluster log record: {0}")]
    Codec(#[from] postcard::Error),
}

/// Where an entry's payload is.
#[derive(Debug, Clone, Copy)]
struct Slot {
    log_id: LogId,
    seq: u64,
    /// Offset of the record's header in its segment.
    offset: u64,
    /// Payload length.
    len: u32,
}

/// What is on disk, as the readers see it.
#[derive(Debug)]
struct State {
    /// Entries in index order, with no gaps.
    slots: VecDeque<Slot>,
    /// Segments oldest first; never empty; appends go to the last one.
    segments: Vec<Segment>,
    /// End of the data in the last segment.
    tail: u64,
    /// The newest committed hint written or found at open.
    committed: Option<Option<LogId>>,
}

impl State {
    fn current(&self) -> &Segment {
        // `segments` is never empty (open creates the first one, purge keeps the last).
        &self.segments[self.segments.len() - 1]
    }

    fn segment(&self, seq: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.seq == seq)
    }

    fn first_index(&self) -> Option<u64> {
        self.slots.front().map(|s| s.log_id.index)
    }
}

/// The log's entries as segment files. Readers and the one writer share it.
#[derive(Debug)]
pub struct SegmentLog {
    dir: PathBuf,
    /// A segment takes no more appends once it holds this many bytes.
    segment_bytes: u64,
    state: Mutex<State>,
    /// Serialises appends, truncates and purges (openraft issues them one at a time).
    writer: Mutex<()>,
}

impl SegmentLog {
    /// Opens (creating if needed) the log in `dir`, skipping entries at or below `purged`.
    pub fn open(dir: &Path, purged: Option<&LogId>) -> Result<SegmentLog, SegmentLogError> {
        Self::open_with(dir, purged, SEGMENT_BYTES)
    }

    /// [`SegmentLog::open`] with segments closed after `segment_bytes` (tests use small ones).
    pub fn open_with(
        dir: &Path,
        purged: Option<&LogId>,
        segment_bytes: u64,
    ) -> Result<SegmentLog, SegmentLogError> {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            // The new directory's own entry, so a power cut cannot take the log with it.
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let seqs = list_segments(dir)?;
        let purged_index = purged.map(|p| p.index);
        let mut state = State {
            slots: VecDeque::new(),
            segments: Vec::new(),
            tail: 0,
            committed: None,
        };
        for (i, &seq) in seqs.iter().enumerate() {
            let segment = open_segment(dir, seq)?;
            let scan = scan_segment(&segment)?;
            let last = i + 1 == seqs.len();
            if let Some(reason) = scan.torn {
                if !last {
                    return Err(SegmentLogError::Damaged {
                        path: segment.path.clone(),
                        offset: scan.end,
                        reason,
                    });
                }
                tracing::warn!(
                    file = %segment.path.display(),
                    offset = scan.end,
                    %reason,
                    "cluster log: cutting off a record a crash left unfinished"
                );
                segment
                    .file
                    .set_len(scan.end)
                    .and_then(|()| segment.file.sync_all())
                    .map_err(io_err(&segment.path))?;
            }
            for (log_id, offset, len) in scan.entries {
                if purged_index.is_some_and(|p| log_id.index <= p) {
                    continue;
                }
                if let Some(prev) = state.slots.back()
                    && log_id.index != prev.log_id.index + 1
                {
                    return Err(SegmentLogError::Damaged {
                        path: segment.path.clone(),
                        offset,
                        reason: format!(
                            "entry {} follows entry {}",
                            log_id.index, prev.log_id.index
                        ),
                    });
                }
                state.slots.push_back(Slot {
                    log_id,
                    seq,
                    offset,
                    len,
                });
            }
            if scan.committed.is_some() {
                state.committed = scan.committed;
            }
            if last {
                state.tail = scan.end;
            }
            state.segments.push(segment);
        }
        if state.segments.is_empty() {
            state.segments.push(open_segment(dir, 1)?);
            sync_dir(dir)?;
        }
        Ok(SegmentLog {
            dir: dir.to_path_buf(),
            segment_bytes,
            state: Mutex::new(state),
            writer: Mutex::new(()),
        })
    }

    /// Appends `entries` (and the committed hint when given) and syncs them to disk.
    pub fn append(
        &self,
        entries: &[Entry],
        committed: Option<Option<LogId>>,
    ) -> Result<(), SegmentLogError> {
        if entries.is_empty() && committed.is_none() {
            return Ok(());
        }
        let _writer = self.writer.lock();
        let (file, path, seq, start) = {
            let mut state = self.state.lock();
            if state.tail >= self.segment_bytes {
                let next = state.current().seq + 1;
                let segment = open_segment(&self.dir, next)?;
                sync_dir(&self.dir)?;
                state.segments.push(segment);
                state.tail = 0;
            }
            let current = state.current();
            (
                Arc::clone(&current.file),
                current.path.clone(),
                current.seq,
                state.tail,
            )
        };
        // Room for every record, so encoding does not grow (and copy) the buffer.
        let capacity = entries
            .iter()
            .map(|entry| entry_bytes(entry).saturating_add(HEADER + RECORD_LOG_ID_BYTES))
            .fold(HEADER + RECORD_LOG_ID_BYTES, usize::saturating_add);
        let mut buf = Vec::with_capacity(capacity);
        let mut placed = Vec::with_capacity(entries.len());
        for entry in entries {
            let offset = start + buf.len() as u64;
            let (next, len) = push_record(buf, KIND_ENTRY, |b| {
                postcard::to_extend(entry, postcard::to_extend(&entry.log_id, b)?)
            })?;
            buf = next;
            placed.push(Slot {
                log_id: entry.log_id,
                seq,
                offset,
                len,
            });
        }
        if let Some(id) = committed {
            buf = push_record(buf, KIND_COMMITTED, |b| postcard::to_extend(&id, b))?.0;
        }
        file.write_all_at(&buf, start)
            .and_then(|()| file.sync_data())
            .map_err(io_err(&path))?;
        let mut state = self.state.lock();
        state.tail = start + buf.len() as u64;
        state.slots.extend(placed);
        if committed.is_some() {
            state.committed = committed;
        }
        Ok(())
    }

    /// Deletes the entries with index >= `from` (synced).
    pub fn truncate(&self, from: u64) -> Result<(), SegmentLogError> {
        let _writer = self.writer.lock();
        let mut state = self.state.lock();
        let Some(first) = state.first_index() else {
            return Ok(());
        };
        let keep = usize::try_from(from.saturating_sub(first)).unwrap_or(usize::MAX);
        let Some(cut) = state.slots.get(keep).copied() else {
            return Ok(());
        };
        while state.current().seq > cut.seq {
            if let Some(segment) = state.segments.pop() {
                std::fs::remove_file(&segment.path).map_err(io_err(&segment.path))?;
            }
        }
        let current = state.current();
        current
            .file
            .set_len(cut.offset)
            .and_then(|()| current.file.sync_all())
            .map_err(io_err(&current.path))?;
        sync_dir(&self.dir)?;
        state.slots.truncate(keep);
        state.tail = cut.offset;
        Ok(())
    }

    /// Forgets the entries with index <= `upto` and deletes the segments that held only
    /// such entries. Record the purged id durably before calling this: entries left in a
    /// kept segment are skipped at open by it.
    pub fn purge(&self, upto: u64) -> Result<(), SegmentLogError> {
        let _writer = self.writer.lock();
        let mut state = self.state.lock();
        while state.slots.front().is_some_and(|s| s.log_id.index <= upto) {
            state.slots.pop_front();
        }
        let oldest_needed = state
            .slots
            .front()
            .map_or(state.current().seq, |slot| slot.seq);
        let mut deleted = Vec::new();
        state.segments.retain(|segment| {
            let gone = segment.seq < oldest_needed;
            if gone {
                deleted.push(segment.path.clone());
            }
            !gone
        });
        drop(state);
        for path in deleted {
            if let Err(e) = std::fs::remove_file(&path) {
                // Left behind: its entries are skipped at open, and the next purge after
                // a restart deletes it.
                tracing::warn!(file = %path.display(), error = %e, "cluster log: cannot delete a purged segment");
            }
        }
        Ok(())
    }

    /// The last entry's log id, if the log holds any.
    pub fn last_log_id(&self) -> Option<LogId> {
        self.state.lock().slots.back().map(|s| s.log_id)
    }

    /// Number of entries held.
    pub fn len(&self) -> u64 {
        self.state.lock().slots.len() as u64
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.state.lock().slots.is_empty()
    }

    /// The newest committed hint written since open or found at open.
    pub fn committed(&self) -> Option<Option<LogId>> {
        self.state.lock().committed
    }

    /// Entries with `start <= index <= end`, in order.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Entry>, SegmentLogError> {
        let wanted: Vec<(Arc<File>, PathBuf, Slot)> = {
            let state = self.state.lock();
            let Some(first) = state.first_index() else {
                return Ok(Vec::new());
            };
            let from = start.max(first);
            if from > end {
                return Ok(Vec::new());
            }
            let skip = usize::try_from(from - first).unwrap_or(usize::MAX);
            let count = usize::try_from(end - from)
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let mut wanted = Vec::new();
            for slot in state.slots.iter().skip(skip).take(count) {
                let Some(segment) = state.segment(slot.seq) else {
                    return Err(SegmentLogError::Damaged {
                        path: segment_path(&self.dir, slot.seq),
                        offset: slot.offset,
                        reason: format!("entry {} is in a deleted segment", slot.log_id.index),
                    });
                };
                wanted.push((Arc::clone(&segment.file), segment.path.clone(), *slot));
            }
            wanted
        };
        let mut out = Vec::with_capacity(wanted.len());
        let mut payload = Vec::new();
        for (file, path, slot) in wanted {
            payload.clear();
            payload.resize(slot.len as usize, 0);
            file.read_exact_at(&mut payload, slot.offset + HEADER as u64)
                .map_err(io_err(&path))?;
            let damaged = |reason: String| SegmentLogError::Damaged {
                path: path.clone(),
                offset: slot.offset,
                reason,
            };
            let entry = postcard::take_from_bytes::<LogId>(&payload)
                .and_then(|(_, rest)| postcard::from_bytes::<Entry>(rest))
                .map_err(|e| damaged(format!("entry does not decode: {e}")))?;
            if entry.log_id != slot.log_id {
                // Only if the entry was truncated and overwritten while being read.
                return Err(damaged(format!(
                    "expected entry {}, found {}",
                    slot.log_id, entry.log_id
                )));
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// Deletes every segment file in `dir` (before re-importing an interrupted migration).
    pub fn remove_all(dir: &Path) -> Result<(), SegmentLogError> {
        if !dir.exists() {
            return Ok(());
        }
        for seq in list_segments(dir)? {
            let path = segment_path(dir, seq);
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
