//! Hands AMQP clients to the leader (`cluster.proxy`, on by default in cluster mode).
//!
//! Every accepted client socket of a cluster node passes through [`Gate::route`] first:
//! - a PROXY v1 line at its start is taken (and the client address it names used) only when
//!   the socket comes from one of this node's `[[cluster.peers]]` hosts or a member's
//!   recorded address (a joined node), refused otherwise;
//! - on the leader (or with `cluster.proxy = false`) the socket is served here as usual;
//! - on a follower it is spliced to the leader's AMQP address as **this node's own**
//!   `[[cluster.peers]]` entry gives it (a node added by `cluster join` and not listed there
//!   is reached at the address it announced), after a PROXY v1 line with the real client
//!   address; TLS ends here and the leader gets plain AMQP;
//! - with no leader known (or this node leading without a majority: fenced) the client waits up to [`LEADER_WAIT`], then is closed;
//! - when the leader changes, every spliced socket is closed (clients reconnect, as they
//!   do when a RabbitMQ node goes away).

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::fence;
use super::types::{Metrics, NodeId, Raft};
use crate::config::Settings;
use crate::listener::{Accepted, ClientStream, proxy_header};

/// How long a client waits for a leader to be known before it is closed.
pub const LEADER_WAIT: Duration = Duration::from_secs(5);
/// How long a trusted peer has to send its whole PROXY line.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long dialing the leader may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Decides, for each accepted client socket, whether it is served here or spliced to the
/// leader.
#[derive(Clone)]
pub struct Gate {
    id: NodeId,
    raft: Raft,
    proxy: bool,
    fence_ms: u64,
    amqp: BTreeMap<NodeId, String>,
    trusted: HashSet<IpAddr>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("id", &self.id)
            .field("proxy", &self.proxy)
            .field("amqp", &self.amqp)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// The gate of node `raft` with the settings' peers: their AMQP addresses, and the
    /// addresses (resolved now) PROXY lines are trusted from.
    pub async fn new(settings: &Settings, raft: Raft) -> Gate {
        let c = &settings.cluster;
        let mut trusted = HashSet::new();
        for p in &c.peers {
            for host in [&p.cluster, &p.amqp] {
                match tokio::net::lookup_host(host.as_str()).await {
                    Ok(addrs) => trusted.extend(addrs.map(|a| a.ip().to_canonical())),
                    Err(e) => tracing::warn!(
                        peer = p.id,
                        %host,
                        error = %e,
                        "cluster: cannot resolve a peer; PROXY headers from it are refused"
                    ),
                }
            }
        }
        Gate {
            id: c.node_id,
            raft,
            proxy: c.proxy,
            fence_ms: c.election_timeout().0,
            amqp: c.peers.iter().map(|p| (p.id, p.amqp.clone())).collect(),
            trusted,
        }
    }

    /// Routes one accepted socket: `Some((socket, client address))` to serve it here,
    /// `None` when it was handed to the leader (and is now finished) or refused.
    pub async fn route(
        &self,
        mut socket: Accepted,
        tls_timeout: Duration,
    ) -> Option<(Accepted, SocketAddr)> {
        let mut peer = socket.peer;
        if socket.tls.is_none() {
            let source = peer.ip().to_canonical();
            let trusted = self.trusted.contains(&source) || self.is_member_host(source);
            match proxy_header::take(&mut socket.tcp, source, trusted, HEADER_TIMEOUT).await {
                Ok(Some(client)) => peer = client,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "connection refused");
                    return None;
                }
            }
        }
        if !self.proxy {
            return Some((socket, peer));
        }
        let Some(leader) = self.wait_for_leader().await else {
            tracing::warn!(%peer, "cluster: no leader that can serve within 5 s; closing the client");
            return None;
        };
        if leader == self.id {
            return Some((socket, peer));
        }
        let Some(addr) = self.leader_amqp(leader) else {
            tracing::warn!(
                leader,
                "cluster: no AMQP address for the leader; closing the client"
            );
            return None;
        };
        let local = socket.tcp.local_addr().unwrap_or(peer);
        let stream = match socket.into_stream(tls_timeout).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "connection refused");
                return None;
            }
        };
        self.splice(stream, peer, local, leader, &addr).await;
        None
    }

    /// True when `ip` is the address of a member as the membership records it (a node
    /// added by `cluster join` that this node's own list does not name).
    fn is_member_host(&self, ip: IpAddr) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        m.membership_config.membership().nodes().any(|(_, n)| {
            [&n.cluster, &n.amqp]
                .iter()
                .filter_map(|a| a.parse::<SocketAddr>().ok())
                .any(|a| a.ip().to_canonical() == ip)
        })
    }

    /// The leader, once one is known that can serve: another node, or this one while a
    /// majority acknowledges it (at most [`LEADER_WAIT`]).
    async fn wait_for_leader(&self) -> Option<NodeId> {
        let (id, fence_ms) = (self.id, self.fence_ms);
        let serving = move |m: &Metrics| match m.current_leader {
            Some(l) if l == id => !fence::quorum_lost(m, fence_ms),
            Some(_) => true,
            None => false,
        };
        {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            if serving(&m) {
                return m.current_leader;
            }
        }
        self.raft
            .wait(Some(LEADER_WAIT))
            .metrics(serving, "a leader that can serve")
            .await
            .ok()
            .and_then(|m| m.current_leader)
    }

    /// The leader's AMQP address: this node's own `[[cluster.peers]]` entry, else the
    /// address the leader announced when it joined.
    fn leader_amqp(&self, leader: NodeId) -> Option<String> {
        if let Some(addr) = self.amqp.get(&leader) {
            return Some(addr.clone());
        }
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.amqp.clone())
    }

    /// Copies bytes both ways between `client` and the leader at `addr` until either side
    /// closes or the leader changes.
    #[tracing::instrument(name = "proxied", skip_all, fields(%client_addr, leader))]
    async fn splice(
        &self,
        client: ClientStream,
        client_addr: SocketAddr,
        local: SocketAddr,
        leader: NodeId,
        addr: &str,
    ) {
        let dialed = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await;
        let mut upstream = match dialed {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(%addr, error = %e, "cluster: cannot reach the leader");
                return;
            }
            Err(_) => {
                tracing::warn!(%addr, "cluster: the leader did not answer in time");
                return;
            }
        };
        let _ = upstream.set_nodelay(true);
        let line = proxy_header::line(client_addr, local);
        if let Err(e) = upstream.write_all(line.as_bytes()).await {
            tracing::warn!(%addr, error = %e, "cluster: the leader closed the connection");
            return;
        }
        client.set_nodelay();
        let (r, w) = client.into_split();
        let mut client = tokio::io::join(r, w);
        let mut metrics = self.raft.metrics();
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                tracing::debug!(?copied, "proxied connection finished");
            }
            () = leader_changed(&mut metrics, leader) => {
                tracing::info!("cluster: leader changed; closing a proxied client");
            }
        }
    }
}

/// Returns once the leader is no longer `leader` (or the node stops).
async fn leader_changed(metrics: &mut watch::Receiver<Metrics>, leader: NodeId) {
    loop {
        if metrics.borrow_and_update().current_leader != Some(leader) {
            return;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
