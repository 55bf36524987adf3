//! [`Access`]: the one entry point for logins, permission checks, limits and changes to
//! users, vhosts and permissions. Reads take a shared lock on the model (or, on the publish
//! path, none: channels cache decisions against [`Access::generation`]); every change takes
//! it exclusively, writes the record through to the store and bumps the generation.

use super::error::AccessError;
use super::limits::{self, UserLimits, VHostLimits};
use super::password::{HashingAlgorithm, PasswordHash};
use super::permissions::{Permission, PermissionSpec, ResourceKind};
use super::state::{State, TopicRules, VHostRecord};
use super::store::AccessStore;
use super::topic::TopicPermissionSpec;
use super::users::{ADMINISTRATOR, User};
use crate::auth::AuthError;
use crate::config::AuthSettings;
use crate::store::{Store, StoreError};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod changes;

/// How a user's password is given when it is created or changed.
#[derive(Clone, PartialEq, Eq)]
pub enum NewPassword {
    /// In clear text: hashed with SHA-256 and a fresh salt, then forgotten.
    Clear(Vec<u8>),
    /// Already hashed (a RabbitMQ `password_hash` with its `hashing_algorithm`).
    Hashed(PasswordHash),
    /// No password: the user cannot log in with one.
    None,
    /// Keep the current one (a new user gets none).
    Keep,
}

impl std::fmt::Debug for NewPassword {
    /// Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NewPassword::Clear(_) => "Clear(..)",
            NewPassword::Hashed(_) => "Hashed(..)",
            NewPassword::None => "None",
            NewPassword::Keep => "Keep",
        })
    }
}

/// Users, vhosts, permissions and limits, with the live connection and channel counts the
/// limits are checked against.
#[derive(Debug)]
pub struct Access {
    state: RwLock<State>,
    generation: AtomicU64,
    store: AccessStore,
    loopback_only: HashSet<String>,
    live: Arc<Live>,
    /// Hashed against when the user is unknown, so a refusal takes as long either way.
    decoy: PasswordHash,
}

/// Live counts of connections per vhost and user and of channels per user.
#[derive(Debug, Default)]
struct Live {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    vhost_connections: HashMap<String, usize>,
    user_connections: HashMap<String, usize>,
    user_channels: HashMap<String, usize>,
}

fn decrement(map: &mut HashMap<String, usize>, key: &str, by: usize) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(by);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// An open connection's place in the counts; dropping it gives the place (and its
/// channels) back.
#[derive(Debug)]
pub struct Session {
    live: Arc<Live>,
    user: String,
    vhost: String,
    channels: usize,
}

impl Session {
    /// Counts a new channel, refusing it when the user's `max-channels` is reached.
    pub fn open_channel(&mut self, access: &Access) -> Result<(), AccessError> {
        let limit = access.user(&self.user).and_then(|u| u.limits.max_channels);
        let mut counts = self.live.counts.lock();
        let current = counts.user_channels.get(&self.user).copied().unwrap_or(0);
        if limits::reached(limit, current) {
            return Err(AccessError::UserChannelLimit {
                user: self.user.clone(),
                limit: limit.unwrap_or_default(),
            });
        }
        *counts.user_channels.entry(self.user.clone()).or_default() += 1;
        self.channels += 1;
        Ok(())
    }

    /// Gives back channels that closed, so the count equals `open` channels.
    pub fn set_open_channels(&mut self, open: usize) {
        if open < self.channels {
            let mut counts = self.live.counts.lock();
            decrement(&mut counts.user_channels, &self.user, self.channels - open);
            self.channels = open;
        }
    }

    /// The connection's user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The connection's vhost.
    pub fn vhost(&self) -> &str {
        &self.vhost
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut counts = self.live.counts.lock();
        decrement(&mut counts.vhost_connections, &self.vhost, 1);
        decrement(&mut counts.user_connections, &self.user, 1);
        decrement(&mut counts.user_channels, &self.user, self.channels);
    }
}

/// Loopback in either family, including IPv4-mapped IPv6 (`::ffff:127.0.0.1`), which a
/// dual-stack listener reports for IPv4 clients.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Refuses names that cannot be used: empty, or longer than an AMQP short string.
fn check_name(name: &str) -> Result<(), AccessError> {
    if name.is_empty() || name.len() > 255 {
        return Err(AccessError::InvalidName(name.to_string()));
    }
    Ok(())
}

impl Access {
    /// Reads the users, vhosts and permissions a cluster follower holds, without ever
    /// writing: `None` while its store has none yet (the leader seeds them).
    pub fn open_replica(
        store: Store,
        settings: &AuthSettings,
    ) -> Result<Option<Access>, StoreError> {
        if !AccessStore::new(store.clone()).is_seeded()? {
            return Ok(None);
        }
        Access::open(store, settings).map(Some)
    }

    /// Loads the model from `store`; on the first start (no seeded marker) seeds it from the
    /// config file: its vhosts, its users (hashed; `guest` tagged administrator unless tags
    /// are given) with configure/write/read `.*` on every configured vhost, as RabbitMQ's
    /// `default_permissions` do.
    pub fn open(store: Store, settings: &AuthSettings) -> Result<Access, StoreError> {
        let access_store = AccessStore::new(store);
        let seeded = access_store.is_seeded()?;
        let state = if seeded {
            access_store.load()?
        } else {
            State::default()
        };
        let access = Access {
            state: RwLock::new(state),
            generation: AtomicU64::new(1),
            store: access_store,
            loopback_only: settings.loopback_users.iter().cloned().collect(),
            live: Arc::default(),
            decoy: PasswordHash::new(HashingAlgorithm::Sha256, b"decoy"),
        };
        if !seeded {
            access.seed(settings);
        }
        Ok(access)
    }

    fn seed(&self, settings: &AuthSettings) {
        for vhost in &settings.vhosts {
            self.add_vhost(VHostRecord {
                name: vhost.clone(),
                ..VHostRecord::default()
            });
        }
        for u in &settings.users {
            let tags = match &u.tags {
                Some(tags) => tags.clone(),
                None if u.name == "guest" => vec![ADMINISTRATOR.to_string()],
                None => Vec::new(),
            };
            let password = NewPassword::Clear(u.password.as_bytes().to_vec());
            if let Err(e) = self.put_user(&u.name, password, tags) {
                tracing::warn!(user = %u.name, error = %e, "cannot seed user");
                continue;
            }
            for vhost in &settings.vhosts {
                if let Err(e) = self.set_permissions(&u.name, vhost, PermissionSpec::all()) {
                    tracing::warn!(user = %u.name, %vhost, error = %e, "cannot seed permissions");
                }
            }
        }
        self.store.mark_seeded();
    }

    /// The current generation: it changes with every change to the model, so a decision
    /// cached under one generation is valid while it stays the same.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Checks a login from `peer`: credentials first, then the loopback rule, as RabbitMQ
    /// orders them.
    pub fn authenticate(
        &self,
        username: &str,
        password: &[u8],
        peer: SocketAddr,
    ) -> Result<Arc<User>, AuthError> {
        let Some(user) = self.user(username) else {
            // Spend the same work as a real comparison so timing does not reveal whether
            // the name exists.
            let _ = self.decoy.verify(password);
            return Err(AuthError::UnknownUser {
                user: username.to_string(),
            });
        };
        if !user.password.verify(password) {
            return Err(AuthError::BadPassword {
                user: username.to_string(),
            });
        }
        if self.loopback_only.contains(username) && !is_loopback(peer.ip()) {
            return Err(AuthError::LoopbackOnly {
                user: username.to_string(),
            });
        }
        Ok(user)
    }

    /// Checks a user logging in without a password (SASL EXTERNAL, by client certificate)
    /// from `peer`: the user must exist, and the loopback rule applies as to any login.
    pub fn check_external(&self, username: &str, peer: SocketAddr) -> Result<(), AuthError> {
        if self.user(username).is_none() {
            return Err(AuthError::UnknownUser {
                user: username.to_string(),
            });
        }
        if self.loopback_only.contains(username) && !is_loopback(peer.ip()) {
            return Err(AuthError::LoopbackOnly {
                user: username.to_string(),
            });
        }
        Ok(())
    }

    /// Checks `permission` on the resource `name` of `kind` in `vhost` for `user`.
    pub fn check(
        &self,
        user: &str,
        vhost: &str,
        kind: ResourceKind,
        name: &str,
        permission: Permission,
    ) -> Result<(), AccessError> {
        self.state.read().check(user, vhost, kind, name, permission)
    }

    /// The user's topic permissions on `vhost` (empty when none), for a channel to cache.
    pub fn topic_rules(&self, user: &str, vhost: &str) -> Arc<TopicRules> {
        self.state.read().topic_rules(user, vhost)
    }

    /// Checks a topic permission for `routing_key` on the topic exchange `exchange`.
    pub fn check_topic(
        &self,
        user: &str,
        vhost: &str,
        exchange: &str,
        routing_key: &str,
        permission: Permission,
    ) -> Result<(), AccessError> {
        check_topic_in(
            &self.topic_rules(user, vhost),
            user,
            vhost,
            exchange,
            routing_key,
            permission,
        )
    }

    /// Admits a connection of `user` to `vhost` (connection.open), in RabbitMQ's order: the
    /// vhost's connection limit, the user's, the vhost's existence, the user's permission on
    /// it. The returned [`Session`] holds the connection's place in the counts.
    pub fn open_connection(&self, user: &str, vhost: &str) -> Result<Session, AccessError> {
        let state = self.state.read();
        let vhost_limit = state
            .vhosts
            .get(vhost)
            .and_then(|v| v.limits.max_connections);
        let user_limit = state.users.get(user).and_then(|u| u.limits.max_connections);
        let mut counts = self.live.counts.lock();
        let in_vhost = counts.vhost_connections.get(vhost).copied().unwrap_or(0);
        if limits::reached(vhost_limit, in_vhost) {
            return Err(AccessError::VHostConnectionLimit {
                vhost: vhost.to_string(),
                user: user.to_string(),
                limit: vhost_limit.unwrap_or_default(),
            });
        }
        let of_user = counts.user_connections.get(user).copied().unwrap_or(0);
        if limits::reached(user_limit, of_user) {
            return Err(AccessError::UserConnectionLimit {
                user: user.to_string(),
                limit: user_limit.unwrap_or_default(),
            });
        }
        if !state.vhosts.contains_key(vhost) {
            return Err(AccessError::VHostNotFound {
                vhost: vhost.to_string(),
            });
        }
        if state.permissions(user, vhost).is_none() {
            return Err(AccessError::VHostRefused {
                vhost: vhost.to_string(),
                user: user.to_string(),
            });
        }
        *counts
            .vhost_connections
            .entry(vhost.to_string())
            .or_default() += 1;
        *counts.user_connections.entry(user.to_string()).or_default() += 1;
        Ok(Session {
            live: Arc::clone(&self.live),
            user: user.to_string(),
            vhost: vhost.to_string(),
            channels: 0,
        })
    }

    /// Refuses a new queue when the vhost's `max-queues` is reached by `existing` queues.
    pub fn check_queue_limit(
        &self,
        vhost: &str,
        queue: &str,
        existing: usize,
    ) -> Result<(), AccessError> {
        let limit = self.vhost_limits(vhost).max_queues;
        if limits::reached(limit, existing) {
            return Err(AccessError::QueueLimit {
                queue: queue.to_string(),
                vhost: vhost.to_string(),
                limit: limit.unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Open connections to `vhost`.
    pub fn vhost_connection_count(&self, vhost: &str) -> usize {
        let counts = self.live.counts.lock();
        counts.vhost_connections.get(vhost).copied().unwrap_or(0)
    }

    // ---- reading the model ----

    /// The user called `name`.
    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.state.read().users.get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.state.read().users.values().cloned().collect()
    }

    /// Whether the vhost exists.
    pub fn vhost_exists(&self, name: &str) -> bool {
        self.state.read().vhosts.contains_key(name)
    }

    /// The vhost's record.
    pub fn vhost(&self, name: &str) -> Option<VHostRecord> {
        self.state.read().vhosts.get(name).cloned()
    }

    /// Every vhost, by name.
    pub fn vhosts(&self) -> Vec<VHostRecord> {
        self.state.read().vhosts.values().cloned().collect()
    }

    /// A vhost's limits (none for an unknown vhost).
    pub fn vhost_limits(&self, vhost: &str) -> VHostLimits {
        self.state
            .read()
            .vhosts
            .get(vhost)
            .map(|v| v.limits)
            .unwrap_or_default()
    }

    /// The permissions of `user` on `vhost`.
    pub fn permissions(&self, user: &str, vhost: &str) -> Option<PermissionSpec> {
        self.state
            .read()
            .permissions(user, vhost)
            .map(|p| p.spec.clone())
    }

    /// The vhosts `user` has permissions on.
    pub fn vhosts_of(&self, user: &str) -> std::collections::BTreeSet<String> {
        let state = self.state.read();
        state
            .permissions
            .iter()
            .filter(|(_, by_user)| by_user.contains_key(user))
            .map(|(vhost, _)| vhost.clone())
            .collect()
    }

    /// Every permission as (user, vhost, patterns), by vhost then user.
    pub fn all_permissions(&self) -> Vec<(String, String, PermissionSpec)> {
        let state = self.state.read();
        let mut out = Vec::new();
        for (vhost, by_user) in &state.permissions {
            for (user, p) in by_user {
                out.push((user.clone(), vhost.clone(), p.spec.clone()));
            }
        }
        out
    }

    /// Every topic permission as (user, vhost, spec), by vhost, user, exchange.
    pub fn all_topic_permissions(&self) -> Vec<(String, String, TopicPermissionSpec)> {
        let state = self.state.read();
        let mut out = Vec::new();
        for (vhost, by_user) in &state.topics {
            for (user, rules) in by_user {
                let mut specs: Vec<&TopicPermissionSpec> =
                    rules.values().map(|r| &r.spec).collect();
                specs.sort_by(|a, b| a.exchange.cmp(&b.exchange));
                for spec in specs {
                    out.push((user.clone(), vhost.clone(), spec.clone()));
                }
            }
        }
        out
    }
}

/// Checks a topic permission against a user's cached rules: exchanges without a rule are
/// unrestricted.
pub fn check_topic_in(
    rules: &TopicRules,
    user: &str,
    vhost: &str,
    exchange: &str,
    routing_key: &str,
    permission: Permission,
) -> Result<(), AccessError> {
    match rules.get(exchange) {
        Some(rule) if !rule.allows(permission, routing_key) => Err(AccessError::TopicRefused {
            routing_key: routing_key.to_string(),
            exchange: exchange.to_string(),
            vhost: vhost.to_string(),
            user: user.to_string(),
        }),
        _ => Ok(()),
    }
}
