//! `rabbitmq_global_messages_dead_lettered_*_total` on `/metrics`: every dead-letter reason
//! (rejected, expired, maxlen, delivery_limit) counted once per message under RabbitMQ
//! 3.10.8's queue type and strategy labels, and at-least-once dead letters confirmed by
//! their target queues. The expected values are what RabbitMQ 3.10.8 was seen to count for
//! the same steps: a missing dead-letter exchange counts as `disabled` for at-most-once and
//! still as `at_least_once` for at-least-once; an exchange that routes nowhere counts as
//! dead-lettered (and, at least once, not confirmed); a copy routed to two queues counts
//! once.

use crate::common;

use common::quorum::{DURABLE, int, quorum_args, s};
use common::{TestBroker, guard, message_count, unique};
use lapin::options::{
    BasicGetOptions, BasicNackOptions, BasicPublishOptions, BasicRejectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ExchangeKind};
use prometheus_parse::{Scrape, Value};
use std::collections::BTreeMap;

const PREFIX: &str = "rabbitmq_global_messages_dead_lettered_";

/// Every series RabbitMQ 3.10.8 serves, as (family, queue type, strategy), in its order.
#[rustfmt::skip]
const SERIES: [(&str, &str, &str); 18] = [
    ("confirmed",      "quorum",  "at_least_once"),
    ("delivery_limit", "quorum",  "at_least_once"),
    ("delivery_limit", "quorum",  "at_most_once"),
    ("delivery_limit", "quorum",  "disabled"),
    ("expired",        "classic", "at_most_once"),
    ("expired",        "classic", "disabled"),
    ("expired",        "quorum",  "at_least_once"),
    ("expired",        "quorum",  "at_most_once"),
    ("expired",        "quorum",  "disabled"),
    ("maxlen",         "classic", "at_most_once"),
    ("maxlen",         "classic", "disabled"),
    ("maxlen",         "quorum",  "at_most_once"),
    ("maxlen",         "quorum",  "disabled"),
    ("rejected",       "classic", "at_most_once"),
    ("rejected",       "classic", "disabled"),
    ("rejected",       "quorum",  "at_least_once"),
    ("rejected",       "quorum",  "at_most_once"),
    ("rejected",       "quorum",  "disabled"),
];

type Key = (&'static str, &'static str, &'static str);

/// A fresh scrape of `/metrics` (the sampler ticks only when this test says so, and a tick
/// makes the cached body stale).
async fn scrape(b: &TestBroker) -> (String, Scrape) {
    let broker = b.warren().unwrap();
    broker.sampler.sample(broker);
    let r = guard(reqwest::get(format!("{}/metrics", b.metrics_url())))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = guard(r.text()).await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    (text, parsed)
}

/// The dead-letter counters: each of the [`SERIES`] present exactly once, as a counter, and
/// nothing else in these families.
async fn dead_lettered(b: &TestBroker) -> BTreeMap<Key, u64> {
    let (text, s) = scrape(b).await;
    let ours: Vec<_> = s
        .samples
        .iter()
        .filter(|x| x.metric.starts_with(PREFIX))
        .collect();
    assert_eq!(ours.len(), SERIES.len(), "{ours:#?}");
    let mut out = BTreeMap::new();
    for key @ (family, queue_type, strategy) in SERIES {
        let metric = format!("{PREFIX}{family}_total");
        let found: Vec<_> = ours
            .iter()
            .filter(|x| {
                x.metric == metric
                    && x.labels.get("queue_type") == Some(&format!("rabbit_{queue_type}_queue"))
                    && x.labels.get("dead_letter_strategy") == Some(strategy)
            })
            .collect();
        assert_eq!(found.len(), 1, "{key:?}: {found:?}");
        let Value::Counter(v) = found[0].value else {
            panic!("{metric} is not a counter: {:?}", found[0].value);
        };
        assert!(
            text.contains(&format!("# TYPE {metric} counter\n")),
            "{metric}: no TYPE counter line"
        );
        out.insert(key, v as u64);
    }
    out
}

/// `expected` with every other series at zero.
fn only(expected: &[(Key, u64)]) -> BTreeMap<Key, u64> {
    let mut all: BTreeMap<Key, u64> = SERIES.iter().map(|&k| (k, 0)).collect();
    for &(key, v) in expected {
        assert!(all.insert(key, v).is_some(), "{key:?} is not a series");
    }
    all
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

async fn declare(ch: &Channel, name: &str, opts: QueueDeclareOptions, args: FieldTable) {
    guard(ch.queue_declare(name.into(), opts, args))
        .await
        .unwrap();
}

/// A classic queue with `args`.
async fn classic(ch: &Channel, test: &str, args: &[(&str, AMQPValue)]) -> String {
    let name = unique(test);
    declare(ch, &name, QueueDeclareOptions::default(), table(args)).await;
    name
}

/// A quorum queue with `args`.
async fn quorum_queue(ch: &Channel, test: &str, args: &[(&str, AMQPValue)]) -> String {
    let name = unique(test);
    declare(ch, &name, DURABLE, quorum_args(args)).await;
    name
}

/// A fanout exchange bound to `queues`.
async fn fanout(ch: &Channel, test: &str, queues: &[&str]) -> String {
    let name = unique(test);
    guard(ch.exchange_declare(
        name.as_str().into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for q in queues {
        guard(ch.queue_bind(
            (*q).into(),
            name.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    name
}

/// Publishes to `queue` on a confirm channel; true when acked, false when nacked.
async fn publish(ch: &Channel, queue: &str, props: BasicProperties) -> bool {
    let confirm = guard(ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        b"m",
        props,
    ))
    .await
    .unwrap();
    guard(confirm).await.unwrap().is_ack()
}

async fn publish_n(ch: &Channel, queue: &str, n: usize) {
    for _ in 0..n {
        assert!(publish(ch, queue, BasicProperties::default()).await);
    }
}

/// How a message taken with basic.get is given back.
#[derive(Clone, Copy)]
enum Settle {
    Nack { requeue: bool },
    Reject,
}

/// Takes `n` messages from `queue` with basic.get and settles each with `how`; then, as
/// the channel handles its methods in order, a basic.get answers once they are settled:
/// it must find the queue empty (the messages left it).
async fn take_and_settle(ch: &Channel, queue: &str, n: usize, how: Settle) {
    for _ in 0..n {
        let m = guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: false }))
            .await
            .unwrap()
            .expect("a message to settle");
        let tag = m.delivery.delivery_tag;
        match how {
            Settle::Nack { requeue } => guard(ch.basic_nack(
                tag,
                BasicNackOptions {
                    multiple: false,
                    requeue,
                },
            ))
            .await
            .unwrap(),
            Settle::Reject => guard(ch.basic_reject(tag, BasicRejectOptions { requeue: false }))
                .await
                .unwrap(),
        }
    }
    assert_empty(ch, queue).await;
}

async fn assert_empty(ch: &Channel, queue: &str) {
    let got = guard(ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap();
    assert!(got.is_none(), "{queue} still has a message");
}

const DROP: Settle = Settle::Nack { requeue: false };

fn long(v: &str) -> AMQPValue {
    s(v)
}

#[tokio::test]
async fn classic_queues_count_each_reason_by_strategy() {
    skip_if_external!();
    let b = TestBroker::start().await;
    b.warren().unwrap().sampler.set_manual(true);
    assert_eq!(dead_lettered(&b).await, only(&[]));
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let target = classic(&ch, "dl-target", &[]).await;
    let also = classic(&ch, "dl-also", &[]).await;
    let dlx = fanout(&ch, "dlx", &[&target]).await;
    let dlx_two = fanout(&ch, "dlx-two", &[&target, &also]).await;
    let nowhere = fanout(&ch, "dlx-nowhere", &[]).await;
    let missing = unique("dlx-missing");
    let to = |x: &str| ("x-dead-letter-exchange", long(x));

    // rejected: no dead-letter exchange (nack and reject), one (two messages), one routing
    // to two queues, one routing nowhere, one that does not exist.
    let q = classic(&ch, "dl-rej-none", &[]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let q2 = classic(&ch, "dl-rej-none2", &[]).await;
    publish_n(&ch, &q2, 1).await;
    take_and_settle(&ch, &q2, 1, Settle::Reject).await;
    let q = classic(&ch, "dl-rej-dlx", &[to(&dlx)]).await;
    publish_n(&ch, &q, 2).await;
    take_and_settle(&ch, &q, 2, DROP).await;
    let q = classic(&ch, "dl-rej-two", &[to(&dlx_two)]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, Settle::Reject).await;
    let q = classic(&ch, "dl-rej-nowhere", &[to(&nowhere)]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let q = classic(&ch, "dl-rej-missing", &[to(&missing)]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    // A requeued message is not dead-lettered: the next basic.get has it again.
    let q = classic(&ch, "dl-requeue", &[to(&dlx)]).await;
    publish_n(&ch, &q, 1).await;
    let m = guard(ch.basic_get(q.as_str().into(), BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .expect("the message");
    let requeue = BasicNackOptions {
        multiple: false,
        requeue: true,
    };
    guard(ch.basic_nack(m.delivery.delivery_tag, requeue))
        .await
        .unwrap();
    let again = guard(ch.basic_get(q.as_str().into(), BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .expect("the requeued message");
    assert!(again.delivery.redelivered);

    // expired: TTL 0 and nobody waiting expires on arrival; a queue TTL, a message's own
    // expiration, and an expiry that dead-letters back into its own queue (a cycle: the
    // copy is dropped, the message counted once).
    let q = classic(&ch, "dl-ttl-none", &[("x-message-ttl", int(0))]).await;
    publish_n(&ch, &q, 2).await;
    let q = classic(&ch, "dl-ttl-msg", &[]).await;
    assert!(
        publish(
            &ch,
            &q,
            BasicProperties::default().with_expiration("0".into())
        )
        .await
    );
    let q = classic(&ch, "dl-ttl-dlx", &[("x-message-ttl", int(0)), to(&dlx)]).await;
    publish_n(&ch, &q, 1).await;
    let cycle = unique("dl-ttl-cycle");
    let args = [
        ("x-message-ttl", int(0)),
        to(""),
        ("x-dead-letter-routing-key", long(&cycle)),
    ];
    declare(&ch, &cycle, QueueDeclareOptions::default(), table(&args)).await;
    publish_n(&ch, &cycle, 2).await;

    // maxlen: drop-head without and with a dead-letter exchange, reject-publish-dlx
    // (the refused message is the one dead-lettered) without and with one; reject-publish
    // dead-letters nothing.
    let q = classic(&ch, "dl-max-none", &[("x-max-length", int(1))]).await;
    publish_n(&ch, &q, 3).await;
    let q = classic(&ch, "dl-max-dlx", &[("x-max-length", int(1)), to(&dlx)]).await;
    publish_n(&ch, &q, 2).await;
    for (name, with_dlx) in [("dl-rpdlx-none", false), ("dl-rpdlx-dlx", true)] {
        let mut args = vec![
            ("x-max-length", int(1)),
            ("x-overflow", long("reject-publish-dlx")),
        ];
        if with_dlx {
            args.push(to(&dlx));
        }
        let q = classic(&ch, name, &args).await;
        assert!(publish(&ch, &q, BasicProperties::default()).await);
        assert!(!publish(&ch, &q, BasicProperties::default()).await);
    }
    let args = [
        ("x-max-length", int(1)),
        ("x-overflow", long("reject-publish")),
        to(&dlx),
    ];
    let q = classic(&ch, "dl-rp", &args).await;
    assert!(publish(&ch, &q, BasicProperties::default()).await);
    assert!(!publish(&ch, &q, BasicProperties::default()).await);

    // Purging and deleting dead-letter nothing.
    let q = classic(&ch, "dl-purge", &[to(&dlx)]).await;
    publish_n(&ch, &q, 2).await;
    guard(ch.queue_purge(q.as_str().into(), Default::default()))
        .await
        .unwrap();
    guard(ch.queue_delete(q.as_str().into(), Default::default()))
        .await
        .unwrap();

    // The copies that reached the target: rejected 2 + 1, expired 1, maxlen 1 + 1.
    assert_eq!(message_count(&ch, &target).await, 6);
    assert_eq!(message_count(&ch, &also).await, 1);
    assert_eq!(
        dead_lettered(&b).await,
        only(&[
            (("rejected", "classic", "disabled"), 3),
            (("rejected", "classic", "at_most_once"), 4),
            (("expired", "classic", "disabled"), 3),
            (("expired", "classic", "at_most_once"), 3),
            (("maxlen", "classic", "disabled"), 3),
            (("maxlen", "classic", "at_most_once"), 2),
        ])
    );
}

#[tokio::test]
async fn quorum_queues_count_delivery_limits_and_at_least_once_confirmations() {
    skip_if_external!();
    let b = TestBroker::start().await;
    b.warren().unwrap().sampler.set_manual(true);
    let (_conn, ch) = b.lapin_confirm_channel().await;
    let target = classic(&ch, "dlq-target", &[]).await;
    let dlx = fanout(&ch, "dlx", &[&target]).await;
    let nowhere = fanout(&ch, "dlx-nowhere", &[]).await;
    let missing = unique("dlx-missing");
    let to = |x: &str| ("x-dead-letter-exchange", long(x));
    let at_least_once = |x: &str| {
        vec![
            to(x),
            ("x-dead-letter-strategy", long("at-least-once")),
            ("x-overflow", long("reject-publish")),
        ]
    };
    let requeue = Settle::Nack { requeue: true };

    // delivery_limit: a limit of 0 dead-letters a message at its first return.
    let limit = || ("x-delivery-limit", int(0));
    let q = quorum_queue(&ch, "dlq-limit-none", &[limit()]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, requeue).await;
    let q = quorum_queue(&ch, "dlq-limit-dlx", &[limit(), to(&dlx)]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, requeue).await;
    let mut args = at_least_once(&dlx);
    args.push(limit());
    let q = quorum_queue(&ch, "dlq-limit-alo", &args).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, requeue).await;

    // rejected: no dead-letter exchange, a missing one (at most once: disabled), one.
    let q = quorum_queue(&ch, "dlq-rej-none", &[]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let q = quorum_queue(&ch, "dlq-rej-missing", &[to(&missing)]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let q = quorum_queue(&ch, "dlq-rej-dlx", &[to(&dlx)]).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, Settle::Reject).await;
    // At least once: confirmed when the target queue takes the copy; never confirmed
    // when the exchange routes nowhere or is missing (still at least once); no exchange
    // disables it; with drop-head it falls back to at most once.
    let q = quorum_queue(&ch, "dlq-rej-alo", &at_least_once(&dlx)).await;
    publish_n(&ch, &q, 2).await;
    take_and_settle(&ch, &q, 2, DROP).await;
    let q = quorum_queue(&ch, "dlq-rej-alo-nowhere", &at_least_once(&nowhere)).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let q = quorum_queue(&ch, "dlq-rej-alo-missing", &at_least_once(&missing)).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let args = [
        ("x-dead-letter-strategy", long("at-least-once")),
        ("x-overflow", long("reject-publish")),
    ];
    let q = quorum_queue(&ch, "dlq-rej-alo-nodlx", &args).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;
    let args = [to(&dlx), ("x-dead-letter-strategy", long("at-least-once"))];
    let q = quorum_queue(&ch, "dlq-rej-alo-drophead", &args).await;
    publish_n(&ch, &q, 1).await;
    take_and_settle(&ch, &q, 1, DROP).await;

    // expired: TTL 0 with nobody waiting, by strategy.
    let ttl = || ("x-message-ttl", int(0));
    let q = quorum_queue(&ch, "dlq-ttl-none", &[ttl()]).await;
    publish_n(&ch, &q, 1).await;
    let q = quorum_queue(&ch, "dlq-ttl-dlx", &[ttl(), to(&dlx)]).await;
    publish_n(&ch, &q, 1).await;
    let mut args = at_least_once(&dlx);
    args.push(ttl());
    let q = quorum_queue(&ch, "dlq-ttl-alo", &args).await;
    publish_n(&ch, &q, 1).await;

    // maxlen: drop-head without and with a dead-letter exchange; reject-publish-dlx acts as
    // drop-head on a quorum queue.
    let max = || ("x-max-length", int(1));
    let q = quorum_queue(&ch, "dlq-max-none", &[max()]).await;
    publish_n(&ch, &q, 2).await;
    let q = quorum_queue(&ch, "dlq-max-dlx", &[max(), to(&dlx)]).await;
    publish_n(&ch, &q, 2).await;
    let args = [max(), ("x-overflow", long("reject-publish-dlx")), to(&dlx)];
    let q = quorum_queue(&ch, "dlq-max-rpdlx", &args).await;
    publish_n(&ch, &q, 2).await;

    // Copies in the target: delivery_limit 2, rejected 1 + 2 + 1, expired 2, maxlen 2.
    assert_eq!(message_count(&ch, &target).await, 10);
    assert_eq!(
        dead_lettered(&b).await,
        only(&[
            (("confirmed", "quorum", "at_least_once"), 4),
            (("delivery_limit", "quorum", "disabled"), 1),
            (("delivery_limit", "quorum", "at_most_once"), 1),
            (("delivery_limit", "quorum", "at_least_once"), 1),
            (("rejected", "quorum", "disabled"), 3),
            (("rejected", "quorum", "at_most_once"), 2),
            (("rejected", "quorum", "at_least_once"), 4),
            (("expired", "quorum", "disabled"), 1),
            (("expired", "quorum", "at_most_once"), 1),
            (("expired", "quorum", "at_least_once"), 1),
            (("maxlen", "quorum", "disabled"), 1),
            (("maxlen", "quorum", "at_most_once"), 2),
        ])
    );
}
