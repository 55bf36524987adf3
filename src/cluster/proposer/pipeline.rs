//! The proposer's entries between `client_write_ff` and openraft's answer: uncommitted ones
//! (at most [`super::MAX_IN_FLIGHT`]), then committed ones waiting for this node's apply (at
//! most [`super::MAX_UNAPPLIED`]), and how each op's completions run.

use std::collections::VecDeque;
use std::sync::Arc;

use openraft::raft::ClientWriteResult;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{MAX_IN_FLIGHT, MAX_UNAPPLIED};
use crate::cluster::commit_progress::CommitProgress;
use crate::cluster::entry::Response;
use crate::cluster::types::TypeConfig;
use crate::store::{Completion, StoreError};

/// The completions of one op.
#[derive(Default)]
pub(super) struct Dones {
    /// Runs at the commit (or with the failure).
    pub(super) durable: Option<Completion>,
    /// Runs once applied here (or with the failure).
    pub(super) applied: Option<Completion>,
    /// The op's entry was committed and its durable completion ran with success.
    pub(super) committed: bool,
}

impl Dones {
    pub(super) fn applied(done: Completion) -> Dones {
        Dones {
            applied: Some(done),
            ..Dones::default()
        }
    }
}

/// An entry proposed and not yet applied.
pub(super) struct InFlight {
    /// Its number, as the log store reports it back.
    pub(super) proposal: u64,
    /// openraft's answer, once the entry is applied here (or failed).
    pub(super) rx: oneshot::Receiver<ClientWriteResult<TypeConfig>>,
    /// One per op of the entry.
    pub(super) dones: Vec<Dones>,
    /// When the entry's fate is called unknown.
    pub(super) deadline: Instant,
}

/// The proposer's entries: uncommitted ones, then committed ones waiting for the apply.
pub(super) struct Pipeline {
    progress: Arc<CommitProgress>,
    uncommitted: VecDeque<InFlight>,
    unapplied: VecDeque<InFlight>,
}

impl Pipeline {
    /// An empty pipeline that learns commits from `progress`.
    pub(super) fn new(progress: Arc<CommitProgress>) -> Pipeline {
        Pipeline {
            progress,
            uncommitted: VecDeque::with_capacity(MAX_IN_FLIGHT),
            unapplied: VecDeque::with_capacity(MAX_UNAPPLIED),
        }
    }

    /// Adds a newly proposed entry.
    pub(super) fn push(&mut self, entry: InFlight) {
        self.uncommitted.push_back(entry);
    }

    /// Whether some entry waits for its commit.
    pub(super) fn has_uncommitted(&self) -> bool {
        !self.uncommitted.is_empty()
    }

    /// Forgets where `entry` landed in the log (it is settled).
    pub(super) fn forget(&self, entry: &InFlight) {
        self.progress.forget_through(entry.proposal);
    }

    /// Moves the entries found committed (from the oldest) to the unapplied ones, running
    /// their durable completions.
    pub(super) fn promote_committed(&mut self) {
        while let Some(entry) = self.uncommitted.front() {
            if !self.progress.is_committed(entry.proposal) {
                break;
            }
            let Some(mut entry) = self.uncommitted.pop_front() else {
                break;
            };
            for dones in &mut entry.dones {
                dones.committed = true;
                if let Some(durable) = dones.durable.take() {
                    durable(Ok(()));
                }
            }
            self.unapplied.push_back(entry);
        }
    }

    /// Whether another entry may be proposed.
    pub(super) fn accepts(&self) -> bool {
        self.uncommitted.len() < MAX_IN_FLIGHT && self.unapplied.len() < MAX_UNAPPLIED
    }

    /// The entry openraft answers for next (the oldest), if any.
    fn oldest(&mut self) -> Option<&mut InFlight> {
        match self.unapplied.front_mut() {
            Some(entry) => Some(entry),
            None => self.uncommitted.front_mut(),
        }
    }

    /// Takes the oldest entry (openraft answers in log order).
    pub(super) fn pop_oldest(&mut self) -> Option<InFlight> {
        self.unapplied
            .pop_front()
            .or_else(|| self.uncommitted.pop_front())
    }

    /// Whether no entry is in flight.
    pub(super) fn is_empty(&self) -> bool {
        self.uncommitted.is_empty() && self.unapplied.is_empty()
    }
}

/// openraft's answer for the oldest entry: applied (with its refusals) or failed.
pub(super) async fn oldest_outcome(pipeline: &mut Pipeline) -> Result<Response, String> {
    match pipeline.oldest() {
        Some(entry) => wait(&mut entry.rx, entry.deadline).await,
        None => std::future::pending().await,
    }
}

/// openraft's answer on `rx`, or a failure at `deadline`.
pub(super) async fn wait<F>(rx: F, deadline: Instant) -> Result<Response, String>
where
    F: std::future::Future<
            Output = Result<ClientWriteResult<TypeConfig>, oneshot::error::RecvError>,
        >,
{
    match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(Ok(written))) => Ok(written.data),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(_)) => Err("the cluster node stopped".into()),
        Err(_) => Err("not applied in time (its fate is unknown)".into()),
    }
}

/// Runs what has not run yet of each op's completions with its outcome, in the entry's
/// order.
pub(super) fn settle(dones: Vec<Dones>, outcome: Result<Response, String>) {
    let refused = match &outcome {
        Ok(Response::Refused(list)) => list.as_slice(),
        _ => &[],
    };
    if let Err(reason) = &outcome {
        tracing::warn!(%reason, ops = dones.len(), "cluster: entry not replicated");
    }
    for (i, done) in dones.into_iter().enumerate() {
        let result = || match &outcome {
            Err(reason) => Err(StoreError::NotReplicated(reason.clone())),
            Ok(_) => match refused
                .iter()
                .find(|(j, _)| usize::try_from(*j).ok() == Some(i))
            {
                Some((_, reason)) => Err(StoreError::Rejected(reason.clone())),
                None => Ok(()),
            },
        };
        if let Some(durable) = done.durable {
            durable(result());
        }
        if let (true, Err(StoreError::Rejected(reason))) = (done.committed, result()) {
            // Committed (and so confirmed), then refused by this node's store: the broker
            // and its store disagree. Never expected.
            tracing::error!(%reason, "cluster: a committed op was refused when applied");
        }
        if let Some(applied) = done.applied {
            applied(result());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::types::LogId;

    fn log_id(index: u64) -> LogId {
        LogId::new(openraft::CommittedLeaderId::new(2, 1), index)
    }

    /// `(proposal, which completion, ok)` as the completions ran.
    type Seen = Arc<parking_lot::Mutex<Vec<(u64, &'static str, bool)>>>;

    /// An entry of one op whose completions record `(proposal, which, ok)` in `seen`.
    fn in_flight(proposal: u64, seen: &Seen) -> InFlight {
        let record = |which: &'static str| -> Completion {
            let seen = Arc::clone(seen);
            Box::new(move |r| seen.lock().push((proposal, which, r.is_ok())))
        };
        InFlight {
            proposal,
            rx: oneshot::channel().1,
            dones: vec![Dones {
                durable: Some(record("durable")),
                applied: Some(record("applied")),
                committed: false,
            }],
            deadline: Instant::now(),
        }
    }

    #[test]
    fn committed_entries_run_their_durable_completions_in_order_and_free_their_slot() {
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let progress = Arc::new(CommitProgress::default());
        let mut pipeline = Pipeline::new(Arc::clone(&progress));
        pipeline.push(in_flight(1, &seen));
        pipeline.push(in_flight(2, &seen));
        assert!(!pipeline.accepts(), "two entries uncommitted");
        progress.placed(1, log_id(7));
        progress.placed(2, log_id(8));
        pipeline.promote_committed();
        assert!(seen.lock().is_empty(), "nothing committed yet");
        progress.committed(Some(log_id(7)));
        pipeline.promote_committed();
        assert_eq!(*seen.lock(), [(1, "durable", true)]);
        assert_eq!(
            (pipeline.uncommitted.len(), pipeline.unapplied.len()),
            (1, 1)
        );
        assert!(pipeline.accepts(), "a committed entry frees its slot");
        // Applied with a refusal: the durable completion does not run twice; the applied one
        // gets the refusal.
        let oldest = pipeline.pop_oldest().expect("entry 1");
        assert_eq!(oldest.proposal, 1);
        settle(oldest.dones, Ok(Response::Refused(vec![(0, "no".into())])));
        assert_eq!(*seen.lock(), [(1, "durable", true), (1, "applied", false)]);
        // Entry 2 fails before its commit is seen: both completions get the failure.
        let next = pipeline.pop_oldest().expect("entry 2");
        settle(next.dones, Err("leader lost".into()));
        assert_eq!(
            seen.lock()[2..],
            [(2, "durable", false), (2, "applied", false)]
        );
        assert!(pipeline.is_empty());
    }
}
