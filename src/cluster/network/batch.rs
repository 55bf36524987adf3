//! Byte bounds on append-entries requests. openraft batches up to `max_payload_entries`
//! entries per request whatever their size, while one entry may hold a message of up to
//! [`MAX_SINGLE_OP_BYTES`](crate::cluster::entry::MAX_SINGLE_OP_BYTES): a few of those in one
//! request would exceed the cluster port's
//! [`MAX_FRAME`](super::frame::MAX_FRAME) and the link would refuse it for
//! ever. [`bound`] keeps the longest prefix of the entries that fits [`APPEND_BUDGET`]
//! (always at least one entry); the transport then answers openraft with
//! `PartialSuccess(last sent)`, and openraft sends the rest in its next request.

use openraft::raft::AppendEntriesRequest;

use crate::cluster::entry::entry_bytes;
use crate::cluster::types::{LogId, TypeConfig};

/// Most estimated bytes of entries in one append request. Far under the frame cap: openraft
/// 0.9 gives an append request `heartbeat_ms` to be sent, stored and fsynced, so requests are
/// kept small; an entry over it (one large message) still goes, alone.
pub const APPEND_BUDGET: usize = 8 << 20;

/// Trims `rpc` to the entries that fit `budget` bytes (at least one). Returns the request
/// to send and, when entries were left out, the log id of the last entry it carries.
pub fn bound(
    mut rpc: AppendEntriesRequest<TypeConfig>,
    budget: usize,
) -> (AppendEntriesRequest<TypeConfig>, Option<LogId>) {
    let mut total = 0usize;
    let mut keep = rpc.entries.len();
    for (i, entry) in rpc.entries.iter().enumerate() {
        total = total.saturating_add(entry_bytes(entry));
        if total > budget && i > 0 {
            keep = i;
            break;
        }
    }
    if keep == rpc.entries.len() {
        return (rpc, None);
    }
    rpc.entries.truncate(keep);
    let last = rpc.entries.last().map(|e| e.log_id);
    tracing::debug!(
        sent = keep,
        "cluster: append request over the byte budget; sending a prefix"
    );
    (rpc, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::entry::{ClusterOp, Message, Request};
    use crate::cluster::network::frame::MAX_FRAME;
    use crate::cluster::network::rpc::RpcRequest;
    use crate::cluster::types::Entry;
    use bytes::Bytes;
    use openraft::EntryPayload;
    use openraft::{CommittedLeaderId, Vote};

    fn big_entry(index: u64, body: usize) -> Entry {
        let message = Message {
            exchange: Bytes::new(),
            routing_key: Bytes::from_static(b"q"),
            raw_properties: Bytes::new(),
            body: Bytes::from(vec![7u8; body]),
            persistent: true,
            published_at_ms: None,
        };
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request::new(vec![ClusterOp::Publish {
                msg_id: index,
                message,
                entries: vec![(1, index)],
            }])),
        }
    }

    fn request(entries: Vec<Entry>) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            entries,
            leader_commit: None,
        }
    }

    #[test]
    fn entries_near_the_single_op_cap_go_one_per_frame_and_each_frame_fits() {
        let near_cap = crate::cluster::entry::MAX_SINGLE_OP_BYTES - 1024;
        const {
            assert!(APPEND_BUDGET < MAX_FRAME);
            assert!(crate::cluster::entry::MAX_SINGLE_OP_BYTES + (1 << 20) < MAX_FRAME);
        };
        let entries: Vec<Entry> = (1..=3).map(|i| big_entry(i, near_cap)).collect();
        let mut pending = entries;
        let mut sent = Vec::new();
        while !pending.is_empty() {
            let (rpc, last) = bound(request(pending.clone()), APPEND_BUDGET);
            let n = rpc.entries.len();
            assert_eq!(n, 1, "one near-cap entry per request");
            let frame = postcard::to_allocvec(&RpcRequest::AppendEntries(rpc)).expect("encode");
            assert!(frame.len() <= MAX_FRAME, "{} > {MAX_FRAME}", frame.len());
            if pending.len() > 1 {
                assert_eq!(last.map(|l| l.index), Some(pending[0].log_id.index));
            } else {
                assert_eq!(last, None, "the last entry is sent whole, not as partial");
            }
            sent.extend(pending.drain(..n).map(|e| e.log_id.index));
        }
        assert_eq!(sent, vec![1, 2, 3]);
    }

    #[test]
    fn small_entries_are_sent_together_and_a_budget_split_keeps_order() {
        let entries: Vec<Entry> = (1..=10).map(|i| big_entry(i, 1000)).collect();
        let (rpc, last) = bound(request(entries.clone()), APPEND_BUDGET);
        assert_eq!((rpc.entries.len(), last), (10, None));
        let per = entry_bytes(&entries[0]);
        let (rpc, last) = bound(request(entries), per * 4 + 1);
        assert_eq!(rpc.entries.len(), 4);
        assert_eq!(last.map(|l| l.index), Some(4));
        // A single entry over the budget is still sent (it alone fits the frame cap).
        let (rpc, last) = bound(request(vec![big_entry(1, 5000)]), 10);
        assert_eq!((rpc.entries.len(), last), (1, None));
    }
}
