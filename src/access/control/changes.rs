//! The changing half of [`Access`]: users, permissions, topic permissions, vhosts and
//! limits created, updated and deleted at run time, each written through to the store.

use super::*;

impl Access {
    /// Creates or updates a user; returns true when it was created.
    pub fn put_user(
        &self,
        name: &str,
        password: NewPassword,
        tags: Vec<String>,
    ) -> Result<bool, AccessError> {
        check_name(name)?;
        let mut state = self.state.write();
        let existing = state.users.get(name).cloned();
        let password = match password {
            NewPassword::Clear(p) => PasswordHash::new(HashingAlgorithm::Sha256, &p),
            NewPassword::Hashed(h) => h,
            NewPassword::None => PasswordHash::none(),
            NewPassword::Keep => existing
                .as_ref()
                .map(|u| u.password.clone())
                .unwrap_or_else(PasswordHash::none),
        };
        let user = User {
            name: name.to_string(),
            password,
            tags,
            limits: existing.as_ref().map(|u| u.limits).unwrap_or_default(),
        };
        self.store.put_user(&user);
        state.users.insert(name.to_string(), Arc::new(user));
        drop(state);
        self.changed();
        Ok(existing.is_none())
    }

    /// Deletes a user and its permissions; false if there was none.
    pub fn delete_user(&self, name: &str) -> bool {
        let mut state = self.state.write();
        if !state.users.contains_key(name) {
            return false;
        }
        let (vhosts, topics) = state.remove_user(name);
        self.store.delete_user(name);
        for vhost in vhosts {
            self.store.delete_permissions(name, &vhost);
        }
        for (vhost, exchange) in topics {
            self.store.delete_topic_permission(name, &vhost, &exchange);
        }
        drop(state);
        self.changed();
        true
    }

    fn require(state: &State, user: &str, vhost: &str) -> Result<(), AccessError> {
        if !state.vhosts.contains_key(vhost) {
            return Err(AccessError::VHostNotFound {
                vhost: vhost.to_string(),
            });
        }
        if !state.users.contains_key(user) {
            return Err(AccessError::NoSuchUser(user.to_string()));
        }
        Ok(())
    }

    /// Sets a user's permissions on a vhost (both must exist); takes effect at once.
    pub fn set_permissions(
        &self,
        user: &str,
        vhost: &str,
        spec: PermissionSpec,
    ) -> Result<(), AccessError> {
        let mut state = self.state.write();
        Self::require(&state, user, vhost)?;
        state.set_permissions(user, vhost, spec.clone())?;
        self.store.put_permissions(user, vhost, &spec);
        drop(state);
        self.changed();
        Ok(())
    }

    /// Clears a user's permissions on a vhost; false if there were none.
    pub fn clear_permissions(&self, user: &str, vhost: &str) -> bool {
        let removed = self.state.write().clear_permissions(user, vhost);
        if removed {
            self.store.delete_permissions(user, vhost);
            self.changed();
        }
        removed
    }

    /// Sets a user's topic permission on one exchange of a vhost.
    pub fn set_topic_permission(
        &self,
        user: &str,
        vhost: &str,
        spec: TopicPermissionSpec,
    ) -> Result<(), AccessError> {
        let mut state = self.state.write();
        Self::require(&state, user, vhost)?;
        state.set_topic_permission(user, vhost, spec.clone())?;
        self.store.put_topic_permission(user, vhost, &spec);
        drop(state);
        self.changed();
        Ok(())
    }

    /// Clears a user's topic permission on one exchange (`Some`) or all (`None`) of a
    /// vhost; false if there was none.
    pub fn clear_topic_permissions(&self, user: &str, vhost: &str, exchange: Option<&str>) -> bool {
        let cleared = self
            .state
            .write()
            .clear_topic_permissions(user, vhost, exchange);
        for x in &cleared {
            self.store.delete_topic_permission(user, vhost, x);
        }
        if !cleared.is_empty() {
            self.changed();
        }
        !cleared.is_empty()
    }

    /// Records a vhost (creating it, or updating its metadata and limits); true when it
    /// was created. The broker creates its exchanges and queues ([`crate::broker::Broker`]).
    pub fn add_vhost(&self, record: VHostRecord) -> bool {
        let mut state = self.state.write();
        let created = !state.vhosts.contains_key(&record.name);
        self.store.put_vhost(&record);
        state.vhosts.insert(record.name.clone(), record);
        drop(state);
        self.changed();
        created
    }

    /// Forgets a vhost with its permissions; false if there was none.
    pub fn delete_vhost(&self, name: &str) -> bool {
        let mut state = self.state.write();
        if !state.vhosts.contains_key(name) {
            return false;
        }
        let (users, topics) = state.remove_vhost(name);
        self.store.delete_vhost(name);
        for user in users {
            self.store.delete_permissions(&user, name);
        }
        for (user, exchange) in topics {
            self.store.delete_topic_permission(&user, name, &exchange);
        }
        drop(state);
        self.changed();
        true
    }

    /// Sets (`Some`) or clears (`None`) one limit of a vhost.
    pub fn set_vhost_limit(
        &self,
        vhost: &str,
        name: &str,
        value: Option<i64>,
    ) -> Result<(), AccessError> {
        let mut state = self.state.write();
        let record = state
            .vhosts
            .get_mut(vhost)
            .ok_or_else(|| AccessError::VHostNotFound {
                vhost: vhost.to_string(),
            })?;
        record.limits.set(name, value)?;
        self.store.put_vhost(record);
        drop(state);
        self.changed();
        Ok(())
    }

    /// Sets (`Some`) or clears (`None`) one limit of a user.
    pub fn set_user_limit(
        &self,
        user: &str,
        name: &str,
        value: Option<i64>,
    ) -> Result<(), AccessError> {
        let mut state = self.state.write();
        let current = state
            .users
            .get(user)
            .ok_or_else(|| AccessError::NoSuchUser(user.to_string()))?;
        let mut updated = User::clone(current);
        updated.limits.set(name, value)?;
        self.store.put_user(&updated);
        state.users.insert(user.to_string(), Arc::new(updated));
        drop(state);
        self.changed();
        Ok(())
    }

    /// A user's limits.
    pub fn user_limits(&self, user: &str) -> Option<UserLimits> {
        self.user(user).map(|u| u.limits)
    }
}
