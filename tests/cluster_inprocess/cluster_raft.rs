//! Three (or four) cluster nodes in one test process over the in-memory transport, each with
//! a real message store and Raft log (LMDB) in its own temp dir, on tokio's paused clock:
//! election, replication of definition entries, failover, fencing, snapshot catch-up,
//! membership changes and restart.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::ServerState;
use warren::cluster::entry::{ClusterOp, DefKind, Request, Response};
use warren::cluster::testing::Router;
use warren::cluster::{ClusterNode, Node, NodeConfig, NodeId, WriteError, fence};
use warren::store::{DefinitionKind, Store, StoreOptions};

/// Bound on every wait, in (paused, virtual) time.
const WAIT: Duration = Duration::from_secs(60);

struct TestNode {
    node: ClusterNode,
    store: Store,
    dir: tempfile::TempDir,
}

struct Cluster {
    router: Router,
    nodes: BTreeMap<NodeId, TestNode>,
}

fn member(id: NodeId) -> Node {
    Node {
        cluster: format!("node{id}:25672"),
        amqp: format!("node{id}:5672"),
    }
}

fn config(id: NodeId, dir: &tempfile::TempDir) -> NodeConfig {
    NodeConfig {
        heartbeat_ms: 50,
        election_timeout_ms: (300, 600),
        ..NodeConfig::new(id, dir.path().join("data").join("cluster"))
    }
}

async fn open_node(
    router: &Router,
    id: NodeId,
    dir: tempfile::TempDir,
    cfg: NodeConfig,
) -> TestNode {
    let store = Store::open(&dir.path().join("data"), StoreOptions::default()).expect("store");
    let node = ClusterNode::start(&cfg, store.clone(), router.network(id))
        .await
        .expect("node starts");
    router.register(id, node.raft().clone());
    TestNode { node, store, dir }
}

async fn start_node(router: &Router, id: NodeId, tweak: impl Fn(&mut NodeConfig)) -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(id, &dir);
    tweak(&mut cfg);
    open_node(router, id, dir, cfg).await
}

impl Cluster {
    async fn three(tweak: impl Fn(&mut NodeConfig)) -> Cluster {
        let router = Router::new();
        let mut nodes = BTreeMap::new();
        for id in 1..=3 {
            nodes.insert(id, start_node(&router, id, &tweak).await);
        }
        let members: BTreeMap<NodeId, Node> = (1..=3).map(|id| (id, member(id))).collect();
        // Every node proposes the same voters, as `warren` does at first start.
        for n in nodes.values() {
            n.node
                .initialize(members.clone())
                .await
                .expect("initialize");
        }
        Cluster { router, nodes }
    }

    fn node(&self, id: NodeId) -> &ClusterNode {
        &self.nodes[&id].node
    }

    /// Waits until node `on` sees a leader among `allowed`; returns it.
    async fn leader_seen_by(&self, on: NodeId, allowed: &[NodeId]) -> NodeId {
        let allowed: BTreeSet<NodeId> = allowed.iter().copied().collect();
        let m = self
            .node(on)
            .raft()
            .wait(Some(WAIT))
            .metrics(
                |m| m.current_leader.is_some_and(|l| allowed.contains(&l)),
                "a leader among the allowed nodes",
            )
            .await
            .expect("a leader is elected in time");
        m.current_leader.expect("leader")
    }

    /// Waits until `leader` is leader and every node in `on` has it as leader.
    async fn agree_on_leader(&self, on: &[NodeId], allowed: &[NodeId]) -> NodeId {
        let leader = self.leader_seen_by(on[0], allowed).await;
        self.node(leader)
            .raft()
            .wait(Some(WAIT))
            .state(ServerState::Leader, "leader state")
            .await
            .expect("leader");
        for &id in on {
            self.node(id)
                .raft()
                .wait(Some(WAIT))
                .current_leader(leader, "same leader")
                .await
                .expect("agrees on the leader");
        }
        leader
    }

    async fn wait_applied(&self, ids: &[NodeId], index: u64) {
        for &id in ids {
            self.node(id)
                .raft()
                .wait(Some(WAIT))
                .applied_index_at_least(Some(index), "applied")
                .await
                .expect("applied in time");
        }
    }

    fn vhosts(&self, id: NodeId) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.nodes[&id]
            .store
            .definitions(DefinitionKind::VHost)
            .expect("read definitions")
    }
}

fn put_vhost(name: &str, value: &str) -> Request {
    Request::new(vec![ClusterOp::PutDefinition {
        kind: DefKind::VHost,
        key: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }])
}

fn delete_vhost(name: &str) -> Request {
    Request::new(vec![ClusterOp::DeleteDefinition {
        kind: DefKind::VHost,
        key: name.as_bytes().to_vec(),
    }])
}

fn def(name: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
    (name.as_bytes().to_vec(), value.as_bytes().to_vec())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn three_nodes_elect_one_leader_and_agree_on_the_members() {
    let c = Cluster::three(|_| {}).await;
    let leader = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let mut leaders = 0;
    for id in 1..=3 {
        let status = c.node(id).status();
        assert_eq!(status.id, id);
        assert_eq!(status.leader, Some(leader));
        let ids: Vec<NodeId> = status.members.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert!(status.members.iter().all(|m| m.voter));
        if status.role == "leader" {
            leaders += 1;
            assert!(!status.fenced);
        } else {
            assert_eq!(status.role, "follower");
        }
    }
    assert_eq!(leaders, 1);
    // The leader reports how far each member has replicated.
    let status = c.node(leader).status();
    assert!(
        status.members.iter().all(|m| m.matched.is_some()),
        "{status:?}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn definition_entries_are_applied_on_every_node_in_log_order() {
    let c = Cluster::three(|_| {}).await;
    let leader = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");

    c.node(leader)
        .write(put_vhost("a", "1"))
        .await
        .expect("put a");
    c.node(leader)
        .write(put_vhost("b", "1"))
        .await
        .expect("put b");
    c.node(leader)
        .write(put_vhost("a", "2"))
        .await
        .expect("put a again");
    let (last, response) = c
        .node(leader)
        .write(delete_vhost("b"))
        .await
        .expect("delete b");
    assert_eq!(response, Response::Applied);
    c.wait_applied(&[1, 2, 3], last.index).await;
    for id in 1..=3 {
        assert_eq!(c.vhosts(id), vec![def("a", "2")], "node {id}");
    }

    let refused = c.node(follower).write(put_vhost("c", "1")).await;
    assert_eq!(
        refused,
        Err(WriteError::NotLeader {
            leader: Some(leader)
        })
    );
    let huge = Request::new(vec![
        ClusterOp::DeleteDefinition {
            kind: DefKind::VHost,
            key: Vec::new(),
        };
        warren::cluster::entry::MAX_OPS + 1
    ]);
    assert!(matches!(
        c.node(leader).write(huge).await,
        Err(WriteError::TooLarge(_))
    ));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_partitioned_leader_is_replaced_and_catches_up_after_healing() {
    let c = Cluster::three(|_| {}).await;
    let old = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let (first, _) = c
        .node(old)
        .write(put_vhost("before", "1"))
        .await
        .expect("write");
    c.wait_applied(&[1, 2, 3], first.index).await;

    c.router.isolate(old);
    let rest: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
    let new = c.agree_on_leader(&rest, &rest).await;
    assert_ne!(new, old);
    let (during, _) = c
        .node(new)
        .write(put_vhost("during", "1"))
        .await
        .expect("write on the new leader");
    c.wait_applied(&rest, during.index).await;

    c.router.heal_all();
    c.node(old)
        .raft()
        .wait(Some(WAIT))
        .current_leader(new, "old leader follows the new one")
        .await
        .expect("rejoins as a follower");
    c.wait_applied(&[old], during.index).await;
    assert_eq!(c.node(old).status().role, "follower");
    assert_eq!(c.vhosts(old), vec![def("before", "1"), def("during", "1")]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_cut_off_leader_fences_itself_and_refuses_writes() {
    let c = Cluster::three(|_| {}).await;
    let leader = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let node = c.node(leader);
    assert!(!node.is_fenced());
    let mut fenced = node.fenced_watch();
    assert!(!*fenced.borrow_and_update());

    c.router.isolate(leader);
    let fence_ms = config(leader, &c.nodes[&leader].dir).fence_ms();
    node.raft()
        .wait(Some(WAIT))
        .metrics(|m| fence::quorum_lost(m, fence_ms), "fenced")
        .await
        .expect("the cut-off leader fences itself");
    // openraft still calls it leader; Warren refuses its writes.
    assert_eq!(node.status().role, "leader");
    assert!(node.status().fenced);
    assert_eq!(
        node.write(put_vhost("lost", "1")).await,
        Err(WriteError::Fenced)
    );
    tokio::time::timeout(WAIT, fenced.wait_for(|f| *f))
        .await
        .expect("fenced watch in time")
        .expect("watch open");
    assert!(c.vhosts(leader).is_empty());

    // The others elect a new leader; after healing the old one steps down and writes work.
    let rest: Vec<NodeId> = (1..=3).filter(|&id| id != leader).collect();
    let new = c.agree_on_leader(&rest, &rest).await;
    c.router.heal_all();
    c.agree_on_leader(&[1, 2, 3], &[new]).await;
    assert!(!c.node(leader).is_fenced());
    let (after, _) = c
        .node(new)
        .write(put_vhost("after", "1"))
        .await
        .expect("write");
    c.wait_applied(&[1, 2, 3], after.index).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_lagging_node_catches_up_by_snapshot_after_the_log_is_purged() {
    let c = Cluster::three(|cfg| cfg.keep_logs = 0).await;
    let leader = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let lagging = (1..=3).find(|&id| id != leader).expect("a follower");
    let (gone, _) = c
        .node(leader)
        .write(put_vhost("gone", "1"))
        .await
        .expect("write");
    c.wait_applied(&[1, 2, 3], gone.index).await;

    c.router.isolate(lagging);
    c.node(leader)
        .write(delete_vhost("gone"))
        .await
        .expect("delete");
    let mut last = gone;
    for i in 0..20 {
        last = c
            .node(leader)
            .write(put_vhost(&format!("v{i:02}"), "x"))
            .await
            .expect("write")
            .0;
    }
    let raft = c.node(leader).raft();
    raft.trigger().snapshot().await.expect("trigger snapshot");
    raft.wait(Some(WAIT))
        .snapshot(last, "snapshot at the last entry")
        .await
        .expect("snapshot built");
    raft.trigger().purge_log(last.index).await.expect("purge");
    raft.wait(Some(WAIT))
        .purged(Some(last), "log purged")
        .await
        .expect("purged");
    assert_eq!(c.node(leader).log_len().expect("log length"), 0);

    c.router.heal_all();
    c.wait_applied(&[lagging], last.index).await;
    let status = c.node(lagging).status();
    assert!(
        status.snapshot >= Some(last.index),
        "installed a snapshot: {status:?}"
    );
    let expected: Vec<_> = (0..20).map(|i| def(&format!("v{i:02}"), "x")).collect();
    assert_eq!(
        c.vhosts(lagging),
        expected,
        "the snapshot replaced the old state"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn members_are_added_and_removed() {
    let mut c = Cluster::three(|_| {}).await;
    let leader = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let (first, _) = c
        .node(leader)
        .write(put_vhost("early", "1"))
        .await
        .expect("write");

    let four = start_node(&c.router, 4, |_| {}).await;
    c.nodes.insert(4, four);
    c.node(leader)
        .add_member(4, member(4))
        .await
        .expect("add node 4");
    c.wait_applied(&[4], first.index).await;
    assert_eq!(c.vhosts(4), vec![def("early", "1")]);
    let status = c.node(leader).status();
    let voters: Vec<NodeId> = status
        .members
        .iter()
        .filter(|m| m.voter)
        .map(|m| m.id)
        .collect();
    assert_eq!(voters, vec![1, 2, 3, 4]);

    let removed = (1..=3).find(|&id| id != leader).expect("a follower");
    c.node(leader).remove_member(removed).await.expect("remove");
    let (next, _) = c
        .node(leader)
        .write(put_vhost("late", "1"))
        .await
        .expect("write");
    let remaining: Vec<NodeId> = (1..=4).filter(|&id| id != removed).collect();
    c.wait_applied(&remaining, next.index).await;
    let status = c.node(leader).status();
    let ids: Vec<NodeId> = status.members.iter().map(|m| m.id).collect();
    assert_eq!(ids, remaining);
    assert_eq!(c.vhosts(4), vec![def("early", "1"), def("late", "1")]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_restarted_node_keeps_its_log_and_state() {
    let mut c = Cluster::three(|_| {}).await;
    let leader = c.agree_on_leader(&[1, 2, 3], &[1, 2, 3]).await;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let (first, _) = c
        .node(leader)
        .write(put_vhost("kept", "1"))
        .await
        .expect("write");
    c.wait_applied(&[1, 2, 3], first.index).await;

    let TestNode { node, store, dir } = c.nodes.remove(&follower).expect("node");
    c.router.unregister(follower);
    node.shutdown().await;
    drop(node);
    store.close();
    drop(store);
    let (second, _) = c
        .node(leader)
        .write(put_vhost("while-down", "1"))
        .await
        .expect("write");

    // Reopen it while the others cannot reach it: what it has applied comes from its disk.
    let cfg = config(follower, &dir);
    let store = Store::open(&dir.path().join("data"), StoreOptions::default()).expect("store");
    let node = ClusterNode::start(&cfg, store.clone(), c.router.network(follower))
        .await
        .expect("restarts");
    node.raft()
        .wait(Some(WAIT))
        .applied_index_at_least(Some(first.index), "recovered from its own disk")
        .await
        .expect("applied state survives the restart");
    assert_eq!(node.status().members.len(), 3);
    c.router.register(follower, node.raft().clone());
    c.nodes.insert(follower, TestNode { node, store, dir });
    // The entry it missed arrives from the leader.
    c.wait_applied(&[follower], second.index).await;
    assert_eq!(
        c.vhosts(follower),
        vec![def("kept", "1"), def("while-down", "1")]
    );
}
