//! Export: the broker's definitions as RabbitMQ 3.10.8 writes them. Left out, as RabbitMQ
//! leaves them out: the default exchange and the `amq.*` exchanges, exclusive queues (and
//! direct reply-to addresses), bindings of the default exchange and bindings to queues
//! that are left out, and message contents. Lists are sorted by vhost and name so two
//! exports of the same broker are equal.

use super::Scope;
use super::model::{
    BindingDef, Definitions, ExchangeDef, GlobalParameterDef, ParameterDef, PermissionDef,
    PolicyDef, QueueDef, TopicPermissionDef, UserDef, VHostDef,
};
use crate::broker::Broker;
use crate::broker::exchange::Destination;
use crate::broker::queue::Queue;
use crate::broker::vhost::{VHost, is_reply_address};
use crate::management::RABBITMQ_VERSION;
use crate::management::json::table;
use crate::policy::{Policy, PolicyKind};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::Arc;

/// The definitions of `scope`. `None` when the scope names a vhost that does not exist.
pub fn export(broker: &Broker, scope: Scope<'_>) -> Option<Definitions> {
    match scope {
        Scope::Broker => Some(export_broker(broker)),
        Scope::VHost(name) => broker.vhost(name).map(|v| export_vhost(broker, &v)),
    }
}

fn export_broker(broker: &Broker) -> Definitions {
    let vhosts = broker.vhosts();
    let access = &broker.access;
    let mut users = access.users();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    let mut records = access.vhosts();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    let mut permissions = access.all_permissions();
    permissions.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let mut topic = access.all_topic_permissions();
    topic.sort_by(|a, b| (&a.1, &a.0, &a.2.exchange).cmp(&(&b.1, &b.0, &b.2.exchange)));
    let mut out = Definitions {
        rabbit_version: Some(RABBITMQ_VERSION.to_string()),
        rabbitmq_version: Some(RABBITMQ_VERSION.to_string()),
        product_name: Some("RabbitMQ".to_string()),
        product_version: Some(RABBITMQ_VERSION.to_string()),
        users: Some(
            users
                .iter()
                .map(|u| UserDef {
                    name: u.name.clone(),
                    password_hash: u.password.to_base64(),
                    hashing_algorithm: u.password.algorithm().name().to_string(),
                    tags: u.tags.clone(),
                    limits: Some(u.limits),
                    password: None,
                })
                .collect(),
        ),
        vhosts: Some(
            records
                .iter()
                .map(|r| VHostDef {
                    name: r.name.clone(),
                    description: None,
                    tags: None,
                    metadata: None,
                })
                .collect(),
        ),
        permissions: Some(
            permissions
                .into_iter()
                .map(|(user, vhost, spec)| PermissionDef {
                    user,
                    vhost,
                    configure: spec.configure,
                    write: spec.write,
                    read: spec.read,
                })
                .collect(),
        ),
        topic_permissions: Some(
            topic
                .into_iter()
                .map(|(user, vhost, spec)| TopicPermissionDef {
                    user,
                    vhost,
                    exchange: spec.exchange,
                    write: spec.write,
                    read: spec.read,
                })
                .collect(),
        ),
        parameters: Some(Vec::new()),
        // RabbitMQ's are its cluster name and id; Warren has nothing another broker should
        // take over.
        global_parameters: Some(Vec::<GlobalParameterDef>::new()),
        policies: Some(Vec::new()),
        queues: Some(Vec::new()),
        exchanges: Some(Vec::new()),
        bindings: Some(Vec::new()),
    };
    for v in &vhosts {
        append_vhost(broker, v, &mut out, true);
    }
    out
}

fn export_vhost(broker: &Broker, v: &Arc<VHost>) -> Definitions {
    let mut out = Definitions {
        rabbit_version: Some(RABBITMQ_VERSION.to_string()),
        parameters: Some(Vec::new()),
        policies: Some(Vec::new()),
        queues: Some(Vec::new()),
        exchanges: Some(Vec::new()),
        bindings: Some(Vec::new()),
        ..Definitions::default()
    };
    append_vhost(broker, v, &mut out, false);
    out
}

/// Adds one vhost's parameters, policies, queues, exchanges and bindings to `out`; the
/// objects name their vhost when `with_vhost` (parameters and policies always do, as in
/// RabbitMQ's single-vhost export).
fn append_vhost(broker: &Broker, v: &Arc<VHost>, out: &mut Definitions, with_vhost: bool) {
    let vhost_name = v.name.to_string();
    let tag = |b: bool| b.then(|| vhost_name.clone());
    let parameters = out.parameters.get_or_insert_with(Vec::new);
    for p in v.list_policies(PolicyKind::Operator) {
        parameters.push(ParameterDef {
            value: json!({
                "pattern": p.pattern,
                "definition": p.definition,
                "priority": p.priority,
                "apply-to": p.apply_to.as_str(),
            }),
            vhost: Some(vhost_name.clone()),
            component: "operator_policy".to_string(),
            name: p.name.clone(),
        });
    }
    if let Some(record) = broker.access.vhost(&vhost_name)
        && !record.limits.is_empty()
    {
        parameters.push(ParameterDef {
            value: serde_json::to_value(record.limits).unwrap_or(Value::Null),
            vhost: Some(vhost_name.clone()),
            component: "vhost-limits".to_string(),
            name: "limits".to_string(),
        });
    }
    out.policies.get_or_insert_with(Vec::new).extend(
        v.list_policies(PolicyKind::Policy)
            .iter()
            .map(|p| policy_def(p)),
    );
    let mut queues: Vec<Arc<Queue>> = v.queues().into_iter().filter(|q| exported(q)).collect();
    queues.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    let kept: HashSet<Vec<u8>> = queues
        .iter()
        .map(|q| q.name().as_bytes().to_vec())
        .collect();
    out.queues
        .get_or_insert_with(Vec::new)
        .extend(queues.iter().map(|q| QueueDef {
            name: q.name().to_string_lossy().into_owned(),
            vhost: tag(with_vhost),
            durable: q.decl.durable,
            auto_delete: q.decl.auto_delete,
            arguments: object(table(&q.decl.arguments)),
        }));
    let mut exchanges = v.exchanges();
    exchanges.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for x in &exchanges {
        if !x.name.is_empty() && !x.name.starts_with("amq.") {
            out.exchanges
                .get_or_insert_with(Vec::new)
                .push(ExchangeDef {
                    name: x.name.to_string_lossy().into_owned(),
                    vhost: tag(with_vhost),
                    kind: x.kind.as_str().to_string(),
                    durable: x.durable,
                    auto_delete: x.auto_delete,
                    internal: x.internal,
                    arguments: object(table(&x.arguments)),
                });
        }
        let bindings = out.bindings.get_or_insert_with(Vec::new);
        let mut found = x.router.read().bindings();
        found.sort_by_cached_key(|b| {
            let (kind, name) = match &b.destination {
                Destination::Queue(q) => (0, q.as_bytes().to_vec()),
                Destination::Exchange(e) => (1, e.as_bytes().to_vec()),
            };
            let arguments = table(&b.arguments).to_string();
            (kind, name, b.routing_key.as_bytes().to_vec(), arguments)
        });
        for b in found {
            let (destination, kind) = match &b.destination {
                Destination::Queue(q) if kept.contains(q.as_bytes()) => (q, "queue"),
                Destination::Queue(_) => continue,
                Destination::Exchange(e) => (e, "exchange"),
            };
            bindings.push(BindingDef {
                source: x.name.to_string_lossy().into_owned(),
                vhost: tag(with_vhost),
                destination: destination.to_string_lossy().into_owned(),
                destination_type: kind.to_string(),
                routing_key: b.routing_key.to_string_lossy().into_owned(),
                arguments: object(table(&b.arguments)),
            });
        }
    }
}

/// Whether RabbitMQ would export the queue: not exclusive, not a reply-to address.
fn exported(q: &Queue) -> bool {
    q.decl.exclusive_owner.is_none() && !is_reply_address(q.name())
}

fn policy_def(p: &Policy) -> PolicyDef {
    PolicyDef {
        vhost: Some(p.vhost.clone()),
        name: p.name.clone(),
        pattern: p.pattern.clone(),
        apply_to: Some(p.apply_to.as_str().to_string()),
        definition: json!(p.definition),
        priority: p.priority,
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
