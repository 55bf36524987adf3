//! Answers whose shapes and texts were compared with a live RabbitMQ 3.10.8
//! (interop/admin/compare_shapes.py): health checks, exchanges, single queues and
//! channels, error reasons, pagination errors, `disable_stats`, sorting and `columns`,
//! the per-vhost permission listings and users without permissions.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, guard, unique};
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::{Value, json};

fn bad(reason: &str) -> Value {
    json!({"error": "bad_request", "reason": reason})
}

#[tokio::test]
async fn health_checks_name_the_port_or_protocol_checked() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let port = b.addr().port();
    assert_eq!(
        api.get(&format!("/api/health/checks/port-listener/{port}"))
            .await,
        json!({"status": "ok", "port": port})
    );
    let (status, body) = api
        .call("GET", "/api/health/checks/port-listener/1", None)
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "No active listener");
    assert_eq!(body["missing"], 1);
    assert!(body.get("port").is_none());
    assert!(body["ports"].as_array().unwrap().contains(&json!(port)));
    assert_eq!(
        api.get("/api/health/checks/protocol-listener/amqp").await,
        json!({"status": "ok", "protocol": "amqp"})
    );
    let (status, body) = api
        .call("GET", "/api/health/checks/protocol-listener/mqtt", None)
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        (body["reason"].as_str(), body["missing"].as_str()),
        (Some("No active listener"), Some("mqtt"))
    );
}

#[tokio::test]
async fn exchanges_show_policy_and_stats_only_when_there_are_some() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let x = api.get("/api/exchanges/%2F/amq.direct").await;
    assert!(
        x.get("policy").is_none() && x.get("message_stats").is_none(),
        "{x}"
    );
    assert_eq!(
        (x["incoming"].clone(), x["outgoing"].clone()),
        (json!([]), json!([]))
    );
    let listed = api.get("/api/exchanges/%2F").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x.get("policy").is_none())
    );
    let (status, body) = api
        .call("PUT", "/api/exchanges/%2F/x", Some(json!({"type": "nope"})))
        .await;
    assert_eq!((status, body), (400, bad("invalid exchange type 'nope'")));
    let (status, body) = api
        .call("DELETE", "/api/exchanges/%2F/amq.direct", None)
        .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error": "not_authorised", "reason": "Access refused."})
        )
    );
}

#[tokio::test]
async fn a_single_queue_and_channel_list_their_consumers() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_channel().await;
    let q = unique("single");
    guard(ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    // Kept alive: dropping a lapin consumer sends basic.cancel.
    let _consumer = guard(ch.basic_consume(
        q.as_str().into(),
        "tag-1".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let shown = api.get(&format!("/api/queues/%2F/{q}")).await;
    let consumers = shown["consumer_details"].as_array().unwrap();
    assert_eq!(consumers.len(), 1, "{shown:#}");
    assert_eq!(consumers[0]["consumer_tag"], "tag-1");
    assert_eq!(consumers[0]["queue"]["name"], q.as_str());
    assert_eq!(shown["deliveries"], json!([]));
    assert_eq!(shown["recoverable_slaves"], Value::Null);
    assert_eq!(shown["consumer_utilisation"], 1.0);
    // The consumer's own channel (other tests' connections may be listed too).
    let name = consumers[0]["channel_details"]["name"]
        .as_str()
        .unwrap()
        .replace(' ', "%20");
    let one = api.get(&format!("/api/channels/{name}")).await;
    assert_eq!(one["consumer_details"][0]["consumer_tag"], "tag-1");
    assert_eq!(
        (one["publishes"].clone(), one["deliveries"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(one["reductions"], 0);
    // Without consumers the utilisation is the integer 0, as RabbitMQ shows it.
    let other = unique("idle");
    api.call("PUT", &format!("/api/queues/%2F/{other}"), Some(json!({})))
        .await;
    let shown = api.get(&format!("/api/queues/%2F/{other}")).await;
    assert!(shown["consumer_utilisation"].is_u64(), "{shown}");
}

#[tokio::test]
async fn errors_carry_rabbitmqs_reasons() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    api.call("PUT", "/api/queues/%2F/q", Some(json!({"durable": true})))
        .await;
    assert_eq!(
        api.call("PUT", "/api/queues/%2F/q", Some(json!({"durable": false})))
            .await,
        (
            400,
            bad(
                "inequivalent arg 'durable' for queue 'q' in vhost '/': received 'false' but current is 'true'"
            )
        )
    );
    for (body, reason) in [
        (
            json!({}),
            "[{key_missing,pattern},{key_missing,definition}]",
        ),
        (json!({"definition": {}}), "[{key_missing,pattern}]"),
        (json!({"pattern": ".*"}), "[{key_missing,definition}]"),
    ] {
        assert_eq!(
            api.call("PUT", "/api/policies/%2F/p", Some(body)).await,
            (400, bad(reason))
        );
    }
    assert_eq!(
        api.call(
            "PUT",
            "/api/vhost-limits/%2F/max-nope",
            Some(json!({"value": 1}))
        )
        .await,
        (
            400,
            bad("Validation failed\n\nUnrecognised terms [{<<\"max-nope\">>,1}] in limits\n")
        )
    );
    assert_eq!(
        api.call(
            "PUT",
            "/api/vhost-limits/%2F/max-queues",
            Some(json!({"value": "7"}))
        )
        .await,
        (
            400,
            bad("Validation failed\n\nmax-queues should be a number, actually was <<\"7\">>\n")
        )
    );
    assert_eq!(
        api.call(
            "PUT",
            "/api/user-limits/guest/max-channels",
            Some(json!({"value": 1.5}))
        )
        .await,
        (
            400,
            bad("max-channels should be a number, actually was 1.5")
        )
    );
    assert_eq!(
        api.call(
            "PUT",
            "/api/user-limits/guest/max-channels",
            Some(json!({}))
        )
        .await,
        (400, bad("[{key_missing,value}]"))
    );
}

#[tokio::test]
async fn pagination_errors_and_bad_regexes_as_rabbitmq_answers_them() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let invalid =
        |reason: &str| json!({"error": "invalid_pagination_parameters", "reason": reason});
    assert_eq!(
        api.call("GET", "/api/queues?page=0", None).await,
        (
            400,
            invalid("Invalid pagination parameters: page number 0, page size undefined")
        )
    );
    assert_eq!(
        api.call("GET", "/api/queues?page=1&page_size=1000", None)
            .await,
        (
            400,
            invalid("Invalid pagination parameters: page number 1, page size 1000")
        )
    );
    assert_eq!(
        api.call("GET", "/api/queues?page=x", None).await,
        (400, bad("Pagination parameters are invalid"))
    );
    assert_eq!(
        api.call("GET", "/api/queues?name=(&use_regex=true&page=1", None)
            .await,
        (400, bad("Pagination parameters are invalid"))
    );
    // Without a page, a bad regex filters nothing out.
    api.call("PUT", "/api/queues/%2F/a", Some(json!({}))).await;
    assert_eq!(
        api.get("/api/queues?name=(&use_regex=true&columns=name")
            .await,
        json!([{"name": "a"}])
    );
}

#[tokio::test]
async fn listings_sort_ties_by_name_select_whole_arguments_and_drop_stats() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for name in ["c", "a", "b"] {
        let body = json!({"arguments": {"x-max-length": 10, "x-message-ttl": 1000}});
        api.call("PUT", &format!("/api/queues/%2F/{name}"), Some(body))
            .await;
    }
    api.call(
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        Some(json!({"routing_key": "b", "payload": "x", "payload_encoding": "string", "properties": {}})),
    )
    .await;
    assert_eq!(
        api.get("/api/queues/%2F?sort=messages&columns=name").await,
        json!([{"name": "a"}, {"name": "c"}, {"name": "b"}])
    );
    assert_eq!(
        api.get("/api/queues/%2F?sort=messages&sort_reverse=true&columns=name")
            .await,
        json!([{"name": "b"}, {"name": "c"}, {"name": "a"}])
    );
    assert_eq!(
        api.get("/api/queues/%2F?columns=name,arguments.x-max-length&name=a")
            .await,
        json!([{"name": "a", "arguments": {"x-max-length": 10, "x-message-ttl": 1000}}])
    );
    let light = api
        .get("/api/queues/%2F?disable_stats=true&enable_queue_totals=true&name=b")
        .await;
    let mut keys: Vec<&str> = light[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "arguments",
            "auto_delete",
            "durable",
            "exclusive",
            "messages",
            "messages_ready",
            "messages_unacknowledged",
            "name",
            "node",
            "state",
            "type",
            "vhost"
        ]
    );
    assert_eq!(light[0]["messages"], 1);
}

#[tokio::test]
async fn max_length_shows_the_count_left_after_dropping_the_head() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let body = json!({"arguments": {"x-max-length": 3}});
    api.call("PUT", "/api/queues/%2F/capped", Some(body)).await;
    for i in 0..5 {
        let msg = json!({"routing_key": "capped", "payload": i.to_string(), "payload_encoding": "string", "properties": {}});
        api.call("POST", "/api/exchanges/%2F/amq.default/publish", Some(msg))
            .await;
    }
    let q = api.get("/api/queues/%2F/capped").await;
    assert_eq!(
        (q["messages"].clone(), q["message_bytes"].clone()),
        (json!(3), json!(3))
    );
}

#[tokio::test]
async fn permissions_are_listed_per_vhost_and_users_without_any() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    api.call(
        "PUT",
        "/api/vhosts/v",
        Some(json!({"description": "d", "tags": "a,b"})),
    )
    .await;
    api.call(
        "PUT",
        "/api/users/loner",
        Some(json!({"password": "x", "tags": ""})),
    )
    .await;
    let perms = api.get("/api/vhosts/v/permissions").await;
    assert_eq!(
        perms,
        json!([{"user": "guest", "vhost": "v", "configure": ".*", "write": ".*", "read": ".*"}])
    );
    assert_eq!(api.get("/api/vhosts/v/topic-permissions").await, json!([]));
    assert_eq!(
        api.call("GET", "/api/vhosts/nope/permissions", None)
            .await
            .0,
        404
    );
    let loners = api.get("/api/users/without-permissions").await;
    let names: Vec<&str> = loners
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["loner"]);
    let v = api.get("/api/vhosts/v").await;
    assert_eq!(
        (v["description"].clone(), v["tags"].clone()),
        (json!("d"), json!(["a", "b"]))
    );
    assert_eq!(v["recv_oct"], 0);
}
