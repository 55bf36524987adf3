//! The management API's policy endpoints (`/api/policies`, `/api/operator-policies`) in
//! RabbitMQ 3.10.8's shapes and status codes, and the policy fields of queue and exchange
//! listings. Warren only (in-process, for the API's address).

use crate::common;

use common::{TestBroker, get_body, guard, publish_all, unique};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde_json::{Value, json};

async fn drain_bodies(ch: &lapin::Channel, queue: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(b) = get_body(ch, queue).await {
        out.push(b);
    }
    out
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn call(
    b: &TestBroker,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http()
        .request(method, format!("{}{path}", b.mgmt_url()))
        .basic_auth("guest", Some("guest"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = guard(req.send()).await.unwrap();
    let status = r.status().as_u16();
    let text = guard(r.text()).await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(b: &TestBroker, path: &str) -> (u16, Value) {
    call(b, reqwest::Method::GET, path, None).await
}

async fn put(b: &TestBroker, path: &str, body: Value) -> u16 {
    call(b, reqwest::Method::PUT, path, Some(body)).await.0
}

async fn delete(b: &TestBroker, path: &str) -> u16 {
    call(b, reqwest::Method::DELETE, path, None).await.0
}

#[tokio::test]
async fn policies_are_created_replaced_listed_shown_and_deleted_as_rabbitmq_answers() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let body = json!({"pattern": "^orders\\.", "definition": {"max-length": 10}, "priority": 3, "apply-to": "queues"});
    assert_eq!(put(&b, "/api/policies/%2F/limits", body.clone()).await, 201);
    assert_eq!(put(&b, "/api/policies/%2F/limits", body).await, 204);
    let expected = json!({"vhost": "/", "name": "limits", "pattern": "^orders\\.", "apply-to": "queues", "definition": {"max-length": 10}, "priority": 3});
    assert_eq!(
        get(&b, "/api/policies/%2F/limits").await,
        (200, expected.clone())
    );
    assert_eq!(
        get(&b, "/api/policies").await,
        (200, json!([expected.clone()]))
    );
    assert_eq!(get(&b, "/api/policies/%2F").await, (200, json!([expected])));
    assert_eq!(
        get(&b, "/api/operator-policies/%2F").await,
        (200, json!([]))
    );
    // apply-to and priority default to all and 0.
    assert_eq!(
        put(
            &b,
            "/api/policies/%2F/bare",
            json!({"pattern": "x", "definition": {"expires": 1000}})
        )
        .await,
        201
    );
    let (_, bare) = get(&b, "/api/policies/%2F/bare").await;
    assert_eq!(
        (&bare["apply-to"], &bare["priority"]),
        (&json!("all"), &json!(0))
    );
    assert_eq!(delete(&b, "/api/policies/%2F/limits").await, 204);
    assert_eq!(delete(&b, "/api/policies/%2F/limits").await, 404);
    let (status, body) = get(&b, "/api/policies/%2F/limits").await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": "Object Not Found", "reason": "Not Found"})
        )
    );
    assert_eq!(get(&b, "/api/policies/no-such-vhost").await.0, 404);
}

#[tokio::test]
async fn invalid_policies_are_400_with_rabbitmqs_validation_reason() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let cases = [
        (
            "/api/policies/%2F/p",
            json!({"pattern": "q", "definition": {"message-ttl": "abc"}}),
            "Validation failed\n\n<<\"abc\">> is not a valid message TTL\n",
        ),
        (
            "/api/policies/%2F/p",
            json!({"pattern": "q", "definition": {"colour": "blue"}}),
            "Validation failed\n\n[{<<\"colour\">>,<<\"blue\">>}] are not recognised policy settings\n",
        ),
        (
            "/api/policies/%2F/p",
            json!({"pattern": "q", "apply-to": "topics", "definition": {"max-length": 1}}),
            "Validation failed\n\napply-to 'topics' unrecognised; should be 'queues', 'exchanges' or 'all'\n",
        ),
        (
            "/api/operator-policies/%2F/p",
            json!({"pattern": "q", "definition": {"overflow": "reject-publish"}}),
            "Validation failed\n\n[{<<\"overflow\">>,<<\"reject-publish\">>}] are not recognised policy settings\n",
        ),
    ];
    for (path, body, reason) in cases {
        let (status, answer) = call(&b, reqwest::Method::PUT, path, Some(body)).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(answer, json!({"error": "bad_request", "reason": reason}));
    }
    let (status, answer) = call(
        &b,
        reqwest::Method::PUT,
        "/api/policies/%2F/p",
        Some(json!({"pattern": "(", "definition": {"max-length": 1}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["reason"].as_str().unwrap().starts_with(
            "Validation failed\n\npattern should be regular expression but is invalid: "
        )
    );
    assert_eq!(get(&b, "/api/policies").await, (200, json!([])));
}

#[tokio::test]
async fn a_policy_set_over_http_applies_to_queues_and_shows_in_their_listing() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("http-pol");
    guard(ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    publish_all(&ch, &q, &["1", "2", "3", "4"]).await;
    let pattern = format!("^{q}$");
    assert_eq!(put(&b, "/api/policies/%2F/len", json!({"pattern": pattern, "definition": {"max-length": 3, "message-ttl": 60000}, "apply-to": "queues"})).await, 201);
    assert_eq!(
        put(
            &b,
            "/api/operator-policies/%2F/cap",
            json!({"pattern": pattern, "definition": {"max-length": 2}})
        )
        .await,
        201
    );
    let (status, listed) = get(&b, &format!("/api/queues/%2F/{q}")).await;
    assert_eq!(status, 200);
    assert_eq!(listed["policy"], json!("len"));
    assert_eq!(listed["operator_policy"], json!("cap"));
    assert_eq!(
        listed["effective_policy_definition"],
        json!({"max-length": 2, "message-ttl": 60000})
    );
    assert_eq!(drain_bodies(&ch, &q).await, ["3", "4"]);
    assert_eq!(delete(&b, "/api/operator-policies/%2F/cap").await, 204);
    let (_, listed) = get(&b, &format!("/api/queues/%2F/{q}")).await;
    assert_eq!(listed["operator_policy"], Value::Null);
    assert_eq!(
        listed["effective_policy_definition"],
        json!({"max-length": 3, "message-ttl": 60000})
    );
}
