//! The definitions document in RabbitMQ 3.10's JSON shape. One set of types serves both
//! directions: fields are declared in the order RabbitMQ writes them (serde keeps struct
//! order), fields RabbitMQ leaves out of a scope are `None` and skipped, and fields only
//! read on import (clear-text `password`, vhost `description`/`tags`) are never written.
//! Unknown keys are ignored on import, as RabbitMQ ignores them.

use crate::access::limits::{UserLimits, VHostLimits};
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole definitions document (`/api/definitions`) or one vhost's
/// (`/api/definitions/{vhost}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Definitions {
    /// The version of the exporting broker (`3.10.8` for Warren).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbit_version: Option<String>,
    /// The same again (newer RabbitMQ exports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq_version: Option<String>,
    /// `RabbitMQ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The product's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
    /// Users with their password hashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserDef>>,
    /// Virtual hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhosts: Option<Vec<VHostDef>>,
    /// Permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<PermissionDef>>,
    /// Topic permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_permissions: Option<Vec<TopicPermissionDef>>,
    /// Per-vhost runtime parameters (vhost limits, operator policies, plugins' settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<ParameterDef>>,
    /// Broker-wide parameters (`cluster_name`, `internal_cluster_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_parameters: Option<Vec<GlobalParameterDef>>,
    /// Policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<PolicyDef>>,
    /// Queues (never their messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<QueueDef>>,
    /// Exchanges other than the default and `amq.*` ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges: Option<Vec<ExchangeDef>>,
    /// Bindings other than the default exchange's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Vec<BindingDef>>,
}

/// A user. `tags` is a list (RabbitMQ 3.9+) or a comma-separated string (older exports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDef {
    /// Login name.
    pub name: String,
    /// base64(salt ‖ hash); empty for a user without a password.
    #[serde(default)]
    pub password_hash: String,
    /// `rabbit_password_hashing_sha256` (the default), `_sha512` or `_md5`.
    #[serde(default = "default_algorithm")]
    pub hashing_algorithm: String,
    /// Tags.
    #[serde(default, deserialize_with = "tags")]
    pub tags: Vec<String>,
    /// Per-user limits; absent on import keeps the current ones.
    #[serde(default, deserialize_with = "limits")]
    pub limits: Option<UserLimits>,
    /// A clear-text password (accepted on import as RabbitMQ accepts it; never exported).
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
}

fn default_algorithm() -> String {
    crate::access::password::HashingAlgorithm::Sha256
        .name()
        .to_string()
}

/// A virtual host. RabbitMQ 3.10 exports the name only; description and tags are read on
/// import (at the top level, or under `metadata` as newer versions write them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VHostDef {
    /// Its name.
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing)]
    pub description: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing, deserialize_with = "optional_tags")]
    pub tags: Option<Vec<String>>,
    /// Newer RabbitMQ's `{"description", "tags"}`.
    #[serde(default, skip_serializing)]
    pub metadata: Option<Map<String, Value>>,
}

/// A user's configure / write / read patterns on a vhost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionDef {
    /// The user.
    pub user: String,
    /// The vhost.
    pub vhost: String,
    /// Configure pattern.
    pub configure: String,
    /// Write pattern.
    pub write: String,
    /// Read pattern.
    pub read: String,
}

/// A user's topic permission on one exchange of a vhost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicPermissionDef {
    /// The user.
    pub user: String,
    /// The vhost.
    pub vhost: String,
    /// The topic exchange.
    pub exchange: String,
    /// Write (publish) pattern.
    pub write: String,
    /// Read (bind) pattern.
    pub read: String,
}

/// A runtime parameter: `vhost-limits` (name `limits`) and `operator_policy` are Warren's;
/// other components (federation, shovel) are accepted and skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterDef {
    /// The component's value.
    pub value: Value,
    /// The vhost (absent in a single vhost's file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// `vhost-limits`, `operator_policy`, `federation-upstream`, `shovel`, ...
    pub component: String,
    /// The parameter's name.
    pub name: String,
}

/// A broker-wide parameter (accepted and skipped on import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalParameterDef {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Value,
}

/// A policy; operator policies travel as `operator_policy` parameters with this shape as
/// their value (without `vhost` and `name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDef {
    /// The vhost (absent in a single vhost's file when written by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Regular expression over queue or exchange names.
    pub pattern: String,
    /// `queues`, `exchanges` or `all` (absent means `all`).
    #[serde(rename = "apply-to", default)]
    pub apply_to: Option<String>,
    /// The settings it applies.
    #[serde(default)]
    pub definition: Value,
    /// Higher wins.
    #[serde(default)]
    pub priority: i64,
}

/// A queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueDef {
    /// Its name.
    pub name: String,
    /// Its vhost (absent in a single vhost's file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// Survives a restart.
    pub durable: bool,
    /// Deleted with its last consumer.
    pub auto_delete: bool,
    /// x-arguments.
    #[serde(default, deserialize_with = "arguments")]
    pub arguments: Map<String, Value>,
}

/// An exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeDef {
    /// Its name.
    pub name: String,
    /// Its vhost (absent in a single vhost's file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// `direct`, `fanout`, `topic`, `headers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Survives a restart.
    pub durable: bool,
    /// Deleted with its last binding.
    pub auto_delete: bool,
    /// Only reachable through exchange-to-exchange bindings.
    #[serde(default)]
    pub internal: bool,
    /// Arguments (`alternate-exchange`).
    #[serde(default, deserialize_with = "arguments")]
    pub arguments: Map<String, Value>,
}

/// A binding from an exchange to a queue or an exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BindingDef {
    /// The source exchange.
    pub source: String,
    /// Its vhost (absent in a single vhost's file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// The destination's name.
    pub destination: String,
    /// `queue` or `exchange`.
    pub destination_type: String,
    /// The binding key.
    #[serde(default)]
    pub routing_key: String,
    /// Binding arguments (headers exchanges).
    #[serde(default, deserialize_with = "arguments")]
    pub arguments: Map<String, Value>,
}

/// Tags as a list or a comma-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
enum TagsIn {
    List(Vec<String>),
    Text(String),
}

impl TagsIn {
    fn into_vec(self) -> Vec<String> {
        match self {
            TagsIn::List(items) => items
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            TagsIn::Text(text) => crate::access::users::parse_tags(&text),
        }
    }
}

fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<TagsIn>::deserialize(d)?
        .map(TagsIn::into_vec)
        .unwrap_or_default())
}

fn optional_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<TagsIn>::deserialize(d)?.map(TagsIn::into_vec))
}

/// An object, or the empty list Erlang's JSON encoder writes for an empty proplist.
#[derive(Deserialize)]
#[serde(untagged)]
enum ObjectIn<T> {
    Object(T),
    EmptyList([(); 0]),
}

fn limits<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UserLimits>, D::Error> {
    Ok(match Option::<ObjectIn<UserLimits>>::deserialize(d)? {
        Some(ObjectIn::Object(l)) => Some(l),
        Some(ObjectIn::EmptyList(_)) => Some(UserLimits::default()),
        None => None,
    })
}

fn arguments<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(
        match Option::<ObjectIn<Map<String, Value>>>::deserialize(d)? {
            Some(ObjectIn::Object(m)) => m,
            Some(ObjectIn::EmptyList(_)) | None => Map::new(),
        },
    )
}

/// Reads `value` (a vhost-limits parameter's) as vhost limits.
pub fn vhost_limits(value: &Value) -> Result<VHostLimits, serde_json::Error> {
    match value {
        Value::Array(items) if items.is_empty() => Ok(VHostLimits::default()),
        other => VHostLimits::deserialize(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_empty_proplists_read_in_every_shape() {
        let doc: Definitions = serde_json::from_str(
            r#"{"users":[{"name":"a","password_hash":"","tags":"administrator, monitoring",
                "limits":[]},{"name":"b","tags":["x"]}],
                "queues":[{"name":"q","vhost":"/","durable":true,"auto_delete":false,
                "arguments":[]}]}"#,
        )
        .unwrap();
        let users = doc.users.unwrap();
        assert_eq!(users[0].tags, ["administrator", "monitoring"]);
        assert_eq!(users[0].limits, Some(UserLimits::default()));
        assert_eq!(users[1].limits, None);
        assert_eq!(users[1].hashing_algorithm, "rabbit_password_hashing_sha256");
        assert!(doc.queues.unwrap()[0].arguments.is_empty());
    }

    #[test]
    fn a_queue_without_its_flags_is_refused() {
        let err = serde_json::from_str::<Definitions>(r#"{"queues":[{"name":"q"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `durable`"), "{err}");
    }

    #[test]
    fn limits_are_integers() {
        assert!(vhost_limits(&serde_json::json!({"max-queues": "x"})).is_err());
        assert_eq!(
            vhost_limits(&serde_json::json!({"max-queues": 5}))
                .unwrap()
                .max_queues,
            Some(5)
        );
    }
}
