//! Management API endpoints that tools call besides the object listings, each answered as
//! RabbitMQ 3.10.8 answers it (checked live): paths with a trailing slash, `columns` on
//! single objects, `/api/auth` before login, `/api/extensions`, `/api/feature-flags`,
//! runtime and global parameters (none: no plugin keeps them), and the certificate,
//! quorum and mirror health checks.

use crate::common;

use common::mgmt::Api;
use common::tls::{Pki, enable_tls};
use common::{TestBroker, guard};
use serde_json::{Value, json};

#[tokio::test]
async fn paths_with_one_trailing_slash_answer_as_without_it() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (status, _) = api
        .call("PUT", "/api/queues/%2F/slashed", Some(json!({})))
        .await;
    assert_eq!(status, 201);
    let listed = api.get("/api/queues/?columns=name").await;
    assert_eq!(listed, api.get("/api/queues?columns=name").await);
    assert!(
        listed
            .as_array()
            .unwrap()
            .contains(&json!({"name": "slashed"}))
    );
    let one = api.get("/api/queues/%2F/slashed/").await;
    assert_eq!(one["name"], "slashed");
    assert_eq!(api.get("/api/vhosts/").await[0]["name"], "/");
    // Two slashes are no path RabbitMQ knows either.
    assert_eq!(api.call("GET", "/api/queues//", None).await.0, 404);
}

#[tokio::test]
async fn columns_select_fields_of_single_objects_too() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let overview = api.get("/api/overview?columns=node,rabbitmq_version").await;
    let node = overview["node"].as_str().unwrap().to_string();
    assert_eq!(
        overview,
        json!({"node": node, "rabbitmq_version": "3.10.8"})
    );
    assert_eq!(
        api.get("/api/nodes?columns=name,running").await,
        json!([{"name": node, "running": true}])
    );
    assert_eq!(
        api.get(&format!("/api/nodes/{node}?columns=name")).await,
        json!({"name": node})
    );
}

#[tokio::test]
async fn auth_extensions_and_feature_flags_answer_as_a_plain_rabbitmq_node() {
    skip_if_external!();
    let b = TestBroker::start().await;
    // The login page asks this before it has credentials.
    let r = guard(
        reqwest::Client::new()
            .get(format!("{}/api/auth", b.mgmt_url()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = guard(r.json()).await.unwrap();
    assert_eq!(
        body,
        json!({"enable_uaa": false, "uaa_client_id": "", "uaa_location": ""})
    );
    let api = Api::new(&b);
    assert_eq!(api.get("/api/extensions").await, json!([]));
    let flags = api.get("/api/feature-flags").await;
    let flags = flags.as_array().unwrap();
    assert_eq!(flags.len(), 9);
    for flag in flags {
        assert_eq!(flag["state"], "enabled", "{flag}");
        assert_eq!(flag["stability"], "stable", "{flag}");
    }
    let quorum = flags.iter().find(|f| f["name"] == "quorum_queue").unwrap();
    assert_eq!(quorum["desc"], "Support queues of type `quorum`");
    assert_eq!(quorum["provided_by"], "rabbit");
    // Without credentials, everything but /api/auth is refused.
    let r = guard(
        reqwest::Client::new()
            .get(format!("{}/api/feature-flags", b.mgmt_url()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn parameters_are_empty_lists_and_setting_one_names_the_missing_component() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for path in [
        "/api/parameters",
        "/api/parameters/shovel",
        "/api/parameters/federation-upstream/%2F",
        "/api/global-parameters",
    ] {
        assert_eq!(api.get(path).await, json!([]), "{path}");
    }
    for path in [
        "/api/parameters/shovel/no-such-vhost",
        "/api/parameters/shovel/%2F/x",
        "/api/global-parameters/cluster_name",
    ] {
        assert_eq!(api.call("GET", path, None).await.0, 404, "{path}");
    }
    let (status, body) = api
        .call(
            "PUT",
            "/api/parameters/shovel/%2F/to-elsewhere",
            Some(json!({"value": {"src-uri": "amqp://", "src-queue": "a"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "bad_request", "reason": "Validation failed\n\ncomponent shovel not found\n"})
    );
    assert_eq!(
        api.call("DELETE", "/api/parameters/shovel/%2F/to-elsewhere", None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_single_node_is_never_quorum_or_mirror_sync_critical() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for check in ["node-is-quorum-critical", "node-is-mirror-sync-critical"] {
        assert_eq!(
            api.get(&format!("/api/health/checks/{check}")).await,
            json!({"status": "ok", "reason": "single node cluster"}),
            "{check}"
        );
    }
}

#[tokio::test]
async fn certificate_expiration_fails_for_a_listener_whose_certificate_expires_in_the_window() {
    skip_if_external!();
    let pki = Pki::new("expiring");
    let mut params = Pki::server_params();
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    let server = pki.sign("server", params, rcgen::KeyPair::generate().unwrap());
    let b = TestBroker::start_with(|s| enable_tls(s, &server)).await;
    let api = Api::new(&b);
    let check = |within: &str| format!("/api/health/checks/certificate-expiration/{within}");
    assert_eq!(api.get(&check("1/years")).await, json!({"status": "ok"}));
    assert_eq!(api.get(&check("12/months")).await, json!({"status": "ok"}));
    let (status, body) = api.call("GET", &check("100/years"), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "Certificates expiring");
    let expired = body["expired"].as_array().unwrap();
    assert_eq!(expired.len(), 1, "{body}");
    assert_eq!(expired[0]["protocol"], "amqp/ssl");
    assert_eq!(
        expired[0]["certfile"],
        server.cert_path.display().to_string()
    );
    assert!(expired[0]["expires_on"].as_str().unwrap().contains("2100"));
    // RabbitMQ's refusals of a bad number or unit.
    let (status, body) = api.call("GET", &check("soon/days"), None).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "bad_request", "reason": "Invalid expiration value."})
        )
    );
    let (status, body) = api.call("GET", &check("1/day"), None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["reason"],
        "Time unit not recognised. Supported units: days, weeks, months, years."
    );
}

#[tokio::test]
async fn certificate_expiration_is_ok_without_tls_listeners() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(
        api.get("/api/health/checks/certificate-expiration/1000/years")
            .await,
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn bulk_delete_removes_users_in_order_and_stops_at_an_unknown_one() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for user in ["bulk-1", "bulk-2", "bulk-3"] {
        let body = json!({"password": "p", "tags": ""});
        let (status, _) = api
            .call("PUT", &format!("/api/users/{user}"), Some(body))
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = api
        .call(
            "POST",
            "/api/users/bulk-delete",
            Some(json!({"users": ["bulk-1", "nobody", "bulk-2"]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    // As in RabbitMQ: the user before the unknown one is gone, the one after it stays.
    assert_eq!(api.call("GET", "/api/users/bulk-1", None).await.0, 404);
    assert_eq!(api.call("GET", "/api/users/bulk-2", None).await.0, 200);
    let (status, _) = api
        .call(
            "POST",
            "/api/users/bulk-delete",
            Some(json!({"users": ["bulk-2", "bulk-3"]})),
        )
        .await;
    assert_eq!(status, 204);
    for user in ["bulk-2", "bulk-3"] {
        let path = format!("/api/users/{user}");
        assert_eq!(api.call("GET", &path, None).await.0, 404, "{user}");
    }
    let (status, body) = api
        .call("POST", "/api/users/bulk-delete", Some(json!({})))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "bad_request", "reason": "[{key_missing,users}]"})
        )
    );
}

#[tokio::test]
async fn queue_sync_actions_are_accepted_and_others_refused() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(
        api.call("PUT", "/api/queues/%2F/acted", Some(json!({})))
            .await
            .0,
        201
    );
    for action in ["sync", "cancel_sync"] {
        let body = json!({ "action": action });
        let (status, _) = api
            .call("POST", "/api/queues/%2F/acted/actions", Some(body))
            .await;
        assert_eq!(status, 204, "{action}");
    }
    let (status, _) = api
        .call(
            "POST",
            "/api/queues/%2F/acted/actions",
            Some(json!({"action": "rebalance"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = api
        .call("POST", "/api/queues/%2F/acted/actions", Some(json!({})))
        .await;
    assert_eq!(
        (status, &body["reason"]),
        (400, &json!("[{key_missing,action}]"))
    );
    let (status, _) = api
        .call(
            "POST",
            "/api/queues/%2F/nowhere/actions",
            Some(json!({"action": "sync"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_publish_without_properties_or_encoding_names_the_missing_keys() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let publish = "/api/exchanges/%2F/amq.default/publish";
    let (status, body) = api
        .call(
            "POST",
            publish,
            Some(json!({"routing_key": "k", "payload": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["reason"],
        "[{key_missing,properties},{key_missing,payload_encoding}]"
    );
    let (status, body) = api.call("POST", publish, Some(json!({}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["reason"],
        "[{key_missing,routing_key},\n {key_missing,properties},\n {key_missing,payload},\n {key_missing,payload_encoding}]"
    );
}

#[tokio::test]
async fn the_default_exchanges_implicit_binding_is_listed_but_not_writable() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(
        api.call("PUT", "/api/queues/%2F/implicit", Some(json!({})))
            .await
            .0,
        201
    );
    let listed = api.get("/api/bindings/%2F/e/amq.default/q/implicit").await;
    assert_eq!(
        listed,
        json!([{"source": "", "vhost": "/", "destination": "implicit",
            "destination_type": "queue", "routing_key": "implicit", "arguments": {},
            "properties_key": "implicit"}])
    );
    assert_eq!(
        api.get("/api/bindings/%2F/e/amq.default/e/amq.direct")
            .await,
        json!([])
    );
    let (status, body) = api
        .call(
            "POST",
            "/api/bindings/%2F/e/amq.default/q/implicit",
            Some(json!({"routing_key": "other"})),
        )
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
async fn starting_a_vhost_on_this_node_is_accepted_and_elsewhere_refused() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let node = api.get("/api/overview").await["node"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = api
        .call("POST", &format!("/api/vhosts/%2F/start/{node}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = api
        .call("POST", "/api/vhosts/%2F/start/rabbit@elsewhere", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["reason"],
        "Request to node rabbit@elsewhere failed with nodedown"
    );
    let (status, body) = api
        .call("POST", &format!("/api/vhosts/nowhere/start/{node}"), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["reason"],
        format!("Request to node {node} failed with {{no_such_vhost,<<\"nowhere\">>}}")
    );
}

#[tokio::test]
async fn a_path_that_is_not_utf8_gets_a_json_error() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    // `call` requires a JSON body or none: a plain-text rejection would fail it here.
    let (status, body) = api.call("GET", "/api/queues/%2F/%FF%FE", None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_request");
    assert!(body["reason"].as_str().unwrap().contains("UTF-8"), "{body}");
}

#[tokio::test]
async fn user_writes_are_refused_with_rabbitmqs_reasons() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for (body, reason) in [
        (
            json!({"password": "p", "password_hash": "", "tags": ""}),
            "both_password_and_password_hash_are_provided",
        ),
        (json!({"password": "p"}), "tags_not_present"),
    ] {
        let (status, answer) = api.call("PUT", "/api/users/refused", Some(body)).await;
        assert_eq!(
            (status, answer),
            (400, json!({"error": "bad_request", "reason": reason}))
        );
    }
    assert_eq!(api.call("GET", "/api/users/refused", None).await.0, 404);
    let (status, answer) = api
        .call(
            "PUT",
            "/api/user-limits/nobody/max-channels",
            Some(json!({"value": 5})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = api
        .call(
            "PUT",
            "/api/policies/%2F/ranked",
            Some(json!({"pattern": "^q", "definition": {"max-length": 5}, "priority": "high"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["reason"],
        "Validation failed\n\npriority should be a number, actually was <<\"high\">>\n"
    );
}

/// `OPTIONS` (a browser's CORS preflight, sent without credentials) is 200 with an empty
/// body and `allow` naming the path's methods in RabbitMQ 3.10.8's order, OPTIONS last;
/// a path with no route gets `HEAD, GET, OPTIONS`, as there.
#[tokio::test]
async fn options_answers_the_allowed_methods_without_credentials() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let client = reqwest::Client::new();
    for (path, allowed) in [
        ("/api/overview", "HEAD, GET, OPTIONS"),
        ("/api/queues/%2F/q1", "HEAD, GET, PUT, DELETE, OPTIONS"),
        ("/api/queues/%2F/q1/", "HEAD, GET, PUT, DELETE, OPTIONS"),
        ("/api/definitions", "HEAD, GET, POST, OPTIONS"),
        ("/api/exchanges/%2F/amq.direct/publish", "POST, OPTIONS"),
        ("/api/queues/%2F/q1/contents", "DELETE, OPTIONS"),
        ("/api/auth", "HEAD, GET, OPTIONS"),
        ("/api/no-such-thing", "HEAD, GET, OPTIONS"),
    ] {
        let r = guard(
            client
                .request(reqwest::Method::OPTIONS, format!("{}{path}", b.mgmt_url()))
                .header("origin", "http://dashboard.example")
                .header("access-control-request-method", "GET")
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["allow"], allowed, "{path}");
        assert!(r.headers().get("www-authenticate").is_none(), "{path}");
        assert_eq!(guard(r.bytes()).await.unwrap().len(), 0, "{path}");
    }
    // Other methods still need credentials.
    let r = guard(client.get(format!("{}/api/overview", b.mgmt_url())).send())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// A `%` that does not start a two-hex-digit escape, in the path or the query, is 400 with
/// an empty body before authentication, as RabbitMQ 3.10.8 answers it; good escapes
/// (`%2F`) still work.
#[tokio::test]
async fn a_bad_percent_escape_is_400_with_an_empty_body() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let client = reqwest::Client::new();
    for path in [
        "/api/queues/%ZZ",
        "/api/queues/%2F/%2",
        "/api/queues/%",
        "/api/queues?name=%ZZ",
        "/api/overview?columns=node%G1",
    ] {
        let r = guard(client.get(format!("{}{path}", b.mgmt_url())).send())
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
        assert!(r.headers().get("www-authenticate").is_none(), "{path}");
        assert_eq!(guard(r.bytes()).await.unwrap().len(), 0, "{path}");
    }
    let api = Api::new(&b);
    assert_eq!(api.get("/api/vhosts/%2F").await["name"], "/");
    assert_eq!(
        api.call("GET", "/api/queues/%2F/%41bsent", None).await.0,
        404
    );
}

/// `POST /api/rebalance/queues` is accepted (204) for an administrator and refused (401,
/// "Not administrator user") for a monitoring user, as RabbitMQ 3.10.8 answers; GET is 405.
#[tokio::test]
async fn rebalancing_queues_is_accepted_for_administrators_only() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(api.call("POST", "/api/rebalance/queues", None).await.0, 204);
    assert_eq!(api.call("GET", "/api/rebalance/queues", None).await.0, 405);
    let (status, _) = api
        .call(
            "PUT",
            "/api/users/watcher",
            Some(json!({"password": "pw", "tags": "monitoring"})),
        )
        .await;
    assert_eq!(status, 201);
    let r = guard(
        reqwest::Client::new()
            .post(format!("{}/api/rebalance/queues", b.mgmt_url()))
            .basic_auth("watcher", Some("pw"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = guard(r.json()).await.unwrap();
    assert_eq!(
        body,
        json!({"error": "not_authorised", "reason": "Not administrator user"})
    );
}

/// A configured `server.cluster_name` names the cluster everywhere RabbitMQ's
/// `cluster_name` setting does: `/api/cluster-name`, the overview, Prometheus'
/// `rabbitmq_identity_info` and AMQP's server properties (the API and Prometheus said
/// `rabbit@<host>` while AMQP said the configured name).
#[tokio::test]
async fn a_configured_cluster_name_is_shown_by_the_api_prometheus_and_amqp() {
    skip_if_external!();
    let b = TestBroker::start_with(|s| s.server.cluster_name = "orders-eu".into()).await;
    let api = Api::new(&b);
    assert_eq!(
        api.get("/api/cluster-name").await,
        json!({"name": "orders-eu"})
    );
    assert_eq!(
        api.get("/api/overview?columns=cluster_name").await,
        json!({"cluster_name": "orders-eu"})
    );
    let text = guard(
        guard(reqwest::get(format!("{}/metrics", b.metrics_url())))
            .await
            .unwrap()
            .text(),
    )
    .await
    .unwrap();
    let identity = text
        .lines()
        .find(|l| l.starts_with("rabbitmq_identity_info{"))
        .expect("identity info");
    assert!(
        identity.contains(r#"rabbitmq_cluster="orders-eu""#),
        "{identity}"
    );
    let c = b.raw().await;
    assert_eq!(
        common::raw::Value::Table(c.server_properties.clone()).get("cluster_name"),
        Some(&common::raw::Value::Str(b"orders-eu".to_vec()))
    );
}
