//! Quorum queues (`x-queue-type=quorum`) on one node, as RabbitMQ 3.10.8 shows them to
//! clients: declare refusals and argument checks with its reply texts, redeclare
//! equivalence, global QoS refused on consume, the management API's fields and messages kept
//! whatever their delivery mode (delivery counting is in `quorum_delivery.rs`). The expected
//! answers were recorded from RabbitMQ 3.10.8 with `interop/probes/quorum.py`; the AMQP-only
//! tests also pass against it:
//! `WARREN_TEST_URI=amqp://guest:guest@127.0.0.1:5672/%2f cargo test --test storage quorum_queues::`.

use crate::common;

use common::mgmt::Api;
use common::quorum::*;
use common::{TestBroker, assert_amqp_error, guard, unique};
use lapin::BasicProperties;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;

#[tokio::test]
async fn exclusive_non_durable_and_auto_delete_quorum_queues_are_refused() {
    let broker = TestBroker::start().await;
    let q = unique("qq-flags");
    let cases = [
        (true, true, false, "exclusive-owner"),
        (false, false, false, "non-durable"),
        (true, false, true, "auto-delete"),
        // Auto-delete is named first when several flags are wrong.
        (true, true, true, "auto-delete"),
        (false, false, true, "auto-delete"),
    ];
    for (durable, exclusive, auto_delete, property) in cases {
        let opts = QueueDeclareOptions {
            durable,
            exclusive,
            auto_delete,
            ..Default::default()
        };
        let got = refusal(&broker, &q, opts, quorum_args(&[])).await;
        assert_eq!(
            got,
            Some((
                406,
                format!(
                    "PRECONDITION_FAILED - invalid property '{property}' for queue '{q}' in \
                     vhost '/'"
                )
            )),
            "durable={durable} exclusive={exclusive} auto_delete={auto_delete}"
        );
    }
}

#[tokio::test]
async fn arguments_of_other_queue_types_are_refused() {
    let broker = TestBroker::start().await;
    let q = unique("qq-foreign");
    let cases = [
        ("x-max-priority", int(5)),
        ("x-queue-mode", s("lazy")),
        ("x-queue-mode", s("default")),
        ("x-queue-version", int(2)),
        ("x-queue-master-locator", s("min-masters")),
        ("x-max-age", s("1D")),
        ("x-initial-cluster-size", int(1)),
        ("x-stream-max-segment-size-bytes", int(1000)),
    ];
    for (key, value) in cases {
        let got = refusal(&broker, &q, DURABLE, quorum_args(&[(key, value)])).await;
        assert_eq!(
            got,
            Some((
                406,
                format!(
                    "PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '/' of \
                     queue type rabbit_quorum_queue"
                )
            )),
            "{key}"
        );
    }
}

#[tokio::test]
async fn quorum_arguments_are_validated_with_rabbitmqs_terms() {
    let broker = TestBroker::start().await;
    let q = unique("qq-badarg");
    let cases = [
        ("x-overflow", s("bad"), "invalid_overflow"),
        ("x-dead-letter-strategy", s("bad"), "invalid_dlx_strategy"),
        (
            "x-dead-letter-strategy",
            int(1),
            "{unacceptable_type,signedint}",
        ),
        ("x-quorum-initial-group-size", int(0), "{value_zero,0}"),
        (
            "x-quorum-initial-group-size",
            int(-1),
            "{value_negative,-1}",
        ),
        (
            "x-quorum-initial-group-size",
            s("3"),
            "\"expected integer, got longstr\"",
        ),
        (
            "x-queue-leader-locator",
            s("bad"),
            "invalid_queue_locator_arg",
        ),
        ("x-max-in-memory-length", int(-1), "{value_negative,-1}"),
    ];
    for (key, value, term) in cases {
        let got = refusal(&broker, &q, DURABLE, quorum_args(&[(key, value)])).await;
        assert_eq!(
            got,
            Some((
                406,
                format!(
                    "PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '/': {term}"
                )
            )),
            "{key}"
        );
    }
}

#[tokio::test]
async fn quorum_arguments_rabbitmq_accepts_are_accepted() {
    let broker = TestBroker::start().await;
    let cases = [
        ("x-delivery-limit", int(3)),
        ("x-delivery-limit", int(0)),
        ("x-delivery-limit", int(-1)),
        ("x-delivery-limit", s("three")),
        ("x-dead-letter-strategy", s("at-least-once")),
        ("x-dead-letter-strategy", s("at-most-once")),
        ("x-quorum-initial-group-size", int(5)),
        ("x-queue-leader-locator", s("client-local")),
        ("x-queue-leader-locator", s("balanced")),
        ("x-queue-leader-locator", s("random")),
        ("x-max-in-memory-length", int(10)),
        ("x-max-in-memory-bytes", int(1000)),
        ("x-overflow", s("drop-head")),
        ("x-overflow", s("reject-publish")),
        // Refused by the 3.10 documentation, accepted by 3.10.8.
        ("x-overflow", s("reject-publish-dlx")),
        ("x-message-ttl", int(1000)),
        ("x-expires", int(100_000)),
        ("x-single-active-consumer", AMQPValue::Boolean(true)),
    ];
    for (key, value) in cases {
        let q = unique("qq-ok");
        let got = refusal(&broker, &q, DURABLE, quorum_args(&[(key, value.clone())])).await;
        assert_eq!(got, None, "{key} = {value:?}");
    }
}

#[tokio::test]
async fn redeclaring_across_queue_types_is_inequivalent() {
    let broker = TestBroker::start().await;
    let classic = unique("qq-classic");
    let quorum = unique("qq-quorum");
    {
        let (_conn, ch) = broker.lapin_channel().await;
        declare(&ch, &classic, DURABLE, FieldTable::default()).await;
        declare(&ch, &quorum, DURABLE, quorum_args(&[])).await;
    }
    let pre = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue";
    let classic_type = {
        let mut t = FieldTable::default();
        t.insert("x-queue-type".into(), s("classic"));
        t
    };
    let cases = [
        (
            &classic,
            quorum_args(&[]),
            format!(
                "{pre} '{classic}' in vhost '/': received the value 'quorum' of type 'longstr' \
                 but current is none"
            ),
        ),
        (
            &quorum,
            FieldTable::default(),
            format!(
                "{pre} '{quorum}' in vhost '/': received none but current is the value 'quorum' \
                 of type 'longstr'"
            ),
        ),
        (
            &quorum,
            classic_type,
            format!("{pre} '{quorum}' in vhost '/': received 'classic' but current is 'quorum'"),
        ),
    ];
    for (name, args, text) in cases {
        let got = refusal(&broker, name, DURABLE, args).await;
        assert_eq!(got, Some((406, text)));
    }
    // The same declaration, or a passive one, is fine.
    assert_eq!(
        refusal_keep(&broker, &quorum, DURABLE, quorum_args(&[])).await,
        None
    );
    delete(&broker, &classic).await;
    delete(&broker, &quorum).await;
}

#[tokio::test]
async fn redeclare_compares_the_quorum_arguments_in_rabbitmqs_order() {
    let broker = TestBroker::start().await;
    let q = unique("qq-equiv");
    let base = [
        ("x-dead-letter-strategy", s("at-most-once")),
        ("x-delivery-limit", int(3)),
    ];
    {
        let (_conn, ch) = broker.lapin_channel().await;
        declare(&ch, &q, DURABLE, quorum_args(&base)).await;
    }
    let pre = "PRECONDITION_FAILED - inequivalent arg";
    let got = refusal_keep(
        &broker,
        &q,
        DURABLE,
        quorum_args(&[
            ("x-dead-letter-strategy", s("at-most-once")),
            ("x-delivery-limit", int(4)),
        ]),
    )
    .await;
    assert_eq!(
        got,
        Some((
            406,
            format!(
                "{pre} 'x-delivery-limit' for queue '{q}' in vhost '/': received '4' but current is '3'"
            )
        ))
    );
    // Several differences: the strategy comes first in RabbitMQ's list.
    let got = refusal_keep(
        &broker,
        &q,
        DURABLE,
        quorum_args(&[
            ("x-dead-letter-strategy", s("at-least-once")),
            ("x-delivery-limit", int(4)),
            ("x-message-ttl", int(5)),
        ]),
    )
    .await;
    assert_eq!(
        got,
        Some((
            406,
            format!(
                "{pre} 'x-dead-letter-strategy' for queue '{q}' in vhost '/': received \
                 'at-least-once' but current is 'at-most-once'"
            )
        ))
    );
    let got = refusal_keep(
        &broker,
        &q,
        DURABLE,
        quorum_args(&[
            ("x-dead-letter-strategy", s("at-most-once")),
            ("x-delivery-limit", int(3)),
            ("x-max-in-memory-bytes", int(5)),
        ]),
    )
    .await;
    assert_eq!(
        got,
        Some((
            406,
            format!(
                "{pre} 'x-max-in-memory-bytes' for queue '{q}' in vhost '/': received the value \
                 '5' of type 'signedint' but current is none"
            )
        ))
    );
    assert_eq!(
        refusal_keep(&broker, &q, DURABLE, quorum_args(&base)).await,
        None
    );
    delete(&broker, &q).await;
}

#[tokio::test]
async fn consuming_from_a_quorum_queue_under_global_qos_closes_the_connection_with_540() {
    let broker = TestBroker::start().await;
    let q = unique("qq-gqos");
    let (conn, ch) = broker.lapin_channel().await;
    declare(&ch, &q, DURABLE, quorum_args(&[])).await;
    guard(ch.basic_qos(10, BasicQosOptions { global: true }))
        .await
        .unwrap();
    // basic.get is fine under global qos.
    assert!(get(&ch, &q).await.is_none());
    let res = guard(ch.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await;
    let text = assert_amqp_error(res, 540, "NOT_IMPLEMENTED - ");
    assert_eq!(
        text,
        format!("NOT_IMPLEMENTED - queue '{q}' in vhost '/' does not support global qos")
    );
    assert!(!conn.status().connected(), "the whole connection is closed");
    // A per-consumer prefetch is fine, and so is global qos 0 (no limit).
    let (_conn, ch) = broker.lapin_channel().await;
    guard(ch.basic_qos(0, BasicQosOptions { global: true }))
        .await
        .unwrap();
    guard(ch.basic_qos(10, BasicQosOptions { global: false }))
        .await
        .unwrap();
    guard(ch.basic_consume(
        q.as_str().into(),
        "".into(),
        BasicConsumeOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    drop(ch);
    delete(&broker, &q).await;
}

#[tokio::test]
async fn the_management_api_shows_quorum_membership_and_counts_every_message_persistent() {
    let broker = TestBroker::start().await;
    if common::external_uri().is_some() {
        eprintln!("skipped: in-process management API");
        return;
    }
    let api = Api::new(&broker);
    let q = unique("qq-mgmt");
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    declare(
        &ch,
        &q,
        DURABLE,
        quorum_args(&[("x-delivery-limit", int(5))]),
    )
    .await;
    let transient = BasicProperties::default().with_delivery_mode(1);
    publish_props(&ch, &q, b"ab", transient).await;
    let info = api.get(&format!("/api/queues/%2F/{q}")).await;
    let node = info["node"].clone();
    assert_eq!(info["type"], "quorum");
    assert_eq!(info["leader"], node);
    assert_eq!(info["members"], json!([node]));
    assert_eq!(info["online"], json!([node]));
    assert_eq!(info["messages_persistent"], 1);
    assert_eq!(info["message_bytes_persistent"], 2);
    assert_eq!(info["messages_ram"], 0);
    assert_eq!(info["messages_dlx"], 0);
    assert_eq!(info["single_active_consumer_ctag"], json!(null));
    for absent in [
        "messages_paged_out",
        "recoverable_slaves",
        "single_active_consumer_tag",
    ] {
        assert!(
            info.get(absent).is_none(),
            "{absent} is a classic queue field"
        );
    }
    assert_eq!(info["open_files"], json!({ node.as_str().unwrap(): 0 }));
    let rows = api
        .get("/api/queues/%2F?columns=name,type,leader,members,online")
        .await;
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == q.as_str())
        .cloned();
    assert_eq!(
        row,
        Some(
            json!({"name": q, "type": "quorum", "leader": node, "members": [node],
                    "online": [node]})
        )
    );
    let defs = api.get("/api/definitions/%2F").await;
    let exported = defs["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == q.as_str())
        .cloned();
    assert_eq!(
        exported,
        Some(json!({"name": q, "durable": true, "auto_delete": false,
                    "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 5}}))
    );
}

#[tokio::test]
async fn the_http_api_refuses_a_non_durable_quorum_queue_with_rabbitmqs_reason() {
    let broker = TestBroker::start().await;
    if common::external_uri().is_some() {
        eprintln!("skipped: in-process management API");
        return;
    }
    let api = Api::new(&broker);
    let q = unique("qq-http");
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/queues/%2F/{q}"),
            Some(json!({"durable": false, "arguments": {"x-queue-type": "quorum"}})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "bad_request",
                   "reason": format!("invalid property 'non-durable' for queue '{q}' in vhost '/'")})
        )
    );
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/queues/%2F/{q}"),
            Some(json!({"durable": true, "arguments": {"x-queue-type": "quorum"}})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_transient_message_in_a_quorum_queue_survives_a_restart() {
    skip_if_external!();
    let dir = tempfile::tempdir().unwrap();
    let at = |dir: std::path::PathBuf| {
        move |s: &mut warren::config::Settings| {
            s.server.data_dir = dir;
            s.management.listen.clear();
            s.prometheus.listen.clear();
        }
    };
    let quorum = unique("qq-restart");
    let classic = unique("qq-restart-classic");
    let broker = TestBroker::start_with(at(dir.path().to_path_buf())).await;
    {
        let (conn, ch) = broker.lapin_confirm_channel().await;
        declare(&ch, &quorum, DURABLE, quorum_args(&[])).await;
        declare(&ch, &classic, DURABLE, FieldTable::default()).await;
        for q in [&quorum, &classic] {
            let transient = BasicProperties::default().with_delivery_mode(1);
            publish_props(&ch, q, b"transient", transient).await;
        }
        guard(conn.close(200, "bye".into())).await.unwrap();
    }
    broker.shutdown().await;
    let broker = TestBroker::start_with(at(dir.path().to_path_buf())).await;
    let (_conn, ch) = broker.lapin_channel().await;
    let m = get(&ch, &quorum).await.expect("kept by the quorum queue");
    assert_eq!(body(&m), "transient");
    assert_eq!(
        m.delivery.properties.delivery_mode(),
        &Some(1),
        "as published"
    );
    assert!(
        get(&ch, &classic).await.is_none(),
        "a classic queue drops it"
    );
}
