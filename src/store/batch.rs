//! How much a write batch may carry: a bound on the pages one transaction dirties.
//!
//! Without `MDB_WRITEMAP`, LMDB copies every page a write transaction changes into a buffer
//! it `malloc`s, and after the commit keeps those buffers on its environment's free list
//! for later transactions, until the environment closes: the process holds as many page
//! buffers as the largest batch ever dirtied (4,096 publishes of 1 KiB held about 6 MiB
//! after a backlog drained, issue #11). Bounding what one batch writes bounds that cache.
//! Bodies are stored in leaf pages (chunks of at most [`super::codec::CHUNK`] bytes), so a
//! batch dirties about as many pages as it writes bytes, plus the index and stats pages.

use super::types::StoreOp;
use super::writer::Request;

/// A batch stops taking requests once their estimated dirty bytes reach this (the first
/// request always goes in, however large). 512 KiB is about 128 pages of 4 KiB; a batch of
/// 1 KiB messages dirties about 1.4 times that (three messages share a leaf page, plus the
/// index). Measured after 5,000,000 x 1 KiB drained (LMDB's cached page list counted with
/// gdb): 339 pages (1.32 MiB) held at a budget of 1 MiB, 176 (0.69 MiB) at 512 KiB, with
/// publish and drain rates unchanged within the run-to-run spread.
pub(crate) const DIRTY_BUDGET: usize = 1 << 19;

/// What a removal is counted as: it rewrites the leaf pages of its message and index entry,
/// whose size the op does not carry; this assumes messages of about 1 KiB.
pub(crate) const REMOVE_BYTES: usize = 1024;

/// What any other op, and each queue entry of a publish, is counted as.
pub(crate) const OP_BYTES: usize = 64;

/// The bytes a request is expected to change in the store's pages.
pub(crate) fn dirty_bytes(r: &Request) -> usize {
    match r {
        Request::Op(
            StoreOp::Publish {
                message, entries, ..
            },
            _,
        ) => message
            .body
            .len()
            .saturating_add(message.exchange.len())
            .saturating_add(message.routing_key.len())
            .saturating_add(message.raw_properties.len())
            .saturating_add(OP_BYTES.saturating_mul(entries.len().max(1))),
        Request::Op(StoreOp::Remove { .. }, _) => REMOVE_BYTES,
        Request::Op(StoreOp::PutDefinition { key, value, .. }, _) => key
            .len()
            .saturating_add(value.len())
            .saturating_add(OP_BYTES),
        _ => OP_BYTES,
    }
}

/// Whether a batch that is expected to dirty `dirty` bytes may take another request.
pub(crate) fn fits(dirty: usize) -> bool {
    dirty < DIRTY_BUDGET
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::StoredMessage;
    use bytes::Bytes;

    fn publish(body: usize, queues: usize) -> Request {
        let message = StoredMessage {
            exchange: Bytes::from_static(b"x"),
            routing_key: Bytes::from_static(b"rk"),
            raw_properties: Bytes::new(),
            body: Bytes::from(vec![0u8; body]),
            persistent: true,
            published_at_ms: None,
        };
        let entries = (0..queues as u64).map(|q| (q, 1)).collect();
        Request::Op(
            StoreOp::Publish {
                msg_id: 1,
                message,
                entries,
            },
            None,
        )
    }

    #[test]
    fn a_publish_counts_its_bytes_and_each_queue_entry() {
        assert_eq!(dirty_bytes(&publish(1000, 1)), 1000 + 3 + OP_BYTES);
        assert_eq!(dirty_bytes(&publish(10, 3)), 10 + 3 + 3 * OP_BYTES);
        let remove = Request::Op(StoreOp::Remove { queue: 1, seq: 1 }, None);
        assert_eq!(dirty_bytes(&remove), REMOVE_BYTES);
    }

    #[test]
    fn a_batch_of_1_kib_publishes_stops_near_the_budget() {
        let one = dirty_bytes(&publish(1024, 1));
        let mut dirty = 0;
        let mut taken = 0;
        while fits(dirty) {
            dirty += one;
            taken += 1;
        }
        assert_eq!(taken, DIRTY_BUDGET.div_ceil(one));
    }
}
