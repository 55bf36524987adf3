//! Validation: turns a parsed document into a [`Plan`] of checked changes, or refuses the
//! whole document with the first problem found, before anything is applied. Checked: names
//! (non-empty, at most 255 bytes), password hashes and their algorithm, permission and
//! policy patterns, policy definitions, limit values, exchange types, queue arguments and
//! flags, and that every vhost and user an object names exists in the broker or in the
//! file. What Warren has no use for (global parameters, plugins' parameters) is skipped
//! with a debug log.

use super::model::{Definitions, ExchangeDef, PolicyDef, QueueDef};
use super::{DefinitionsError, Scope};
use crate::access::limits::{UserLimits, VHostLimits};
use crate::access::password::{HashingAlgorithm, PasswordHash};
use crate::access::permissions::CompiledPermissions;
use crate::access::topic::CompiledTopicPermission;
use crate::access::{NewPassword, PermissionSpec, TopicPermissionSpec};
use crate::broker::Broker;
use crate::broker::exchange::{Destination, ExchangeKind, Router};
use crate::broker::queue::args::QueueArgs;
use crate::management::json::to_table;
use crate::policy::{Policy, PolicyKind};
use crate::protocol::{FieldTable, FieldValue, ShortStr};
use std::collections::{HashMap, HashSet};

/// A user to create or update.
#[derive(Debug)]
pub struct UserPlan {
    /// Login name.
    pub name: String,
    /// The password (hash) to store.
    pub password: NewPassword,
    /// Tags.
    pub tags: Vec<String>,
    /// Limits to set (replacing the current ones), when the file gives them.
    pub limits: Option<UserLimits>,
}

/// A vhost to create, or whose description and tags to update.
#[derive(Debug)]
pub struct VHostPlan {
    /// Its name.
    pub name: String,
    /// Description, when given.
    pub description: Option<String>,
    /// Tags, when given.
    pub tags: Option<Vec<String>>,
}

/// An exchange to declare unless one by that name exists.
#[derive(Debug)]
pub struct ExchangePlan {
    /// Its vhost.
    pub vhost: String,
    /// Its name.
    pub name: ShortStr,
    /// Its type.
    pub kind: ShortStr,
    /// Durable flag.
    pub durable: bool,
    /// Auto-delete flag.
    pub auto_delete: bool,
    /// Internal flag.
    pub internal: bool,
    /// Arguments.
    pub arguments: FieldTable,
}

/// A queue to declare unless one by that name exists.
#[derive(Debug)]
pub struct QueuePlan {
    /// Its vhost.
    pub vhost: String,
    /// Its name.
    pub name: ShortStr,
    /// Durable flag.
    pub durable: bool,
    /// Auto-delete flag.
    pub auto_delete: bool,
    /// Arguments.
    pub arguments: FieldTable,
}

/// A binding to add.
#[derive(Debug)]
pub struct BindingPlan {
    /// Its vhost.
    pub vhost: String,
    /// Source exchange.
    pub source: ShortStr,
    /// Destination.
    pub destination: Destination,
    /// Binding key.
    pub routing_key: ShortStr,
    /// Arguments.
    pub arguments: FieldTable,
}

/// Every change a valid document makes, in the order they are applied.
#[derive(Debug, Default)]
pub struct Plan {
    /// Vhosts.
    pub vhosts: Vec<VHostPlan>,
    /// Users.
    pub users: Vec<UserPlan>,
    /// Permissions as (user, vhost, patterns).
    pub permissions: Vec<(String, String, PermissionSpec)>,
    /// Topic permissions as (user, vhost, spec).
    pub topic_permissions: Vec<(String, String, TopicPermissionSpec)>,
    /// Vhost limits to set (replacing the current ones).
    pub vhost_limits: Vec<(String, VHostLimits)>,
    /// Policies and operator policies.
    pub policies: Vec<Policy>,
    /// Exchanges.
    pub exchanges: Vec<ExchangePlan>,
    /// Queues.
    pub queues: Vec<QueuePlan>,
    /// Bindings.
    pub bindings: Vec<BindingPlan>,
}

fn invalid(text: String) -> DefinitionsError {
    DefinitionsError::Invalid(text)
}

/// A name as an AMQP short string: non-empty, at most 255 bytes.
fn short(what: &str, name: &str) -> Result<ShortStr, DefinitionsError> {
    if name.is_empty() {
        return Err(invalid(format!("{what} with an empty name")));
    }
    ShortStr::from_bytes(bytes::Bytes::copy_from_slice(name.as_bytes()))
        .ok_or_else(|| invalid(format!("{what} name '{name}' is longer than 255 bytes")))
}

/// Like [`short`], but the empty string is allowed (routing keys).
fn key(what: &str, text: &str) -> Result<ShortStr, DefinitionsError> {
    ShortStr::from_bytes(bytes::Bytes::copy_from_slice(text.as_bytes()))
        .ok_or_else(|| invalid(format!("{what} '{text}' is longer than 255 bytes")))
}

/// What the document may refer to: the broker's vhosts and users and the file's own.
struct Known {
    vhosts: HashSet<String>,
    users: HashSet<String>,
}

impl Known {
    fn vhost(&self, what: &str, vhost: &str) -> Result<(), DefinitionsError> {
        if self.vhosts.contains(vhost) {
            return Ok(());
        }
        Err(invalid(format!(
            "{what}: vhost '{vhost}' does not exist and is not defined in the file \
             (no_such_vhost)"
        )))
    }
}

/// Checks `doc` for `scope` against `broker` and returns what to apply.
pub fn validate(
    broker: &Broker,
    scope: Scope<'_>,
    doc: Definitions,
) -> Result<Plan, DefinitionsError> {
    let mut plan = Plan::default();
    let mut known = Known {
        vhosts: broker.vhosts().iter().map(|v| v.name.to_string()).collect(),
        users: broker
            .access
            .users()
            .iter()
            .map(|u| u.name.clone())
            .collect(),
    };
    // In a single vhost's import every object goes to that vhost; users, vhosts and
    // permissions in the file are ignored, as RabbitMQ ignores them.
    let target = |given: Option<&String>| -> Result<String, DefinitionsError> {
        match (scope, given) {
            (Scope::VHost(v), _) => Ok(v.to_string()),
            (Scope::Broker, Some(v)) => Ok(v.clone()),
            (Scope::Broker, None) => Err(invalid("an object without its vhost".to_string())),
        }
    };
    if let Scope::Broker = scope {
        users(&mut plan, &mut known, doc.users.unwrap_or_default())?;
        for v in doc.vhosts.unwrap_or_default() {
            short("vhost", &v.name)?;
            let meta = v.metadata.as_ref();
            let description = v.description.or_else(|| {
                meta.and_then(|m| m.get("description"))
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            });
            // rabbitmqctl writes metadata tags as a list or a comma-separated string.
            let tags = v.tags.or_else(|| match meta.and_then(|m| m.get("tags")) {
                Some(serde_json::Value::String(t)) => Some(crate::access::users::parse_tags(t)),
                Some(serde_json::Value::Array(items)) => Some(
                    items
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            });
            known.vhosts.insert(v.name.clone());
            plan.vhosts.push(VHostPlan {
                name: v.name,
                description,
                tags,
            });
        }
        for p in doc.permissions.unwrap_or_default() {
            let what = format!("permissions of user '{}'", p.user);
            known.vhost(&what, &p.vhost)?;
            if !known.users.contains(&p.user) {
                return Err(invalid(format!("{what}: no such user (no_such_user)")));
            }
            let spec = PermissionSpec {
                configure: p.configure,
                write: p.write,
                read: p.read,
            };
            CompiledPermissions::compile(spec.clone())
                .map_err(|e| invalid(format!("{what} in vhost '{}': {e}", p.vhost)))?;
            plan.permissions.push((p.user, p.vhost, spec));
        }
        for p in doc.topic_permissions.unwrap_or_default() {
            let what = format!("topic permissions of user '{}'", p.user);
            known.vhost(&what, &p.vhost)?;
            if !known.users.contains(&p.user) {
                return Err(invalid(format!("{what}: no such user (no_such_user)")));
            }
            let spec = TopicPermissionSpec {
                exchange: p.exchange,
                write: p.write,
                read: p.read,
            };
            CompiledTopicPermission::compile(spec.clone(), &p.user, &p.vhost)
                .map_err(|e| invalid(format!("{what} in vhost '{}': {e}", p.vhost)))?;
            plan.topic_permissions.push((p.user, p.vhost, spec));
        }
        for g in doc.global_parameters.unwrap_or_default() {
            tracing::debug!(name = %g.name, "definitions: global parameter skipped");
        }
    }
    for p in doc.parameters.unwrap_or_default() {
        let vhost = target(p.vhost.as_ref())?;
        match p.component.as_str() {
            "vhost-limits" => {
                known.vhost("vhost limits", &vhost)?;
                let limits = super::model::vhost_limits(&p.value)
                    .map_err(|e| invalid(format!("vhost limits of vhost '{vhost}': {e}")))?;
                plan.vhost_limits.push((vhost, limits));
            }
            "operator_policy" => {
                let value: PolicyDef = serde_json::from_value(p.value).map_err(|e| {
                    invalid(format!(
                        "operator policy '{}' in vhost '{vhost}': {e}",
                        p.name
                    ))
                })?;
                let policy = policy(&known, PolicyKind::Operator, &vhost, &p.name, &value)?;
                plan.policies.push(policy);
            }
            other => {
                tracing::debug!(component = other, name = %p.name, %vhost,
                    "definitions: parameter of a component Warren does not have skipped");
            }
        }
    }
    for p in doc.policies.unwrap_or_default() {
        let vhost = target(p.vhost.as_ref())?;
        let policy = policy(&known, PolicyKind::Policy, &vhost, &p.name, &p)?;
        plan.policies.push(policy);
    }
    for q in doc.queues.unwrap_or_default() {
        let vhost = target(q.vhost.as_ref())?;
        plan.queues.push(queue(&known, vhost, q)?);
    }
    for x in doc.exchanges.unwrap_or_default() {
        let vhost = target(x.vhost.as_ref())?;
        plan.exchanges.push(exchange(broker, &known, vhost, x)?);
    }
    // The type of each exchange a binding may start from: the file's, then the broker's.
    let file_kinds: HashMap<(String, Vec<u8>), ExchangeKind> = plan
        .exchanges
        .iter()
        .filter_map(|x| {
            let kind = ExchangeKind::parse(x.kind.as_bytes())?;
            Some(((x.vhost.clone(), x.name.as_bytes().to_vec()), kind))
        })
        .collect();
    for b in doc.bindings.unwrap_or_default() {
        let vhost = target(b.vhost.as_ref())?;
        known.vhost("binding", &vhost)?;
        let arguments = to_table(&b.arguments);
        let source_kind = broker
            .vhost(&vhost)
            .and_then(|v| v.exchange(&ShortStr::truncated(&b.source)))
            .map(|x| x.kind)
            .or_else(|| {
                file_kinds
                    .get(&(vhost.clone(), b.source.as_bytes().to_vec()))
                    .copied()
            });
        if let Some(kind) = source_kind {
            Router::new(kind).validate(&arguments).map_err(|e| {
                invalid(format!(
                    "binding from '{}' in vhost '{vhost}': PRECONDITION_FAILED - {e}",
                    b.source
                ))
            })?;
        }
        let source = short("binding source", &b.source)?;
        let name = short("binding destination", &b.destination)?;
        let destination = match b.destination_type.as_str() {
            "queue" => Destination::Queue(name),
            "exchange" => Destination::Exchange(name),
            other => {
                return Err(invalid(format!(
                    "binding from '{}' to '{}': destination_type must be queue or exchange, \
                     got '{other}'",
                    b.source, b.destination
                )));
            }
        };
        plan.bindings.push(BindingPlan {
            vhost,
            source,
            destination,
            routing_key: key("routing key", &b.routing_key)?,
            arguments,
        });
    }
    Ok(plan)
}

fn users(
    plan: &mut Plan,
    known: &mut Known,
    users: Vec<super::model::UserDef>,
) -> Result<(), DefinitionsError> {
    for u in users {
        short("user", &u.name)?;
        let what = format!("user '{}'", u.name);
        let password = match u.password {
            Some(clear) => NewPassword::Clear(clear.into_bytes()),
            None => {
                let algorithm = HashingAlgorithm::from_name(&u.hashing_algorithm)
                    .map_err(|e| invalid(format!("{what}: {e}")))?;
                let hash = PasswordHash::from_base64(algorithm, &u.password_hash)
                    .map_err(|e| invalid(format!("{what}: {e}")))?;
                NewPassword::Hashed(hash)
            }
        };
        known.users.insert(u.name.clone());
        plan.users.push(UserPlan {
            name: u.name,
            password,
            tags: u.tags,
            limits: u.limits,
        });
    }
    Ok(())
}

fn policy(
    known: &Known,
    kind: PolicyKind,
    vhost: &str,
    name: &str,
    p: &PolicyDef,
) -> Result<Policy, DefinitionsError> {
    let what = match kind {
        PolicyKind::Policy => "policy",
        PolicyKind::Operator => "operator policy",
    };
    known.vhost(&format!("{what} '{name}'"), vhost)?;
    if name.is_empty() {
        return Err(invalid(format!("{what} with an empty name")));
    }
    Policy::new(
        kind,
        vhost,
        name,
        &p.pattern,
        p.apply_to.as_deref(),
        p.priority,
        &p.definition,
    )
    .map_err(|e| invalid(format!("{} ({vhost}/{name})", e.reason())))
}

fn queue(known: &Known, vhost: String, q: QueueDef) -> Result<QueuePlan, DefinitionsError> {
    known.vhost(&format!("queue '{}'", q.name), &vhost)?;
    let name = short("queue", &q.name)?;
    let arguments = to_table(&q.arguments);
    let args = QueueArgs::parse(&arguments, &q.name, &vhost)
        .map_err(|e| invalid(format!("PRECONDITION_FAILED - {e}")))?;
    args.queue_type
        .check_flags(q.durable, false, q.auto_delete, &q.name, &vhost)
        .map_err(|e| invalid(format!("PRECONDITION_FAILED - {e}")))?;
    Ok(QueuePlan {
        vhost,
        name,
        durable: q.durable,
        auto_delete: q.auto_delete,
        arguments,
    })
}

fn exchange(
    broker: &Broker,
    known: &Known,
    vhost: String,
    x: ExchangeDef,
) -> Result<ExchangePlan, DefinitionsError> {
    let what = format!("exchange '{}' in vhost '{vhost}'", x.name);
    known.vhost(&format!("exchange '{}'", x.name), &vhost)?;
    let name = short("exchange", &x.name)?;
    if ExchangeKind::parse(x.kind.as_bytes()).is_none() {
        return Err(invalid(format!(
            "{what}: unknown exchange type '{}'",
            x.kind
        )));
    }
    let kind = short("exchange type", &x.kind)?;
    let exists = broker
        .vhost(&vhost)
        .and_then(|v| v.exchange(&name))
        .is_some();
    if !exists && x.name.starts_with("amq.") {
        return Err(invalid(format!(
            "ACCESS_REFUSED - exchange name '{}' contains reserved prefix 'amq.*'",
            x.name
        )));
    }
    let arguments = to_table(&x.arguments);
    if let Some(ae) = arguments.get("alternate-exchange")
        && !matches!(ae, FieldValue::LongStr(_))
    {
        return Err(invalid(format!(
            "PRECONDITION_FAILED - invalid type '{}' for arg 'alternate-exchange' in {what}",
            ae.rabbit_type_name()
        )));
    }
    Ok(ExchangePlan {
        vhost,
        name,
        kind,
        durable: x.durable,
        auto_delete: x.auto_delete,
        internal: x.internal,
        arguments,
    })
}
