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

use crate::access::Access;
use crate::config::Settings;
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
    /// Users, vhosts, permissions and limits.
    pub access: Access,
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
        let access = Access::open(store.clone(), &settings.auth)?;
        let vhosts = DashMap::new();
        for record in access.vhosts() {
            let vhost = VHost::new(&record.name, store.clone(), Arc::clone(&alarms));
            vhosts.insert(record.name, Arc::new(vhost));
        }
        let broker = Broker {
            access,
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

    /// A fresh connection id.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}
