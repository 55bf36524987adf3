//! `/api/connections`, `/api/channels`, `/api/consumers` and `/api/vhosts` after known
//! AMQP traffic, and closing a connection through the API with `X-Reason`.

use crate::common;

use common::mgmt::Api;
use common::raw::RawConn;
use common::{TestBroker, guard, publish_all, unique};
use lapin::options::{BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::json;

#[tokio::test]
async fn a_connection_is_listed_with_its_details_and_channels() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    guard(ch.basic_qos(7, BasicQosOptions::default()))
        .await
        .unwrap();
    let q = unique("conn");
    guard(ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    publish_all(&ch, &q, &["a", "b"]).await;
    let list = api.get("/api/connections").await;
    let conns = list.as_array().unwrap();
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    let name = c["name"].as_str().unwrap();
    let port = b.addr().port();
    assert_eq!(
        name,
        format!("127.0.0.1:{} -> 127.0.0.1:{port}", c["peer_port"]).as_str()
    );
    assert_eq!(c["user"], "guest");
    assert_eq!(c["vhost"], "/");
    assert_eq!(c["protocol"], "AMQP 0-9-1");
    assert_eq!(
        c["node"].as_str().unwrap(),
        api.get("/api/overview").await["node"]
    );
    assert_eq!(c["channels"], 1);
    assert_eq!(c["port"], port);
    assert_eq!(c["auth_mechanism"], "PLAIN");
    assert!(c["connected_at"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(c["client_properties"]["product"], "lapin");
    let one = api
        .get(&format!("/api/connections/{}", urlencode(name)))
        .await;
    assert_eq!(one["name"], name);
    assert_eq!(
        api.get("/api/vhosts/%2F/connections").await[0]["name"],
        name
    );
    let channels = api.get("/api/channels").await;
    let chan = &channels[0];
    let chan_name = format!("{name} (1)");
    assert_eq!(chan["name"], chan_name.as_str());
    assert_eq!(chan["number"], 1);
    assert_eq!(chan["confirm"], true);
    assert_eq!(chan["prefetch_count"], 7);
    assert_eq!(chan["connection_details"]["name"], name);
    assert_eq!(chan["message_stats"]["publish"], 2);
    assert_eq!(chan["message_stats"]["confirm"], 2);
    assert_eq!(
        api.get(&format!("/api/channels/{}", urlencode(&chan_name)))
            .await["number"],
        1
    );
    let (status, _) = api.call("GET", "/api/channels/nope%20(1)", None).await;
    assert_eq!(status, 404);
    assert_eq!(
        api.get(&format!("/api/connections/{}/channels", urlencode(name)))
            .await[0]["name"],
        chan_name.as_str()
    );
    let (status, _) = api.call("GET", "/api/connections/nope", None).await;
    assert_eq!(status, 404);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn consumers_are_listed_with_their_queue_and_channel() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("cons");
    guard(ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let _d = common::consume_tagged(&ch, &q, "my-tag", Default::default()).await;
    let list = api.get("/api/consumers/%2F").await;
    let c = &list[0];
    assert_eq!(c["consumer_tag"], "my-tag");
    assert_eq!(c["queue"], json!({"name": q, "vhost": "/"}));
    assert_eq!(c["ack_required"], true);
    assert_eq!(c["exclusive"], false);
    assert_eq!(c["channel_details"]["number"], 1);
    assert_eq!(api.get("/api/consumers").await.as_array().unwrap().len(), 1);
    assert_eq!(api.get("/api/channels").await[0]["consumer_count"], 1);
    guard(ch.basic_cancel("my-tag".into(), Default::default()))
        .await
        .unwrap();
    assert_eq!(api.get("/api/consumers").await, json!([]));
}

#[tokio::test]
async fn deleting_a_connection_closes_it_with_320_and_the_x_reason_text() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let mut raw = RawConn::open(b.addr()).await;
    raw.open_channel(1).await;
    raw.sync(1).await;
    let name = api.get("/api/connections").await[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let response = guard(
        reqwest::Client::new()
            .delete(format!(
                "{}/api/connections/{}",
                b.mgmt_url(),
                urlencode(&name)
            ))
            .basic_auth("guest", Some("guest"))
            .header("X-Reason", "maintenance window")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let close = raw.expect_connection_close().await;
    assert_eq!(close.code, 320);
    assert_eq!(close.text, "CONNECTION_FORCED - maintenance window");
    let mut raw = RawConn::open(b.addr()).await;
    raw.open_channel(1).await;
    raw.sync(1).await;
    let name = api.get("/api/connections").await[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/connections/{}", urlencode(&name)),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let close = raw.expect_connection_close().await;
    assert_eq!(
        close.text,
        "CONNECTION_FORCED - Closed via management plugin"
    );
}

#[tokio::test]
async fn vhosts_are_listed_with_message_counts() {
    skip_if_external!();
    let b = TestBroker::start_with(|s| s.auth.vhosts.push("staging".into())).await;
    let api = Api::new(&b);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let q = unique("vh");
    guard(ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    publish_all(&ch, &q, &["a", "b", "c"]).await;
    let list = api.get("/api/vhosts?columns=name,messages").await;
    assert_eq!(
        list,
        json!([{"name": "/", "messages": 3}, {"name": "staging", "messages": 0}])
    );
    let one = api.get("/api/vhosts/staging").await;
    assert_eq!(one["name"], "staging");
    let (status, _) = api.call("GET", "/api/vhosts/nope", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_users_connections_are_listed_and_closed_together_by_user_name() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (status, _) = api
        .call(
            "PUT",
            "/api/users/other",
            Some(json!({"password": "other-pass", "tags": "management"})),
        )
        .await;
    assert_eq!(status, 201);
    let all = json!({"configure": ".*", "write": ".*", "read": ".*"});
    let (status, _) = api
        .call("PUT", "/api/permissions/%2F/other", Some(all))
        .await;
    assert_eq!(status, 201);
    let mut guests = [RawConn::open(b.addr()).await, RawConn::open(b.addr()).await];
    let mut other = RawConn::connect(b.addr()).await;
    other.handshake("other", "other-pass", "/").await;
    for c in guests.iter_mut().chain([&mut other]) {
        c.open_channel(1).await;
        c.sync(1).await;
    }
    let listed = api.get("/api/connections/username/guest").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for item in listed {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["name", "node", "user", "vhost"]);
        assert_eq!(
            (&item["user"], &item["vhost"]),
            (&json!("guest"), &json!("/"))
        );
    }
    let response = guard(
        reqwest::Client::new()
            .delete(format!("{}/api/connections/username/guest", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .header("X-Reason", "credentials rotated")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    for c in guests.iter_mut() {
        let close = c.expect_connection_close().await;
        assert_eq!(
            (close.code, close.text.as_str()),
            (320, "CONNECTION_FORCED - credentials rotated")
        );
    }
    // The other user's connection is untouched and listed under its own name.
    other.sync(1).await;
    let theirs = api.get("/api/connections/username/other").await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(1), "{theirs}");
    assert_eq!(api.get("/api/connections/username/nobody").await, json!([]));
    // Another user may neither list nor close guest's connections.
    let as_other = Api::as_user(&b, "other", "other-pass");
    let (status, _) = as_other
        .call("GET", "/api/connections/username/guest", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = as_other
        .call("DELETE", "/api/connections/username/guest", None)
        .await;
    assert_eq!(status, 401);
    // Its own are its to see.
    let own = as_other.get("/api/connections/username/other").await;
    assert_eq!(own[0]["user"], "other");
}
