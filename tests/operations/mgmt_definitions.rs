//! Definitions export and import (`GET`/`POST /api/definitions[/{vhost}]`) against
//! RabbitMQ 3.10.8's format, using files exported from a real RabbitMQ 3.10.8
//! (`tests/fixtures/definitions/`, made by `interop/admin/definitions_roundtrip.sh`): the
//! imported users log in over AMQP with their RabbitMQ passwords, the objects exist with
//! their arguments, the export has RabbitMQ's shape, imports are idempotent, and bad
//! documents are refused whole. Warren only (in-process, for the API's address).

use crate::common;

use common::mgmt::Api;
use common::{TestBroker, guard};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde_json::{Value, json};

const BROKER_FIXTURE: &str = include_str!("../fixtures/definitions/rabbitmq-3.10.8-broker.json");
const VHOST_FIXTURE: &str = include_str!("../fixtures/definitions/rabbitmq-3.10.8-vhost.json");

/// The fixture's users and their passwords (set when the fixture was made).
const FIXTURE_LOGINS: [(&str, &str); 6] = [
    ("defs-admin", "defs-admin-pw"),
    ("defs-mon", "defs-mon-pw"),
    ("defs-pol", "defs-pol-pw"),
    ("defs-app", "defs-app-pw"),
    ("defs-sha512", "defs-sha512-pw"),
    ("defs-md5", "defs-md5-pw"),
];

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// POSTs raw bytes with a content type as `user`.
async fn post_raw(
    b: &TestBroker,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    user: (&str, &str),
) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = guard(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/api{path}", b.mgmt_url()))
            .basic_auth(user.0, Some(user.1))
            .header("content-type", content_type)
            .body(body)
            .send(),
    )
    .await
    .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = guard(r.bytes()).await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn import(b: &TestBroker, path: &str, doc: &str) -> (u16, Value) {
    let (status, _, body) = post_raw(
        b,
        path,
        "application/json",
        doc.as_bytes().to_vec(),
        ("guest", "guest"),
    )
    .await;
    (status, body)
}

async fn login(b: &TestBroker, user: &str, pass: &str, vhost: &str) -> Result<(), lapin::Error> {
    let conn = guard(lapin::Connection::connect(
        &b.uri_with(user, pass, vhost),
        lapin::ConnectionProperties::default(),
    ))
    .await?;
    guard(conn.close(200, "bye".into())).await
}

/// The items of `list` sorted by their JSON text, for order-free comparison.
fn sorted(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v.to_string())
        .collect();
    out.sort();
    out
}

fn defs_only(list: &Value, key: &str) -> Value {
    Value::Array(
        list.as_array()
            .unwrap()
            .iter()
            .filter(|v| v[key].as_str().is_some_and(|n| n.starts_with("defs-")))
            .cloned()
            .collect(),
    )
}

#[tokio::test]
async fn rabbitmq_export_imports_and_its_users_log_in_with_their_passwords() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(import(&b, "/definitions", BROKER_FIXTURE).await.0, 204);
    for (user, pass) in FIXTURE_LOGINS {
        login(&b, user, pass, "defs-src")
            .await
            .unwrap_or_else(|e| panic!("{user} cannot log in: {e}"));
        assert!(
            login(&b, user, "wrong", "defs-src").await.is_err(),
            "{user}"
        );
    }
    // A user exported without a password cannot log in with one.
    assert!(login(&b, "defs-nopw", "", "defs-src").await.is_err());
    let user = api.get("/api/users/defs-mon").await;
    assert_eq!(user["tags"], json!(["monitoring", "management"]));
    let user = api.get("/api/users/defs-app").await;
    assert_eq!(
        user["limits"],
        json!({"max-connections": 10, "max-channels": 50})
    );
    let perm = api.get("/api/permissions/defs-src/defs-app").await;
    assert_eq!(perm["configure"], "^defs-app\\.");
    assert_eq!(perm["write"], "^(defs-x|amq\\.topic)$");
    let topic = api.get("/api/topic-permissions/defs-src/defs-app").await;
    assert_eq!(topic[0]["exchange"], "amq.topic");
    assert_eq!(topic[0]["write"], "^orders\\.");

    let q1 = api.get("/api/queues/defs-src/defs-q1").await;
    assert_eq!(
        q1["arguments"],
        json!({"x-dead-letter-exchange": "defs-dlx", "x-dead-letter-routing-key": "dead",
               "x-max-length": 1000, "x-message-ttl": 30000})
    );
    assert_eq!(
        (q1["durable"].clone(), q1["auto_delete"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(q1["operator_policy"], "defs-cap");
    let quorum = api.get("/api/queues/defs-src/defs-quorum").await;
    assert_eq!(quorum["type"], "quorum");
    let transient = api.get("/api/queues/defs-src/defs-transient").await;
    assert_eq!(
        (
            transient["durable"].clone(),
            transient["auto_delete"].clone()
        ),
        (json!(false), json!(true))
    );
    let ttl = api.get("/api/queues/defs-src/defs-ttl.orders").await;
    assert_eq!(ttl["policy"], "defs-ttl");
    assert_eq!(ttl["effective_policy_definition"]["message-ttl"], 60000);
    let x = api.get("/api/exchanges/defs-src/defs-x").await;
    assert_eq!(x["arguments"], json!({"alternate-exchange": "defs-ae"}));
    let internal = api.get("/api/exchanges/defs-src/defs-internal").await;
    assert_eq!(
        (internal["type"].clone(), internal["internal"].clone()),
        (json!("topic"), json!(true))
    );
    let headers = api.get("/api/exchanges/defs-src/defs-headers").await;
    assert_eq!(headers["auto_delete"], true);
    let e2e = api
        .get("/api/bindings/defs-src/e/defs-x/e/defs-internal")
        .await;
    assert_eq!(e2e[0]["routing_key"], "to.internal");
    let hb = api
        .get("/api/bindings/defs-src/e/defs-headers/q/defs-classic")
        .await;
    assert_eq!(
        hb[0]["arguments"],
        json!({"kind": "a", "n": 1, "x-match": "any"})
    );
    let limits = api.get("/api/vhost-limits/defs-src").await;
    assert_eq!(
        limits[0]["value"],
        json!({"max-connections": 100, "max-queues": 500})
    );

    // The imported topology routes: defs-x → defs-internal (e2e) → defs-classic (#).
    let vh_conn = guard(lapin::Connection::connect(
        &b.uri_with("defs-admin", "defs-admin-pw", "defs-src"),
        lapin::ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let vch = guard(vh_conn.create_channel()).await.unwrap();
    guard(vch.confirm_select(lapin::options::ConfirmSelectOptions::default()))
        .await
        .unwrap();
    common::publish(&vch, "defs-x", "to.internal", b"routed").await;
    assert_eq!(
        common::get_body(&vch, "defs-classic").await.as_deref(),
        Some("routed")
    );
    // Declaring an imported queue with its exported arguments is equivalent.
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    args.insert(
        "x-delivery-limit".into(),
        lapin::types::AMQPValue::LongLongInt(5),
    );
    guard(vch.queue_declare(
        "defs-quorum".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    ))
    .await
    .unwrap();
    b.shutdown().await;
}

#[tokio::test]
async fn export_has_rabbitmqs_shape_and_round_trips() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(import(&b, "/definitions", BROKER_FIXTURE).await.0, 204);
    let rabbit = fixture(BROKER_FIXTURE);
    let r = guard(
        reqwest::Client::new()
            .get(format!("{}/api/definitions", b.mgmt_url()))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = guard(r.text()).await.unwrap();
    // RabbitMQ's key order.
    let keys = [
        "rabbit_version",
        "rabbitmq_version",
        "product_name",
        "product_version",
        "users",
        "vhosts",
        "permissions",
        "topic_permissions",
        "parameters",
        "global_parameters",
        "policies",
        "queues",
        "exchanges",
        "bindings",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order: {positions:?}"
    );
    let warren: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(warren["rabbit_version"], "3.10.8");
    assert_eq!(warren["product_name"], "RabbitMQ");
    assert_eq!(warren.as_object().unwrap().len(), keys.len());
    // Users keep RabbitMQ's hashes; everything of the vhost comes back as RabbitMQ wrote it.
    for (key, name) in [
        ("users", "name"),
        ("permissions", "user"),
        ("topic_permissions", "user"),
    ] {
        assert_eq!(
            sorted(&defs_only(&warren[key], name)),
            sorted(&defs_only(&rabbit[key], name)),
            "{key}"
        );
    }
    let in_vhost = |doc: &Value, key: &str| {
        Value::Array(
            doc[key]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["vhost"] == "defs-src")
                .cloned()
                .collect(),
        )
    };
    for key in [
        "permissions",
        "parameters",
        "policies",
        "queues",
        "exchanges",
        "bindings",
    ] {
        assert_eq!(
            sorted(&in_vhost(&warren, key)),
            sorted(&in_vhost(&rabbit, key)),
            "{key}"
        );
    }
    assert!(
        warren["vhosts"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "defs-src"}))
    );
    assert_eq!(warren["global_parameters"], json!([]));
    // The default and amq.* exchanges and the default exchange's bindings are left out.
    assert!(warren["exchanges"].as_array().unwrap().iter().all(|x| {
        let n = x["name"].as_str().unwrap();
        !n.is_empty() && !n.starts_with("amq.")
    }));

    // One vhost: RabbitMQ's keys, objects without their vhost (policies keep it).
    let one = api.get("/api/definitions/defs-src").await;
    let rabbit_one = fixture(VHOST_FIXTURE);
    let mut got: Vec<&String> = one.as_object().unwrap().keys().collect();
    let mut want: Vec<&String> = rabbit_one.as_object().unwrap().keys().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    for key in ["parameters", "policies", "queues", "exchanges", "bindings"] {
        assert_eq!(sorted(&one[key]), sorted(&rabbit_one[key]), "{key}");
    }

    // Importing the export again changes nothing.
    assert_eq!(import(&b, "/definitions", &text).await.0, 204);
    let again = api.get("/api/definitions").await;
    assert_eq!(again, warren);
    b.shutdown().await;
}

#[tokio::test]
async fn a_vhost_file_imports_into_another_vhost_and_download_names_the_file() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    assert_eq!(api.call("PUT", "/api/vhosts/defs-copy", None).await.0, 201);
    // The queues' dead-letter and alternate exchanges come with the file.
    assert_eq!(
        import(&b, "/definitions/defs-copy", VHOST_FIXTURE).await.0,
        204
    );
    let q = api.get("/api/queues/defs-copy/defs-q1").await;
    assert_eq!(q["arguments"]["x-message-ttl"], 30000);
    let policies = api.get("/api/operator-policies/defs-copy").await;
    assert_eq!(policies[0]["name"], "defs-cap");
    let copy = api.get("/api/definitions/defs-copy").await;
    let rabbit_one = fixture(VHOST_FIXTURE);
    for key in ["queues", "exchanges", "bindings"] {
        assert_eq!(sorted(&copy[key]), sorted(&rabbit_one[key]), "{key}");
    }
    assert!(
        copy["policies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["vhost"] == "defs-copy")
    );

    let r = guard(
        reqwest::Client::new()
            .get(format!(
                "{}/api/definitions/defs-copy?download=defs-copy.json",
                b.mgmt_url()
            ))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=defs-copy.json"
    );
    b.shutdown().await;
}

#[tokio::test]
async fn an_existing_queue_or_exchange_is_left_as_it_is() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let (s, _) = api
        .call(
            "PUT",
            "/api/queues/%2F/defs-keep",
            Some(json!({"arguments": {"x-max-length": 5}})),
        )
        .await;
    assert_eq!(s, 201);
    let doc = json!({
        "queues": [{"name": "defs-keep", "vhost": "/", "durable": false, "auto_delete": false,
                    "arguments": {"x-max-length": 1}}],
        "exchanges": [{"name": "amq.direct", "vhost": "/", "type": "fanout", "durable": true,
                       "auto_delete": false, "internal": false, "arguments": {}}],
    });
    assert_eq!(import(&b, "/definitions", &doc.to_string()).await.0, 204);
    let q = api.get("/api/queues/%2F/defs-keep").await;
    assert_eq!(q["arguments"], json!({"x-max-length": 5}));
    assert_eq!(q["durable"], true);
    assert_eq!(
        api.get("/api/exchanges/%2F/amq.direct").await["type"],
        "direct"
    );
    b.shutdown().await;
}

#[tokio::test]
async fn what_warren_has_no_use_for_is_accepted_and_skipped() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let doc = json!({
        "global_parameters": [{"name": "cluster_name", "value": "rabbit@elsewhere"}],
        "parameters": [
            {"value": {"uri": "amqp://upstream"}, "vhost": "/", "component": "federation-upstream",
             "name": "up"},
            {"value": {"src-uri": "amqp://"}, "vhost": "/", "component": "shovel", "name": "sh"}
        ],
        "vhosts": [
            {"name": "defs-meta", "description": "described", "tags": ["a", "b"]},
            // rabbitmqctl export_definitions' shape.
            {"name": "defs-ctl", "limits": [], "metadata": {"description": "from ctl", "tags": "x,y"}}
        ],
        "bindings": [{"source": "amq.direct", "vhost": "/", "destination": "defs-missing",
                      "destination_type": "queue", "routing_key": "k", "arguments": {}}],
        "some_future_key": [1, 2, 3]
    });
    assert_eq!(import(&b, "/definitions", &doc.to_string()).await.0, 204);
    let v = b.warren().unwrap().access.vhost("defs-meta").unwrap();
    assert_eq!(
        (v.description.as_str(), v.tags.clone()),
        ("described", vec!["a".to_string(), "b".to_string()])
    );
    let v = b.warren().unwrap().access.vhost("defs-ctl").unwrap();
    assert_eq!(
        (v.description.as_str(), v.tags.clone()),
        ("from ctl", vec!["x".to_string(), "y".to_string()])
    );
    let bindings = api.get("/api/bindings/%2F").await;
    assert!(
        bindings
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["destination"] != "defs-missing")
    );
    // An empty body is an empty document, as in RabbitMQ.
    assert_eq!(import(&b, "/definitions", "").await.0, 204);
    b.shutdown().await;
}

#[tokio::test]
async fn bad_documents_are_refused_whole_with_rabbitmqs_status() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let bad = |doc: Value| doc.to_string();
    // Each refused document also defines a vhost, which must not appear.
    let with_vhost = |mut doc: Value| {
        doc["vhosts"] = json!([{"name": "defs-never"}]);
        bad(doc)
    };
    let cases: Vec<(String, &str)> = vec![
        ("{\"users\": [".to_string(), "failed_to_parse_json"),
        ("[1, 2]".to_string(), "failed_to_parse_json"),
        (bad(json!({"users": 5})), "invalid type: integer `5`"),
        (
            with_vhost(json!({"users": [{"password_hash": ""}]})),
            "missing field `name`",
        ),
        (
            with_vhost(json!({"users": [{"name": "defs-u", "password_hash": "",
                "hashing_algorithm": "rabbit_password_hashing_foo"}]})),
            "unknown hashing algorithm 'rabbit_password_hashing_foo'",
        ),
        (
            with_vhost(json!({"users": [{"name": "defs-u", "password_hash": "bm90IGEgaGFzaA=="}]})),
            "password_hash has the wrong length",
        ),
        (
            with_vhost(
                json!({"permissions": [{"user": "guest", "vhost": "/", "configure": "(",
                "write": ".*", "read": ".*"}]}),
            ),
            "invalid regular expression '('",
        ),
        (
            with_vhost(json!({"permissions": [{"user": "defs-nobody", "vhost": "/",
                "configure": ".*", "write": ".*", "read": ".*"}]})),
            "no_such_user",
        ),
        (
            with_vhost(
                json!({"queues": [{"name": "defs-q", "vhost": "defs-nowhere",
                "durable": true, "auto_delete": false, "arguments": {}}]}),
            ),
            "vhost 'defs-nowhere' does not exist",
        ),
        (
            with_vhost(
                json!({"queues": [{"name": "defs-q", "vhost": "/", "durable": true,
                "auto_delete": false, "arguments": {"x-message-ttl": "abc"}}]}),
            ),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl'",
        ),
        (
            with_vhost(
                json!({"queues": [{"name": "defs-q", "vhost": "/", "durable": false,
                "auto_delete": false, "arguments": {"x-queue-type": "quorum"}}]}),
            ),
            "PRECONDITION_FAILED",
        ),
        (
            with_vhost(
                json!({"exchanges": [{"name": "defs-x", "vhost": "/", "type": "nope",
                "durable": true, "auto_delete": false, "internal": false, "arguments": {}}]}),
            ),
            "unknown exchange type 'nope'",
        ),
        (
            with_vhost(
                json!({"policies": [{"vhost": "/", "name": "defs-p", "pattern": ".*",
                "apply-to": "queues", "definition": {"message-ttl": "x"}, "priority": 0}]}),
            ),
            "Validation failed",
        ),
        (
            with_vhost(
                json!({"parameters": [{"value": {"max-queues": "many"}, "vhost": "/",
                "component": "vhost-limits", "name": "limits"}]}),
            ),
            "vhost limits of vhost '/'",
        ),
        (
            with_vhost(json!({"bindings": [{"source": "amq.direct", "vhost": "/",
                "destination": "q", "destination_type": "stream", "routing_key": "",
                "arguments": {}}]})),
            "destination_type must be queue or exchange",
        ),
        (
            // Checked against the source's type (here from the file) before anything applies.
            with_vhost(json!({
                "exchanges": [{"name": "defs-h", "vhost": "/", "type": "headers",
                    "durable": true, "auto_delete": false, "internal": false, "arguments": {}}],
                "bindings": [{"source": "defs-h", "vhost": "/", "destination": "amq.direct",
                    "destination_type": "exchange", "routing_key": "",
                    "arguments": {"x-match": "bogus"}}]})),
            "Invalid x-match field value",
        ),
    ];
    for (doc, reason) in cases {
        let (status, body) = import(&b, "/definitions", &doc).await;
        assert_eq!(status, 400, "{doc}: {body}");
        assert_eq!(body["error"], "bad_request", "{doc}");
        let text = body["reason"].as_str().unwrap_or_default();
        assert!(
            text.contains(reason),
            "{doc}: reason {text:?} should contain {reason:?}"
        );
        assert_eq!(
            api.call("GET", "/api/vhosts/defs-never", None).await.0,
            404,
            "{doc}"
        );
        assert_eq!(
            api.call("GET", "/api/users/defs-u", None).await.0,
            404,
            "{doc}"
        );
    }
    // Not JSON at all: 415, as RabbitMQ answers.
    let (status, _, _) = post_raw(
        &b,
        "/definitions",
        "text/plain",
        b"{}".to_vec(),
        ("guest", "guest"),
    )
    .await;
    assert_eq!(status, 415);
    // Larger than the rest of the API reads (a big broker's export) is still read...
    let mut big = br#"{"padding": ""#.to_vec();
    big.resize(warren::management::json::BODY_LIMIT + 1024, b'a');
    big.extend_from_slice(br#""}"#);
    let (status, _, body) = post_raw(
        &b,
        "/definitions",
        "application/json",
        big,
        ("guest", "guest"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // ...but not beyond the definitions limit: 413 and nothing read.
    let huge = vec![b' '; warren::management::definitions::DEFINITIONS_BODY_LIMIT + 1];
    let (status, _, _) = post_raw(
        &b,
        "/definitions",
        "application/json",
        huge,
        ("guest", "guest"),
    )
    .await;
    assert_eq!(status, 413);
    // Unknown vhost: RabbitMQ's 400 on export and 404 on import.
    let (status, body) = api.call("GET", "/api/definitions/defs-nowhere", None).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "bad_request", "reason": "vhost_not_found"})
        )
    );
    let (status, body) = import(&b, "/definitions/defs-nowhere", "{}").await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": "not_found", "reason": "vhost_not_found"})
        )
    );
    b.shutdown().await;
}

#[tokio::test]
async fn only_administrators_export_and_import() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    for (user, tags) in [("defs-mon", "monitoring"), ("defs-pol", "policymaker")] {
        let body = json!({"password": "pw", "tags": tags});
        assert_eq!(
            api.call("PUT", &format!("/api/users/{user}"), Some(body))
                .await
                .0,
            201
        );
        let body = json!({"configure": ".*", "write": ".*", "read": ".*"});
        let path = format!("/api/permissions/%2F/{user}");
        assert_eq!(api.call("PUT", &path, Some(body)).await.0, 201);
        let refused = json!({"error": "not_authorised", "reason": "Not administrator user"});
        for path in ["/definitions", "/definitions/%2F"] {
            let r = guard(
                reqwest::Client::new()
                    .get(format!("{}/api{path}", b.mgmt_url()))
                    .basic_auth(user, Some("pw"))
                    .send(),
            )
            .await
            .unwrap();
            assert_eq!(r.status().as_u16(), 401);
            assert_eq!(guard(r.json::<Value>()).await.unwrap(), refused);
            let (status, _, body) =
                post_raw(&b, path, "application/json", b"{}".to_vec(), (user, "pw")).await;
            assert_eq!((status, body), (401, refused.clone()));
        }
    }
    b.shutdown().await;
}

/// A `multipart/form-data` body with the given (name, filename, content) parts.
fn form(boundary: &str, parts: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, filename, content) in parts {
        out.push_str(&format!("--{boundary}\r\n"));
        match filename {
            Some(f) => out.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                 Content-Type: application/json\r\n\r\n"
            )),
            None => out.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
        }
        out.push_str(content);
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

#[tokio::test]
async fn the_web_uis_form_upload_imports_and_redirects() {
    let b = TestBroker::start().await;
    let api = Api::new(&b);
    let ctype = "multipart/form-data; boundary=XdefsX";
    let doc = json!({"queues": [{"name": "defs-form", "vhost": "/", "durable": true,
                                 "auto_delete": false, "arguments": {}}]})
    .to_string();
    let body = form("XdefsX", &[("file", Some("defs.json"), &doc)]);
    let (status, _, _) = post_raw(&b, "/definitions", ctype, body, ("guest", "guest")).await;
    assert_eq!(status, 204);
    assert_eq!(api.get("/api/queues/%2F/defs-form").await["durable"], true);
    let body = form(
        "XdefsX",
        &[
            ("file", Some("defs.json"), &doc),
            ("redirect", None, "../#/"),
        ],
    );
    let (status, headers, _) = post_raw(&b, "/definitions", ctype, body, ("guest", "guest")).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "../#/");
    let body = form("XdefsX", &[("other", Some("defs.json"), &doc)]);
    let (status, _, body) = post_raw(&b, "/definitions", ctype, body, ("guest", "guest")).await;
    assert_eq!(
        (status, body["reason"].clone()),
        (400, json!("failed_to_parse_json"))
    );
    b.shutdown().await;
}

/// Runs the built `warrenctl` against `b`.
async fn warrenctl(b: &TestBroker, args: &[&str]) -> std::process::Output {
    guard(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_warrenctl"))
            .args(["--url", &b.mgmt_url()])
            .args(args)
            .env_remove("WARRENCTL_URL")
            .env_remove("WARRENCTL_USERNAME")
            .env_remove("WARRENCTL_PASSWORD")
            .output(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn warrenctl_exports_from_one_warren_and_imports_into_another() {
    let source = TestBroker::start().await;
    assert_eq!(import(&source, "/definitions", BROKER_FIXTURE).await.0, 204);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("defs.json");
    let file = file.to_str().unwrap();
    let out = warrenctl(&source, &["export_definitions", file]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = Api::new(&source).get("/api/definitions").await;
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(file).unwrap()).unwrap(),
        exported
    );
    let target = TestBroker::start().await;
    let out = warrenctl(&target, &["import_definitions", file]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(Api::new(&target).get("/api/definitions").await, exported);
    login(&target, "defs-sha512", "defs-sha512-pw", "defs-src")
        .await
        .unwrap();
    // A refused file: non-zero exit and the broker's reason.
    std::fs::write(file, r#"{"vhosts": [{"name": ""}]}"#).unwrap();
    let out = warrenctl(&target, &["import_definitions", file]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("vhost with an empty name"), "{stderr}");
    source.shutdown().await;
    target.shutdown().await;
}
