//! The proposer: the leader's broker writes go into the Raft log instead of the local
//! store writer ([`crate::store::Replicator`]).
//!
//! One task owns an open batch: it takes the first op that arrives and every op already
//! waiting behind it (up to [`MAX_OPS`] ops or [`MAX_ENTRY_BYTES`]; a larger single op
//! travels alone; a group from [`crate::store::Store::atomically`], such as a dead-letter
//! move, is never split and waits whole for the next entry if it does not fit), proposes
//! them as one entry with `client_write_ff`, and keeps at most [`MAX_IN_FLIGHT`] entries in
//! flight; everything arriving meanwhile waits for the next entry (group commit: many
//! connections' publishes share one log append and one fsync on each node). Completions run in log order once their entry is applied on this node; when
//! the entry fails (this node is not, or no longer, the leader, or is fenced, or the entry
//! was not applied in time) they run with [`StoreError::NotReplicated`] and nothing may be
//! acknowledged to a client.

use std::collections::VecDeque;

use openraft::ServerState;
use openraft::raft::ClientWriteResult;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::entry::{ClusterOp, MAX_ENTRY_BYTES, MAX_OPS, Request, Response};
use super::node::ClusterNode;
use super::types::TypeConfig;
use crate::store::{Completion, Replicator, StoreError, StoreOp};

/// Entries proposed and not yet applied, at most.
pub const MAX_IN_FLIGHT: usize = 2;

/// What submitters send to the proposer task.
enum Item {
    Op(ClusterOp, Completion),
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
}

impl Replicator for Proposer {
    fn propose(&self, op: StoreOp, done: Completion) {
        if let Err(e) = self.tx.send(Item::Op(ClusterOp::from_store_op(op), done))
            && let Item::Op(_, done) = e.0
        {
            done(Err(StoreError::NotReplicated(
                "the proposer has stopped".into(),
            )));
        }
    }

    fn propose_group(&self, ops: Vec<(StoreOp, Completion)>) {
        let ops = ops
            .into_iter()
            .map(|(op, done)| (ClusterOp::from_store_op(op), done))
            .collect();
        if let Err(e) = self.tx.send(Item::Group(ops))
            && let Item::Group(ops) = e.0
        {
            for (_, done) in ops {
                done(Err(StoreError::NotReplicated(
                    "the proposer has stopped".into(),
                )));
            }
        }
    }

    fn queue_counter(&self, next: u64) {
        let _ = self.tx.send(Item::Counter(next));
    }
}

/// An entry proposed and not yet applied.
struct InFlight {
    rx: oneshot::Receiver<ClientWriteResult<TypeConfig>>,
    /// One slot per op of the entry (`None` for the queue counter).
    dones: Vec<Option<Completion>>,
    deadline: Instant,
}

async fn run(node: ClusterNode, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(MAX_IN_FLIGHT);
    let mut carry: Option<Item> = None;
    let timeout = node.write_timeout();
    loop {
        tokio::select! {
            biased;
            outcome = front(&mut in_flight), if !in_flight.is_empty() => {
                if let Some(entry) = in_flight.pop_front() {
                    settle(entry.dones, outcome);
                }
            }
            first = next_item(&mut carry, &mut rx), if in_flight.len() < MAX_IN_FLIGHT => {
                let Some(first) = first else { break };
                let (ops, dones) = gather(first, &mut carry, &mut rx);
                match propose(&node, ops).await {
                    Ok(rx) => in_flight.push_back(InFlight {
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
    while let Some(entry) = in_flight.pop_front() {
        let deadline = entry.deadline;
        let outcome = wait(entry.rx, deadline).await;
        settle(entry.dones, outcome);
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
) -> (Vec<ClusterOp>, Vec<Option<Completion>>) {
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

fn push(item: Item, ops: &mut Vec<ClusterOp>, dones: &mut Vec<Option<Completion>>) {
    match item {
        Item::Op(op, done) => {
            ops.push(op);
            dones.push(Some(done));
        }
        Item::Group(group) => {
            for (op, done) in group {
                ops.push(op);
                dones.push(Some(done));
            }
        }
        Item::Counter(next) => {
            ops.push(ClusterOp::QueueCounter { next });
            dones.push(None);
        }
    }
}

/// Hands the entry to openraft, unless this node is not a leader that can commit.
async fn propose(
    node: &ClusterNode,
    ops: Vec<ClusterOp>,
) -> Result<oneshot::Receiver<ClientWriteResult<TypeConfig>>, String> {
    let request = Request::new(ops);
    request.check_size()?;
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

async fn front(in_flight: &mut VecDeque<InFlight>) -> Result<Response, String> {
    match in_flight.front_mut() {
        Some(entry) => wait(&mut entry.rx, entry.deadline).await,
        None => std::future::pending().await,
    }
}

async fn wait<F>(rx: F, deadline: Instant) -> Result<Response, String>
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

/// Runs each op's completion with its outcome, in the entry's order.
fn settle(dones: Vec<Option<Completion>>, outcome: Result<Response, String>) {
    let refused = match &outcome {
        Ok(Response::Refused(list)) => list.as_slice(),
        _ => &[],
    };
    if let Err(reason) = &outcome {
        tracing::warn!(%reason, ops = dones.len(), "cluster: entry not replicated");
    }
    for (i, done) in dones.into_iter().enumerate() {
        let Some(done) = done else { continue };
        let result = match &outcome {
            Err(reason) => Err(StoreError::NotReplicated(reason.clone())),
            Ok(_) => match refused
                .iter()
                .find(|(j, _)| usize::try_from(*j).ok() == Some(i))
            {
                Some((_, reason)) => Err(StoreError::Rejected(reason.clone())),
                None => Ok(()),
            },
        };
        done(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::entry::Message;

    fn publish(body: usize) -> ClusterOp {
        ClusterOp::Publish {
            msg_id: 1,
            message: Message {
                exchange: Vec::new(),
                routing_key: Vec::new(),
                raw_properties: Vec::new(),
                body: vec![0; body],
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
        let first = Item::Op(publish(MAX_ENTRY_BYTES - 50), done());
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
        let (ops, dones) = gather(Item::Op(publish(10), done()), &mut carry, &mut rx);
        assert_eq!((ops.len(), dones.len()), (3, 3));
        assert!(carry.is_none());
    }
}
