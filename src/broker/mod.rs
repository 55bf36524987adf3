//! The shared broker model: virtual hosts with their exchanges and queues, and the
//! settings and users every connection consults.

pub mod alarms;
pub mod consumer;
pub mod definitions;
pub mod exchange;
pub mod message;
pub mod queue;
mod recovery;
pub mod vhost;

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::policy::{Policy, PolicyError, PolicyKind};
use crate::store::{Store, StoreError, StoreOptions};
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use vhost::VHost;

/// The broker: one per process (or per in-process test server).
#[derive(Debug)]
pub struct Broker {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Users and the loopback rule.
    pub auth: Authenticator,
    /// Memory alarm.
    pub alarms: Arc<alarms::Alarms>,
    /// The message and definition store (LMDB in the data directory).
    pub store: Store,
    vhosts: DashMap<String, Arc<VHost>>,
    next_connection_id: AtomicU64,
}

impl Broker {
    /// Opens the store in the data directory, creates the configured vhosts and recovers
    /// durable exchanges, queues (with their persistent messages) and bindings.
    pub fn open(settings: Arc<Settings>) -> Result<Broker, StoreError> {
        let mut options = StoreOptions::default();
        if settings.limits.max_store_size > 0 {
            options.max_map_size = usize::try_from(settings.limits.max_store_size)
                .unwrap_or(usize::MAX)
                .max(options.initial_map_size.min(1 << 20));
            options.initial_map_size = options.initial_map_size.min(options.max_map_size);
        }
        let store = Store::open(&settings.server.data_dir, options)?;
        let alarms = Arc::new(alarms::Alarms::new(
            settings.limits.memory_high_watermark,
            settings.limits.disk_free_limit,
            settings.server.data_dir.clone(),
        ));
        let vhosts = DashMap::new();
        for name in &settings.auth.vhosts {
            let vhost = VHost::new(name, store.clone(), Arc::clone(&alarms));
            vhosts.insert(name.clone(), Arc::new(vhost));
        }
        let broker = Broker {
            auth: Authenticator::new(&settings.auth),
            alarms,
            settings,
            store,
            vhosts,
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

    /// A fresh connection id.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}
