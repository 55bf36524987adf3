//! Applying operations inside a write transaction. Outer `Err` (an LMDB error) aborts the
//! whole transaction; inner `Err` refuses just that op, after undoing whatever of it was
//! written, so one bad op never fails its batch.

use std::collections::HashMap;
use std::ops::Bound;

use heed::{PutFlags, RwTxn};

use super::codec::{self, Counters, META_NEXT_QUEUE};
use super::env::Dbs;
use super::types::{DefinitionKind, QueueId, StoreError, StoreOp, StoredMessage};

/// The result of one op: outer for the transaction, inner for the op.
pub(crate) type OpResult = Result<Result<(), StoreError>, heed::Error>;

/// State of one write transaction.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) dbs: Dbs,
    /// Counters of the queues touched so far (`None`: delete the record).
    stats: HashMap<QueueId, Option<Counters>>,
    /// Highest message id ever written (ids above it can use LMDB's append mode).
    last_msg_id: &'a mut u64,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(dbs: Dbs, last_msg_id: &'a mut u64) -> Self {
        Ctx {
            dbs,
            stats: HashMap::new(),
            last_msg_id,
        }
    }

    fn counters(&mut self, txn: &RwTxn<'_>, q: QueueId) -> Result<&mut Counters, heed::Error> {
        let slot = match self.stats.entry(q) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let stored = self.dbs.stats.get(txn, &q.to_be_bytes())?;
                v.insert(Some(stored.and_then(Counters::decode).unwrap_or_default()))
            }
        };
        Ok(slot.get_or_insert_with(Counters::default))
    }

    /// Writes the touched counters; call once before commit.
    pub(crate) fn finish(self, txn: &mut RwTxn<'_>) -> Result<(), heed::Error> {
        for (q, c) in self.stats {
            match c {
                Some(c) => self.dbs.stats.put(txn, &q.to_be_bytes(), &c.encode())?,
                None => {
                    self.dbs.stats.delete(txn, &q.to_be_bytes())?;
                }
            }
        }
        Ok(())
    }
}

/// Applies one op.
pub(crate) fn apply(txn: &mut RwTxn<'_>, ctx: &mut Ctx<'_>, op: &StoreOp) -> OpResult {
    match op {
        StoreOp::Publish {
            msg_id,
            message,
            entries,
        } => publish(txn, ctx, *msg_id, message, entries),
        StoreOp::Remove { queue, seq } => {
            remove(txn, ctx, *queue, *seq)?;
            Ok(Ok(()))
        }
        StoreOp::MarkDelivered { queue, up_to } => {
            let key = queue.to_be_bytes();
            let old = ctx
                .dbs
                .marks
                .get(txn, &key)?
                .and_then(|v| codec::be_u64(v, 0));
            if old.is_none_or(|o| o < *up_to) {
                ctx.dbs.marks.put(txn, &key, &up_to.to_be_bytes())?;
            }
            Ok(Ok(()))
        }
        StoreOp::DeliveryCount { queue, seq, count } => {
            let key = codec::index_key(*queue, *seq);
            // A count only grows: an older count that lands late (a retried op) is dropped.
            let counted = ctx
                .dbs
                .index
                .get(txn, &key)?
                .filter(|v| codec::index_delivery_count(v) < *count)
                .and_then(|v| codec::index_value_counted(v, *count));
            if let Some(v) = counted {
                ctx.dbs.index.put(txn, &key, &v)?;
            }
            Ok(Ok(()))
        }
        StoreOp::Purge { queue, forget } => {
            purge(txn, ctx, *queue, |_| true)?;
            if *forget {
                ctx.stats.insert(*queue, None);
                ctx.dbs.marks.delete(txn, &queue.to_be_bytes())?;
            }
            Ok(Ok(()))
        }
        StoreOp::PutDefinition { kind, key, value } => put_definition(txn, ctx, *kind, key, value),
        StoreOp::DeleteDefinition { kind, key } => {
            if let Some(k) = find_definition(txn, ctx, *kind, key)? {
                ctx.dbs.defs.delete(txn, &k)?;
            }
            Ok(Ok(()))
        }
    }
}

/// Records that queue ids below `next` are taken.
pub(crate) fn bump_queue_counter(txn: &mut RwTxn<'_>, dbs: &Dbs, next: u64) -> OpResult {
    let old = dbs
        .meta
        .get(txn, META_NEXT_QUEUE)?
        .and_then(|v| codec::be_u64(v, 0))
        .unwrap_or(0);
    if old < next {
        dbs.meta.put(txn, META_NEXT_QUEUE, &next.to_be_bytes())?;
    }
    Ok(Ok(()))
}

fn rejected(s: String) -> OpResult {
    Ok(Err(StoreError::Rejected(s)))
}

fn publish(
    txn: &mut RwTxn<'_>,
    ctx: &mut Ctx<'_>,
    msg_id: u64,
    message: &StoredMessage,
    entries: &[(QueueId, u64)],
) -> OpResult {
    if entries.is_empty() {
        return Ok(Ok(()));
    }
    let Some(refcount) = u32::try_from(entries.len()).ok() else {
        return rejected(format!("message {msg_id} has too many queue entries"));
    };
    let Some((header, parts)) = codec::encode_header(message, refcount) else {
        return rejected(format!("message {msg_id} has a field too large to store"));
    };
    let db = ctx.dbs.messages;
    // Fresh ids append at the right edge: full leaf pages instead of half-split ones.
    let flags = if msg_id > *ctx.last_msg_id {
        PutFlags::APPEND
    } else {
        PutFlags::NO_OVERWRITE
    };
    match db.put_with_flags(txn, flags, &codec::msg_key(msg_id, 0), &header) {
        Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => {
            return rejected(format!("message id {msg_id} is already stored"));
        }
        r => r?,
    }
    if parts > 0 {
        for (i, chunk) in message.body.chunks(codec::CHUNK).enumerate() {
            let part = u32::try_from(i + 1).unwrap_or(u32::MAX);
            db.put_with_flags(txn, flags, &codec::msg_key(msg_id, part), chunk)?;
        }
    }
    *ctx.last_msg_id = (*ctx.last_msg_id).max(msg_id);
    let value = codec::index_value(msg_id, message.persistent);
    for (i, &(q, seq)) in entries.iter().enumerate() {
        let key = codec::index_key(q, seq);
        match ctx
            .dbs
            .index
            .put_with_flags(txn, PutFlags::NO_OVERWRITE, &key, &value)
        {
            Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => {
                for &(q, seq) in entries.iter().take(i) {
                    ctx.dbs.index.delete(txn, &codec::index_key(q, seq))?;
                }
                delete_message(txn, &ctx.dbs, msg_id, parts)?;
                return rejected(format!("queue {q} already has an entry with seq {seq}"));
            }
            r => r?,
        }
    }
    let len = u64::try_from(message.body.len()).unwrap_or(u64::MAX);
    for &(q, seq) in entries {
        let c = ctx.counters(txn, q)?;
        c.count += 1;
        c.bytes = c.bytes.saturating_add(len);
        c.max_seq = c.max_seq.max(seq);
        if !message.persistent {
            c.transient += 1;
        }
    }
    Ok(Ok(()))
}

fn delete_message(txn: &mut RwTxn<'_>, dbs: &Dbs, msg_id: u64, parts: u32) -> heed::Result<()> {
    for p in 0..=parts {
        dbs.messages.delete(txn, &codec::msg_key(msg_id, p))?;
    }
    Ok(())
}

/// Drops one reference to a message, deleting it with its last; returns its body length.
fn decref(txn: &mut RwTxn<'_>, dbs: &Dbs, msg_id: u64) -> heed::Result<u64> {
    let key = codec::msg_key(msg_id, 0);
    let Some(raw) = dbs.messages.get(txn, &key)? else {
        tracing::error!(msg_id, "store: queue entry references a missing message");
        return Ok(0);
    };
    let Some(h) = codec::decode_header(raw) else {
        tracing::error!(msg_id, "store: damaged message header; deleting it");
        dbs.messages.delete(txn, &key)?;
        return Ok(0);
    };
    let (refcount, parts, len) = (h.refcount, h.parts, h.body_len);
    if refcount <= 1 {
        delete_message(txn, dbs, msg_id, parts)?;
    } else {
        let mut v = raw.to_vec();
        codec::set_refcount(&mut v, refcount - 1);
        dbs.messages.put(txn, &key, &v)?;
    }
    Ok(len)
}

fn remove(txn: &mut RwTxn<'_>, ctx: &mut Ctx<'_>, q: QueueId, seq: u64) -> heed::Result<()> {
    let key = codec::index_key(q, seq);
    let Some(v) = ctx.dbs.index.get(txn, &key)? else {
        return Ok(());
    };
    let Some((msg_id, persistent)) = codec::decode_index_value(v) else {
        ctx.dbs.index.delete(txn, &key)?;
        return Ok(());
    };
    ctx.dbs.index.delete(txn, &key)?;
    let len = decref(txn, &ctx.dbs, msg_id)?;
    let c = ctx.counters(txn, q)?;
    c.count = c.count.saturating_sub(1);
    c.bytes = c.bytes.saturating_sub(len);
    if !persistent {
        c.transient = c.transient.saturating_sub(1);
    }
    Ok(())
}

/// Removes the entries of `q` for which `pick(persistent)` holds, in slices so a huge queue
/// never needs its whole key list in memory.
pub(crate) fn purge(
    txn: &mut RwTxn<'_>,
    ctx: &mut Ctx<'_>,
    q: QueueId,
    pick: impl Fn(bool) -> bool,
) -> heed::Result<()> {
    const SLICE: usize = 16 * 1024;
    let end = codec::index_key(q, u64::MAX);
    let mut from = codec::index_key(q, 0);
    loop {
        let mut victims: Vec<([u8; 16], u64, bool)> = Vec::new();
        let mut scanned = 0;
        let mut next = None;
        for item in ctx.dbs.index.range(
            txn,
            &(Bound::Included(&from[..]), Bound::Included(&end[..])),
        )? {
            let (k, v) = item?;
            scanned += 1;
            if scanned > SLICE {
                next = <[u8; 16]>::try_from(k).ok();
                break;
            }
            let (Ok(key), Some((msg_id, persistent))) =
                (<[u8; 16]>::try_from(k), codec::decode_index_value(v))
            else {
                continue;
            };
            if pick(persistent) {
                victims.push((key, msg_id, persistent));
            }
        }
        for (key, msg_id, persistent) in victims {
            ctx.dbs.index.delete(txn, &key)?;
            let len = decref(txn, &ctx.dbs, msg_id)?;
            let c = ctx.counters(txn, q)?;
            c.count = c.count.saturating_sub(1);
            c.bytes = c.bytes.saturating_sub(len);
            if !persistent {
                c.transient = c.transient.saturating_sub(1);
            }
        }
        match next {
            Some(n) => from = n,
            None => return Ok(()),
        }
    }
}

/// The db key currently holding definition `key`, if any.
fn find_definition(
    txn: &RwTxn<'_>,
    ctx: &Ctx<'_>,
    kind: DefinitionKind,
    key: &[u8],
) -> heed::Result<Option<Vec<u8>>> {
    let (k, hashed) = codec::def_key(kind.tag(), key);
    if !hashed {
        return Ok(ctx.dbs.defs.get(txn, &k)?.map(|_| k));
    }
    for item in ctx.dbs.defs.prefix_iter(txn, &k)? {
        let (dk, v) = item?;
        if dk.len() == k.len() + 1 && codec::split_def_value(v).is_some_and(|(fk, _)| fk == key) {
            return Ok(Some(dk.to_vec()));
        }
    }
    Ok(None)
}

fn put_definition(
    txn: &mut RwTxn<'_>,
    ctx: &mut Ctx<'_>,
    kind: DefinitionKind,
    key: &[u8],
    value: &[u8],
) -> OpResult {
    let Some(v) = codec::def_value(key, value) else {
        return rejected("definition key too large".into());
    };
    let dk = match find_definition(txn, ctx, kind, key)? {
        Some(dk) => dk,
        None => {
            let (mut k, hashed) = codec::def_key(kind.tag(), key);
            if hashed {
                // A free collision slot after the hash.
                let mut used = [false; 256];
                for item in ctx.dbs.defs.prefix_iter(txn, &k)? {
                    let (dk, _) = item?;
                    if dk.len() == k.len() + 1
                        && let Some(&slot) = dk.last()
                    {
                        used[usize::from(slot)] = true;
                    }
                }
                let Some(slot) = used.iter().position(|u| !u) else {
                    return rejected("too many definition keys share a hash".into());
                };
                k.push(u8::try_from(slot).unwrap_or(u8::MAX));
            }
            k
        }
    };
    ctx.dbs.defs.put(txn, &dk, &v)?;
    Ok(Ok(()))
}
