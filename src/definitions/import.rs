//! Applying a validated [`Plan`] through the broker's own creation paths (the ones the
//! management API and AMQP use), idempotently and as RabbitMQ does: users are created or
//! updated (password, tags, limits), vhosts created (an existing one keeps its objects and
//! only takes the description and tags given), permissions and policies set, and queues and
//! exchanges that already exist are left as they are, even when their arguments differ. A
//! binding whose source or destination is missing is skipped with a warning.

use super::DefinitionsError;
use super::validate::Plan;
use crate::access::VHostRecord;
use crate::broker::Broker;
use crate::broker::exchange::Destination;
use crate::broker::vhost::{QueueDeclareRequest, VHost};
use std::sync::Arc;

/// What an import did, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Users created or updated.
    pub users: usize,
    /// Vhosts created.
    pub vhosts_created: usize,
    /// Policies and operator policies set.
    pub policies: usize,
    /// Exchanges created.
    pub exchanges_created: usize,
    /// Queues created.
    pub queues_created: usize,
    /// Bindings added (or already there).
    pub bindings: usize,
    /// Queues, exchanges and bindings left alone (existing or with a missing end).
    pub skipped: usize,
}

fn failed(what: String, e: impl std::fmt::Display) -> DefinitionsError {
    DefinitionsError::Apply(format!("{what}: {e}"))
}

fn vhost(broker: &Broker, name: &str) -> Result<Arc<VHost>, DefinitionsError> {
    broker
        .vhost(name)
        .ok_or_else(|| DefinitionsError::Apply(format!("vhost '{name}' disappeared")))
}

/// Applies `plan` to `broker`.
pub fn apply(broker: &Broker, plan: Plan) -> Result<Summary, DefinitionsError> {
    let mut summary = Summary::default();
    let access = &broker.access;
    for v in plan.vhosts {
        let existing = access.vhost(&v.name);
        let created = existing.is_none();
        let current = existing.unwrap_or_else(|| VHostRecord {
            name: v.name.clone(),
            ..VHostRecord::default()
        });
        if created || v.description.is_some() || v.tags.is_some() {
            broker.add_vhost(VHostRecord {
                description: v.description.unwrap_or(current.description.clone()),
                tags: v.tags.unwrap_or(current.tags.clone()),
                ..current
            });
        }
        summary.vhosts_created += usize::from(created);
    }
    for u in plan.users {
        let what = format!("user '{}'", u.name);
        access
            .put_user(&u.name, u.password, u.tags)
            .map_err(|e| failed(what.clone(), e))?;
        if let Some(limits) = u.limits {
            access
                .set_user_limit(&u.name, "max-connections", limits.max_connections)
                .and_then(|()| access.set_user_limit(&u.name, "max-channels", limits.max_channels))
                .map_err(|e| failed(what, e))?;
        }
        summary.users += 1;
    }
    for (user, vhost, spec) in plan.permissions {
        access
            .set_permissions(&user, &vhost, spec)
            .map_err(|e| failed(format!("permissions of '{user}' in '{vhost}'"), e))?;
    }
    for (user, vhost, spec) in plan.topic_permissions {
        access
            .set_topic_permission(&user, &vhost, spec)
            .map_err(|e| failed(format!("topic permissions of '{user}' in '{vhost}'"), e))?;
    }
    for (vhost, limits) in plan.vhost_limits {
        access
            .set_vhost_limit(&vhost, "max-connections", limits.max_connections)
            .and_then(|()| access.set_vhost_limit(&vhost, "max-queues", limits.max_queues))
            .map_err(|e| failed(format!("limits of vhost '{vhost}'"), e))?;
    }
    for p in plan.policies {
        vhost(broker, &p.vhost)?.set_policy(p);
        summary.policies += 1;
    }
    for x in plan.exchanges {
        let v = vhost(broker, &x.vhost)?;
        if v.exchange(&x.name).is_some() {
            tracing::info!(vhost = %x.vhost, exchange = %x.name,
                "definitions: exchange exists, left as it is");
            summary.skipped += 1;
            continue;
        }
        v.declare_exchange(
            &x.name,
            &x.kind,
            false,
            x.durable,
            x.auto_delete,
            x.internal,
            &x.arguments,
        )
        .map_err(|e| failed(format!("exchange '{}' in vhost '{}'", x.name, x.vhost), e))?;
        summary.exchanges_created += 1;
    }
    for q in plan.queues {
        let v = vhost(broker, &q.vhost)?;
        if v.queue(&q.name).is_some() {
            tracing::info!(vhost = %q.vhost, queue = %q.name,
                "definitions: queue exists, left as it is");
            summary.skipped += 1;
            continue;
        }
        let what = format!("queue '{}' in vhost '{}'", q.name, q.vhost);
        v.declare_queue(QueueDeclareRequest {
            name: q.name,
            passive: false,
            durable: q.durable,
            exclusive: false,
            auto_delete: q.auto_delete,
            arguments: q.arguments,
            connection_id: 0,
            max_queues: access.vhost_limits(&v.name).max_queues,
        })
        .map_err(|e| failed(what, e.reply_text()))?;
        summary.queues_created += 1;
    }
    for b in plan.bindings {
        let v = vhost(broker, &b.vhost)?;
        let dest_exists = match &b.destination {
            Destination::Queue(q) => v.queue(q).is_some(),
            Destination::Exchange(x) => v.exchange(x).is_some(),
        };
        if v.exchange(&b.source).is_none() || !dest_exists {
            tracing::warn!(vhost = %b.vhost, source = %b.source, destination = ?b.destination,
                "definitions: binding skipped, its source or destination does not exist");
            summary.skipped += 1;
            continue;
        }
        let what = format!("binding from '{}' in vhost '{}'", b.source, b.vhost);
        v.bind(&b.source, b.destination, &b.routing_key, &b.arguments, 0)
            .map_err(|e| failed(what, e.reply_text()))?;
        summary.bindings += 1;
    }
    Ok(summary)
}
