//! How far the leader's own proposals have got before they are applied: the log id each one
//! was appended at and the log's committed id, both reported by the log store.
//!
//! Why: openraft 0.9 answers a client write only after the entry is applied to the leader's
//! state machine, and applying is a store transaction of its own (one more disk flush and
//! the LMDB work of every op) after the commit. A publisher confirm needs only the commit (a
//! majority has the entry on disk, see [`super::log_store`]), so the proposer settles it as
//! soon as the committed id reaches the entry; what needs the local copy (a paged queue
//! reading the message back, the pending-bytes count) still waits for the apply.
//!
//! An entry is known committed only when the committed id has the same leader id as the
//! entry's own log id and an index at or above it: within one leader's term the log at an
//! index holds one entry on every node. A commit under another leader says nothing about
//! this node's entry (it may have been replaced); the proposer then waits for openraft's
//! answer as before.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::types::LogId;

/// Shared by a node's log store (which reports) and its proposer (which asks).
#[derive(Debug)]
pub struct CommitProgress {
    /// `(proposal, log id)` of the proposals appended and not yet found committed, in order.
    placed: Mutex<VecDeque<(u64, LogId)>>,
    committed: watch::Sender<Option<LogId>>,
}

impl Default for CommitProgress {
    fn default() -> Self {
        CommitProgress {
            placed: Mutex::new(VecDeque::new()),
            committed: watch::channel(None).0,
        }
    }
}

impl CommitProgress {
    /// The log store appended proposal `proposal` (non-zero) at `log_id`.
    pub fn placed(&self, proposal: u64, log_id: LogId) {
        self.placed.lock().push_back((proposal, log_id));
    }

    /// openraft committed the log up to `committed`.
    pub fn committed(&self, committed: Option<LogId>) {
        self.committed.send_replace(committed);
    }

    /// Changes of the committed id, for waiting on them.
    pub fn subscribe(&self) -> watch::Receiver<Option<LogId>> {
        self.committed.subscribe()
    }

    /// Whether proposal `proposal` is committed. Ask in proposal order: placements of
    /// earlier proposals are forgotten (they were settled some other way), and so is this
    /// one's once it is found committed.
    pub fn is_committed(&self, proposal: u64) -> bool {
        let committed = *self.committed.borrow();
        let Some(committed) = committed else {
            return false;
        };
        let mut placed = self.placed.lock();
        while placed.front().is_some_and(|(p, _)| *p < proposal) {
            placed.pop_front();
        }
        match placed.front() {
            Some((p, id))
                if *p == proposal
                    && id.leader_id == committed.leader_id
                    && id.index <= committed.index =>
            {
                placed.pop_front();
                true
            }
            _ => false,
        }
    }

    /// Forgets the placements of proposals up to and including `proposal` (settled).
    pub fn forget_through(&self, proposal: u64) {
        let mut placed = self.placed.lock();
        while placed.front().is_some_and(|(p, _)| *p <= proposal) {
            placed.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    #[test]
    fn a_proposal_is_committed_once_the_committed_id_of_its_term_reaches_it() {
        let p = CommitProgress::default();
        assert!(!p.is_committed(1), "nothing placed, nothing committed");
        p.placed(1, id(2, 10));
        p.placed(2, id(2, 11));
        p.committed(Some(id(2, 9)));
        assert!(!p.is_committed(1));
        p.committed(Some(id(2, 10)));
        assert!(p.is_committed(1));
        assert!(!p.is_committed(2));
        p.committed(Some(id(2, 12)));
        assert!(p.is_committed(2));
    }

    #[test]
    fn a_commit_under_another_leader_says_nothing_about_this_leaders_entry() {
        let p = CommitProgress::default();
        p.placed(1, id(2, 10));
        // A later leader committed past index 10: its entry 10 may be another one.
        p.committed(Some(id(3, 15)));
        assert!(!p.is_committed(1));
    }

    #[test]
    fn earlier_placements_are_dropped_when_a_later_proposal_is_asked_about() {
        let p = CommitProgress::default();
        p.placed(1, id(2, 10));
        p.placed(3, id(2, 11));
        p.committed(Some(id(2, 11)));
        // Proposal 2 was never appended (refused before the log): not committed, and
        // asking about it drops proposal 1's placement.
        assert!(!p.is_committed(2));
        assert!(!p.is_committed(1), "forgotten");
        assert!(p.is_committed(3));
        p.placed(4, id(2, 12));
        p.forget_through(4);
        p.committed(Some(id(2, 12)));
        assert!(!p.is_committed(4), "settled proposals are forgotten");
    }

    #[tokio::test]
    async fn subscribers_see_each_new_committed_id() {
        let p = CommitProgress::default();
        let mut rx = p.subscribe();
        p.committed(Some(id(1, 3)));
        rx.changed().await.expect("sender alive");
        assert_eq!(*rx.borrow_and_update(), Some(id(1, 3)));
    }
}
