//! The management API's scoping by user tags, rule by rule as RabbitMQ 3.10.8 applies it
//! (each expected status and text was checked against a live RabbitMQ): no management tag,
//! `management`, `monitoring`, `policymaker`, `administrator`.

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, guard};
use lapin::ConnectionProperties;
use serde_json::{Value, json};

const PW: &str = "pw";

/// Creates vhost `v` and users `none`, `mgmt`, `mon`, `pol` with those tags and every
/// permission on `v` only.
async fn setup(b: &TestBroker) -> Api {
    let admin = Api::new(b);
    assert_eq!(admin.call("PUT", "/api/vhosts/v", None).await.0, 201);
    for (user, tags) in [
        ("none", ""),
        ("mgmt", "management"),
        ("mon", "monitoring"),
        ("pol", "policymaker"),
    ] {
        let body = json!({"password": PW, "tags": tags});
        let (status, _) = admin
            .call("PUT", &format!("/api/users/{user}"), Some(body))
            .await;
        assert_eq!(status, 201);
        let all = json!({"configure": ".*", "write": ".*", "read": ".*"});
        let (status, _) = admin
            .call("PUT", &format!("/api/permissions/v/{user}"), Some(all))
            .await;
        assert_eq!(status, 201);
    }
    admin
}

async fn amqp(b: &TestBroker, user: &str, pass: &str, vhost: &str) -> lapin::Connection {
    guard(lapin::Connection::connect(
        &b.uri_with(user, pass, vhost),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap()
}

fn refused(reason: &str) -> Value {
    json!({"error": "not_authorised", "reason": reason})
}

/// The names of the connections a listing shows, by user.
fn users_of(list: &Value) -> Vec<String> {
    let mut users: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user"].as_str().unwrap().to_string())
        .collect();
    users.sort();
    users
}

#[tokio::test]
async fn a_user_without_a_management_tag_cannot_use_the_api() {
    skip_if_external!();
    let b = TestBroker::start().await;
    setup(&b).await;
    let none = Api::as_user(&b, "none", PW);
    for path in ["/api/overview", "/api/whoami", "/api/queues/v"] {
        assert_eq!(
            none.call("GET", path, None).await,
            (401, refused("Not management user")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn management_sees_its_vhosts_and_its_own_connections_only() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let admin = setup(&b).await;
    let _guest_conn = amqp(&b, "guest", "guest", "v").await;
    let own = amqp(&b, "mgmt", PW, "v").await;
    let _ch = guard(own.create_channel()).await.unwrap();
    let mgmt = Api::as_user(&b, "mgmt", PW);

    let vhosts = mgmt.get("/api/vhosts").await;
    assert_eq!(vhosts.as_array().unwrap().len(), 1);
    assert_eq!(vhosts[0]["name"], "v");
    assert_eq!(
        mgmt.call("GET", "/api/nodes", None).await,
        (401, refused("Not monitor user"))
    );
    assert_eq!(
        mgmt.call("GET", "/api/vhosts/v", None).await,
        (401, refused("Not administrator user"))
    );
    assert_eq!(
        mgmt.call("GET", "/api/queues/%2F", None).await,
        (401, refused("User not authorised to access virtual host"))
    );
    assert_eq!(
        mgmt.call("GET", "/api/aliveness-test/%2F", None).await,
        (401, refused("User not authorised to access virtual host"))
    );
    assert_eq!(mgmt.call("GET", "/api/aliveness-test/v", None).await.0, 200);

    // Every connection for the administrator; only its own for a management user.
    assert_eq!(
        users_of(&admin.get("/api/connections").await),
        ["guest", "mgmt"]
    );
    assert_eq!(users_of(&mgmt.get("/api/connections").await), ["mgmt"]);
    assert_eq!(
        users_of(&mgmt.get("/api/vhosts/v/connections").await),
        ["mgmt"]
    );
    let channels = mgmt.get("/api/channels").await;
    assert_eq!(channels.as_array().unwrap().len(), 1);
    assert_eq!(channels[0]["user"], "mgmt");
    let guest_conn = admin
        .get("/api/connections")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"] == "guest")
        .map(|c| c["name"].as_str().unwrap().replace(' ', "%20"))
        .unwrap();
    assert_eq!(
        mgmt.call("GET", &format!("/api/connections/{guest_conn}"), None)
            .await,
        (401, refused("User not authorised to access object"))
    );
    // Policies are for policymakers, operator policies for administrators.
    let policy = json!({"pattern": "^zz", "definition": {"max-length": 1}});
    assert_eq!(
        mgmt.call("PUT", "/api/policies/v/p", Some(policy.clone()))
            .await,
        (401, refused("User not authorised to access object"))
    );
    assert_eq!(
        mgmt.call("PUT", "/api/operator-policies/v/p", Some(policy))
            .await,
        (401, refused("Not administrator user"))
    );
    // Reading policies of its vhosts and every user's limits is allowed.
    assert_eq!(mgmt.get("/api/policies/v").await, json!([]));
    assert_eq!(mgmt.get("/api/user-limits").await, json!([]));
    // Its own connection it may close.
    let own_name = mgmt.get("/api/connections").await[0]["name"]
        .as_str()
        .unwrap()
        .replace(' ', "%20");
    assert_eq!(
        mgmt.call("DELETE", &format!("/api/connections/{own_name}"), None)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn monitoring_sees_every_vhost_connection_and_node_but_changes_nothing() {
    skip_if_external!();
    let b = TestBroker::start().await;
    setup(&b).await;
    let guest_conn = amqp(&b, "guest", "guest", "/").await;
    let _own = amqp(&b, "mon", PW, "v").await;
    let mon = Api::as_user(&b, "mon", PW);

    let vhosts = mon.get("/api/vhosts").await;
    let names: Vec<&str> = vhosts
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/", "v"]);
    assert_eq!(mon.get("/api/nodes").await.as_array().unwrap().len(), 1);
    assert_eq!(
        users_of(&mon.get("/api/connections").await),
        ["guest", "mon"]
    );
    // Listings of objects still follow permissions.
    assert_eq!(
        mon.call("GET", "/api/queues/%2F", None).await,
        (401, refused("User not authorised to access virtual host"))
    );
    let conn = mon
        .get("/api/connections")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"] == "guest")
        .map(|c| c["name"].as_str().unwrap().replace(' ', "%20"))
        .unwrap();
    assert_eq!(
        mon.call("GET", &format!("/api/connections/{conn}"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        mon.call("DELETE", &format!("/api/connections/{conn}"), None)
            .await,
        (401, refused("User not authorised to access object"))
    );
    assert!(guest_conn.status().connected());
    let policy = json!({"pattern": "^zz", "definition": {"max-length": 1}});
    assert_eq!(
        mon.call("PUT", "/api/policies/v/p", Some(policy)).await,
        (401, refused("User not authorised to access object"))
    );
    assert_eq!(
        mon.call("GET", "/api/users", None).await,
        (401, refused("Not administrator user"))
    );
}

#[tokio::test]
async fn policymakers_manage_policies_in_their_vhosts_only() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let admin = setup(&b).await;
    let pol = Api::as_user(&b, "pol", PW);
    let policy = json!({"pattern": "^zz", "definition": {"max-length": 1}});
    assert_eq!(
        pol.call("PUT", "/api/policies/v/p", Some(policy.clone()))
            .await
            .0,
        201
    );
    assert_eq!(
        pol.get("/api/policies/v/p").await["definition"],
        json!({"max-length": 1})
    );
    assert_eq!(
        pol.call("PUT", "/api/policies/%2F/p", Some(policy.clone()))
            .await,
        (401, refused("User not authorised to access object"))
    );
    assert_eq!(
        pol.call("PUT", "/api/operator-policies/v/p", Some(policy))
            .await,
        (401, refused("Not administrator user"))
    );
    assert_eq!(
        pol.call("GET", "/api/nodes", None).await,
        (401, refused("Not monitor user"))
    );
    assert_eq!(pol.call("DELETE", "/api/policies/v/p", None).await.0, 204);
    // The administrator may do all of it, anywhere.
    let op = json!({"pattern": "^zz", "definition": {"max-length": 2}});
    assert_eq!(
        admin
            .call("PUT", "/api/operator-policies/v/op", Some(op))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn requests_without_credentials_get_an_empty_401_with_the_challenge() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let http = reqwest::Client::new();
    // As RabbitMQ 3.10.8 answers (checked live): clients that send credentials only when
    // challenged (LWP, urllib's HTTPBasicAuthHandler, .NET's NetworkCredential) need it.
    let r = guard(http.get(format!("{}/api/overview", b.mgmt_url())).send())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"RabbitMQ Management\""
    );
    assert_eq!(guard(r.bytes()).await.unwrap().len(), 0);
    // Basic values that do not decode to user:password are 400 with an empty body; another
    // scheme is a failed login with the challenge.
    for (value, status) in [
        ("Basic !!!", 400),
        ("Basic", 400),
        ("Basic Z3Vlc3RndWVzdA==", 400),
        ("Bearer abc", 401),
    ] {
        let r = guard(
            http.get(format!("{}/api/overview", b.mgmt_url()))
                .header("authorization", value)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), status, "{value}");
        let challenged = r.headers().get("www-authenticate").is_some();
        assert_eq!(challenged, status == 401, "{value}");
        let body = guard(r.bytes()).await.unwrap();
        if status == 400 {
            assert!(body.is_empty(), "{value}");
        } else {
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["reason"], "Login failed", "{value}");
        }
    }
    let r = guard(
        http.get(format!("{}/api/overview", b.mgmt_url()))
            .basic_auth("guest", Some("nope"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"RabbitMQ Management\""
    );
    let body: Value = guard(r.json()).await.unwrap();
    assert_eq!(
        body,
        json!({"error": "not_authorized", "reason": "Login failed"})
    );
}
