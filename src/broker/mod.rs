//! The shared broker model: virtual hosts with their exchanges and queues, and the
//! settings and users every connection consults.

pub mod alarms;
pub mod connections;
pub mod consumer;
pub mod dead_letter_totals;
pub mod definitions;
pub mod exchange;
pub mod lifecycle;
pub mod message;
pub mod queue;
mod recovery;
pub mod store_gate;
pub mod vhost;

use crate::access::Access;
use crate::config::Settings;
use crate::policy::{Policy, PolicyError, PolicyKind};
use crate::store::{Store, StoreError, StoreOptions};
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use vhost::VHost;

static NODE_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `rabbit@<short host name>`, the node name RabbitMQ gives itself by default: management
/// tools and monitoring checks build `/api/nodes/rabbit@<host>` from the host name, and
/// dashboards key on it. Read once. A cluster node sets its own name first (see
/// [`set_node_name`]).
pub fn node_name() -> &'static str {
    NODE_NAME.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .and_then(|h| h.trim().split('.').next().map(str::to_string))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        format!("rabbit@{host}")
    })
}

/// Names this process's node (cluster mode, before any broker starts); false if the name
/// was already read or set, in which case it stays as it was.
pub fn set_node_name(name: String) -> bool {
    NODE_NAME.set(name).is_ok()
}

static CLUSTER_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The cluster's name (`/api/cluster-name`, `rabbitmq_identity_info`): a single node's is
/// its node name, as RabbitMQ names a one-node cluster.
pub fn cluster_name() -> &'static str {
    CLUSTER_NAME.get_or_init(|| node_name().to_string())
}

/// Names the cluster (cluster mode, at start); ignored once the name was read or set.
pub fn set_cluster_name(name: String) -> bool {
    CLUSTER_NAME.set(name).is_ok()
}

/// The broker: one per process (or per in-process test server).
#[derive(Debug)]
pub struct Broker {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Users, vhosts, permissions and limits.
    pub access: Access,
    /// Memory alarm.
    pub alarms: Arc<alarms::Alarms>,
    /// The message and definition store (LMDB in the data directory).
    pub store: Store,
    /// Open connections and their channels.
    pub connections: connections::ConnectionRegistry,
    /// Messages dead-lettered (and at-least-once dead letters confirmed) on this node, for
    /// `rabbitmq_global_messages_dead_lettered_*`; shared with every vhost.
    pub dead_letters: Arc<dead_letter_totals::DeadLetterTotals>,
    /// Rates of the global message totals, computed by the sampler.
    pub sampler: crate::metrics::sampler::Sampler,
    /// When the broker started.
    pub started_at: std::time::Instant,
    vhosts: DashMap<String, Arc<VHost>>,
    next_connection_id: AtomicU64,
}

impl Broker {
    /// The cluster's name as clients and tools see it (AMQP `cluster_name`, the
    /// management API, Prometheus' `rabbitmq_cluster`): `server.cluster_name` when set,
    /// else [`cluster_name`], as RabbitMQ's `cluster_name` setting names it everywhere.
    pub fn cluster_name(&self) -> String {
        let configured = &self.settings.server.cluster_name;
        if configured.is_empty() {
            cluster_name().to_string()
        } else {
            configured.clone()
        }
    }

    /// Opens the store in the data directory, creates the configured vhosts and recovers
    /// durable exchanges, queues (with their persistent messages) and bindings.
    pub fn open(settings: Arc<Settings>) -> Result<Broker, StoreError> {
        let store = Store::open(&settings.server.data_dir, Self::store_options(&settings))?;
        Self::open_with_store(settings, store)
    }

    /// The store options the settings ask for.
    pub fn store_options(settings: &Settings) -> StoreOptions {
        let mut options = StoreOptions {
            compact_free_percent: settings.server.compact_free_percent,
            max_pending_bytes: settings.limits.store_pending_bytes,
            ..StoreOptions::default()
        };
        if settings.limits.max_store_size > 0 {
            options.max_map_size = usize::try_from(settings.limits.max_store_size)
                .unwrap_or(usize::MAX)
                .max(options.initial_map_size.min(1 << 20));
            options.initial_map_size = options.initial_map_size.min(options.max_map_size);
        }
        options
    }

    /// Creates the configured vhosts and recovers durable exchanges, queues (with their
    /// persistent messages) and bindings from `store`, already open (cluster mode: a new
    /// leader recovers from the store the log has kept up to date).
    pub fn open_with_store(settings: Arc<Settings>, store: Store) -> Result<Broker, StoreError> {
        let alarms = Arc::new(alarms::Alarms::new(
            settings.limits.memory_high_watermark,
            settings.limits.disk_free_limit,
            settings.server.data_dir.clone(),
            store.clone(),
        ));
        let access = Access::open(store.clone(), &settings.auth)?;
        let dead_letters = Arc::new(dead_letter_totals::DeadLetterTotals::default());
        let vhosts = DashMap::new();
        for record in access.vhosts() {
            let vhost = VHost::new(
                &record.name,
                store.clone(),
                Arc::clone(&alarms),
                Arc::clone(&dead_letters),
            );
            vhosts.insert(record.name, Arc::new(vhost));
        }
        let broker = Broker {
            access,
            alarms,
            settings,
            store,
            vhosts,
            connections: connections::ConnectionRegistry::default(),
            dead_letters,
            sampler: crate::metrics::sampler::Sampler::default(),
            started_at: std::time::Instant::now(),
            next_connection_id: AtomicU64::new(1),
        };
        recovery::recover(&broker)?;
        Ok(broker)
    }

    /// The vhost called `name`.
    pub fn vhost(&self, name: &str) -> Option<Arc<VHost>> {
        self.vhosts.get(name).map(|v| Arc::clone(v.value()))
    }

    /// Validates and sets a policy or operator policy on `vhost`, applying it to the
    /// queues and exchanges it matches at once. `apply_to` None means `all`.
    #[allow(clippy::too_many_arguments)]
    pub fn set_policy(
        &self,
        kind: PolicyKind,
        vhost: &str,
        name: &str,
        pattern: &str,
        apply_to: Option<&str>,
        priority: i64,
        definition: &serde_json::Value,
    ) -> Result<(), PolicyError> {
        let v = self
            .vhost(vhost)
            .ok_or_else(|| PolicyError::NoSuchVhost(vhost.to_string()))?;
        let policy = Policy::new(kind, vhost, name, pattern, apply_to, priority, definition)?;
        v.set_policy(policy);
        Ok(())
    }

    /// Clears a policy or operator policy; `NotFound` when there is none by that name.
    pub fn clear_policy(
        &self,
        kind: PolicyKind,
        vhost: &str,
        name: &str,
    ) -> Result<(), PolicyError> {
        let v = self
            .vhost(vhost)
            .ok_or_else(|| PolicyError::NoSuchVhost(vhost.to_string()))?;
        if v.clear_policy(kind, name) {
            Ok(())
        } else {
            Err(PolicyError::NotFound(name.to_string()))
        }
    }

    /// The policies of `kind` on `vhost`, or on every vhost (by vhost, then name).
    pub fn list_policies(&self, kind: PolicyKind, vhost: Option<&str>) -> Vec<Arc<Policy>> {
        let mut names: Vec<String> = match vhost {
            Some(v) => vec![v.to_string()],
            None => self.vhosts.iter().map(|e| e.key().clone()).collect(),
        };
        names.sort();
        names
            .iter()
            .filter_map(|n| self.vhost(n))
            .flat_map(|v| v.list_policies(kind))
            .collect()
    }

    /// Every vhost, sorted by name.
    pub fn vhosts(&self) -> Vec<Arc<VHost>> {
        let mut all: Vec<Arc<VHost>> = self.vhosts.iter().map(|v| Arc::clone(v.value())).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// A fresh connection id.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}
