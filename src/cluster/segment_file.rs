//! One segment file of the Raft log ([`super::segment_log`]): its name, the record format
//! and reading a file back.
//!
//! A record is `[payload length: u32 LE][CRC-32 of kind and payload: u32 LE][kind: u8]
//! [payload]`, kind `KIND_ENTRY` (1) a log entry (postcard `LogId`, then postcard `Entry`, so
//! a scan reads the id without decoding the entry), kind `KIND_COMMITTED` (2) the committed
//! log id hint (postcard `Option<LogId>`).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::segment_log::SegmentLogError;
use super::types::LogId;

/// Bytes of a record's header (length, checksum, kind).
pub(crate) const HEADER: usize = 9;

/// Record kind: a log entry.
pub(crate) const KIND_ENTRY: u8 = 1;
/// Record kind: the committed log id hint.
pub(crate) const KIND_COMMITTED: u8 = 2;

/// Maps an I/O error on `path` to [`SegmentLogError::Io`].
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SegmentLogError + '_ {
    move |source| SegmentLogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Its sequence number (the file name).
    pub(crate) seq: u64,
    /// Its path.
    pub(crate) path: PathBuf,
    /// The open file, shared with readers.
    pub(crate) file: Arc<File>,
}

/// The path of segment `seq` in `dir`: 20 digits, `.seg`.
pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

/// Syncs `dir`'s entries (new or removed files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SegmentLogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Opens segment `seq` in `dir` for reading and writing, creating it if missing.
pub(crate) fn open_segment(dir: &Path, seq: u64) -> Result<Segment, SegmentLogError> {
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
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, SegmentLogError> {
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
pub(crate) fn push_record(
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
pub(crate) struct Scan {
    /// Entries as (log id, header offset, payload length).
    pub(crate) entries: Vec<(LogId, u64, u32)>,
    pub(crate) committed: Option<Option<LogId>>,
    /// End of the last whole record.
    pub(crate) end: u64,
    /// Why the scan stopped before the end of the file, if it did.
    pub(crate) torn: Option<String>,
}

/// Reads `segment` back record by record, checking each checksum, up to its end or the
/// first record that is cut short or fails its checksum.
pub(crate) fn scan_segment(segment: &Segment) -> Result<Scan, SegmentLogError> {
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
