//! On-disk key and value layouts (format version [`FORMAT_VERSION`]). All integers are
//! big-endian so LMDB's byte order is numeric order: a queue's index keys sort by seq, and
//! messages sort by id (so fresh messages append at the right edge of the B-tree).
//!
//! - `messages`: `(msg_id u64, part u32)` → part 0 is the header
//!   `refcount u32 | flags u8 | parts u32 | body_len u64 | [published_at u64] | exchange |
//!   routing key | properties` (each `len u32 | bytes`; `published_at`, Unix milliseconds,
//!   is there when flag 2 is set: format 1 did not write it) followed by the whole body when it fits in [`INLINE_MAX`];
//!   otherwise the body is split over parts `1..=parts` of at most [`CHUNK`] bytes. Small
//!   values never leave the leaf pages, so LMDB never needs a contiguous run of free pages
//!   (overflow pages), which a queue's fill/drain pattern fragments. Measured with
//!   `benches/store_throughput.rs filldrain` (2026-11-24, 2-core VM; 5 fill/drain cycles of
//!   256 MiB, then a rolling 64 MiB backlog with 1 GiB pushed through): chunked, the file
//!   stays flat at 353 / 291 / 331 MiB for 1 KiB / 16 KiB / 1 MiB bodies; unchunked
//!   (overflow pages) it is 322 MiB for 16 KiB and creeps 322 → 325 MiB for 1 MiB. Chunking
//!   keeps the file flat and never depends on contiguous free runs, so it stays.
//! - `index`: `(queue u64, seq u64)` → `msg_id u64 | flags u8 | [delivery_count u32]`. The
//!   count (a quorum queue's returns, see [`super::StoreOp::DeliveryCount`]) is written only
//!   once a message was returned: absent means 0. Builds before it read the first 9 bytes
//!   and ignore the rest, and data written before it has none, so the format version
//!   stays 2 both ways.
//! - `stats`: `queue u64` → `count u64 | bytes u64 | max_seq u64 | transient u64`.
//! - `marks`: `queue u64` → delivered watermark `u64`.
//! - `defs`: `kind u8 | key` (keys over [`DEF_KEY_INLINE`] bytes: `kind | first bytes | fnv64 |
//!   slot u8`) → `key_len u32 | key | value`.
//! - `meta`: [`META_VERSION`] → `u32`, [`META_NEXT_QUEUE`] → `u64`.

use bytes::{Bytes, BytesMut};

use super::types::StoredMessage;

/// The format this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The oldest format this build still reads (it upgrades the version mark on open).
pub(crate) const OLDEST_READABLE_VERSION: u32 = 1;
/// Meta key of the format version.
pub(crate) const META_VERSION: &[u8] = b"format-version";
/// Meta key of the next queue id.
pub(crate) const META_NEXT_QUEUE: &[u8] = b"next-queue-id";

/// Largest body chunk: two chunk nodes (plus keys and node headers) fill a 4 KiB leaf page.
pub(crate) const CHUNK: usize = 2000;
/// Largest header-plus-body kept in part 0.
pub(crate) const INLINE_MAX: usize = 2000;
/// Definition keys longer than this are stored by prefix and hash (LMDB keys are ≤ 511 bytes).
pub(crate) const DEF_KEY_INLINE: usize = 400;

const FLAG_PERSISTENT: u8 = 1;
const FLAG_PUBLISHED_AT: u8 = 2;
const HEADER_FIXED: usize = 4 + 1 + 4 + 8;

/// The key of part `part` of message `msg_id`.
pub(crate) fn msg_key(msg_id: u64, part: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&msg_id.to_be_bytes());
    k[8..].copy_from_slice(&part.to_be_bytes());
    k
}

/// The key of a queue entry.
pub(crate) fn index_key(queue: u64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&queue.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Reads a big-endian u64 at `at`, if there are 8 bytes there.
pub(crate) fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(s.try_into().ok()?))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

/// Splits an index key into (queue, seq).
pub(crate) fn split_index_key(k: &[u8]) -> Option<(u64, u64)> {
    Some((be_u64(k, 0)?, be_u64(k, 8)?))
}

/// An index value.
pub(crate) fn index_value(msg_id: u64, persistent: bool) -> [u8; 9] {
    let mut v = [0u8; 9];
    v[..8].copy_from_slice(&msg_id.to_be_bytes());
    v[8] = if persistent { FLAG_PERSISTENT } else { 0 };
    v
}

/// An index value (as read) with its delivery count set to `count`; `None` if damaged.
pub(crate) fn index_value_counted(v: &[u8], count: u32) -> Option<[u8; 13]> {
    let mut out = [0u8; 13];
    out[..9].copy_from_slice(v.get(..9)?);
    out[9..].copy_from_slice(&count.to_be_bytes());
    Some(out)
}

/// The delivery count an index value carries (0 when it has none).
pub(crate) fn index_delivery_count(v: &[u8]) -> u32 {
    be_u32(v, 9).unwrap_or(0)
}

/// Decodes an index value into (msg_id, persistent).
pub(crate) fn decode_index_value(v: &[u8]) -> Option<(u64, bool)> {
    Some((be_u64(v, 0)?, v.get(8)? & FLAG_PERSISTENT != 0))
}

/// A message header as decoded from part 0 (borrowing the value).
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) refcount: u32,
    pub(crate) persistent: bool,
    pub(crate) parts: u32,
    pub(crate) body_len: u64,
    pub(crate) published_at_ms: Option<u64>,
    pub(crate) exchange: &'a [u8],
    pub(crate) routing_key: &'a [u8],
    pub(crate) properties: &'a [u8],
    /// The inline body (empty when `parts > 0`).
    pub(crate) inline_body: &'a [u8],
}

fn field(b: &[u8], at: &mut usize) -> Option<std::ops::Range<usize>> {
    let len = usize::try_from(be_u32(b, *at)?).ok()?;
    let start = at.checked_add(4)?;
    let end = start.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    *at = end;
    Some(start..end)
}

/// Decodes part 0; `None` means the record is damaged.
pub(crate) fn decode_header(b: &[u8]) -> Option<Header<'_>> {
    let refcount = be_u32(b, 0)?;
    let flags = *b.get(4)?;
    let parts = be_u32(b, 5)?;
    let body_len = be_u64(b, 9)?;
    let mut at = HEADER_FIXED;
    let published_at_ms = if flags & FLAG_PUBLISHED_AT != 0 {
        let t = be_u64(b, at)?;
        at += 8;
        Some(t)
    } else {
        None
    };
    let ex = field(b, &mut at)?;
    let rk = field(b, &mut at)?;
    let pr = field(b, &mut at)?;
    let inline_body = b.get(at..)?;
    if parts == 0 && u64::try_from(inline_body.len()).ok()? != body_len {
        return None;
    }
    Some(Header {
        refcount,
        persistent: flags & FLAG_PERSISTENT != 0,
        parts,
        body_len,
        published_at_ms,
        exchange: b.get(ex)?,
        routing_key: b.get(rk)?,
        properties: b.get(pr)?,
        inline_body,
    })
}

/// Rewrites the refcount of an encoded header in place.
pub(crate) fn set_refcount(header: &mut [u8], refcount: u32) {
    if let Some(s) = header.get_mut(..4) {
        s.copy_from_slice(&refcount.to_be_bytes());
    }
}

/// Encodes part 0 and tells how many body chunks follow; `None` if a field exceeds u32 lengths.
pub(crate) fn encode_header(m: &StoredMessage, refcount: u32) -> Option<(Vec<u8>, u32)> {
    let fields = m.exchange.len() + m.routing_key.len() + m.raw_properties.len();
    let stamp = if m.published_at_ms.is_some() { 8 } else { 0 };
    let head_len = HEADER_FIXED + stamp + 12 + fields;
    let inline = head_len.checked_add(m.body.len())? <= INLINE_MAX;
    let parts = if inline {
        0
    } else {
        u32::try_from(m.body.len().div_ceil(CHUNK)).ok()?
    };
    let mut v = Vec::with_capacity(head_len + if inline { m.body.len() } else { 0 });
    v.extend_from_slice(&refcount.to_be_bytes());
    let mut flags = if m.persistent { FLAG_PERSISTENT } else { 0 };
    if m.published_at_ms.is_some() {
        flags |= FLAG_PUBLISHED_AT;
    }
    v.push(flags);
    v.extend_from_slice(&parts.to_be_bytes());
    v.extend_from_slice(&u64::try_from(m.body.len()).ok()?.to_be_bytes());
    if let Some(t) = m.published_at_ms {
        v.extend_from_slice(&t.to_be_bytes());
    }
    for f in [&m.exchange, &m.routing_key, &m.raw_properties] {
        v.extend_from_slice(&u32::try_from(f.len()).ok()?.to_be_bytes());
        v.extend_from_slice(f);
    }
    if inline {
        v.extend_from_slice(&m.body);
    }
    Some((v, parts))
}

/// Rebuilds a message from its header and its body chunks (in part order).
pub(crate) fn assemble<'a>(
    h: &Header<'_>,
    chunks: impl Iterator<Item = &'a [u8]>,
) -> Option<StoredMessage> {
    let body = if h.parts == 0 {
        Bytes::copy_from_slice(h.inline_body)
    } else {
        let len = usize::try_from(h.body_len).ok()?;
        let mut b = BytesMut::with_capacity(len);
        for c in chunks {
            b.extend_from_slice(c);
        }
        if b.len() != len {
            return None;
        }
        b.freeze()
    };
    Some(StoredMessage {
        exchange: Bytes::copy_from_slice(h.exchange),
        routing_key: Bytes::copy_from_slice(h.routing_key),
        raw_properties: Bytes::copy_from_slice(h.properties),
        body,
        persistent: h.persistent,
        published_at_ms: h.published_at_ms,
    })
}

/// Per-queue counters kept in the `stats` db, updated in the same transactions as the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) count: u64,
    pub(crate) bytes: u64,
    pub(crate) max_seq: u64,
    pub(crate) transient: u64,
}

impl Counters {
    pub(crate) fn encode(&self) -> [u8; 32] {
        let mut v = [0u8; 32];
        for (i, n) in [self.count, self.bytes, self.max_seq, self.transient]
            .into_iter()
            .enumerate()
        {
            v[i * 8..i * 8 + 8].copy_from_slice(&n.to_be_bytes());
        }
        v
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Counters> {
        Some(Counters {
            count: be_u64(v, 0)?,
            bytes: be_u64(v, 8)?,
            max_seq: be_u64(v, 16)?,
            transient: be_u64(v, 24)?,
        })
    }
}

/// FNV-1a, 64 bit: stable across Rust releases (unlike `DefaultHasher`), so usable on disk.
fn fnv64(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The db key of a definition, or for long keys the prefix shared by its hash slots.
pub(crate) fn def_key(tag: u8, key: &[u8]) -> (Vec<u8>, bool) {
    let mut k = Vec::with_capacity(key.len().min(DEF_KEY_INLINE) + 10);
    k.push(tag);
    match key.get(..DEF_KEY_INLINE) {
        Some(head) if key.len() > DEF_KEY_INLINE => {
            k.extend_from_slice(head);
            k.extend_from_slice(&fnv64(key).to_be_bytes());
            (k, true)
        }
        _ => {
            k.extend_from_slice(key);
            (k, false)
        }
    }
}

/// A definition value: the full key first, so long (hashed) keys can be checked and listed.
pub(crate) fn def_value(key: &[u8], value: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::with_capacity(4 + key.len() + value.len());
    v.extend_from_slice(&u32::try_from(key.len()).ok()?.to_be_bytes());
    v.extend_from_slice(key);
    v.extend_from_slice(value);
    Some(v)
}

/// Splits a definition value into (key, value).
pub(crate) fn split_def_value(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut at = 0;
    let k = field(v, &mut at)?;
    Some((v.get(k)?, v.get(at..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: usize) -> StoredMessage {
        StoredMessage {
            exchange: Bytes::from_static(b"ex"),
            routing_key: Bytes::from_static(b"rk"),
            raw_properties: Bytes::from_static(b"\x80\x00\x02"),
            body: Bytes::from(vec![7u8; body]),
            persistent: true,
            published_at_ms: Some(1_795_000_000_123),
        }
    }

    #[test]
    fn small_bodies_are_inline_and_round_trip() {
        let m = msg(1024);
        let (h, parts) = encode_header(&m, 3).unwrap();
        assert_eq!(parts, 0);
        let d = decode_header(&h).unwrap();
        assert_eq!(d.refcount, 3);
        assert_eq!(assemble(&d, std::iter::empty()).unwrap(), m);
    }

    #[test]
    fn large_bodies_are_chunked_and_round_trip() {
        let m = msg(16 * 1024 + 5);
        let (mut h, parts) = encode_header(&m, 1).unwrap();
        assert_eq!(parts, 9);
        set_refcount(&mut h, 2);
        let d = decode_header(&h).unwrap();
        assert_eq!(d.refcount, 2);
        let chunks: Vec<&[u8]> = m.body.chunks(CHUNK).collect();
        assert_eq!(assemble(&d, chunks.into_iter()).unwrap(), m);
        assert!(assemble(&d, std::iter::once(&b"short"[..])).is_none());
    }

    #[test]
    fn format_1_headers_without_a_publish_time_still_decode() {
        let m = StoredMessage {
            published_at_ms: None,
            ..msg(10)
        };
        let (h, _) = encode_header(&m, 1).unwrap();
        assert_eq!(h[4], FLAG_PERSISTENT, "format 1 flags");
        let d = decode_header(&h).unwrap();
        assert_eq!(d.published_at_ms, None);
        assert_eq!(assemble(&d, std::iter::empty()).unwrap(), m);
        let (stamped, _) = encode_header(&msg(10), 1).unwrap();
        assert_eq!(stamped.len(), h.len() + 8);
        assert_eq!(
            decode_header(&stamped).unwrap().published_at_ms,
            Some(1_795_000_000_123)
        );
    }

    #[test]
    fn index_values_carry_a_delivery_count_old_ones_read_as_zero() {
        let old = index_value(42, true);
        assert_eq!(index_delivery_count(&old), 0, "format 2 without a count");
        let counted = index_value_counted(&old, 3).unwrap();
        assert_eq!(decode_index_value(&counted), Some((42, true)));
        assert_eq!(index_delivery_count(&counted), 3);
        let again = index_value_counted(&counted, 7).unwrap();
        assert_eq!(index_delivery_count(&again), 7);
        assert_eq!(&again[..9], &old[..], "what older builds read is unchanged");
        assert!(index_value_counted(&old[..8], 1).is_none(), "damaged");
    }

    #[test]
    fn damaged_headers_are_refused() {
        let (h, _) = encode_header(&msg(10), 1).unwrap();
        for n in 0..h.len() {
            assert!(decode_header(&h[..n]).is_none(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn long_definition_keys_are_hashed_below_lmdb_limit() {
        let long = vec![b'x'; 2000];
        let (k, hashed) = def_key(4, &long);
        assert!(hashed);
        assert_eq!(k.len(), 1 + DEF_KEY_INLINE + 8);
        let (k, hashed) = def_key(4, b"short");
        assert!(!hashed);
        assert_eq!(k, b"\x04short");
        let v = def_value(&long, b"val").unwrap();
        assert_eq!(split_def_value(&v).unwrap(), (&long[..], &b"val"[..]));
    }
}
