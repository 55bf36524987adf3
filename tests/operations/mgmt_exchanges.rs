//! `/api/exchanges` and `/api/bindings`: listing, declare/delete, publishing through the
//! API (RabbitMQ's `amq.default`, `routed`, encodings, errors) and bindings named by their
//! properties key.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, get_body, unique};
use serde_json::json;

use common::declare_queue as declare;

#[tokio::test]
async fn exchanges_list_the_default_and_amq_exchanges_and_declare_delete_work() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let list = api.get("/api/exchanges/%2F?columns=name,type").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "",
            "amq.direct",
            "amq.fanout",
            "amq.headers",
            "amq.match",
            "amq.rabbitmq.trace",
            "amq.topic"
        ]
    );
    assert_eq!(list[0], json!({"name": "", "type": "direct"}));
    let (status, _) = api
        .call(
            "PUT",
            "/api/exchanges/%2F/orders",
            Some(json!({"type": "topic", "durable": false})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = api
        .call(
            "PUT",
            "/api/exchanges/%2F/orders",
            Some(json!({"type": "topic", "durable": false})),
        )
        .await;
    assert_eq!(status, 204);
    let x = api.get("/api/exchanges/%2F/orders").await;
    assert_eq!(x["type"], "topic");
    assert_eq!(x["durable"], false);
    assert_eq!(x["internal"], false);
    assert_eq!(x["vhost"], "/");
    let (status, err) = api
        .call(
            "PUT",
            "/api/exchanges/%2F/orders",
            Some(json!({"type": "fanout", "durable": false})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .starts_with("inequivalent arg"),
        "{err}"
    );
    let (status, _) = api
        .call(
            "PUT",
            "/api/exchanges/%2F/typeless",
            Some(json!({"durable": false})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            "PUT",
            "/api/exchanges/%2F/amq.mine",
            Some(json!({"type": "direct"})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .call("DELETE", "/api/exchanges/%2F/amq.default", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = api.call("DELETE", "/api/exchanges/%2F/orders", None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call("GET", "/api/exchanges/%2F/orders", None).await;
    assert_eq!(status, 404);
    assert_eq!(api.get("/api/exchanges/%2F/amq.default").await["name"], "");
}

#[tokio::test]
async fn publish_through_the_api_routes_and_reports_routed() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("pub");
    declare(&ch, &q).await;
    let (status, body) = api
        .call(
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"routing_key": q, "payload": "hello", "payload_encoding": "string",
                        "properties": {"delivery_mode": 2, "headers": {"k": "v"}, "content_type": "text/plain"}})),
        )
        .await;
    assert_eq!((status, body), (200, json!({"routed": true})));
    let (_, body) = api
        .call(
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"routing_key": q, "payload": "//4=", "payload_encoding": "base64", "properties": {}})),
        )
        .await;
    assert_eq!(body, json!({"routed": true}));
    let (_, body) = api
        .call(
            "POST",
            "/api/exchanges/%2F/amq.direct/publish",
            Some(json!({"routing_key": "nowhere", "payload": "x", "payload_encoding": "string", "properties": {}})),
        )
        .await;
    assert_eq!(body, json!({"routed": false}));
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("hello"));
    let (_, got) = api
        .call(
            "POST",
            &format!("/api/queues/%2F/{q}/get"),
            Some(json!({"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})),
        )
        .await;
    // Not UTF-8, so `auto` answers base64.
    assert_eq!(got[0]["payload"], "//4=");
    assert_eq!(got[0]["payload_encoding"], "base64");
    assert_eq!(got[0]["properties"], json!([]));
    let stats = api.get("/api/exchanges/%2F/amq.direct").await;
    assert_eq!(stats["message_stats"]["publish_in"], 1);
    assert_eq!(stats["message_stats"]["publish_out"], 0);
    let (status, err) = api
        .call(
            "POST",
            "/api/exchanges/%2F/missing/publish",
            Some(json!({"routing_key": "", "payload": "x", "payload_encoding": "string", "properties": {}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .starts_with("404 NOT_FOUND - no exchange 'missing'"),
        "{err}"
    );
    let (status, _) = api
        .call(
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"routing_key": q, "payload": "%%%", "payload_encoding": "base64", "properties": {}})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"payload": 1})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bindings_are_created_listed_and_deleted_by_properties_key() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("bind");
    declare(&ch, &q).await;
    let base = format!("/api/bindings/%2F/e/amq.topic/q/{q}");
    let (status, _) = api
        .call(
            "POST",
            &base,
            Some(json!({"routing_key": "a.#", "arguments": {}})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = api.call("POST", &base, Some(json!({}))).await;
    assert_eq!(status, 201);
    let list = api.get(&base).await;
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["properties_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&"~") && keys.contains(&"a.%23"), "{keys:?}");
    let one = api.get(&format!("{base}/~")).await;
    assert_eq!(one["routing_key"], "");
    assert_eq!(one["source"], "amq.topic");
    let all = api.get("/api/bindings/%2F").await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|b| b["source"] == "" && b["destination"] == q.as_str())
    );
    let source = api
        .get("/api/exchanges/%2F/amq.topic/bindings/source")
        .await;
    assert_eq!(source.as_array().unwrap().len(), 2);
    let (status, _) = api.call("DELETE", &format!("{base}/a.%2523"), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call("DELETE", &format!("{base}/~"), None).await;
    assert_eq!(status, 204);
    assert_eq!(api.get(&base).await, json!([]));
    let (status, _) = api.call("DELETE", &format!("{base}/~"), None).await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call(
            "POST",
            &format!("/api/bindings/%2F/e/missing/q/{q}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call(
            "POST",
            "/api/bindings/%2F/e/amq.topic/q/missing",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call(
            "POST",
            "/api/bindings/%2F/e/amq.topic/e/amq.fanout",
            Some(json!({"routing_key": "x"})),
        )
        .await;
    assert_eq!(status, 201);
    let dest = api
        .get("/api/exchanges/%2F/amq.fanout/bindings/destination")
        .await;
    assert_eq!(dest[0]["destination_type"], "exchange");
}
