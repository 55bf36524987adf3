//! One cluster node: its openraft instance over the LMDB log and the store-backed state
//! machine, writes with fencing, membership changes, status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{ChangeMembers, RaftNetworkFactory, ServerState, SnapshotPolicy};
use tokio::sync::watch;

use super::ClusterError;
use super::commit_progress::CommitProgress;
use super::db::RaftDb;
use super::entry::{Request, Response};
use super::fence;
use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::status::Status;
use super::types::{LogId, Node, NodeId, Raft};
use crate::store::Store;

/// What a node needs besides its network and store.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Directory of the cluster's LMDB environment (`<data_dir>/cluster`).
    pub dir: PathBuf,
    /// Leader heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// Election timeout range, ms; its minimum is also the fencing threshold.
    pub election_timeout_ms: (u64, u64),
    /// Snapshot after this many entries since the last snapshot.
    pub snapshot_logs: u64,
    /// Entries kept in the log behind a snapshot (for followers a little behind).
    pub keep_logs: u64,
}

impl NodeConfig {
    /// A configuration with the given id and directory and the default timings.
    pub fn new(id: NodeId, dir: PathBuf) -> NodeConfig {
        NodeConfig {
            id,
            dir,
            heartbeat_ms: 150,
            election_timeout_ms: (750, 1500),
            snapshot_logs: 10_000,
            keep_logs: 1000,
        }
    }

    fn raft_config(&self) -> Result<openraft::Config, ClusterError> {
        let config = openraft::Config {
            cluster_name: "warren".to_string(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_ms.0,
            election_timeout_max: self.election_timeout_ms.1,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_logs),
            max_in_snapshot_log_to_keep: self.keep_logs,
            // Per snapshot chunk (3 MiB); the last one waits for the follower to check and
            // install the whole copy (seconds for a GiB store). A later answer costs one more
            // transfer, not the install; a longer bound would stall a cut-off link as long.
            install_snapshot_timeout: 10_000,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| ClusterError::Config(e.to_string()))
    }

    /// Milliseconds without a majority after which a leader refuses writes.
    pub fn fence_ms(&self) -> u64 {
        self.election_timeout_ms.0
    }
}

/// Why a write was not committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Only the leader takes writes.
    #[error("this node is not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// This leader has not heard from a majority recently and refuses writes.
    #[error("this leader cannot reach a majority of the cluster; writes are refused")]
    Fenced,
    /// The entry is over the size limits.
    #[error("entry too large: {0}")]
    TooLarge(String),
    /// The entry was not committed in time (its fate is unknown).
    #[error("the write was not committed within {0} ms")]
    Timeout(u64),
    /// The node is shutting down or failed.
    #[error("cluster node failed: {0}")]
    Raft(String),
}

/// A running node.
#[derive(Clone)]
pub struct ClusterNode {
    id: NodeId,
    raft: Raft,
    db: Arc<RaftDb>,
    fence_ms: u64,
    write_timeout_ms: u64,
    fenced: watch::Receiver<bool>,
    leader: watch::Receiver<Option<NodeId>>,
    progress: Arc<CommitProgress>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("id", &self.id)
            .field("fence_ms", &self.fence_ms)
            .finish_non_exhaustive()
    }
}

impl ClusterNode {
    /// Opens the node's log and state machine (over `store`, which must be open) and starts
    /// openraft with `network`. Does not form a cluster: see [`ClusterNode::initialize`].
    #[tracing::instrument(name = "cluster_start", skip_all, fields(node = config.id))]
    pub async fn start<N: RaftNetworkFactory<super::types::TypeConfig>>(
        config: &NodeConfig,
        store: Store,
        network: N,
    ) -> Result<ClusterNode, ClusterError> {
        let raft_config = Arc::new(config.raft_config()?);
        let db = Arc::new(RaftDb::open(&config.dir)?);
        let log = LogStore::new(Arc::clone(&db));
        let progress = log.progress();
        let sm = StateMachine::open(Arc::clone(&db), store)
            .await
            .map_err(|e| ClusterError::Storage(e.to_string()))?;
        let raft = Raft::new(config.id, raft_config, network, log, sm)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let fence_ms = config.fence_ms();
        let (fenced_tx, fenced) = watch::channel(false);
        tokio::spawn(watch_fence(raft.metrics(), fence_ms, fenced_tx));
        let (leader_tx, leader) = watch::channel(None);
        tokio::spawn(watch_leader(raft.metrics(), leader_tx));
        Ok(ClusterNode {
            id: config.id,
            raft,
            db,
            fence_ms,
            write_timeout_ms: config.election_timeout_ms.1.saturating_mul(4),
            fenced,
            leader,
            progress,
        })
    }

    /// Where this node's proposals landed in its log and how far the log is committed
    /// (for the proposer).
    pub fn commit_progress(&self) -> Arc<CommitProgress> {
        Arc::clone(&self.progress)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The openraft handle (metrics, waits, triggers).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Entries currently in this node's log (purged ones excluded).
    pub fn log_len(&self) -> Result<u64, ClusterError> {
        Ok(self.db.log_len()?)
    }

    /// This node's view of the cluster.
    pub fn status(&self) -> Status {
        Status::from_metrics(&self.raft.metrics().borrow(), self.fence_ms)
    }

    /// True while this node is a leader without a recent majority (it refuses writes).
    pub fn is_fenced(&self) -> bool {
        fence::quorum_lost(&self.raft.metrics().borrow(), self.fence_ms)
    }

    /// Milliseconds without a majority after which this node, as leader, is fenced.
    pub fn fence_ms(&self) -> u64 {
        self.fence_ms
    }

    /// How long a write may take to be applied before its fate is called unknown.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }

    /// The leader this node knows of (`None` while there is none), updated as it changes:
    /// for whoever routes clients to the leader.
    pub fn leader_watch(&self) -> watch::Receiver<Option<NodeId>> {
        self.leader.clone()
    }

    /// Changes to the fenced state, for whoever must stop serving clients when it turns true.
    pub fn fenced_watch(&self) -> watch::Receiver<bool> {
        self.fenced.clone()
    }

    /// Forms the cluster with `members` as voters if this node's log is empty; nodes that
    /// call it with the same members agree. A node already initialized returns `Ok`.
    pub async fn initialize(&self, members: BTreeMap<NodeId, Node>) -> Result<(), ClusterError> {
        // openraft logs an error when asked to initialize a node that already has a log or
        // a vote: on a restart there is nothing to form.
        if self
            .raft
            .is_initialized()
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?
        {
            return Ok(());
        }
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ClusterError::Raft(e.to_string())),
        }
    }

    /// Proposes `request` and waits until it is committed and applied on this (leader)
    /// node. Refused at once on a follower and on a fenced leader.
    #[tracing::instrument(skip_all, fields(node = self.id, ops = request.ops.len()))]
    pub async fn write(&self, request: Request) -> Result<(LogId, Response), WriteError> {
        request.check_size().map_err(WriteError::TooLarge)?;
        {
            let m = self.raft.metrics();
            let m = m.borrow();
            if m.state != ServerState::Leader {
                return Err(WriteError::NotLeader {
                    leader: m.current_leader,
                });
            }
        }
        if self.is_fenced() {
            // A new leader has no acknowledgement yet; give it one fencing period.
            let fence_ms = self.fence_ms;
            let waited = self
                .raft
                .wait(Some(Duration::from_millis(fence_ms)))
                .metrics(
                    |m| m.state != ServerState::Leader || !fence::quorum_lost(m, fence_ms),
                    "leader acknowledged by a majority",
                )
                .await;
            if waited.is_err() || self.is_fenced() {
                return Err(WriteError::Fenced);
            }
        }
        let written = tokio::time::timeout(
            Duration::from_millis(self.write_timeout_ms),
            self.raft.client_write(request),
        )
        .await
        .map_err(|_| WriteError::Timeout(self.write_timeout_ms))?;
        match written {
            Ok(r) => Ok((r.log_id, r.data)),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(WriteError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(e) => Err(WriteError::Raft(e.to_string())),
        }
    }

    /// Adds node `id` as a voter: first as a learner that catches up (by log or snapshot),
    /// then into the voters. Call on the leader.
    pub async fn add_member(&self, id: NodeId, node: Node) -> Result<(), ClusterError> {
        self.raft
            .add_learner(id, node, true)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        Ok(())
    }

    /// Removes node `id` from the cluster. Call on the leader. The removed node must not
    /// come back under the same id with wiped data.
    pub async fn remove_member(&self, id: NodeId) -> Result<(), ClusterError> {
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        Ok(())
    }

    /// Stops openraft's tasks.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "cluster: shutdown did not finish cleanly");
        }
    }
}

/// Logs and publishes changes of the fenced state.
async fn watch_fence(
    mut metrics: watch::Receiver<super::types::Metrics>,
    fence_ms: u64,
    fenced: watch::Sender<bool>,
) {
    loop {
        let now = fence::quorum_lost(&metrics.borrow_and_update(), fence_ms);
        if *fenced.borrow() != now {
            if now {
                tracing::warn!(
                    fence_ms,
                    "cluster: leader heard from no majority; refusing writes"
                );
            } else {
                tracing::info!("cluster: fence lifted (majority heard again, or no longer leader)");
            }
            let _ = fenced.send(now);
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Publishes changes of the known leader.
async fn watch_leader(
    mut metrics: watch::Receiver<super::types::Metrics>,
    leader: watch::Sender<Option<NodeId>>,
) {
    loop {
        let now = metrics.borrow_and_update().current_leader;
        leader.send_if_modified(|l| std::mem::replace(l, now) != now);
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
