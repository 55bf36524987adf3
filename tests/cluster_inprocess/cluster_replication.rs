//! The replicated write path, in process: three nodes over the in-memory transport, each
//! with a real store and Raft log (LMDB) in a temp dir and the proposer as its store's
//! replicator, on tokio's paused clock. Writes made on the leader's store (as its broker
//! makes them) are applied to every node's store; after the leader is cut off, the new
//! leader's broker recovers exactly the confirmed messages (and quorum queues' delivery
//! counts); without a majority nothing is confirmed.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use warren::cluster::NodeId;
use warren::cluster::promotion::{self, Serving};
use warren::config::Settings;
use warren::protocol::{FieldTable, FieldValue, ShortStr};
use warren::store::{DefinitionKind, Store, StoreError, StoreOp};

use super::replication_support::{
    TestNode, WAIT, bodies, confirmed_backlog, eventually, expected, leader, publish, queue_def,
    queue_def_with, results, submit, three,
};

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn confirmed_writes_on_the_leader_are_applied_on_every_node() {
    let (_router, nodes) = three().await;
    let leader = leader(&nodes, &[1, 2, 3]).await;
    let applied = |id: NodeId| {
        nodes[&id]
            .node
            .raft()
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |l| l.index)
    };
    let before = applied(leader);
    let queue = confirmed_backlog(&nodes[&leader].store).await;
    // Group commit: the 27 writes (counter, definition, 20 publishes, then 5 acks), all
    // submitted before the proposer ran, share a few entries instead of one each.
    let entries = applied(leader) - before;
    assert!((2..=4).contains(&entries), "{entries} entries");
    for (id, n) in &nodes {
        eventually(&format!("node {id} has the backlog"), || {
            (bodies(&n.store, queue) == expected(6..=20)).then_some(())
        })
        .await;
        let defs = n.store.definitions(DefinitionKind::Queue).expect("defs");
        assert_eq!(defs.len(), 1, "node {id}");
        assert_eq!(n.store.queue_stats(queue).expect("stats").count, 15);
    }
}

/// Waits for the promotion loop's broker (`Some`) or its absence (`None`).
/// Starts every node's promotion loop (default settings); their serving states by id.
fn promotions(
    nodes: &BTreeMap<NodeId, TestNode>,
    shutdown: &watch::Receiver<bool>,
) -> BTreeMap<NodeId, watch::Receiver<Option<Serving>>> {
    let settings = Arc::new(Settings::default());
    nodes
        .iter()
        .map(|(&id, n)| {
            let rx = promotion::spawn(
                Arc::clone(&settings),
                n.store.clone(),
                n.node.clone(),
                shutdown.clone(),
            );
            (id, rx)
        })
        .collect()
}

async fn serving(rx: &mut watch::Receiver<Option<Serving>>, want: bool) -> Option<Serving> {
    tokio::time::timeout(WAIT, rx.wait_for(|s| s.is_some() == want))
        .await
        .expect("promotion state in time")
        .expect("promotion loop alive")
        .clone()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_new_leader_recovers_exactly_the_confirmed_messages() {
    let (router, nodes) = three().await;
    let (_stop, shutdown) = watch::channel(false);
    let mut roles = promotions(&nodes, &shutdown);
    let old = leader(&nodes, &[1, 2, 3]).await;
    let first = serving(roles.get_mut(&old).expect("roles"), true).await;
    assert!(first.is_some());
    let queue = confirmed_backlog(&nodes[&old].store).await;

    router.isolate(old);
    // The old leader fences itself and drops its broker; another node takes over.
    serving(roles.get_mut(&old).expect("roles"), false).await;
    let others: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
    let new = leader(&nodes, &others).await;
    let promoted = serving(roles.get_mut(&new).expect("roles"), true)
        .await
        .expect("serving");
    assert_eq!(bodies(&nodes[&new].store, queue), expected(6..=20));
    let vhost = promoted.broker.vhost("/").expect("default vhost");
    let q = vhost
        .queue(&ShortStr::from("orders"))
        .expect("the queue was recovered");
    let mut got = Vec::new();
    while let Some((qm, _)) = q.get(true) {
        let body: Vec<u8> = qm
            .message
            .body
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect();
        got.push(String::from_utf8_lossy(&body).into_owned());
    }
    assert_eq!(got, expected(6..=20));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn nothing_is_confirmed_without_a_majority() {
    let (router, nodes) = three().await;
    let old = leader(&nodes, &[1, 2, 3]).await;
    let store = &nodes[&old].store;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = store.allocate_queue_id().expect("queue id");
    submit(store, queue_def(queue), 0, &tx);
    assert!(results(&mut rx, 1).await[&0].is_ok());

    router.isolate(old);
    for seq in 1..=10 {
        submit(store, publish(queue, seq), seq, &tx);
    }
    let done = results(&mut rx, 10).await;
    for (seq, r) in &done {
        assert!(
            matches!(r, Err(StoreError::NotReplicated(_))),
            "message {seq}: {r:?}"
        );
    }
    // The majority side elects a leader whose store never got any of them.
    let others: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
    let new = leader(&nodes, &others).await;
    assert!(bodies(&nodes[&new].store, queue).is_empty());
}

/// A dead-letter move as the broker makes it: the copy published to `target`, the entry
/// removed from `source`, as one group ([`Store::atomically`]).
fn dead_letter_move(
    store: &Store,
    source: u64,
    target: u64,
    seq: u64,
    tx: &mpsc::UnboundedSender<(u64, Result<(), StoreError>)>,
) {
    store.atomically(|| {
        let mut copy = publish(target, seq);
        if let StoreOp::Publish { msg_id, .. } = &mut copy {
            *msg_id += 1000;
        }
        submit(store, copy, seq, tx);
        submit(
            store,
            StoreOp::Remove { queue: source, seq },
            1000 + seq,
            tx,
        );
    });
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_dead_letter_move_lands_in_exactly_one_queue_across_a_failover() {
    let (router, nodes) = three().await;
    let old = leader(&nodes, &[1, 2, 3]).await;
    let store = &nodes[&old].store;
    let source = confirmed_backlog(store).await;
    let target = store.allocate_queue_id().expect("queue id");
    let (tx, mut rx) = mpsc::unbounded_channel();
    for seq in 6..=8 {
        dead_letter_move(store, source, target, seq, &tx);
    }
    let done = results(&mut rx, 6).await;
    assert!(done.values().all(Result::is_ok), "{done:?}");
    // Moves made as the leader is cut off: never confirmed, and each message is still in
    // exactly one of the two queues on the new leader.
    for seq in 9..=10 {
        dead_letter_move(store, source, target, seq, &tx);
    }
    router.isolate(old);
    let done = results(&mut rx, 4).await;
    assert!(done.values().all(Result::is_err), "{done:?}");
    let others: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
    let new = leader(&nodes, &others).await;
    let new_store = &nodes[&new].store;
    // The new leader applies everything committed before it serves.
    eventually("the new leader applied its log", || {
        let m = nodes[&new].node.raft().metrics().borrow().clone();
        (m.last_applied.map(|id| id.index) == m.last_log_index).then_some(())
    })
    .await;
    let in_source: Vec<u64> = new_store
        .read_queue(source, 0, 100)
        .expect("read")
        .iter()
        .map(|e| e.seq)
        .collect();
    let in_target: Vec<u64> = new_store
        .read_queue(target, 0, 100)
        .expect("read")
        .iter()
        .map(|e| e.seq)
        .collect();
    for seq in 6..=20 {
        let (s, t) = (in_source.contains(&seq), in_target.contains(&seq));
        assert!(s != t, "message {seq}: in source {s}, in target {t}");
    }
    for seq in 6..=8 {
        assert!(
            in_target.contains(&seq),
            "confirmed move {seq} is in the target"
        );
    }
    let counts = (
        new_store.queue_stats(source).expect("stats").count,
        new_store.queue_stats(target).expect("stats").count,
    );
    assert_eq!(counts.0 + counts.1, 15, "{counts:?}");
}

/// The delivery counts a store holds for `queue`, by seq.
fn stored_counts(store: &Store, queue: u64) -> Vec<(u64, u32)> {
    let entries = store.read_queue(queue, 0, 100).expect("read queue");
    entries.iter().map(|e| (e.seq, e.delivery_count)).collect()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn quorum_delivery_counts_reach_every_node_and_survive_a_failover() {
    let (router, nodes) = three().await;
    let (_stop, shutdown) = watch::channel(false);
    let mut roles = promotions(&nodes, &shutdown);
    let old = leader(&nodes, &[1, 2, 3]).await;
    serving(roles.get_mut(&old).expect("roles"), true).await;
    // On the leader's store, as its broker writes them: a quorum queue, two messages, the
    // first returned twice.
    let store = &nodes[&old].store;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = store.allocate_queue_id().expect("queue id");
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type",
        FieldValue::LongStr(Bytes::from_static(b"quorum")),
    );
    submit(store, queue_def_with(queue, "counted", args), 0, &tx);
    for seq in 1..=2 {
        submit(store, publish(queue, seq), seq, &tx);
    }
    for count in 1..=2 {
        let op = StoreOp::DeliveryCount {
            queue,
            seq: 1,
            count,
        };
        submit(store, op, 10 + u64::from(count), &tx);
    }
    let done = results(&mut rx, 5).await;
    assert!(done.values().all(Result::is_ok), "{done:?}");
    for (id, n) in &nodes {
        eventually(&format!("node {id} has the count"), || {
            (stored_counts(&n.store, queue) == [(1, 2), (2, 0)]).then_some(())
        })
        .await;
    }

    router.isolate(old);
    serving(roles.get_mut(&old).expect("roles"), false).await;
    let others: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
    let new = leader(&nodes, &others).await;
    let promoted = serving(roles.get_mut(&new).expect("roles"), true)
        .await
        .expect("serving");
    let vhost = promoted.broker.vhost("/").expect("default vhost");
    let q = vhost
        .queue(&ShortStr::from("counted"))
        .expect("the queue was recovered");
    let (qm, _) = q.get(false).expect("the first message");
    assert_eq!((qm.seq, qm.delivery_count), (1, 2), "the count carried on");
    // The new leader's broker returns it once more: the count goes through the log to the
    // nodes that can hear it.
    q.requeue([qm]);
    for id in &others {
        eventually(&format!("node {id} has the new count"), || {
            (stored_counts(&nodes[id].store, queue) == [(1, 3), (2, 0)]).then_some(())
        })
        .await;
    }
    // Acked, the entry leaves with its count.
    let (qm, _) = q.get(false).expect("the first message again");
    assert_eq!(qm.delivery_count, 3);
    q.ack(&[qm]);
    for id in &others {
        eventually(&format!("node {id} dropped the entry"), || {
            (stored_counts(&nodes[id].store, queue) == [(2, 0)]).then_some(())
        })
        .await;
    }
}
