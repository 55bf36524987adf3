//! What the replicated-write tests share: three nodes over the in-memory transport, each
//! with a real store and Raft log (LMDB) in a temp dir and the proposer as its store's
//! replicator; writes made on a store as the broker makes them, and what a store holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::ServerState;
use tokio::sync::mpsc;
use warren::broker::definitions::QueueDef;
use warren::cluster::proposer::Proposer;
use warren::cluster::testing::Router;
use warren::cluster::{ClusterNode, Node, NodeConfig, NodeId};
use warren::protocol::{FieldTable, ShortStr};
use warren::store::{DefinitionKind, Store, StoreError, StoreOp, StoreOptions, StoredMessage};

/// Bound on every wait, in (paused, virtual) time.
pub(crate) const WAIT: Duration = Duration::from_secs(60);
/// Between two looks at a condition.
pub(crate) const POLL: Duration = Duration::from_millis(10);

pub(crate) struct TestNode {
    pub(crate) node: ClusterNode,
    pub(crate) store: Store,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn three() -> (Router, BTreeMap<NodeId, TestNode>) {
    three_with(50, (300, 600)).await
}

/// Three nodes with the given heartbeat and election timeout range (milliseconds).
pub(crate) async fn three_with(
    heartbeat_ms: u64,
    election_timeout_ms: (u64, u64),
) -> (Router, BTreeMap<NodeId, TestNode>) {
    let router = Router::new();
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = NodeConfig {
            heartbeat_ms,
            election_timeout_ms,
            ..NodeConfig::new(id, dir.path().join("data").join("cluster"))
        };
        let store = Store::open(&dir.path().join("data"), StoreOptions::default()).expect("store");
        let node = ClusterNode::start(&cfg, store.clone(), router.network(id))
            .await
            .expect("node starts");
        router.register(id, node.raft().clone());
        assert!(store.set_replicator(Arc::new(Proposer::start(node.clone()))));
        nodes.insert(
            id,
            TestNode {
                node,
                store,
                _dir: dir,
            },
        );
    }
    let members: BTreeMap<NodeId, Node> = (1..=3)
        .map(|id| {
            let node = Node {
                cluster: format!("node{id}:25672"),
                amqp: format!("node{id}:5672"),
            };
            (id, node)
        })
        .collect();
    for n in nodes.values() {
        n.node
            .initialize(members.clone())
            .await
            .expect("initialize");
    }
    (router, nodes)
}

/// Waits until one of `among` is leader and returns it.
pub(crate) async fn leader(nodes: &BTreeMap<NodeId, TestNode>, among: &[NodeId]) -> NodeId {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for &id in among {
            if nodes[&id].node.raft().metrics().borrow().state == ServerState::Leader {
                return id;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no leader elected");
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it returns `Some`, failing after [`WAIT`].
pub(crate) async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(POLL).await;
    }
}

pub(crate) type Results = mpsc::UnboundedReceiver<(u64, Result<(), StoreError>)>;

/// Submits `op` on `store` with a completion reporting `(tag, result)` on `tx`.
pub(crate) fn submit(
    store: &Store,
    op: StoreOp,
    tag: u64,
    tx: &mpsc::UnboundedSender<(u64, Result<(), StoreError>)>,
) {
    let tx = tx.clone();
    store.submit(
        op,
        Some(Box::new(move |r| {
            let _ = tx.send((tag, r));
        })),
    );
}

pub(crate) async fn results(rx: &mut Results, n: usize) -> BTreeMap<u64, Result<(), StoreError>> {
    let mut out = BTreeMap::new();
    while out.len() < n {
        let (tag, r) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("completions in time")
            .expect("completion");
        out.insert(tag, r);
    }
    out
}

/// Content-header properties with delivery mode 2 (persistent).
pub(crate) const PERSISTENT_PROPERTIES: [u8; 3] = [0x10, 0x00, 0x02];

pub(crate) fn publish(queue: u64, seq: u64) -> StoreOp {
    StoreOp::Publish {
        msg_id: seq,
        message: StoredMessage {
            exchange: Bytes::new(),
            routing_key: Bytes::from_static(b"orders"),
            raw_properties: Bytes::from_static(&PERSISTENT_PROPERTIES),
            body: Bytes::from(format!("message {seq}")),
            persistent: true,
            published_at_ms: Some(0),
        },
        entries: vec![(queue, seq)],
    }
}

pub(crate) fn queue_def(queue_id: u64) -> StoreOp {
    queue_def_with(queue_id, "orders", FieldTable::default())
}

pub(crate) fn queue_def_with(queue_id: u64, name: &str, arguments: FieldTable) -> StoreOp {
    let def = QueueDef {
        vhost: ShortStr::from("/"),
        name: ShortStr::from(name),
        queue_id,
        auto_delete: false,
        arguments,
    };
    StoreOp::PutDefinition {
        kind: DefinitionKind::Queue,
        key: def.key(),
        value: def.encode(),
    }
}

/// The bodies a store holds for `queue`, in order.
pub(crate) fn bodies(store: &Store, queue: u64) -> Vec<String> {
    store
        .read_queue(queue, 0, 10_000)
        .expect("read queue")
        .into_iter()
        .map(|e| String::from_utf8_lossy(&e.message.body).into_owned())
        .collect()
}

pub(crate) fn expected(seqs: std::ops::RangeInclusive<u64>) -> Vec<String> {
    seqs.map(|s| format!("message {s}")).collect()
}

/// On the leader: a durable queue with messages 1..=20, confirmed, then 1..=5 acked.
pub(crate) async fn confirmed_backlog(store: &Store) -> u64 {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = store.allocate_queue_id().expect("queue id");
    submit(store, queue_def(queue), 0, &tx);
    for seq in 1..=20 {
        submit(store, publish(queue, seq), seq, &tx);
    }
    let done = results(&mut rx, 21).await;
    assert!(done.values().all(Result::is_ok), "{done:?}");
    for seq in 1..=5 {
        submit(store, StoreOp::Remove { queue, seq }, seq, &tx);
    }
    let done = results(&mut rx, 5).await;
    assert!(done.values().all(Result::is_ok), "{done:?}");
    queue
}
