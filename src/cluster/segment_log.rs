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
//! A segment file `<seq>.seg` (20 digits) is a sequence of records:
//! `[payload length: u32 LE][CRC-32 of kind and payload: u32 LE][kind: u8][payload]`, kind 1
//! a log entry (postcard `LogId`, then postcard `Entry`: opening reads the id without
//! decoding the entry), kind 2 the committed log id hint (postcard `Option<LogId>`, see
//! [`super::log_store`]). New records go to the last segment; a new
//! one is started once it holds [`SEGMENT_BYTES`]. At open every segment is read back and
//! checked: a record cut short or failing its checksum at the end of the last segment is a
//! write a crash interrupted (openraft was never told it was flushed) and is cut off; one
//! anywhere else, or a gap in the indexes, is damage and refuses the open.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::types::{Entry, LogId};

/// A segment is closed for appends once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// Bytes of a record's header (length, checksum, kind).
const HEADER: usize = 9;

/// Record kind: a log entry.
const KIND_ENTRY: u8 = 1;
/// Record kind: the committed log id hint.
const KIND_COMMITTED: u8 = 2;

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

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SegmentLogError + '_ {
    move |source| SegmentLogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One segment file.
#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    file: Arc<File>,
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

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

fn sync_dir(dir: &Path) -> Result<(), SegmentLogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn open_segment(dir: &Path, seq: u64) -> Result<Segment, SegmentLogError> {
    let path = segment_path(dir, seq);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err(&path))?;
    Ok(Segment {
        seq,
        path,
        file: Arc::new(file),
    })
}

/// The sequence numbers of the segment files in `dir`, in order.
fn list_segments(dir: &Path) -> Result<Vec<u64>, SegmentLogError> {
    let mut seqs = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let item = item.map_err(io_err(dir))?;
        let name = item.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
            continue;
        };
        if let Ok(seq) = stem.parse::<u64>() {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Appends one record to `buf`: header, then the payload `encode` writes.
fn push_record(
    buf: Vec<u8>,
    kind: u8,
    encode: impl FnOnce(Vec<u8>) -> Result<Vec<u8>, postcard::Error>,
) -> Result<(Vec<u8>, u32), SegmentLogError> {
    let start = buf.len();
    let mut buf = buf;
    buf.extend_from_slice(&[0; HEADER]);
    let mut buf = encode(buf)?;
    let payload = buf.len() - start - HEADER;
    let len = u32::try_from(payload)
        .map_err(|_| SegmentLogError::Codec(postcard::Error::SerializeBufferFull))?;
    buf[start + HEADER - 1] = kind;
    let crc = crc32fast::hash(&buf[start + HEADER - 1..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok((buf, len))
}

/// What reading one segment back found.
struct Scan {
    /// Entries as (log id, header offset, payload length).
    entries: Vec<(LogId, u64, u32)>,
    committed: Option<Option<LogId>>,
    /// End of the last whole record.
    end: u64,
    /// Why the scan stopped before the end of the file, if it did.
    torn: Option<String>,
}

fn scan_segment(segment: &Segment) -> Result<Scan, SegmentLogError> {
    let size = segment
        .file
        .metadata()
        .map_err(io_err(&segment.path))?
        .len();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, &*segment.file);
    let mut scan = Scan {
        entries: Vec::new(),
        committed: None,
        end: 0,
        torn: None,
    };
    let mut payload = Vec::new();
    while scan.end < size {
        let left = size - scan.end;
        if left < HEADER as u64 {
            scan.torn = Some(format!("{left} bytes left, less than a record header"));
            break;
        }
        let mut header = [0u8; HEADER];
        reader
            .read_exact(&mut header)
            .map_err(io_err(&segment.path))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let kind = header[8];
        if u64::from(len) > left - HEADER as u64 {
            scan.torn = Some(format!("a record of {len} bytes runs past the end"));
            break;
        }
        payload.clear();
        payload.resize(len as usize, 0);
        reader
            .read_exact(&mut payload)
            .map_err(io_err(&segment.path))?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&[kind]);
        hasher.update(&payload);
        if hasher.finalize() != crc {
            scan.torn = Some("checksum mismatch".into());
            break;
        }
        match kind {
            KIND_ENTRY => {
                let (log_id, _) = postcard::take_from_bytes::<LogId>(&payload).map_err(|e| {
                    SegmentLogError::Damaged {
                        path: segment.path.clone(),
                        offset: scan.end,
                        reason: format!("entry's log id does not decode: {e}"),
                    }
                })?;
                scan.entries.push((log_id, scan.end, len));
            }
            KIND_COMMITTED => {
                let id: Option<LogId> =
                    postcard::from_bytes(&payload).map_err(|e| SegmentLogError::Damaged {
                        path: segment.path.clone(),
                        offset: scan.end,
                        reason: format!("committed id does not decode: {e}"),
                    })?;
                scan.committed = Some(id);
            }
            other => {
                return Err(SegmentLogError::Damaged {
                    path: segment.path.clone(),
                    offset: scan.end,
                    reason: format!("unknown record kind {other}"),
                });
            }
        }
        scan.end += HEADER as u64 + u64::from(len);
    }
    Ok(scan)
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
        let mut buf = Vec::new();
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
            let drop = segment.seq < oldest_needed;
            if drop {
                deleted.push(segment.path.clone());
            }
            !drop
        });
        drop(state);
        for path in deleted {
            if let Err(e) = std::fs::remove_file(&path) {
                // Left behind, its entries are skipped at open and it is removed then.
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
mod tests {
    use super::*;
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
}
