//! Policies as the store keeps them: keyed by (vhost, name) under their own definition
//! kind, the value being the policy's RabbitMQ JSON. Decoding validates again, so a stored
//! policy that a newer Warren would refuse is skipped with a warning rather than trusted.

use super::model::{Policy, PolicyKind};
use crate::store::DefinitionKind;
use serde_json::Value;

/// The store's definition kind for policies of `kind`.
pub fn definition_kind(kind: PolicyKind) -> DefinitionKind {
    match kind {
        PolicyKind::Policy => DefinitionKind::Policy,
        PolicyKind::Operator => DefinitionKind::OperatorPolicy,
    }
}

/// The store key of a policy: the vhost's length (4 bytes, big-endian), the vhost, the
/// name (names are not bounded to 255 bytes like AMQP short strings).
pub fn key(vhost: &str, name: &str) -> Vec<u8> {
    let len = u32::try_from(vhost.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + vhost.len() + name.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(vhost.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out
}

/// The stored value of a policy.
pub fn encode(policy: &Policy) -> Vec<u8> {
    policy.to_json().to_string().into_bytes()
}

/// A policy read back from the store, or `None` when the value is unreadable or invalid.
pub fn decode(kind: PolicyKind, value: &[u8]) -> Option<Policy> {
    let json: Value = serde_json::from_slice(value).ok()?;
    let text = |k: &str| json.get(k).and_then(Value::as_str);
    Policy::new(
        kind,
        text("vhost")?,
        text("name")?,
        text("pattern")?,
        text("apply-to"),
        json.get("priority").and_then(Value::as_i64).unwrap_or(0),
        json.get("definition")?,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_round_trip() {
        let p = Policy::new(
            PolicyKind::Operator,
            "/",
            "limits",
            "^orders\\.",
            Some("queues"),
            -3,
            &json!({"max-length": 10, "message-ttl": 60000}),
        )
        .unwrap();
        assert_eq!(decode(PolicyKind::Operator, &encode(&p)), Some(p));
        assert_eq!(decode(PolicyKind::Policy, b"not json"), None);
    }
}
