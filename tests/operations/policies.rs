//! Policies and operator policies (issue #12): what they do to messages in queues they
//! apply to, existing and new, and how they combine with queue arguments, as RabbitMQ
//! 3.10.8 combines them. Policies are set through the broker's Rust API (there is no HTTP
//! API on this branch), so these tests run against Warren only.

use crate::common;

use common::{TestBroker, get_body, guard, message_count, publish, publish_all, unique};
use lapin::options::{
    BasicGetOptions, BasicNackOptions, BasicPublishOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, ExchangeKind};
use serde_json::{Value, json};
use std::sync::Arc;
use warren::broker::Broker;
use warren::policy::PolicyKind;

fn broker_of(b: &TestBroker) -> Arc<Broker> {
    Arc::clone(
        b.server()
            .expect("Warren in-process")
            .broker()
            .expect("single-node broker"),
    )
}

fn set(b: &Arc<Broker>, kind: PolicyKind, name: &str, pattern: &str, priority: i64, def: Value) {
    b.set_policy(kind, "/", name, pattern, Some("all"), priority, &def)
        .expect("valid policy");
}

fn policy(b: &Arc<Broker>, name: &str, pattern: &str, def: Value) {
    set(b, PolicyKind::Policy, name, pattern, 0, def);
}

fn exact(name: &str) -> String {
    format!("^{}$", regex_escape(name))
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$-".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

fn args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

async fn declare(ch: &Channel, name: &str, table: FieldTable) {
    guard(ch.queue_declare(name.into(), QueueDeclareOptions::default(), table))
        .await
        .unwrap();
}

/// A fanout exchange with one bound queue collecting what reaches it; returns the queue.
async fn collector(ch: &Channel, exchange: &str) -> String {
    guard(ch.exchange_declare(
        exchange.into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let q = unique("collect");
    declare(ch, &q, FieldTable::default()).await;
    guard(ch.queue_bind(
        q.as_str().into(),
        exchange.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    q
}

/// Takes one message and rejects it without requeue; returns nothing.
async fn reject_one(ch: &Channel, queue: &str) {
    let m = guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .expect("a message to reject");
    guard(m.delivery.nack(BasicNackOptions {
        multiple: false,
        requeue: false,
    }))
    .await
    .unwrap();
}

/// basic.get of one message: (body, routing key).
async fn get_with_key(ch: &Channel, queue: &str) -> Option<(String, String)> {
    guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .map(|m| {
            (
                String::from_utf8_lossy(&m.delivery.data).into_owned(),
                m.delivery.routing_key.as_str().to_string(),
            )
        })
}

async fn drain(ch: &Channel, queue: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(b) = get_body(ch, queue).await {
        out.push(b);
    }
    out
}

#[tokio::test]
async fn a_max_length_policy_drops_from_the_head_of_an_existing_queue_at_once() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-maxlen");
    declare(&ch, &q, FieldTable::default()).await;
    publish_all(&ch, &q, &["1", "2", "3", "4", "5"]).await;
    policy(&b, "limit", &exact(&q), json!({"max-length": 2}));
    assert_eq!(message_count(&ch, &q).await, 2);
    assert_eq!(drain(&ch, &q).await, ["4", "5"]);
}

#[tokio::test]
async fn a_max_length_policy_dead_letters_what_it_drops_to_the_policy_dead_letter_exchange() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-maxlen-dlx");
    let dlx = unique("pol-dlx");
    let dead = collector(&ch, &dlx).await;
    declare(&ch, &q, FieldTable::default()).await;
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    policy(
        &b,
        "limit",
        &exact(&q),
        json!({"max-length": 1, "dead-letter-exchange": dlx}),
    );
    assert_eq!(drain(&ch, &q).await, ["3"]);
    assert_eq!(drain(&ch, &dead).await, ["1", "2"]);
}

#[tokio::test]
async fn a_max_length_bytes_policy_applies_to_new_queues() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-bytes");
    policy(&b, "bytes", &exact(&q), json!({"max-length-bytes": 8}));
    declare(&ch, &q, FieldTable::default()).await;
    publish_all(&ch, &q, &["aaaa", "bbbb", "cccc"]).await;
    assert_eq!(drain(&ch, &q).await, ["bbbb", "cccc"]);
}

#[tokio::test]
async fn a_policy_dead_letter_exchange_and_routing_key_apply_to_rejected_messages() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let dlx = unique("pol-dlx");
    let dead = collector(&ch, &dlx).await;
    let existing = unique("pol-dl-old");
    declare(&ch, &existing, FieldTable::default()).await;
    let pattern = format!("^({}|{})$", regex_escape(&existing), "pol-dl-new.*");
    policy(
        &b,
        "dl",
        &pattern,
        json!({"dead-letter-exchange": dlx, "dead-letter-routing-key": "retry"}),
    );
    let new = unique("pol-dl-new");
    declare(&ch, &new, FieldTable::default()).await;
    for q in [&existing, &new] {
        publish(&ch, "", q, q.as_bytes()).await;
        reject_one(&ch, q).await;
        let (body, key) = get_with_key(&ch, &dead).await.expect("dead-lettered");
        assert_eq!((body.as_str(), key.as_str()), (q.as_str(), "retry"));
    }
}

#[tokio::test]
async fn the_queue_dead_letter_exchange_argument_wins_over_the_policy() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let arg_dlx = unique("arg-dlx");
    let pol_dlx = unique("pol-dlx");
    let by_arg = collector(&ch, &arg_dlx).await;
    let by_policy = collector(&ch, &pol_dlx).await;
    let q = unique("pol-dl-arg");
    declare(&ch, &q, args(&[("x-dead-letter-exchange", text(&arg_dlx))])).await;
    policy(
        &b,
        "dl",
        &exact(&q),
        json!({"dead-letter-exchange": pol_dlx}),
    );
    publish(&ch, "", &q, b"m").await;
    reject_one(&ch, &q).await;
    assert_eq!(drain(&ch, &by_arg).await, ["m"]);
    assert_eq!(message_count(&ch, &by_policy).await, 0);
}

#[tokio::test]
async fn a_message_ttl_policy_expires_messages_into_the_dead_letter_exchange() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let dlx = unique("pol-dlx");
    let dead = collector(&ch, &dlx).await;
    let q = unique("pol-ttl");
    declare(&ch, &q, FieldTable::default()).await;
    // TTL 0: a message nobody is waiting for expires on arrival.
    policy(
        &b,
        "ttl",
        &exact(&q),
        json!({"message-ttl": 0, "dead-letter-exchange": dlx}),
    );
    publish(&ch, "", &q, b"gone").await;
    assert_eq!(message_count(&ch, &q).await, 0);
    let m = guard(ch.basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .expect("expired message dead-lettered");
    let headers = m.delivery.properties.headers().clone().unwrap_or_default();
    assert_eq!(
        headers.inner().get("x-first-death-reason"),
        Some(&AMQPValue::LongString("expired".into()))
    );
}

#[tokio::test]
async fn the_smaller_of_the_queue_argument_and_the_policy_length_applies() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let small_arg = unique("pol-min-a");
    let small_policy = unique("pol-min-b");
    declare(
        &ch,
        &small_arg,
        args(&[("x-max-length", AMQPValue::LongInt(1))]),
    )
    .await;
    declare(
        &ch,
        &small_policy,
        args(&[("x-max-length", AMQPValue::LongInt(3))]),
    )
    .await;
    policy(&b, "len", "^pol-min-", json!({"max-length": 2}));
    for q in [&small_arg, &small_policy] {
        publish_all(&ch, q, &["1", "2", "3", "4"]).await;
    }
    assert_eq!(drain(&ch, &small_arg).await, ["4"]);
    assert_eq!(drain(&ch, &small_policy).await, ["3", "4"]);
}

#[tokio::test]
async fn an_operator_policy_caps_the_policy_and_the_argument() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let plain = unique("pol-op-plain");
    let with_arg = unique("pol-op-arg");
    declare(&ch, &plain, FieldTable::default()).await;
    declare(
        &ch,
        &with_arg,
        args(&[("x-max-length", AMQPValue::LongInt(1))]),
    )
    .await;
    policy(&b, "len", "^pol-op-", json!({"max-length": 5}));
    set(
        &b,
        PolicyKind::Operator,
        "cap",
        "^pol-op-",
        0,
        json!({"max-length": 2}),
    );
    for q in [&plain, &with_arg] {
        publish_all(&ch, q, &["1", "2", "3"]).await;
    }
    assert_eq!(drain(&ch, &plain).await, ["2", "3"]);
    assert_eq!(drain(&ch, &with_arg).await, ["3"]);
}

#[tokio::test]
async fn operator_policies_cannot_set_dead_lettering() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let err = b
        .set_policy(
            PolicyKind::Operator,
            "/",
            "op",
            ".*",
            None,
            0,
            &json!({"dead-letter-exchange": "x"}),
        )
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "Validation failed\n\n[{<<\"dead-letter-exchange\">>,<<\"x\">>}] are not recognised \
         policy settings\n"
    );
}

#[tokio::test]
async fn the_higher_priority_policy_applies() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-prio");
    declare(&ch, &q, FieldTable::default()).await;
    set(
        &b,
        PolicyKind::Policy,
        "broad",
        "^pol-",
        5,
        json!({"max-length": 3}),
    );
    set(
        &b,
        PolicyKind::Policy,
        "narrow",
        &exact(&q),
        1,
        json!({"max-length": 1}),
    );
    publish_all(&ch, &q, &["1", "2", "3", "4"]).await;
    assert_eq!(drain(&ch, &q).await, ["2", "3", "4"]);
    let vhost = b.vhost("/").unwrap();
    let queue = vhost.queue(&q.as_str().into()).unwrap();
    assert_eq!(queue.applied_policies().policy_name(), Some("broad"));
}

#[tokio::test]
async fn clearing_a_policy_restores_the_queue_argument_values() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-clear");
    declare(&ch, &q, args(&[("x-max-length", AMQPValue::LongInt(3))])).await;
    policy(&b, "len", &exact(&q), json!({"max-length": 1}));
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    assert_eq!(message_count(&ch, &q).await, 1);
    b.clear_policy(PolicyKind::Policy, "/", "len").unwrap();
    publish_all(&ch, &q, &["4", "5", "6"]).await;
    assert_eq!(drain(&ch, &q).await, ["4", "5", "6"]);
    assert!(b.clear_policy(PolicyKind::Policy, "/", "len").is_err());
}

#[tokio::test]
async fn a_reject_publish_overflow_policy_nacks_publishes_to_a_full_queue() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-overflow");
    declare(&ch, &q, FieldTable::default()).await;
    policy(
        &b,
        "full",
        &exact(&q),
        json!({"max-length": 1, "overflow": "reject-publish"}),
    );
    publish(&ch, "", &q, b"kept").await;
    let confirm = guard(ch.basic_publish(
        "".into(),
        q.as_str().into(),
        BasicPublishOptions::default(),
        b"refused",
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    assert!(guard(confirm).await.unwrap().is_nack());
    assert_eq!(drain(&ch, &q).await, ["kept"]);
}

#[tokio::test]
async fn a_policy_applies_to_exclusive_queues() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-excl");
    let opts = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    guard(ch.queue_declare(q.as_str().into(), opts, FieldTable::default()))
        .await
        .unwrap();
    policy(&b, "len", &exact(&q), json!({"max-length": 1}));
    publish_all(&ch, &q, &["1", "2"]).await;
    assert_eq!(drain(&ch, &q).await, ["2"]);
}

#[tokio::test]
async fn a_policy_alternate_exchange_takes_unroutable_messages_unless_the_argument_names_one() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let pol_ae = unique("pol-ae");
    let arg_ae = unique("arg-ae");
    let by_policy = collector(&ch, &pol_ae).await;
    let by_arg = collector(&ch, &arg_ae).await;
    let plain = unique("pol-x-plain");
    let with_arg = unique("pol-x-arg");
    for (x, table) in [
        (&plain, FieldTable::default()),
        (&with_arg, args(&[("alternate-exchange", text(&arg_ae))])),
    ] {
        guard(ch.exchange_declare(
            x.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            table,
        ))
        .await
        .unwrap();
    }
    policy(&b, "ae", "^pol-x-", json!({"alternate-exchange": pol_ae}));
    publish(&ch, &plain, "nowhere", b"p").await;
    publish(&ch, &with_arg, "nowhere", b"a").await;
    // amq.* exchanges take policies too (RabbitMQ 3.10.8 applies them).
    set(
        &b,
        PolicyKind::Policy,
        "amq",
        "^amq\\.direct$",
        0,
        json!({"alternate-exchange": pol_ae}),
    );
    publish(&ch, "amq.direct", "nowhere", b"d").await;
    assert_eq!(drain(&ch, &by_policy).await, ["p", "d"]);
    assert_eq!(drain(&ch, &by_arg).await, ["a"]);
}

#[tokio::test]
async fn policy_values_do_not_make_a_redeclare_inequivalent() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-redeclare");
    let table = args(&[("x-max-length", AMQPValue::LongInt(3))]);
    declare(&ch, &q, table.clone()).await;
    policy(
        &b,
        "len",
        &exact(&q),
        json!({"max-length": 1, "message-ttl": 5000}),
    );
    declare(&ch, &q, table).await;
}

#[tokio::test]
async fn a_queue_shows_its_policy_and_effective_limits() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let b = broker_of(&broker);
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    let q = unique("pol-show");
    declare(
        &ch,
        &q,
        args(&[("x-message-ttl", AMQPValue::LongInt(60000))]),
    )
    .await;
    policy(
        &b,
        "p",
        &exact(&q),
        json!({"expires": 3600000, "message-ttl": 120000}),
    );
    set(
        &b,
        PolicyKind::Operator,
        "op",
        &exact(&q),
        0,
        json!({"expires": 1800000}),
    );
    let queue = b.vhost("/").unwrap().queue(&q.as_str().into()).unwrap();
    let applied = queue.applied_policies();
    assert_eq!(applied.policy_name(), Some("p"));
    assert_eq!(applied.operator_policy_name(), Some("op"));
    let limits = queue.limits();
    assert_eq!(limits.message_ttl, Some(60000));
    assert_eq!(limits.expires, Some(1800000));
    let def = warren::policy::effective::effective_definition(&applied).unwrap();
    assert_eq!(
        serde_json::to_value(def).unwrap(),
        json!({"expires": 1800000, "message-ttl": 120000})
    );
}

#[tokio::test]
async fn policies_survive_a_restart_and_apply_to_recovered_queues() {
    skip_if_external!();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let q = unique("pol-durable");
    {
        let p = path.clone();
        let broker = TestBroker::start_with(move |s| s.server.data_dir = p).await;
        let b = broker_of(&broker);
        let (conn, ch) = broker.lapin_confirm_channel().await;
        let opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        guard(ch.queue_declare(q.as_str().into(), opts, FieldTable::default()))
            .await
            .unwrap();
        policy(&b, "len", &exact(&q), json!({"max-length": 2}));
        set(
            &b,
            PolicyKind::Operator,
            "gone",
            "^nothing$",
            0,
            json!({"max-length": 1}),
        );
        b.clear_policy(PolicyKind::Operator, "/", "gone").unwrap();
        let _ = guard(conn.close(200, "bye".into())).await;
        broker.shutdown().await;
    }
    let broker = TestBroker::start_with(move |s| s.server.data_dir = path).await;
    let b = broker_of(&broker);
    assert_eq!(b.list_policies(PolicyKind::Policy, Some("/")).len(), 1);
    assert!(b.list_policies(PolicyKind::Operator, None).is_empty());
    let (_conn, ch) = broker.lapin_confirm_channel().await;
    publish_all(&ch, &q, &["1", "2", "3"]).await;
    assert_eq!(drain(&ch, &q).await, ["2", "3"]);
}
