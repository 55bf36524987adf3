//! What the management plugin says about itself: `/api/auth` (asked before login, so
//! without credentials: no OAuth 2 / UAA sign-in), `/api/extensions` (no UI plugins) and
//! `/api/feature-flags` (RabbitMQ 3.10.8's flags, every one enabled, as a 3.10.8 node whose
//! upgrade is complete lists them; upgrade tooling checks them before moving on).

use axum::Json;
use serde_json::{Value, json};

/// `(name, desc, doc_url, provided_by)` of every feature flag RabbitMQ 3.10.8 lists.
const FEATURE_FLAGS: [(&str, &str, &str, &str); 9] = [
    (
        "classic_mirrored_queue_version",
        "Support setting version for classic mirrored queues",
        "",
        "rabbit",
    ),
    (
        "drop_unroutable_metric",
        "Count unroutable publishes to be dropped in stats",
        "",
        "rabbitmq_management_agent",
    ),
    (
        "empty_basic_get_metric",
        "Count AMQP `basic.get` on empty queues in stats",
        "",
        "rabbitmq_management_agent",
    ),
    (
        "implicit_default_bindings",
        "Default bindings are now implicit, instead of being stored in the database",
        "",
        "rabbit",
    ),
    (
        "maintenance_mode_status",
        "Maintenance mode status",
        "",
        "rabbit",
    ),
    (
        "quorum_queue",
        "Support queues of type `quorum`",
        "https://www.rabbitmq.com/quorum-queues.html",
        "rabbit",
    ),
    (
        "stream_queue",
        "Support queues of type `stream`",
        "https://www.rabbitmq.com/stream.html",
        "rabbit",
    ),
    (
        "user_limits",
        "Configure connection and channel limits for a user",
        "",
        "rabbit",
    ),
    (
        "virtual_host_metadata",
        "Virtual host metadata (description, tags, etc)",
        "",
        "rabbit",
    ),
];

/// `GET /api/auth`: no OAuth 2 sign-in; answered without credentials.
pub(super) async fn auth() -> Json<Value> {
    Json(json!({"enable_uaa": false, "uaa_client_id": "", "uaa_location": ""}))
}

/// `GET /api/extensions`: no management UI plugins.
pub(super) async fn extensions() -> Json<Value> {
    Json(json!([]))
}

/// `GET /api/feature-flags`.
pub(super) async fn feature_flags() -> Json<Value> {
    let flags: Vec<Value> = FEATURE_FLAGS
        .iter()
        .map(|(name, desc, doc_url, provided_by)| {
            json!({
                "name": name,
                "desc": desc,
                "doc_url": doc_url,
                "state": "enabled",
                "stability": "stable",
                "provided_by": provided_by,
            })
        })
        .collect();
    Json(Value::Array(flags))
}
