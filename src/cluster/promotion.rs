//! Promotion and demotion: the broker runs on the leader only.
//!
//! A node that becomes leader first applies everything up to its term's blank entry
//! (`ensure_linearizable`), then runs today's start-up recovery from its own store (which the
//! log has kept up to date) and publishes the new [`Serving`]: from then on its AMQP
//! listeners take clients. When it stops being the leader (another term, another leader, or
//! fenced for want of a majority) it publishes `None`, closes every client with
//! `320 CONNECTION_FORCED - leader moved`, drops that broker and drops the transient
//! messages it had paged to the store. Writes the old broker still makes fail in the
//! proposer ([`super::proposer`]), so nothing it did not commit is acknowledged.

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::sync::watch;

use super::node::ClusterNode;
use crate::broker::Broker;
use crate::config::Settings;
use crate::store::Store;

/// The close reason clients of a demoted leader get (with 320 CONNECTION_FORCED).
pub const LEADER_MOVED: &str = "leader moved";

/// What the leader serves during one term.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The broker recovered for this term.
    pub broker: Arc<Broker>,
    /// Turns true when the term's broker stops (demotion or shutdown); its connections close.
    pub stop: watch::Receiver<bool>,
}

/// Starts the promotion loop; the receiver holds the current [`Serving`] (`None` while this
/// node is not a leader ready to serve). It ends when `shutdown` turns true.
pub fn spawn(
    settings: Arc<Settings>,
    store: Store,
    node: ClusterNode,
    shutdown: watch::Receiver<bool>,
) -> watch::Receiver<Option<Serving>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(run(settings, store, node, tx, shutdown));
    rx
}

/// Whether `m` says this node leads a term and may serve.
fn leads(node: &ClusterNode, m: &super::types::Metrics) -> bool {
    m.state == ServerState::Leader
        && m.current_leader == Some(node.id())
        && !super::fence::quorum_lost(m, node.fence_ms())
}

async fn run(
    settings: Arc<Settings>,
    store: Store,
    node: ClusterNode,
    serving: watch::Sender<Option<Serving>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut metrics = node.raft().metrics();
    loop {
        // Wait to lead.
        let term = loop {
            {
                let m = metrics.borrow_and_update();
                if leads(&node, &m) {
                    break m.current_term;
                }
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                changed = metrics.changed() => if changed.is_err() { return },
            }
        };
        let Some(broker) = promote(&settings, &store, &node, term).await else {
            // Not promoted (lost the term meanwhile, or recovery failed): wait for a change.
            tokio::select! {
                _ = shutdown.changed() => return,
                changed = metrics.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        };
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(crate::server::housekeeping(
            Arc::clone(&broker),
            stop.clone(),
        ));
        tokio::spawn(crate::metrics::sampler::run(
            Arc::clone(&broker),
            stop.clone(),
        ));
        serving.send_replace(Some(Serving {
            broker: Arc::clone(&broker),
            stop,
        }));
        tracing::info!(term, "cluster: this node is the leader; serving AMQP");
        // Serve until the term ends for this node.
        let shut = loop {
            {
                let m = metrics.borrow_and_update();
                if !leads(&node, &m) || m.current_term != term {
                    break false;
                }
            }
            tokio::select! {
                _ = shutdown.changed() => break true,
                changed = metrics.changed() => if changed.is_err() { break true },
            }
        };
        serving.send_replace(None);
        if !shut {
            let closed = broker.connections.close_where(|_| true, LEADER_MOVED);
            tracing::warn!(
                term,
                closed,
                "cluster: no longer the leader (or cut off from the majority); \
                 clients closed with 320 'leader moved', broker dropped"
            );
        }
        let _ = stop_tx.send(true);
        drop(broker);
        if shut {
            return;
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.reload()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cluster: store reload after demotion failed")
            }
            Err(e) => tracing::error!(error = %e, "cluster: store reload after demotion panicked"),
        }
    }
}

/// Applies everything through this term's first entry, then recovers the broker from the
/// local store. `None` if the term was lost meanwhile or recovery failed (logged).
async fn promote(
    settings: &Arc<Settings>,
    store: &Store,
    node: &ClusterNode,
    term: u64,
) -> Option<Arc<Broker>> {
    if let Err(e) = node.raft().ensure_linearizable().await {
        tracing::info!(term, error = %e, "cluster: leadership not confirmed; not serving");
        return None;
    }
    let settings = Arc::clone(settings);
    let store = store.clone();
    let opened = tokio::task::spawn_blocking(move || -> Result<Broker, String> {
        store.reload().map_err(|e| e.to_string())?;
        let broker =
            Broker::open_with_store(Arc::clone(&settings), store).map_err(|e| e.to_string())?;
        if let Some(path) = settings.definitions.path() {
            crate::definitions::load::load(&broker, path).map_err(|e| e.to_string())?;
        }
        Ok(broker)
    })
    .await;
    match opened {
        Ok(Ok(broker)) => Some(Arc::new(broker)),
        Ok(Err(e)) => {
            tracing::error!(term, error = %e, "cluster: recovery on promotion failed");
            None
        }
        Err(e) => {
            tracing::error!(term, error = %e, "cluster: recovery on promotion panicked");
            None
        }
    }
}
