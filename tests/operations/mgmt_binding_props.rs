//! A binding's properties key in a URL is matched as RabbitMQ matches it: its routing-key
//! part unquoted, so `a.%2A` (what rabbitmqadmin sends for the listed key `a.%2A`) and
//! `a.%252A` both name the binding with routing key `a.*`.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, unique};
use serde_json::json;

async fn bind(api: &Api, x: &str, q: &str) {
    let (status, body) = api
        .call(
            "POST",
            &format!("/api/bindings/%2F/e/{x}/q/{q}"),
            Some(json!({"routing_key": "a.*"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn keys(api: &Api, x: &str, q: &str) -> Vec<String> {
    let list = api.get(&format!("/api/bindings/%2F/e/{x}/q/{q}")).await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b["properties_key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_quoted_properties_key_names_the_binding_once_or_twice_encoded() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let x = unique("props-x");
    let q = unique("props-q");
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/exchanges/%2F/{x}"),
            Some(json!({"type": "topic"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/queues/%2F/{q}"),
            Some(json!({"durable": false})),
        )
        .await;
    assert_eq!(status, 201);
    for sent in ["a.%2A", "a.%252A"] {
        bind(&api, &x, &q).await;
        assert_eq!(keys(&api, &x, &q).await, vec!["a.%2A".to_string()]);
        let path = format!("/api/bindings/%2F/e/{x}/q/{q}/{sent}");
        let (status, body) = api.call("GET", &path, None).await;
        assert_eq!(status, 200, "GET {sent}: {body}");
        assert_eq!(body["routing_key"], json!("a.*"));
        let (status, body) = api.call("DELETE", &path, None).await;
        assert_eq!(status, 204, "DELETE {sent}: {body}");
        assert!(keys(&api, &x, &q).await.is_empty(), "{sent}");
    }
}
