//! Vhosts and users created and deleted while the broker runs: the access model's records
//! together with the broker's own objects (a vhost's exchanges and queues) and the live
//! connections, as RabbitMQ does it: deleting a vhost closes its connections and removes its
//! queues (with their stored messages), exchanges and bindings; deleting a user closes its
//! connections. Both closes are 320 CONNECTION_FORCED.

use super::Broker;
use super::vhost::VHost;
use crate::access::VHostRecord;
use std::sync::Arc;

/// The text RabbitMQ closes a deleted vhost's connections with.
pub fn vhost_deleted_text(vhost: &str) -> String {
    format!("vhost '{vhost}' is deleted")
}

/// The text RabbitMQ closes a deleted user's connections with.
pub fn user_deleted_text(user: &str) -> String {
    format!("user '{user}' is deleted")
}

impl Broker {
    /// Creates a vhost (or updates its metadata and limits): its record and, when new, its
    /// predeclared `amq.*` exchanges. Returns true when it was created.
    pub fn add_vhost(&self, record: VHostRecord) -> bool {
        let name = record.name.clone();
        let created = self.access.add_vhost(record);
        self.vhosts.entry(name.clone()).or_insert_with(|| {
            Arc::new(VHost::new(
                &name,
                self.store.clone(),
                Arc::clone(&self.alarms),
                Arc::clone(&self.dead_letters),
            ))
        });
        created
    }

    /// Deletes a vhost: closes its connections, removes its queues (and their messages),
    /// exchanges and bindings, and forgets its permissions. False if there was none.
    pub fn delete_vhost(&self, name: &str) -> bool {
        let known = self.access.delete_vhost(name);
        let reason = vhost_deleted_text(name);
        self.connections
            .close_where(|c| c.details.vhost == name, &reason);
        if let Some((_, vhost)) = self.vhosts.remove(name) {
            vhost.remove_everything();
            return true;
        }
        known
    }

    /// Deletes a user with its permissions and closes its connections. False if there was
    /// none.
    pub fn delete_user(&self, name: &str) -> bool {
        let known = self.access.delete_user(name);
        if known {
            let reason = user_deleted_text(name);
            self.connections
                .close_where(|c| c.details.user == name, &reason);
        }
        known
    }
}
