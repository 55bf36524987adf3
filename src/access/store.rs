//! The access model on disk: users, vhosts, permissions and topic permissions as JSON
//! records (the shape of RabbitMQ's definitions export) in the store's definitions
//! database, plus the marker saying the model was seeded from the config file.
//!
//! Writes go through the store's writer thread like every other definition (FIFO, group
//! committed); [`super::Access`] applies a change in memory and submits its record here.

use super::error::AccessError;
use super::limits::UserLimits;
use super::password::{HashingAlgorithm, PasswordHash};
use super::permissions::PermissionSpec;
use super::state::{State, VHostRecord};
use super::topic::TopicPermissionSpec;
use super::users::User;
use crate::store::{DefinitionKind, Store, StoreError, StoreOp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The key of the seeded marker.
const SEEDED: &[u8] = b"seeded";

/// A user as stored (and as definitions export it).
#[derive(Debug, Serialize, Deserialize)]
struct UserRecord {
    name: String,
    password_hash: String,
    hashing_algorithm: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    limits: UserLimits,
}

/// Permissions as stored.
#[derive(Debug, Serialize, Deserialize)]
struct PermissionRecord {
    user: String,
    vhost: String,
    #[serde(flatten)]
    spec: PermissionSpec,
}

/// A topic permission as stored.
#[derive(Debug, Serialize, Deserialize)]
struct TopicPermissionRecord {
    user: String,
    vhost: String,
    #[serde(flatten)]
    spec: TopicPermissionSpec,
}

/// A key made of length-prefixed parts, so no name can run into the next.
fn key(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p.as_bytes());
    }
    out
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail; an empty record would be skipped on load.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Persists the access model in a [`Store`].
#[derive(Debug, Clone)]
pub(super) struct AccessStore {
    store: Store,
}

impl AccessStore {
    pub(super) fn new(store: Store) -> AccessStore {
        AccessStore { store }
    }

    fn put(&self, kind: DefinitionKind, key: Vec<u8>, value: Vec<u8>) {
        self.store
            .submit(StoreOp::PutDefinition { kind, key, value }, None);
    }

    fn delete(&self, kind: DefinitionKind, key: Vec<u8>) {
        self.store
            .submit(StoreOp::DeleteDefinition { kind, key }, None);
    }

    pub(super) fn put_user(&self, user: &User) {
        let record = UserRecord {
            name: user.name.clone(),
            password_hash: user.password.to_base64(),
            hashing_algorithm: user.password.algorithm().name().to_string(),
            tags: user.tags.clone(),
            limits: user.limits,
        };
        self.put(DefinitionKind::User, key(&[&user.name]), to_json(&record));
    }

    pub(super) fn delete_user(&self, name: &str) {
        self.delete(DefinitionKind::User, key(&[name]));
    }

    pub(super) fn put_vhost(&self, vhost: &VHostRecord) {
        self.put(DefinitionKind::VHost, key(&[&vhost.name]), to_json(vhost));
    }

    pub(super) fn delete_vhost(&self, name: &str) {
        self.delete(DefinitionKind::VHost, key(&[name]));
    }

    pub(super) fn put_permissions(&self, user: &str, vhost: &str, spec: &PermissionSpec) {
        let record = PermissionRecord {
            user: user.to_string(),
            vhost: vhost.to_string(),
            spec: spec.clone(),
        };
        self.put(
            DefinitionKind::Permission,
            key(&[vhost, user]),
            to_json(&record),
        );
    }

    pub(super) fn delete_permissions(&self, user: &str, vhost: &str) {
        self.delete(DefinitionKind::Permission, key(&[vhost, user]));
    }

    pub(super) fn put_topic_permission(&self, user: &str, vhost: &str, spec: &TopicPermissionSpec) {
        let record = TopicPermissionRecord {
            user: user.to_string(),
            vhost: vhost.to_string(),
            spec: spec.clone(),
        };
        self.put(
            DefinitionKind::TopicPermission,
            key(&[vhost, user, &spec.exchange]),
            to_json(&record),
        );
    }

    pub(super) fn delete_topic_permission(&self, user: &str, vhost: &str, exchange: &str) {
        self.delete(
            DefinitionKind::TopicPermission,
            key(&[vhost, user, exchange]),
        );
    }

    pub(super) fn mark_seeded(&self) {
        self.put(DefinitionKind::AccessMeta, SEEDED.to_vec(), b"1".to_vec());
    }

    /// Whether the model was seeded from the config file before.
    pub(super) fn is_seeded(&self) -> Result<bool, StoreError> {
        Ok(self
            .store
            .definitions(DefinitionKind::AccessMeta)?
            .iter()
            .any(|(k, _)| k == SEEDED))
    }

    /// Reads the whole model. A record that cannot be read is skipped with a warning (as
    /// recovery does for exchanges and queues), never a panic.
    pub(super) fn load(&self) -> Result<State, StoreError> {
        let mut state = State::default();
        for (_, value) in self.store.definitions(DefinitionKind::VHost)? {
            match serde_json::from_slice::<VHostRecord>(&value) {
                Ok(v) => {
                    state.vhosts.insert(v.name.clone(), v);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable vhost record"),
            }
        }
        for (_, value) in self.store.definitions(DefinitionKind::User)? {
            match decode_user(&value) {
                Ok(u) => {
                    state.users.insert(u.name.clone(), Arc::new(u));
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable user record"),
            }
        }
        for (_, value) in self.store.definitions(DefinitionKind::Permission)? {
            let loaded = serde_json::from_slice::<PermissionRecord>(&value)
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    state
                        .set_permissions(&r.user, &r.vhost, r.spec)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = loaded {
                tracing::warn!(error = %e, "skipping an unreadable permission record");
            }
        }
        for (_, value) in self.store.definitions(DefinitionKind::TopicPermission)? {
            let loaded = serde_json::from_slice::<TopicPermissionRecord>(&value)
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    state
                        .set_topic_permission(&r.user, &r.vhost, r.spec)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = loaded {
                tracing::warn!(error = %e, "skipping an unreadable topic permission record");
            }
        }
        Ok(state)
    }
}

fn decode_user(value: &[u8]) -> Result<User, String> {
    let r: UserRecord = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    let algorithm = HashingAlgorithm::from_name(&r.hashing_algorithm)
        .map_err(|e| AccessError::from(e).to_string())?;
    let password = PasswordHash::from_base64(algorithm, &r.password_hash)
        .map_err(|e| AccessError::from(e).to_string())?;
    Ok(User {
        name: r.name,
        password,
        tags: r.tags,
        limits: r.limits,
    })
}
