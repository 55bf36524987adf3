//! The users, permissions, vhosts, limits and whoami endpoints, and the management API's
//! scoping by user tags, against an in-process Warren.

use crate::common;

use common::access::{access, add_user, perms, refused_at_open};
use common::{TestBroker, guard};
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Sends `method path` as `who` with an optional JSON body; returns (status, body or Null).
async fn call(
    b: &TestBroker,
    who: (&str, &str),
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http()
        .request(method, format!("{}{path}", b.mgmt_url()))
        .basic_auth(who.0, Some(who.1));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = guard(req.send()).await.unwrap();
    let status = r.status().as_u16();
    let text = guard(r.text()).await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const GUEST: (&str, &str) = ("guest", "guest");

#[tokio::test]
async fn users_are_created_listed_and_deleted_with_rabbitmq_shapes() {
    skip_if_external!();
    let b = TestBroker::start().await;
    use reqwest::Method;
    let body = json!({"password": "s3cret", "tags": "monitoring, management"});
    assert_eq!(
        call(&b, GUEST, Method::PUT, "/api/users/ann", Some(body))
            .await
            .0,
        201
    );
    let body = json!({"password": "s3cret", "tags": ["monitoring"]});
    assert_eq!(
        call(&b, GUEST, Method::PUT, "/api/users/ann", Some(body))
            .await
            .0,
        204
    );
    let (status, user) = call(&b, GUEST, Method::GET, "/api/users/ann", None).await;
    assert_eq!(status, 200);
    assert_eq!(user["name"], "ann");
    assert_eq!(user["tags"], json!(["monitoring"]));
    assert_eq!(user["hashing_algorithm"], "rabbit_password_hashing_sha256");
    assert!(!user.to_string().contains("s3cret"), "{user}");
    // A RabbitMQ hash (s3cret, salt 908dc60a, SHA-512) logs in over AMQP.
    let hash = "kI3GCky7GMJhP0F/jGJD6y5rh9cUASqnGFQMSVyDfTBLrIj5eJ6HaJSo6uPUnJ0A2/lbJ4uax70J0oFzEuj2PJIVe/4=";
    let body = json!({"password_hash": hash, "hashing_algorithm": "rabbit_password_hashing_sha512", "tags": ""});
    assert_eq!(
        call(&b, GUEST, Method::PUT, "/api/users/bob", Some(body))
            .await
            .0,
        201
    );
    let body = json!({"configure": ".*", "write": ".*", "read": ".*"});
    assert_eq!(
        call(
            &b,
            GUEST,
            Method::PUT,
            "/api/permissions/%2F/bob",
            Some(body)
        )
        .await
        .0,
        201
    );
    let conn = guard(lapin::Connection::connect(
        &b.uri_with("bob", "s3cret", "/"),
        lapin::ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let (status, list) = call(&b, GUEST, Method::GET, "/api/users", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob", "guest"]);
    let (_, perms) = call(&b, GUEST, Method::GET, "/api/users/bob/permissions", None).await;
    assert_eq!(
        perms,
        json!([{"user": "bob", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}])
    );
    // Deleting bob closes his connection.
    assert_eq!(
        call(&b, GUEST, Method::DELETE, "/api/users/bob", None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&b, GUEST, Method::DELETE, "/api/users/bob", None)
            .await
            .0,
        404
    );
    let closed = guard(conn.create_channel()).await;
    assert!(closed.is_err());
    assert_eq!(
        call(&b, GUEST, Method::GET, "/api/users/bob", None).await.0,
        404
    );
}

#[tokio::test]
async fn tags_scope_the_api_as_in_rabbitmq() {
    skip_if_external!();
    let b = TestBroker::start().await;
    use reqwest::Method;
    for (name, tags) in [("none", ""), ("mgr", "management"), ("mon", "monitoring")] {
        let body = json!({"password": "pw", "tags": tags});
        assert_eq!(
            call(
                &b,
                GUEST,
                Method::PUT,
                &format!("/api/users/{name}"),
                Some(body)
            )
            .await
            .0,
            201
        );
    }
    let (status, body) = call(&b, ("none", "pw"), Method::GET, "/api/whoami", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("Not management user"))
    );
    let (status, body) = call(&b, ("mgr", "pw"), Method::GET, "/api/whoami", None).await;
    assert_eq!(
        (status, body),
        (200, json!({"name": "mgr", "tags": ["management"]}))
    );
    let (status, body) = call(&b, ("mgr", "pw"), Method::GET, "/api/users", None).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error": "not_authorised", "reason": "Not administrator user"})
        )
    );
    let (status, _) = call(&b, ("mon", "pw"), Method::PUT, "/api/vhosts/x", None).await;
    assert_eq!(status, 401);
    let (status, body) = call(
        &b,
        ("mgr", "pw"),
        Method::GET,
        "/api/vhost-limits/%2F",
        None,
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("User not authorised to access virtual host"))
    );
}

#[tokio::test]
async fn vhosts_limits_and_topic_permissions_over_http() {
    skip_if_external!();
    let b = TestBroker::start().await;
    use reqwest::Method;
    // Creating a vhost grants its creator .* .* .* on it.
    assert_eq!(
        call(&b, GUEST, Method::PUT, "/api/vhosts/v2", None).await.0,
        201
    );
    assert_eq!(
        call(&b, GUEST, Method::PUT, "/api/vhosts/v2", None).await.0,
        204
    );
    assert_eq!(
        access(&b).permissions("guest", "v2"),
        Some(perms(".*", ".*", ".*"))
    );
    let body = json!({"value": 0});
    assert_eq!(
        call(
            &b,
            GUEST,
            Method::PUT,
            "/api/vhost-limits/v2/max-connections",
            Some(body)
        )
        .await
        .0,
        204
    );
    let (_, limits) = call(&b, GUEST, Method::GET, "/api/vhost-limits", None).await;
    assert_eq!(
        limits,
        json!([{"vhost": "v2", "value": {"max-connections": 0}}])
    );
    add_user(&b, "u", None);
    access(&b)
        .set_permissions("u", "v2", perms(".*", ".*", ".*"))
        .unwrap();
    let close = refused_at_open(&b, "u", "v2").await;
    assert_eq!(close.code, 530);
    let body = json!({"value": 5});
    assert_eq!(
        call(
            &b,
            GUEST,
            Method::PUT,
            "/api/user-limits/guest/max-channels",
            Some(body)
        )
        .await
        .0,
        204
    );
    let (_, limits) = call(&b, GUEST, Method::GET, "/api/user-limits", None).await;
    assert_eq!(
        limits,
        json!([{"user": "guest", "value": {"max-channels": 5}}])
    );
    let body = json!({"exchange": "amq.topic", "write": "^a", "read": ""});
    assert_eq!(
        call(
            &b,
            GUEST,
            Method::PUT,
            "/api/topic-permissions/v2/guest",
            Some(body)
        )
        .await
        .0,
        201
    );
    let (_, topics) = call(&b, GUEST, Method::GET, "/api/topic-permissions", None).await;
    assert_eq!(
        topics,
        json!([{"user": "guest", "vhost": "v2", "exchange": "amq.topic", "write": "^a", "read": ""}])
    );
    let body = json!({"configure": "(", "write": "", "read": ""});
    assert_eq!(
        call(
            &b,
            GUEST,
            Method::PUT,
            "/api/permissions/v2/guest",
            Some(body)
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call(&b, GUEST, Method::DELETE, "/api/vhosts/v2", None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&b, GUEST, Method::DELETE, "/api/vhosts/v2", None)
            .await
            .0,
        404
    );
    assert!(access(&b).permissions("guest", "v2").is_none());
}
