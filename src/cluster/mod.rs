//! Replication across nodes on openraft 0.9: one Raft group for the whole cluster ("one
//! log, one leader"); every node applies the committed entries to its own store.
//!
//! # Map
//! - [`types`]: the openraft type configuration ([`types::Node`], ids, aliases).
//! - [`entry`]: what an entry carries ([`entry::Request`], a batch of [`entry::ClusterOp`]).
//! - [`db`]: the cluster's own storage (`<data_dir>/cluster/`): small records in LMDB, the
//!   log's entries in [`segment_log`] files (one file's format: [`segment_file`]).
//! - [`log_store`] and [`state_machine`]: openraft's v2 storage traits over it and over the
//!   message store; [`snapshot`]: the snapshot format.
//! - [`network`]: frames, the shared-secret handshake, the TCP client and the cluster port.
//! - [`testing`]: an in-memory transport with per-link cuts for in-process tests.
//! - [`membership`]: join, remove, and refusing a wiped node that comes back.
//! - [`proxy`]: followers hand AMQP clients to the leader.
//! - [`fence`]: a leader without a recent majority refuses writes.
//! - [`node`]: [`node::ClusterNode`], the running node; [`status`]: its view of the cluster;
//!   [`admin`]: `warren cluster status` against the local cluster port.
//! - [`runtime`]: the dedicated runtime openraft and the cluster port run on.
//! - [`view`]: the cluster as the HTTP endpoints see it (member names, running);
//!   [`http_front`]: the management API and Prometheus endpoint of every node (the leader's
//!   broker, else forwarded by [`http_forward`]); [`ops_api`]: `/api/warren/cluster`;
//!   [`member_node`]: asking a member for its own `/api/nodes` entry.
//!
//! Started by [`start`] only when `cluster.enabled` is true; off, nothing here runs.

pub mod admin;
pub mod apply;
pub mod commit_progress;
pub mod db;
pub mod entry;
pub mod fence;
pub mod http_forward;
pub mod http_front;
pub mod log_store;
pub mod member_node;
pub mod membership;
pub mod network;
pub mod node;
pub mod ops_api;
pub mod promotion;
pub mod proposer;
pub mod proxy;
pub mod recent_entries;
pub mod runtime;
pub mod segment_file;
pub mod segment_log;
pub mod snapshot;
pub mod state_machine;
pub mod status;
pub mod testing;
pub mod types;
pub mod view;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Settings;
use crate::store::Store;
pub use node::{ClusterNode, NodeConfig, WriteError};
pub use status::Status;
pub use types::{Node, NodeId};

/// Why the cluster could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The settings are not usable.
    #[error("{0}")]
    Settings(#[from] crate::config::ConfigError),
    /// `[cluster.tls]` could not be set up.
    #[error(transparent)]
    Tls(#[from] network::peer_tls::PeerTlsError),
    /// openraft refused its configuration.
    #[error("cluster timings refused by openraft: {0}")]
    Config(String),
    /// The cluster database failed.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The state machine could not be opened.
    #[error("cluster state machine: {0}")]
    Storage(String),
    /// openraft failed or refused the request.
    #[error("cluster: {0}")]
    Raft(String),
    /// This node's data was wiped but the cluster still lists its id.
    #[error(
        "node {id} starts with an empty cluster log, but the cluster (leader: node {leader}) \
         lists node {id} as a member that has acknowledged entries: its data was wiped. A wiped \
         node must not come back under its old id; run `warren cluster remove {id}` against the \
         cluster, then start this node with a new cluster.node_id and cluster.join = true"
    )]
    Wiped {
        /// This node's id.
        id: NodeId,
        /// The leader that lists it.
        leader: NodeId,
    },
    /// The cluster port could not be bound.
    #[error("cluster.listen: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A node started from the settings, with its cluster port.
#[derive(Debug)]
pub struct RunningCluster {
    /// The node.
    pub node: ClusterNode,
    /// The bound cluster port.
    pub addr: SocketAddr,
    /// The node's message store (the state machine applies to it).
    pub store: Store,
    /// When each peer last answered this node's Raft requests.
    pub contacts: network::tcp::Contacts,
    shutdown: watch::Sender<bool>,
    /// Where openraft and the cluster port run; dropped last.
    runtime: runtime::RaftRuntime,
}

impl RunningCluster {
    /// Stops the cluster port and openraft, then the cluster runtime.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.node.shutdown().await;
        drop(self.runtime);
    }
}

/// The node configuration the settings describe.
pub fn node_config(settings: &Settings) -> NodeConfig {
    let c = &settings.cluster;
    NodeConfig {
        id: c.node_id,
        dir: settings.server.data_dir.join(db::DIR_NAME),
        heartbeat_ms: c.heartbeat_ms,
        election_timeout_ms: c.election_timeout(),
        snapshot_logs: c.snapshot_logs,
        keep_logs: 1000,
    }
}

/// The initial voters from `[[cluster.peers]]`, exactly as listed: every node must propose
/// the same records (they become the same first log entry on each), so this node's own
/// entry is taken from the list too, not from `advertise`.
pub fn initial_members(settings: &Settings) -> BTreeMap<NodeId, Node> {
    settings
        .cluster
        .peers
        .iter()
        .map(|p| {
            (
                p.id,
                Node {
                    cluster: p.cluster.clone(),
                    amqp: p.amqp.clone(),
                },
            )
        })
        .collect()
}

/// Starts this node's cluster part over the open `store`, on its own runtime
/// ([`runtime`]): binds the cluster port, starts openraft with the TCP transport, and forms
/// the cluster from `[[cluster.peers]]` on first start (every node proposes the same voters,
/// which openraft accepts as one cluster).
pub async fn start(settings: &Settings, store: Store) -> Result<RunningCluster, ClusterError> {
    let runtime = runtime::RaftRuntime::new()
        .map_err(|e| ClusterError::Raft(format!("cannot start the cluster runtime: {e}")))?;
    let owned = settings.clone();
    let started = runtime
        .run(async move { start_here(&owned, store).await })
        .await
        .map_err(|e| ClusterError::Raft(format!("cluster start-up failed: {e}")))?;
    let (node, addr, store, contacts, shutdown) = started?;
    Ok(RunningCluster {
        node,
        addr,
        store,
        contacts,
        shutdown,
        runtime,
    })
}

/// What [`start_here`] hands back: the node, its port, store, contacts and port shutdown.
type Started = (
    ClusterNode,
    SocketAddr,
    Store,
    network::tcp::Contacts,
    watch::Sender<bool>,
);

/// [`start`]'s work, on the cluster runtime.
#[tracing::instrument(name = "cluster", skip_all, fields(node = settings.cluster.node_id))]
async fn start_here(settings: &Settings, store: Store) -> Result<Started, ClusterError> {
    let c = &settings.cluster;
    let auth = network::peer_tls::PeerAuth {
        secret: Arc::from(c.read_secret()?.as_slice()),
        tls: network::peer_tls::PeerTls::load(&c.tls)?,
    };
    let listen = c.listen_addr()?;
    let listener = crate::listener::bind(listen).map_err(|source| ClusterError::Bind {
        addr: listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| ClusterError::Bind {
        addr: listen,
        source,
    })?;
    let config = node_config(settings);
    let peers: BTreeMap<NodeId, String> = c
        .peers
        .iter()
        .filter(|p| p.id != c.node_id)
        .map(|p| (p.id, p.cluster.clone()))
        .collect();
    // Fresh: no cluster log on disk before this start (first start, or wiped data).
    let fresh = !config.dir.exists();
    let network = network::tcp::TcpNetwork::new(c.node_id, auth.clone(), peers);
    let contacts = network.contacts();
    let node = ClusterNode::start(&config, store.clone(), network).await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let served = network::listener::Served {
        raft: node.raft().clone(),
        auth: auth.clone(),
        fence_ms: config.fence_ms(),
    };
    tokio::spawn(network::listener::serve(listener, served, shutdown_rx));
    tracing::info!(%addr, "cluster port listening");
    let wiped = if fresh {
        membership::wiped_by(settings, &auth).await
    } else {
        None
    };
    if let Some(leader) = wiped {
        let _ = shutdown.send(true);
        node.shutdown().await;
        return Err(ClusterError::Wiped {
            id: c.node_id,
            leader,
        });
    }
    if c.join {
        // Until it is a voter (at once on a restart after joining).
        tracing::info!("cluster: cluster.join = true: asking to join");
        tokio::spawn(membership::join_until_member(
            settings.clone(),
            auth.clone(),
            node.raft().clone(),
        ));
    } else {
        node.initialize(initial_members(settings)).await?;
    }
    Ok((node, addr, store, contacts, shutdown))
}
