//! `/api/queues`: the fields KEDA, Flower, Datadog and Telegraf read after known traffic,
//! RabbitMQ's pagination, sorting and columns, declare/delete/purge, get and bindings.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, guard, publish_all, unique};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::FieldTable;
use serde_json::{Value, json};

use common::declare_queue as declare;

#[tokio::test]
async fn a_queue_shows_counts_consumers_and_message_stats_after_traffic() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("counts");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["a", "b", "c", "d"]).await;
    let got = guard(ch.basic_get(q.as_str().into(), BasicGetOptions::default()))
        .await
        .unwrap()
        .unwrap();
    let (status, body) = api.call("GET", &format!("/api/queues/%2F/{q}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], q.as_str());
    assert_eq!(body["vhost"], "/");
    assert_eq!(body["type"], "classic");
    assert_eq!(body["durable"], false);
    assert_eq!(body["auto_delete"], false);
    assert_eq!(body["exclusive"], false);
    assert_eq!(body["arguments"], json!({}));
    assert_eq!(body["state"], "running");
    assert_eq!(body["messages"], 4);
    assert_eq!(body["messages_ready"], 3);
    assert_eq!(body["messages_unacknowledged"], 1);
    assert_eq!(body["consumers"], 0);
    assert_eq!(body["message_bytes_ready"], 3);
    assert!(body["messages_details"]["rate"].is_f64());
    let stats = &body["message_stats"];
    assert_eq!(stats["publish"], 4);
    assert_eq!(stats["get"], 1);
    assert_eq!(stats["deliver_get"], 1);
    assert!(stats["publish_details"]["rate"].is_f64());
    assert!(stats["deliver_get_details"]["rate"].is_f64());
    guard(got.ack(BasicAckOptions::default())).await.unwrap();
    let _consumer = common::consume(&ch, &q, Default::default()).await;
    // The consumer takes what is ready; its deliveries are unacknowledged.
    let body = wait_for(&api, &q, |b| b["messages_unacknowledged"] == 3).await;
    assert_eq!(body["consumers"], 1);
    assert_eq!(body["message_stats"]["ack"], 1);
    assert_eq!(body["message_stats"]["deliver"], 3);
    assert_eq!(body["message_stats"]["deliver_get"], 4);
}

/// Polls the queue until `done` holds (deliveries reach the consumer asynchronously);
/// bounded by the hang guard.
async fn wait_for(api: &Api, q: &str, done: impl Fn(&Value) -> bool) -> Value {
    guard(async {
        loop {
            let body = api.get(&format!("/api/queues/%2F/{q}")).await;
            if done(&body) {
                return body;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
}

#[tokio::test]
async fn publish_rate_comes_from_the_sampler() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let broker = b
        .handle()
        .unwrap()
        .broker()
        .expect("single-node broker")
        .clone();
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("rate");
    declare(&ch, &q).await;
    broker.sampler.sample(&broker);
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    broker.sampler.sample(&broker);
    let body = api.get(&format!("/api/queues/%2F/{q}")).await;
    let rate = body["message_stats"]["publish_details"]["rate"]
        .as_f64()
        .unwrap();
    assert!(rate > 0.0, "{body}");
    assert!(body["messages_details"]["rate"].as_f64().unwrap() > 0.0);
    let o = api.get("/api/overview").await;
    assert!(
        o["message_stats"]["publish_details"]["rate"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(
        o["queue_totals"]["messages_details"]["rate"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // Nothing happens between the next two samples: the rate falls to zero.
    broker.sampler.sample(&broker);
    let body = api.get(&format!("/api/queues/%2F/{q}")).await;
    assert_eq!(body["message_stats"]["publish_details"]["rate"], 0.0);
}

#[tokio::test]
async fn listings_page_filter_sort_and_select_columns_as_rabbitmq() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    for i in 0..12 {
        declare(&ch, &format!("page-{i:02}")).await;
    }
    declare(&ch, "other").await;
    publish_all(&ch, "page-03", &["x", "y"]).await;
    let all = api.get("/api/queues").await;
    assert_eq!(all.as_array().unwrap().len(), 13);
    let page = api
        .get("/api/queues/%2F?page=2&page_size=5&name=page&use_regex=false")
        .await;
    assert_eq!(page["page"], 2);
    assert_eq!(page["page_size"], 5);
    assert_eq!(page["page_count"], 3);
    assert_eq!(page["filtered_count"], 12);
    assert_eq!(page["total_count"], 13);
    assert_eq!(page["item_count"], 5);
    assert_eq!(page["items"][0]["name"], "page-05");
    // KEDA's request shape.
    let keda = api
        .get("/api/queues/%2F?page=1&use_regex=true&pagination=false&name=%5Epage-0%5B0-3%5D%24&page_size=100")
        .await;
    assert_eq!(keda["page_count"], 1);
    let names: Vec<&str> = keda["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["page-00", "page-01", "page-02", "page-03"]);
    assert_eq!(keda["items"][3]["messages"], 2);
    let sorted = api
        .get("/api/queues/%2F?sort=messages&sort_reverse=true&columns=name,messages")
        .await;
    assert_eq!(sorted[0], json!({"name": "page-03", "messages": 2}));
    let (status, body) = api
        .call("GET", "/api/queues?page=9&page_size=5", None)
        .await;
    assert_eq!((status, &body["error"]), (400, &json!("bad_request")));
    let (status, _) = api
        .call("GET", "/api/queues?page=1&page_size=501", None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call("GET", "/api/queues?page=1&name=(&use_regex=true", None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = api.call("GET", "/api/queues/nope", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn ten_thousand_queues_page_correctly() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let vhost = b
        .handle()
        .unwrap()
        .broker()
        .expect("single-node broker")
        .vhost("/")
        .unwrap();
    for i in 0..10_000 {
        vhost
            .declare_queue(warren::broker::vhost::QueueDeclareRequest {
                name: warren::protocol::ShortStr::from(format!("bulk-{i:05}")),
                passive: false,
                durable: false,
                exclusive: false,
                auto_delete: false,
                arguments: Default::default(),
                connection_id: 0,
                max_queues: None,
            })
            .unwrap();
    }
    let mut seen = 0;
    for page in 1..=20 {
        let body = api
            .get(&format!(
                "/api/queues/%2F?page={page}&page_size=500&columns=name"
            ))
            .await;
        assert_eq!(body["page_count"], 20);
        assert_eq!(body["total_count"], 10_000);
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 500);
        for item in items {
            assert_eq!(item["name"], format!("bulk-{seen:05}").as_str());
            seen += 1;
        }
    }
    assert_eq!(seen, 10_000);
}

#[tokio::test]
async fn put_declares_then_answers_204_and_inequivalent_is_400() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let body = json!({"durable": false, "auto_delete": false, "arguments": {"x-max-length": 10}});
    let (status, _) = api
        .call("PUT", "/api/queues/%2F/made", Some(body.clone()))
        .await;
    assert_eq!(status, 201);
    let (status, _) = api.call("PUT", "/api/queues/%2F/made", Some(body)).await;
    assert_eq!(status, 204);
    let q = api.get("/api/queues/%2F/made").await;
    assert_eq!(q["durable"], false);
    assert_eq!(q["arguments"], json!({"x-max-length": 10}));
    let (status, err) = api
        .call(
            "PUT",
            "/api/queues/%2F/made",
            Some(json!({"durable": true})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "bad_request");
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .starts_with("inequivalent arg 'durable' for queue"),
        "{err}"
    );
    let (status, _) = api
        .call("PUT", "/api/queues/%2F/dflt", Some(json!({})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(api.get("/api/queues/%2F/dflt").await["durable"], true);
    let (status, err) = api.raw("PUT", "/api/queues/%2F/bad", b"{not json").await;
    assert_eq!(status, 400);
    assert_eq!(err, json!({"error": "bad_request", "reason": "not_json"}));
    let (status, _) = api
        .call(
            "PUT",
            "/api/queues/%2F/bad",
            Some(json!({"durable": "maybe"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api.call("PUT", "/api/queues/nope/q", Some(json!({}))).await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call("PUT", "/api/queues/%2F/amq.x", Some(json!({})))
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .call(
            "PUT",
            "/api/queues/%2F/made",
            Some(json!({"arguments": "no"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn delete_honours_if_empty_and_purge_empties() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("del");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["1", "2"]).await;
    let (status, err) = api
        .call(
            "DELETE",
            &format!("/api/queues/%2F/{q}?if-empty=true"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        err["reason"].as_str().unwrap().contains("not empty"),
        "{err}"
    );
    let (status, _) = api
        .call("DELETE", &format!("/api/queues/%2F/{q}/contents"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(common::message_count(&ch, &q).await, 0);
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/queues/%2F/{q}?if-empty=true"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api.call("GET", &format!("/api/queues/%2F/{q}"), None).await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call("DELETE", &format!("/api/queues/%2F/{q}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn get_takes_messages_by_ackmode_with_string_counts_and_encodings() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("get");
    declare(&ch, &q).await;
    publish_all(&ch, &q, &["first", "second"]).await;
    let path = format!("/api/queues/%2F/{q}/get");
    let (status, got) = api
        .call(
            "POST",
            &path,
            Some(json!({"count": "5", "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 50000})),
        )
        .await;
    assert_eq!(status, 200);
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["payload"], "first");
    assert_eq!(got[0]["payload_encoding"], "string");
    assert_eq!(got[0]["payload_bytes"], 5);
    assert_eq!(got[0]["redelivered"], false);
    assert_eq!(got[0]["exchange"], "");
    assert_eq!(got[0]["routing_key"], q.as_str());
    assert_eq!(got[0]["message_count"], 1);
    assert_eq!(got[1]["message_count"], 0);
    // Requeued: still there, now redelivered.
    let (_, got) = api
        .call(
            "POST",
            &path,
            Some(json!({"count": 1, "ackmode": "ack_requeue_false", "encoding": "base64", "truncate": 3})),
        )
        .await;
    assert_eq!(got[0]["payload"], "Zmly");
    assert_eq!(got[0]["payload_encoding"], "base64");
    assert_eq!(got[0]["redelivered"], true);
    assert_eq!(got[0]["payload_bytes"], 5);
    assert_eq!(common::message_count(&ch, &q).await, 1);
    let (status, _) = api
        .call(
            "POST",
            &path,
            Some(json!({"count": 1, "ackmode": "sometimes"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            "POST",
            &path,
            Some(json!({"count": [], "ackmode": "ack_requeue_true"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn queue_bindings_list_the_default_binding_and_exchange_bindings() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("qb");
    declare(&ch, &q).await;
    guard(ch.queue_bind(
        q.as_str().into(),
        "amq.direct".into(),
        "rk".into(),
        Default::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let list = api.get(&format!("/api/queues/%2F/{q}/bindings")).await;
    assert_eq!(
        list,
        json!([
            {"source": "", "vhost": "/", "destination": q, "destination_type": "queue",
             "routing_key": q, "arguments": {}, "properties_key": q},
            {"source": "amq.direct", "vhost": "/", "destination": q, "destination_type": "queue",
             "routing_key": "rk", "arguments": {}, "properties_key": "rk"}
        ])
    );
}
