//! When a replicated write counts as done, in process (three nodes): a publisher confirm
//! ([`Store::submit_durable`]'s durable completion) needs the cluster log's commit, not the
//! leader's own store; the write's other completion waits for the leader's store; without a
//! majority neither succeeds.
//!
//! On the real clock, unlike the other in-process cluster tests: a paused store writer
//! holds a blocking thread (the leader's apply), and tokio's paused clock never advances
//! while a blocking task runs.

use openraft::ServerState;
use tokio::sync::mpsc;
use warren::cluster::NodeId;
use warren::store::{Completion, Store, StoreError, StoreOp};

use std::collections::BTreeMap;

use warren::cluster::testing::Router;

use super::replication_support::{
    Results, TestNode, WAIT, bodies, eventually, expected, leader, publish, queue_def, results,
    submit, three_with,
};

/// Three nodes on the real clock, with timings that hold on a loaded machine, the leader
/// they all agree on, and a durable queue declared through it.
///
/// A loaded machine can let two elections overlap, so a node can be leader for a moment and
/// be deposed by a candidate of a later term: the leader counts once every node names it in
/// the same term and it has a majority's acknowledgement, and if the declaration still
/// meets a change of leader it is made again through the new one.
async fn cluster() -> (Router, BTreeMap<NodeId, TestNode>, NodeId, u64) {
    let (router, nodes) = three_with(100, (1000, 2000)).await;
    loop {
        let id = eventually("all nodes agree on an acknowledged leader", || {
            agreed_leader(&nodes)
        })
        .await;
        match declared(&nodes[&id].store).await {
            Ok(queue) => return (router, nodes, id, queue),
            Err(StoreError::NotReplicated(why)) => {
                tracing::info!("declaration met a change of leader ({why}); again")
            }
            Err(e) => panic!("queue declaration: {e:?}"),
        }
    }
}

/// The leader every node names, in one term, if it is leader and not fenced.
fn agreed_leader(nodes: &BTreeMap<NodeId, TestNode>) -> Option<NodeId> {
    let seen: Vec<_> = nodes
        .values()
        .map(|n| {
            let m = n.node.raft().metrics().borrow().clone();
            (m.current_leader, m.current_term)
        })
        .collect();
    let (leader, term) = seen[0];
    let id = leader?;
    let node = &nodes.get(&id)?.node;
    let leads = node.raft().metrics().borrow().state == ServerState::Leader;
    (seen.iter().all(|&s| s == (Some(id), term)) && leads && !node.is_fenced()).then_some(id)
}

type Sender = mpsc::UnboundedSender<(u64, Result<(), StoreError>)>;

fn reporting(tag: u64, tx: &Sender) -> Completion {
    let tx = tx.clone();
    Box::new(move |r| {
        let _ = tx.send((tag, r));
    })
}

/// Publishes `seq` as the broker does for a confirming publisher: durable completions on
/// `durable`, stored ones on `stored`.
fn publish_durable(store: &Store, queue: u64, seq: u64, durable: &Sender, stored: &Sender) {
    store.submit_durable(
        publish(queue, seq),
        reporting(seq, durable),
        Some(reporting(seq, stored)),
    );
}

/// A queue definition on `store`, once it is applied.
async fn declared(store: &Store) -> Result<u64, StoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = store.allocate_queue_id().expect("queue id");
    submit(store, queue_def(queue), 0, &tx);
    let mut done = results(&mut rx, 1).await;
    done.remove(&0).expect("the declaration's completion")?;
    Ok(queue)
}

fn nothing_yet(rx: &mut Results) -> bool {
    matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Empty))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_needs_the_commit_not_the_leaders_own_store() {
    let (_router, nodes, id, queue) = cluster().await;
    let store = &nodes[&id].store;
    // The leader's store writer stops: nothing more is applied on the leader.
    let pause = store.pause_writer();
    let (durable_tx, mut durable) = mpsc::unbounded_channel();
    let (stored_tx, mut stored) = mpsc::unbounded_channel();
    for seq in 1..=5 {
        publish_durable(store, queue, seq, &durable_tx, &stored_tx);
    }
    let confirmed = results(&mut durable, 5).await;
    assert!(confirmed.values().all(Result::is_ok), "{confirmed:?}");
    assert!(nothing_yet(&mut stored), "applied on the paused leader");
    assert!(
        bodies(store, queue).is_empty(),
        "the leader's store holds none"
    );
    // Confirmed means on a majority: the followers apply them.
    let followers: Vec<NodeId> = (1..=3).filter(|&n| n != id).collect();
    for n in &followers {
        eventually(&format!("node {n} applied the messages"), || {
            (bodies(&nodes[n].store, queue) == expected(1..=5)).then_some(())
        })
        .await;
    }
    assert!(nothing_yet(&mut stored));
    // Resumed, the leader applies them and the stored completions run, in order.
    drop(pause);
    let mut order = Vec::new();
    while order.len() < 5 {
        let (seq, r) = tokio::time::timeout(WAIT, stored.recv())
            .await
            .expect("stored completions in time")
            .expect("completion");
        assert!(r.is_ok(), "message {seq}: {r:?}");
        order.push(seq);
    }
    assert_eq!(order, [1, 2, 3, 4, 5]);
    assert_eq!(bodies(store, queue), expected(1..=5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_without_a_durable_completion_waits_for_the_leaders_store() {
    let (_router, nodes, id, queue) = cluster().await;
    let store = &nodes[&id].store;
    let pause = store.pause_writer();
    let (tx, mut rx) = mpsc::unbounded_channel();
    submit(store, publish(queue, 1), 1, &tx);
    let follower = (1..=3).find(|&n| n != id).expect("a follower");
    eventually("a follower applied the message", || {
        (bodies(&nodes[&follower].store, queue) == expected(1..=1)).then_some(())
    })
    .await;
    assert!(
        nothing_yet(&mut rx),
        "completed before the leader's store had it"
    );
    drop(pause);
    assert!(results(&mut rx, 1).await[&1].is_ok());
    assert_eq!(bodies(store, queue), expected(1..=1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_confirm_without_a_majority() {
    let (router, nodes, old, queue) = cluster().await;
    let store = &nodes[&old].store;
    router.isolate(old);
    let (durable_tx, mut durable) = mpsc::unbounded_channel();
    let (stored_tx, mut stored) = mpsc::unbounded_channel();
    for seq in 1..=5 {
        publish_durable(store, queue, seq, &durable_tx, &stored_tx);
    }
    for (seq, r) in results(&mut durable, 5).await {
        assert!(
            matches!(r, Err(StoreError::NotReplicated(_))),
            "message {seq}: {r:?}"
        );
    }
    for (seq, r) in results(&mut stored, 5).await {
        assert!(r.is_err(), "message {seq}: {r:?}");
    }
    let others: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
    let new = leader(&nodes, &others).await;
    assert!(bodies(&nodes[&new].store, queue).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_group_the_confirm_waits_for_the_whole_group_to_be_applied() {
    let (_router, nodes, id, queue) = cluster().await;
    let store = &nodes[&id].store;
    let pause = store.pause_writer();
    let (durable_tx, mut durable) = mpsc::unbounded_channel();
    let (stored_tx, mut stored) = mpsc::unbounded_channel();
    store.atomically(|| {
        publish_durable(store, queue, 1, &durable_tx, &stored_tx);
        store.submit(StoreOp::Remove { queue, seq: 1 }, None);
    });
    // Committed: a follower applies the group (its last log entry).
    let last = nodes[&id].node.raft().metrics().borrow().last_log_index;
    let follower = (1..=3).find(|&n| n != id).expect("a follower");
    eventually("a follower applied the group", || {
        let m = nodes[&follower].node.raft().metrics().borrow().clone();
        (m.last_applied.map(|l| l.index) >= last).then_some(())
    })
    .await;
    assert!(nothing_yet(&mut durable));
    drop(pause);
    assert!(results(&mut durable, 1).await[&1].is_ok());
    assert!(results(&mut stored, 1).await[&1].is_ok());
}
