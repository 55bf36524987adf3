//! The shared broker model: virtual hosts with their exchanges and queues, and the
//! settings and users every connection consults.

pub mod alarms;
pub mod consumer;
pub mod exchange;
pub mod message;
pub mod queue;
pub mod vhost;

use crate::auth::Authenticator;
use crate::config::Settings;
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
    pub alarms: alarms::Alarms,
    vhosts: DashMap<String, Arc<VHost>>,
    next_connection_id: AtomicU64,
}

impl Broker {
    /// A broker with the vhosts named in the settings.
    pub fn new(settings: Arc<Settings>) -> Broker {
        let vhosts = DashMap::new();
        for name in &settings.auth.vhosts {
            vhosts.insert(name.clone(), Arc::new(VHost::new(name)));
        }
        Broker {
            auth: Authenticator::new(&settings.auth),
            alarms: alarms::Alarms::new(settings.limits.memory_high_watermark),
            settings,
            vhosts,
            next_connection_id: AtomicU64::new(1),
        }
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
