//! The proposer: the leader's broker writes go into the Raft log instead of the local
//! store writer ([`crate::store::Replicator`]).
//!
//! One task owns an open batch: it takes the first op that arrives and every op already
//! waiting behind it (up to [`MAX_OPS`] ops or [`MAX_ENTRY_BYTES`]; a larger single op
//! travels alone; a group from [`crate::store::Store::atomically`], such as a dead-letter
//! move, is never split and waits whole for the next entry if it does not fit), proposes
//! them as one entry with `client_write_ff`, and keeps at most [`MAX_IN_FLIGHT`] entries
//! uncommitted; everything arriving meanwhile waits for the next entry (group commit: many
//! connections' publishes share one log append and one fsync on each node).
//!
//! Each op has two completions. The durable one (publisher confirms) runs once the entry is
//! committed: the log store reports the entry's log id and each new committed id
//! ([`super::commit_progress`]), so it does not wait for this node to apply the entry (one
//! more store transaction and disk flush). The other runs once the entry is applied here.
//! Both run in log order. Up to [`MAX_UNAPPLIED`] committed entries may wait for the apply
//! (the store's pending-bytes bound holds the publishers back before that). When the entry
//! fails (this node is not, or no longer, the leader, or is fenced, or the entry was not
//! applied in time) what has not run yet runs with [`StoreError::NotReplicated`] and
//! nothing may be acknowledged to a client.

mod pipeline;

use openraft::ServerState;
use openraft::raft::ClientWriteResult;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::entry::{ClusterOp, MAX_ENTRY_BYTES, MAX_OPS, Request};
use super::node::ClusterNode;
use super::types::{LogId, TypeConfig};
use crate::store::{Completion, Replicator, StoreError, StoreOp};
use pipeline::{Dones, InFlight, Pipeline, oldest_outcome, settle, wait};

/// Entries proposed and not yet committed, at most.
pub const MAX_IN_FLIGHT: usize = 2;

/// Entries committed and not yet applied on this node, at most.
pub const MAX_UNAPPLIED: usize = 8;

/// What submitters send to the proposer task.
enum Item {
    Op(ClusterOp, Dones),
    /// Ops that go into one entry together, never split.
    Group(Vec<(ClusterOp, Completion)>),
    Counter(u64),
}

impl Item {
    fn size(&self) -> usize {
        match self {
            Item::Op(op, _) => op.size(),
            Item::Group(ops) => ops.iter().map(|(op, _)| op.size()).sum(),
            Item::Counter(_) => 16,
        }
    }

    fn ops(&self) -> usize {
        match self {
            Item::Group(ops) => ops.len(),
            _ => 1,
        }
    }

    /// Runs every completion with `reason` (the item never reached the log).
    fn fail(self, reason: &str) {
        let err = || Err(StoreError::NotReplicated(reason.into()));
        match self {
            Item::Op(_, dones) => {
                for done in [dones.durable, dones.applied].into_iter().flatten() {
                    done(err());
                }
            }
            Item::Group(ops) => {
                for (_, done) in ops {
                    done(err());
                }
            }
            Item::Counter(_) => {}
        }
    }
}

/// The handle the store holds in cluster mode.
#[derive(Debug)]
pub struct Proposer {
    tx: mpsc::UnboundedSender<Item>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Op(op, _) => f.debug_tuple("Op").field(op).finish(),
            Item::Group(ops) => f.debug_tuple("Group").field(&ops.len()).finish(),
            Item::Counter(n) => f.debug_tuple("Counter").field(n).finish(),
        }
    }
}

impl Proposer {
    /// Starts the proposer task for `node` on the current runtime. The task ends when the
    /// last [`Proposer`] is dropped (after failing what it still holds).
    pub fn start(node: ClusterNode) -> Proposer {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(node, rx));
        Proposer { tx }
    }

    fn send(&self, item: Item) {
        if let Err(e) = self.tx.send(item) {
            e.0.fail("the proposer has stopped");
        }
    }
}

impl Replicator for Proposer {
    fn propose(&self, op: StoreOp, durable: Option<Completion>, done: Completion) {
        let dones = Dones {
            durable,
            applied: Some(done),
            committed: false,
        };
        self.send(Item::Op(ClusterOp::from_store_op(op), dones));
    }

    fn propose_group(&self, ops: Vec<(StoreOp, Completion)>) {
        let ops = ops
            .into_iter()
            .map(|(op, done)| (ClusterOp::from_store_op(op), done))
            .collect();
        self.send(Item::Group(ops));
    }

    fn queue_counter(&self, next: u64) {
        self.send(Item::Counter(next));
    }
}

async fn run(node: ClusterNode, mut rx: mpsc::UnboundedReceiver<Item>) {
    let progress = node.commit_progress();
    let mut commits = progress.subscribe();
    let mut pipeline = Pipeline::new(progress);
    let mut carry: Option<Item> = None;
    let mut proposals = 0u64;
    let timeout = node.write_timeout();
    loop {
        tokio::select! {
            biased;
            outcome = oldest_outcome(&mut pipeline), if !pipeline.is_empty() => {
                if let Some(entry) = pipeline.pop_oldest() {
                    pipeline.forget(&entry);
                    settle(entry.dones, outcome);
                }
            }
            changed = committed(&mut commits), if pipeline.has_uncommitted() => {
                if changed {
                    pipeline.promote_committed();
                }
            }
            first = next_item(&mut carry, &mut rx), if pipeline.accepts() => {
                let Some(first) = first else { break };
                let (ops, dones) = gather(first, &mut carry, &mut rx);
                proposals += 1;
                match propose(&node, ops, proposals).await {
                    Ok(rx) => pipeline.push(InFlight {
                        proposal: proposals,
                        rx,
                        dones,
                        deadline: Instant::now() + timeout,
                    }),
                    Err(e) => settle(dones, Err(e)),
                }
            }
        }
    }
    // Every sender is gone: let what is in flight finish.
    while let Some(entry) = pipeline.pop_oldest() {
        let deadline = entry.deadline;
        let outcome = wait(entry.rx, deadline).await;
        settle(entry.dones, outcome);
    }
}

/// Waits for a new committed id; `false` if the log store is gone (then never again).
async fn committed(commits: &mut watch::Receiver<Option<LogId>>) -> bool {
    match commits.changed().await {
        Ok(()) => true,
        Err(_) => std::future::pending().await,
    }
}

async fn next_item(
    carry: &mut Option<Item>,
    rx: &mut mpsc::UnboundedReceiver<Item>,
) -> Option<Item> {
    match carry.take() {
        Some(item) => Some(item),
        None => rx.recv().await,
    }
}

/// The open batch: `first` and whatever is already waiting, within the entry's limits.
fn gather(
    first: Item,
    carry: &mut Option<Item>,
    rx: &mut mpsc::UnboundedReceiver<Item>,
) -> (Vec<ClusterOp>, Vec<Dones>) {
    let mut ops = Vec::new();
    let mut dones = Vec::new();
    let mut bytes = first.size();
    push(first, &mut ops, &mut dones);
    while ops.len() < MAX_OPS && bytes < MAX_ENTRY_BYTES {
        let Ok(item) = rx.try_recv() else { break };
        let size = item.size();
        // A group is never split: it waits for the next entry if it does not fit whole.
        if bytes.saturating_add(size) > MAX_ENTRY_BYTES
            || ops.len().saturating_add(item.ops()) > MAX_OPS
        {
            *carry = Some(item);
            break;
        }
        bytes += size;
        push(item, &mut ops, &mut dones);
    }
    (ops, dones)
}

fn push(item: Item, ops: &mut Vec<ClusterOp>, dones: &mut Vec<Dones>) {
    match item {
        Item::Op(op, done) => {
            ops.push(op);
            dones.push(done);
        }
        Item::Group(group) => {
            for (op, done) in group {
                ops.push(op);
                dones.push(Dones::applied(done));
            }
        }
        Item::Counter(next) => {
            ops.push(ClusterOp::QueueCounter { next });
            dones.push(Dones::default());
        }
    }
}

/// Hands the entry to openraft, unless this node is not a leader that can commit.
async fn propose(
    node: &ClusterNode,
    ops: Vec<ClusterOp>,
    proposal: u64,
) -> Result<oneshot::Receiver<ClientWriteResult<TypeConfig>>, String> {
    let mut request = Request::new(ops);
    request.check_size()?;
    request.proposal = proposal;
    let leader = {
        let m = node.raft().metrics();
        let m = m.borrow();
        m.state == ServerState::Leader
    };
    if !leader {
        return Err("this node is not the cluster's leader".into());
    }
    if node.is_fenced() {
        return Err("this leader cannot reach a majority of the cluster".into());
    }
    node.raft()
        .client_write_ff(request)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::entry::Message;
    use bytes::Bytes;
    use std::sync::Arc;

    fn publish(body: usize) -> ClusterOp {
        ClusterOp::Publish {
            msg_id: 1,
            message: Message {
                exchange: Bytes::new(),
                routing_key: Bytes::new(),
                raw_properties: Bytes::new(),
                body: Bytes::from(vec![0; body]),
                persistent: true,
                published_at_ms: None,
            },
            entries: Vec::new(),
        }
    }

    fn done() -> Completion {
        Box::new(|_| {})
    }

    #[test]
    fn a_group_that_does_not_fit_waits_whole_for_the_next_entry() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let group = vec![
            (publish(100), done()),
            (ClusterOp::Remove { queue: 1, seq: 1 }, done()),
        ];
        tx.send(Item::Group(group)).expect("send");
        let mut carry = None;
        let first = Item::Op(publish(MAX_ENTRY_BYTES - 50), Dones::applied(done()));
        let (ops, dones) = gather(first, &mut carry, &mut rx);
        assert_eq!((ops.len(), dones.len()), (1, 1), "the group was not split");
        let Some(carried) = carry.take() else {
            panic!("the group waits for the next entry");
        };
        let (ops, _) = gather(carried, &mut carry, &mut rx);
        assert!(matches!(
            ops.as_slice(),
            [
                ClusterOp::Publish { .. },
                ClusterOp::Remove { queue: 1, seq: 1 }
            ]
        ));
        assert!(Request::new(ops).check_size().is_ok());
    }

    #[test]
    fn a_group_joins_an_entry_it_fits_in() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send(Item::Group(vec![
            (publish(10), done()),
            (ClusterOp::Remove { queue: 2, seq: 5 }, done()),
        ]))
        .expect("send");
        let mut carry = None;
        let (ops, dones) = gather(
            Item::Op(publish(10), Dones::applied(done())),
            &mut carry,
            &mut rx,
        );
        assert_eq!((ops.len(), dones.len()), (3, 3));
        assert!(carry.is_none());
    }

    #[test]
    fn items_that_never_reach_the_log_fail_every_completion() {
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let record = |tag: u64| -> Completion {
            let seen = Arc::clone(&seen);
            Box::new(move |r| {
                seen.lock()
                    .push((tag, matches!(r, Err(StoreError::NotReplicated(_)))))
            })
        };
        let op = Item::Op(
            publish(1),
            Dones {
                durable: Some(record(1)),
                applied: Some(record(2)),
                committed: false,
            },
        );
        op.fail("stopped");
        Item::Group(vec![(publish(1), record(3))]).fail("stopped");
        assert_eq!(*seen.lock(), [(1, true), (2, true), (3, true)]);
    }
}
