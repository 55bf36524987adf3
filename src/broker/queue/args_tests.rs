//! Tests of `args.rs`, pinned to RabbitMQ 3.10.8 behaviour.

use super::*;
use bytes::Bytes;

fn s(v: &str) -> FieldValue {
    FieldValue::LongStr(Bytes::copy_from_slice(v.as_bytes()))
}

fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
    FieldTable(
        entries
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect(),
    )
}

fn parse(entries: &[(&str, FieldValue)]) -> Result<QueueArgs, String> {
    QueueArgs::parse(&table(entries), "q", "/")
}

fn err(entries: &[(&str, FieldValue)]) -> String {
    parse(entries).unwrap_err()
}

fn invalid(key: &str, term: &str) -> String {
    format!("invalid arg '{key}' for queue 'q' in vhost '/': {term}")
}

#[test]
fn every_integer_type_is_accepted() {
    use FieldValue::*;
    for v in [I8(5), U8(5), I16(5), U16(5), I32(5), U32(5), I64(5)] {
        let args = parse(&[("x-max-length", v)]).unwrap();
        assert_eq!(args.max_length, Some(5));
    }
    let args = parse(&[("x-max-length", U32(u32::MAX))]).unwrap();
    assert_eq!(args.max_length, Some(u64::from(u32::MAX)));
    let args = parse(&[("x-max-length", I64(i64::MAX))]).unwrap();
    assert_eq!(args.max_length, Some(i64::MAX as u64));
}

/// Texts observed on RabbitMQ 3.10.8 for x-max-length of each non-integer type.
#[test]
fn non_integers_are_refused_by_type_name() {
    use FieldValue::*;
    let cases = [
        (F32(5.0), "float"),
        (F64(5.0), "double"),
        (
            Decimal {
                scale: 1,
                value: 50,
            },
            "decimal",
        ),
        (s("5"), "longstr"),
        (Bool(true), "bool"),
        (Timestamp(5), "timestamp"),
        (Void, "void"),
        (ByteArray(Bytes::from_static(b"5")), "binary"),
        (Array(vec![]), "array"),
        (Table(FieldTable::new()), "table"),
    ];
    for (v, name) in cases {
        assert_eq!(
            err(&[("x-max-length", v)]),
            invalid("x-max-length", &format!("\"expected integer, got {name}\""))
        );
    }
}

#[test]
fn numeric_ranges_as_rabbitmq() {
    use FieldValue::*;
    let cases: [(&str, FieldValue, &str); 13] = [
        ("x-max-length", I8(-1), "{value_negative,-1}"),
        (
            "x-max-length",
            I64(i64::MIN),
            "{value_negative,-9223372036854775808}",
        ),
        ("x-max-length-bytes", I32(-3), "{value_negative,-3}"),
        ("x-message-ttl", I32(-1), "{value_negative,-1}"),
        (
            "x-message-ttl",
            I64(315_360_000_001),
            "{value_too_large,315360000001}",
        ),
        ("x-expires", I32(0), "{value_zero,0}"),
        ("x-expires", I32(-1), "{value_negative,-1}"),
        (
            "x-expires",
            I64(315_360_000_001),
            "{value_too_large,315360000001}",
        ),
        ("x-expires", F64(1.5), "\"expected integer, got double\""),
        ("x-max-priority", I32(256), "{max_value_exceeded,256}"),
        ("x-max-priority", I32(-1), "{value_negative,-1}"),
        (
            "x-max-priority",
            s("5"),
            "\"expected integer, got longstr\"",
        ),
        (
            "x-queue-version",
            I32(3),
            "\"unsupported queue version '3'\"",
        ),
    ];
    for (key, v, term) in cases {
        assert_eq!(err(&[(key, v)]), invalid(key, term), "{key}");
    }
    let ok = parse(&[
        ("x-message-ttl", I32(0)),
        ("x-expires", I32(1)),
        ("x-max-priority", I32(255)),
        ("x-max-length", I64(0)),
        ("x-max-length-bytes", U16(100)),
        ("x-queue-version", I32(2)),
    ])
    .unwrap();
    assert_eq!(ok.message_ttl, Some(0));
    assert_eq!(ok.expires, Some(1));
    assert_eq!(ok.max_priority, Some(255));
    assert_eq!(ok.max_length, Some(0));
    assert_eq!(ok.max_length_bytes, Some(100));
    let ok = parse(&[
        ("x-message-ttl", I64(315_360_000_000)),
        ("x-max-priority", U8(0)),
    ]);
    assert_eq!(ok.unwrap().max_priority, Some(0));
}

#[test]
fn string_and_bool_arguments() {
    use FieldValue::*;
    let cases: [(&str, FieldValue, &str); 11] = [
        ("x-overflow", s("foo"), "invalid_overflow"),
        ("x-overflow", I32(1), "{unacceptable_type,signedint}"),
        (
            "x-overflow",
            ByteArray(Bytes::from_static(b"drop-head")),
            "{unacceptable_type,binary}",
        ),
        (
            "x-dead-letter-routing-key",
            s("k"),
            "routing_key_but_no_dlx_defined",
        ),
        (
            "x-dead-letter-routing-key",
            I32(1),
            "{unacceptable_type,signedint}",
        ),
        (
            "x-single-active-consumer",
            I32(1),
            "{unacceptable_type,signedint}",
        ),
        (
            "x-single-active-consumer",
            s("true"),
            "{unacceptable_type,longstr}",
        ),
        ("x-queue-type", s("foo"), "\"unsupported queue type 'foo'\""),
        ("x-queue-type", I32(1), "{unacceptable_type,signedint}"),
        ("x-queue-mode", s("foo"), "\"unsupported queue mode 'foo'\""),
        ("x-queue-mode", I32(1), "{unacceptable_type,signedint}"),
    ];
    for (key, v, term) in cases {
        assert_eq!(err(&[(key, v)]), invalid(key, term), "{key}");
    }
    for (mode, overflow) in [
        ("drop-head", Overflow::DropHead),
        ("reject-publish", Overflow::RejectPublish),
        ("reject-publish-dlx", Overflow::RejectPublishDlx),
    ] {
        assert_eq!(
            parse(&[("x-overflow", s(mode))]).unwrap().overflow,
            overflow
        );
    }
    let args = parse(&[
        ("x-dead-letter-exchange", s("dlx")),
        ("x-dead-letter-routing-key", s("k")),
        ("x-single-active-consumer", Bool(true)),
        ("x-queue-mode", s("lazy")),
        ("x-queue-type", s("classic")),
    ])
    .unwrap();
    assert_eq!(args.dead_letter_exchange, Some("dlx".into()));
    assert_eq!(args.dead_letter_routing_key, Some("k".into()));
    assert!(args.single_active_consumer);
    assert_eq!(args.queue_type, QueueType::Classic);
    // The default exchange is a valid dead-letter exchange; it need not exist.
    let args = parse(&[("x-dead-letter-exchange", s(""))]).unwrap();
    assert_eq!(args.dead_letter_exchange, Some("".into()));
    // x-dead-letter-routing-key with a DLX of the wrong type: the DLX check comes first.
    assert_eq!(
        err(&[
            ("x-dead-letter-routing-key", s("k")),
            ("x-dead-letter-exchange", I32(1))
        ]),
        "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"
    );
    assert_eq!(
        err(&[(
            "x-dead-letter-exchange",
            ByteArray(Bytes::from_static(b"dlx"))
        )]),
        "invalid type 'binary' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"
    );
}

#[test]
fn unknown_and_foreign_arguments() {
    use FieldValue::*;
    let ok = parse(&[
        ("x-foo", s("bar")),
        ("foo", F64(1.0)),
        ("x-queue-master-locator", I32(1)),
    ]);
    assert_eq!(ok, Ok(QueueArgs::default()));
    for key in ["x-max-age", "x-delivery-limit", "x-dead-letter-strategy"] {
        assert_eq!(
            err(&[(key, s("1D"))]),
            format!(
                "invalid arg '{key}' for queue 'q' in vhost '/' of queue type \
                 rabbit_classic_queue"
            )
        );
    }
}

/// The first failing check in RabbitMQ's order wins, whatever the table order; the first
/// entry of a duplicated key is the one checked.
#[test]
fn check_order() {
    use FieldValue::*;
    assert_eq!(
        err(&[("x-message-ttl", I32(-1)), ("x-expires", I32(0))]),
        invalid("x-expires", "{value_zero,0}")
    );
    assert_eq!(
        err(&[
            ("x-max-length", I32(-1)),
            ("x-dead-letter-exchange", I32(0))
        ]),
        "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"
    );
    assert_eq!(
        err(&[("x-max-age", s("1D")), ("x-max-length", I32(-1))]),
        invalid("x-max-length", "{value_negative,-1}")
    );
    assert_eq!(
        parse(&[("x-max-length", I64(10)), ("x-max-length", I32(-1))])
            .unwrap()
            .max_length,
        Some(10)
    );
    assert_eq!(
        err(&[("x-max-length", I32(-1)), ("x-max-length", I64(10))]),
        invalid("x-max-length", "{value_negative,-1}")
    );
    assert_eq!(
        err(&[("x-queue-mode", s("x")), ("x-queue-type", s("foo"))]),
        invalid("x-queue-type", "\"unsupported queue type 'foo'\"")
    );
}

#[test]
fn quorum_and_stream_types() {
    use FieldValue::*;
    let args = parse(&[("x-queue-type", s("quorum")), ("x-delivery-limit", I32(5))]);
    assert_eq!(args.unwrap().queue_type, QueueType::Quorum);
    assert_eq!(
        err(&[("x-queue-type", s("quorum")), ("x-max-priority", I32(5))]),
        "invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type \
         rabbit_quorum_queue"
    );
    assert_eq!(
        err(&[
            ("x-queue-type", s("quorum")),
            ("x-dead-letter-strategy", s("x"))
        ]),
        invalid("x-dead-letter-strategy", "invalid_dlx_strategy")
    );
    assert_eq!(
        err(&[("x-queue-type", s("stream")), ("x-max-age", s("0D"))]),
        invalid("x-max-age", "invalid_max_age")
    );
    let args = parse(&[("x-queue-type", s("stream")), ("x-max-age", s("7D"))]);
    assert_eq!(args.unwrap().queue_type, QueueType::Stream);
    assert_eq!(
        QueueType::Quorum.check_flags(false, true, false, "q", "/"),
        Err("invalid property 'exclusive-owner' for queue 'q' in vhost '/'".into())
    );
    assert_eq!(
        QueueType::Quorum.check_flags(true, false, true, "q", "/"),
        Err("invalid property 'auto-delete' for queue 'q' in vhost '/'".into())
    );
    assert_eq!(
        QueueType::Stream.check_flags(false, false, false, "q", "/"),
        Err("invalid property 'non-durable' for queue 'q' in vhost '/'".into())
    );
    assert_eq!(
        QueueType::Quorum.check_flags(true, false, false, "q", "/"),
        Ok(())
    );
    assert_eq!(
        QueueType::Classic.check_flags(false, true, true, "q", "/"),
        Ok(())
    );
    assert_eq!(QueueType::Classic.server_named_refusal(), None);
    assert_eq!(
        QueueType::Quorum.server_named_refusal().as_deref(),
        Some("Cannot declare a server-named queue for type rabbit_quorum_queue")
    );
}

/// Texts observed on RabbitMQ 3.10.8 for basic.consume on a classic queue.
#[test]
fn consumer_arguments() {
    use FieldValue::*;
    let prio = |entries: &[(&str, FieldValue)]| {
        consumer_priority(&table(entries), QueueType::Classic, "q", "/")
    };
    assert_eq!(prio(&[]), Ok(0));
    assert_eq!(prio(&[("x-priority", I8(-5))]), Ok(-5));
    assert_eq!(prio(&[("x-priority", I64(1 << 40))]), Ok(i32::MAX));
    assert_eq!(prio(&[("x-priority", U32(u32::MAX))]), Ok(i32::MAX));
    assert_eq!(prio(&[("x-foo", F64(1.0))]), Ok(0));
    assert_eq!(prio(&[("x-cancel-on-ha-failover", Bool(true))]), Ok(0));
    for (v, name) in [
        (s("5"), "longstr"),
        (F64(1.0), "double"),
        (Bool(true), "bool"),
        (Void, "void"),
    ] {
        assert_eq!(
            prio(&[("x-priority", v)]),
            Err(invalid(
                "x-priority",
                &format!("\"expected integer, got {name}\"")
            ))
        );
    }
    assert_eq!(
        prio(&[("x-cancel-on-ha-failover", I32(1))]),
        Err(invalid(
            "x-cancel-on-ha-failover",
            "{unacceptable_type,signedint}"
        ))
    );
    assert_eq!(
        prio(&[("x-stream-offset", s("first"))]),
        Err(
            "invalid arg 'x-stream-offset' for queue 'q' in vhost '/' of queue type \
             rabbit_classic_queue"
                .into()
        )
    );
    // x-priority is checked before the others, whatever the table order.
    assert_eq!(
        prio(&[("x-cancel-on-ha-failover", I32(1)), ("x-priority", s("a"))]),
        Err(invalid("x-priority", "\"expected integer, got longstr\""))
    );
    assert_eq!(
        prio(&[("x-stream-offset", s("first")), ("x-priority", s("a"))]),
        Err(invalid("x-priority", "\"expected integer, got longstr\""))
    );
}

#[test]
fn erlang_strings() {
    assert_eq!(erlang_string(b"abc"), "\"abc\"");
    assert_eq!(erlang_string(b""), "[]");
    assert_eq!(erlang_string(b"a\"b\\c\n\t"), "\"a\\\"b\\\\c\\n\\t\"");
    assert_eq!(erlang_string(b"5\x01"), "[53,1]");
    assert_eq!(erlang_string("é".as_bytes()), "\"é\"");
    assert_eq!(
        erlang_string(b"unsupported queue mode 'a\x01'"),
        "[117,110,115,117,112,112,111,114,116,101,100,32,113,117,101,117,101,32,109,111,\
         100,101,32,39,97,1,39]"
    );
}

#[test]
fn a_quorum_queue_keeps_its_declared_dead_letter_strategy() {
    let quorum = |extra: &[(&str, FieldValue)]| {
        let mut entries = vec![("x-queue-type", s("quorum"))];
        entries.extend(extra.iter().cloned());
        parse(&entries).unwrap()
    };
    assert_eq!(quorum(&[]).dead_letter_strategy, None);
    let at_least_once = quorum(&[("x-dead-letter-strategy", s("at-least-once"))]);
    assert_eq!(
        at_least_once.dead_letter_strategy,
        Some(DeadLetterStrategy::AtLeastOnce)
    );
    assert_eq!(
        at_least_once.limits().dead_letter_strategy,
        DeadLetterStrategy::AtLeastOnce
    );
    assert_eq!(
        quorum(&[("x-dead-letter-strategy", s("at-most-once"))]).dead_letter_strategy,
        Some(DeadLetterStrategy::AtMostOnce)
    );
    assert_eq!(
        QueueArgs::default().limits().dead_letter_strategy,
        DeadLetterStrategy::AtMostOnce
    );
}
