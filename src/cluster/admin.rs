//! `warren --config FILE cluster status | join | remove`: admin requests to this node's own cluster port,
//! authenticated with the shared secret like any peer (as the admin client, node id 0), inside
//! TLS when `[cluster.tls]` is on (the node's own certificate; a local node is checked by
//! the name its peers use for it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::membership;
use super::network::peer_tls::{PeerAuth, PeerTls, PeerTlsError};
use super::network::rpc::RpcRequest;
use super::network::tcp::{self, CallError};
use super::status::Status;
use crate::config::cli::ClusterCommand;
use crate::config::{ConfigError, Settings};

/// How long the admin client waits for an answer.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The settings do not describe a cluster node.
    #[error("{0}")]
    Settings(#[from] ConfigError),
    /// The node did not answer.
    #[error("{0}; is this node running with cluster.enabled = true?")]
    Call(#[from] CallError),
    /// The cluster refused or could not do the change.
    #[error("{0}")]
    Membership(#[from] super::membership::MembershipError),
    /// `[cluster.tls]` could not be set up.
    #[error(transparent)]
    Tls(#[from] PeerTlsError),
    /// The answer could not be printed.
    #[error("cannot format the answer: {0}")]
    Format(#[from] serde_json::Error),
}

/// The address to reach this node's cluster port at: `cluster.listen`, with a wildcard
/// address replaced by loopback.
pub fn local_addr(settings: &Settings) -> Result<SocketAddr, ConfigError> {
    let mut addr = settings.cluster.listen_addr()?;
    if addr.ip().is_unspecified() {
        let ip = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        addr.set_ip(ip);
    }
    Ok(addr)
}

/// How a `warren cluster` command proves itself: the shared secret, inside TLS when it is
/// on. `local`: the command dials this node on loopback, so the node's certificate is
/// checked against the name its peers use for it (its own `[[cluster.peers]]` entry, or
/// `cluster.advertise`) unless `cluster.tls.server_name` is set.
fn admin_auth(settings: &Settings, local: bool) -> Result<PeerAuth, AdminError> {
    let c = &settings.cluster;
    let secret = c.read_secret()?;
    let mut tls = PeerTls::load(&c.tls)?;
    if local && let Some(loaded) = &tls {
        let own = c
            .own_peer()
            .map_or_else(|| c.advertised().to_string(), |p| p.cluster.clone());
        tls = Some(std::sync::Arc::new(
            loaded.named_by_default(super::view::host_of(&own)),
        ));
    }
    Ok(PeerAuth {
        secret: std::sync::Arc::from(secret.as_slice()),
        tls,
    })
}

fn require_enabled(settings: &Settings) -> Result<(), ConfigError> {
    if !settings.cluster.enabled {
        return Err(ConfigError::Invalid {
            key: "cluster.enabled".into(),
            reason: "is false in these settings: this node is not part of a cluster".into(),
        });
    }
    Ok(())
}

/// Asks this node for its status.
pub async fn status(settings: &Settings) -> Result<Status, AdminError> {
    require_enabled(settings)?;
    let auth = admin_auth(settings, true)?;
    let addr = local_addr(settings)?;
    Ok(tcp::request_status(&addr.to_string(), &auth, ADMIN_TIMEOUT).await?)
}

/// Runs `command` and returns what to print.
pub async fn run(settings: &Settings, command: &ClusterCommand) -> Result<String, AdminError> {
    match command {
        ClusterCommand::Status { json } => {
            let status = status(settings).await?;
            if *json {
                Ok(serde_json::to_string_pretty(&status)?)
            } else {
                Ok(status.to_string())
            }
        }
        ClusterCommand::Join { via } => {
            require_enabled(settings)?;
            let auth = admin_auth(settings, false)?;
            let known = membership::peer_addrs(settings);
            let id = settings.cluster.node_id;
            let req = RpcRequest::Join {
                id,
                node: membership::own_node(settings),
            };
            let targets: Vec<String> = match via {
                Some(via) => vec![via.clone()],
                None => known.values().cloned().collect(),
            };
            let mut last = None;
            for addr in &targets {
                let sent =
                    membership::send_to_leader(addr, &auth, &known, &req, membership::JOIN_TIMEOUT)
                        .await;
                match sent {
                    Ok(()) => return Ok(format!("node {id} joined the cluster as a voter")),
                    Err(e @ membership::MembershipError::Refused(_)) => return Err(e.into()),
                    Err(e) => last = Some(e),
                }
            }
            Err(last
                .unwrap_or_else(|| membership::MembershipError::NoLeader("no peer to ask".into()))
                .into())
        }
        ClusterCommand::Remove { id } => {
            require_enabled(settings)?;
            let auth = admin_auth(settings, true)?;
            let known = membership::peer_addrs(settings);
            let addr = local_addr(settings)?.to_string();
            let req = RpcRequest::Remove { id: *id };
            membership::send_to_leader(&addr, &auth, &known, &req, ADMIN_TIMEOUT).await?;
            Ok(format!("node {id} removed from the cluster"))
        }
    }
}
