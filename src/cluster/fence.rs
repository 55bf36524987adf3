//! Fencing: openraft 0.9 keeps a leader that is cut off from the others in the leader state
//! until it hears a higher term. Warren stops such a leader from accepting writes as soon as
//! no majority has acknowledged it for the fencing threshold (the minimum election timeout):
//! a follower cannot be elected before its lease (the maximum election timeout) runs out, so
//! the old leader has stopped before a new one exists.

use openraft::ServerState;

use super::types::Metrics;

/// True when `m` is a leader that has not heard from a majority for more than `fence_ms`
/// (or never has).
pub fn quorum_lost(m: &Metrics, fence_ms: u64) -> bool {
    m.state == ServerState::Leader && m.millis_since_quorum_ack.is_none_or(|ms| ms > fence_ms)
}
