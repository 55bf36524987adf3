//! Unit and property tests for the codec (the generated method strategies live in the
//! crate, so the method round-trip properties run here).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use super::generated_strategies::any_method;
use super::test_support::Flavor;
use super::*;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

proptest! {
    #[test]
    fn every_method_round_trips(method in any_method(Flavor::Any)) {
        let mut out = BytesMut::new();
        method.encode(&mut out);
        prop_assert_eq!(out.len(), method.encoded_len());
        let decoded = Method::decode(out.freeze()).unwrap();
        prop_assert_eq!(decoded, method);
    }

    #[test]
    fn properties_round_trip(props in Flavor::Any.properties()) {
        let raw = props.to_raw();
        prop_assert_eq!(raw.len(), props.encoded_len());
        prop_assert_eq!(BasicProperties::decode(&raw).unwrap(), props);
    }
}

#[test]
fn basic_publish_bits_pack_into_one_octet() {
    let m = Method::from(BasicPublish {
        ticket: 0,
        exchange: "ex".into(),
        routing_key: "rk".into(),
        mandatory: false,
        immediate: true,
    });
    let mut out = BytesMut::new();
    m.encode(&mut out);
    assert_eq!(&out[..], b"\x00\x3c\x00\x28\x00\x00\x02ex\x02rk\x02");
    assert_eq!(m.name(), "basic.publish");
    assert!(m.has_content());
    assert!(!m.is_synchronous());
    assert_eq!(method_name(60, 40), Some("basic.publish"));
    assert_eq!(
        Method::decode(Bytes::from_static(b"\x00\x3c")),
        Err(DecodeError::MethodFrameTooShort { len: 2 })
    );
}

#[test]
fn read_frame_waits_for_whole_frame_and_leaves_buffer_untouched() {
    let mut whole = BytesMut::new();
    write_method_frame(&mut whole, 3, &Method::from(TxSelect));
    for cut in 0..whole.len() {
        let mut partial = BytesMut::from(&whole[..cut]);
        assert_eq!(read_frame(&mut partial, 4096), Ok(None), "cut at {cut}");
        assert_eq!(&partial[..], &whole[..cut]);
    }
    let mut buf = whole.clone();
    buf.extend_from_slice(b"\x08");
    let frame = read_frame(&mut buf, 4096).unwrap().unwrap();
    assert_eq!(frame.frame_type, FrameType::Method);
    assert_eq!(frame.channel, 3);
    assert_eq!(&frame.payload[..], b"\x00\x5a\x00\x0a");
    assert_eq!(&buf[..], b"\x08");
}

#[test]
fn read_frame_rejects_oversize_before_payload_arrives_and_unknown_types_after() {
    let mut buf = BytesMut::from(&b"\x09\x00\x01\x00\x00\x00\x03"[..]);
    assert_eq!(read_frame(&mut buf, 4096), Ok(None));
    buf.extend_from_slice(b"abc\xce");
    let err = read_frame(&mut buf, 4096).unwrap_err();
    assert_eq!(
        err,
        FrameError::UnknownFrameType {
            frame_type: 9,
            octets: b"abc".to_vec()
        }
    );
    assert_eq!(
        err.to_string(),
        "type 9, all octets = <<\"abc\">>: unknown_frame"
    );
    // RabbitMQ's 8-byte leniency: payload == frame_max passes, frame_max + 1 does not.
    let mut buf = BytesMut::from(&b"\x03\x00\x01\x00\x00\x10\x00"[..]);
    assert_eq!(read_frame(&mut buf, 4096), Ok(None));
    let mut buf = BytesMut::from(&b"\x03\x00\x01\x00\x00\x10\x01"[..]);
    let err = read_frame(&mut buf, 4096).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLarge {
            frame_type: 3,
            size: 4097,
            max: 4088
        }
    );
    assert_eq!(
        err.to_string(),
        "type 3, all octets = <<>>: {frame_too_large,4097,4088}"
    );
    assert_eq!(err.reply_code(), ReplyCode::FrameError);
}

#[test]
fn read_frame_checks_end_octet() {
    let mut buf = BytesMut::from(&b"\x08\x00\x00\x00\x00\x00\x00\x00"[..]);
    assert_eq!(
        read_frame(&mut buf, 4096),
        Err(FrameError::BadFrameEnd {
            frame_type: 8,
            octets: Vec::new(),
            found: 0
        })
    );
    let mut buf = BytesMut::new();
    write_heartbeat_frame(&mut buf);
    assert_eq!(&buf[..], b"\x08\x00\x00\x00\x00\x00\x00\xce");
    let frame = read_frame(&mut buf, 4096).unwrap().unwrap();
    assert_eq!(frame.frame_type, FrameType::Heartbeat);
    assert!(frame.payload.is_empty() && buf.is_empty());
}

#[test]
fn content_header_frame_round_trips() {
    let props = BasicProperties {
        delivery_mode: Some(2),
        expiration: Some("60000".into()),
        user_id: Some("guest".into()),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    write_content_header_frame(&mut buf, 1, CLASS_BASIC, 5, &props.to_raw());
    let frame = read_frame(&mut buf, 4096).unwrap().unwrap();
    assert_eq!(frame.frame_type, FrameType::Header);
    let header = ContentHeader::decode(frame.payload).unwrap();
    assert_eq!(
        (header.class_id, header.weight, header.body_size),
        (60, 0, 5)
    );
    assert_eq!(header.properties().unwrap(), props);
    let summary = summarize_properties(&header.raw_properties).unwrap();
    assert_eq!(
        summary,
        PropertySummary {
            delivery_mode: Some(2),
            priority: None,
            expiration: Some("60000".into()),
            user_id: Some("guest".into()),
            has_headers: false,
        }
    );
}

proptest! {
    #[test]
    fn a_detached_table_equals_the_original_and_shares_no_buffer(table in Flavor::Any.table()) {
        let mut out = BytesMut::new();
        write_table(&mut out, &table);
        let mut input = out.freeze();
        let read = read_table(&mut input).unwrap();
        let detached = read.detached();
        prop_assert_eq!(&detached, &table);
        for ((k1, _), (k2, _)) in read.iter().zip(detached.iter()) {
            prop_assert!(k1.is_empty() || k1.as_bytes().as_ptr() != k2.as_bytes().as_ptr());
        }
    }

    #[test]
    fn tables_round_trip(table in Flavor::Any.table()) {
        let mut out = BytesMut::new();
        write_table(&mut out, &table);
        prop_assert_eq!(out.len(), table_encoded_len(&table));
        let mut input = out.freeze();
        prop_assert_eq!(read_table(&mut input).unwrap(), table);
        prop_assert!(input.is_empty());
    }

    #[test]
    fn the_table_walker_agrees_with_the_decoder(
        table in Flavor::Any.table(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut raw = BytesMut::new();
        write_table(&mut raw, &table);
        let mut corrupted = raw.to_vec();
        let at = flip.index(corrupted.len());
        corrupted[at] = byte;
        let cut = cut.index(corrupted.len() + 1);
        for bytes in [raw.to_vec(), corrupted.clone(), corrupted[..cut].to_vec()] {
            let mut decoded = Bytes::from(bytes.clone());
            let mut walked = Bytes::from(bytes);
            let decode = read_table(&mut decoded);
            let walk = field_table::skip_table(&mut walked);
            prop_assert_eq!(decode.as_ref().err(), walk.as_ref().err());
            if decode.is_ok() {
                prop_assert_eq!(decoded.len(), walked.len());
            }
        }
    }

    #[test]
    fn frames_round_trip(
        channel in any::<u16>(),
        method in any_method(Flavor::Any),
        body in prop::collection::vec(any::<u8>(), 0..100),
        props in Flavor::Any.properties(),
    ) {
        let mut buf = BytesMut::new();
        write_method_frame(&mut buf, channel, &method);
        write_content_header_frame(&mut buf, channel, CLASS_BASIC, body.len() as u64, &props.to_raw());
        write_body_frame(&mut buf, channel, &body);
        write_heartbeat_frame(&mut buf);
        let frame_max = 131_072;
        let f = read_frame(&mut buf, frame_max).unwrap().unwrap();
        prop_assert_eq!((f.frame_type, f.channel), (FrameType::Method, channel));
        prop_assert_eq!(Method::decode(f.payload).unwrap(), method);
        let f = read_frame(&mut buf, frame_max).unwrap().unwrap();
        prop_assert_eq!((f.frame_type, f.channel), (FrameType::Header, channel));
        let header = ContentHeader::decode(f.payload).unwrap();
        prop_assert_eq!(header.body_size, body.len() as u64);
        prop_assert_eq!(header.properties().unwrap(), props.clone());
        let summary = summarize_properties(&header.raw_properties).unwrap();
        prop_assert_eq!(summary.delivery_mode, props.delivery_mode);
        prop_assert_eq!(summary.expiration, props.expiration);
        prop_assert_eq!(summary.has_headers, props.headers.is_some());
        let f = read_frame(&mut buf, frame_max).unwrap().unwrap();
        prop_assert_eq!((f.frame_type, &f.payload[..]), (FrameType::Body, &body[..]));
        let f = read_frame(&mut buf, frame_max).unwrap().unwrap();
        prop_assert_eq!((f.frame_type, f.channel, f.payload.len()), (FrameType::Heartbeat, 0, 0));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let bytes = Bytes::from(data.clone());
        let _ = read_frame(&mut BytesMut::from(&data[..]), 4096);
        let _ = Method::decode(bytes.clone());
        let _ = read_table(&mut bytes.clone());
        let _ = ContentHeader::decode(bytes.clone());
        let _ = BasicProperties::decode(&bytes);
        let _ = summarize_properties(&bytes);
        prop_assert_eq!(fuzz::decode_all(&data).roundtrip_failures, 0);
    }

    #[test]
    fn method_args_with_garbage_never_panic(
        class_method in prop::sample::select(vec![(10u16, 10u16), (10, 11), (50, 10), (40, 10), (60, 20), (60, 40), (60, 60), (60, 120), (85, 10)]),
        args in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        // Valid ids followed by random arguments reach every argument decoder.
        let mut payload = BytesMut::new();
        payload.extend_from_slice(&class_method.0.to_be_bytes());
        payload.extend_from_slice(&class_method.1.to_be_bytes());
        payload.extend_from_slice(&args);
        if let Err(e) = Method::decode(payload.freeze()) {
            prop_assert_eq!((e.class_id(), e.method_id()), class_method);
            prop_assert_eq!(e.reply_code(), ReplyCode::FrameError);
        }
    }

    #[test]
    fn corrupted_valid_methods_never_panic(method in any_method(Flavor::Any), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut out = BytesMut::new();
        method.encode(&mut out);
        let i = flip.index(out.len());
        out[i] = byte;
        let _ = Method::decode(out.clone().freeze());
        let cut = flip.index(out.len());
        let _ = Method::decode(out.freeze().slice(..cut));
    }
}

#[test]
fn table_with_every_type_code_decodes_to_expected_values() {
    let mut raw = Vec::new();
    let mut entry = |key: &str, code: u8, value: &[u8]| {
        raw.push(key.len() as u8);
        raw.extend_from_slice(key.as_bytes());
        raw.push(code);
        raw.extend_from_slice(value);
    };
    entry("t", b't', &[1]);
    entry("b", b'b', &[0xff]);
    entry("B", b'B', &[0xff]);
    entry("s", b's', &[0xff, 0xfe]);
    entry("u", b'u', &[0xff, 0xfe]);
    entry("I", b'I', &[0xff, 0xff, 0xff, 0xfe]);
    entry("i", b'i', &[0xff, 0xff, 0xff, 0xfe]);
    entry("l", b'l', &[0xff; 8]);
    entry("f", b'f', &1.5f32.to_be_bytes());
    entry("d", b'd', &(-2.25f64).to_be_bytes());
    entry("D", b'D', &[2, 0, 0, 0x01, 0x00]);
    entry("S", b'S', b"\x00\x00\x00\x03abc");
    entry("x", b'x', b"\x00\x00\x00\x02\x00\xff");
    entry("A", b'A', b"\x00\x00\x00\x03B\x07V");
    entry("T", b'T', &1_700_000_000u64.to_be_bytes());
    entry("F", b'F', b"\x00\x00\x00\x03\x01kV");
    entry("V", b'V', &[]);
    let mut input = BytesMut::new();
    input.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    input.extend_from_slice(&raw);
    let mut input = input.freeze();
    let table = read_table(&mut input).unwrap();
    assert!(input.is_empty());
    use FieldValue as V;
    let expected = vec![
        V::Bool(true),
        V::I8(-1),
        V::U8(255),
        V::I16(-2),
        V::U16(0xfffe),
        V::I32(-2),
        V::U32(0xffff_fffe),
        V::I64(-1),
        V::F32(1.5),
        V::F64(-2.25),
        V::Decimal {
            scale: 2,
            value: 256,
        },
        V::LongStr(Bytes::from_static(b"abc")),
        V::ByteArray(Bytes::from_static(b"\x00\xff")),
        V::Array(vec![V::U8(7), V::Void]),
        V::Timestamp(1_700_000_000),
        V::Table(FieldTable(vec![("k".into(), V::Void)])),
        V::Void,
    ];
    let values: Vec<FieldValue> = table.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(values, expected);
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(keys.concat(), "tbBsuIilfdDSxATFV");
    // Re-encoding gives back the exact bytes.
    let mut out = BytesMut::new();
    write_table(&mut out, &table);
    assert_eq!(&out[4..], &raw[..]);
}

#[test]
fn tables_keep_order_and_duplicates() {
    let table = FieldTable(vec![
        ("z".into(), FieldValue::U8(1)),
        ("a".into(), FieldValue::U8(2)),
        ("z".into(), FieldValue::U8(3)),
    ]);
    let mut out = BytesMut::new();
    write_table(&mut out, &table);
    assert_eq!(read_table(&mut out.freeze()).unwrap(), table);
    assert_eq!(table.get("z"), Some(&FieldValue::U8(1)));
}

#[test]
fn table_errors() {
    let decode = |raw: &'static [u8]| read_table(&mut Bytes::from_static(raw));
    assert_eq!(
        decode(b"\x00\x00\x00\x03\x01kZ"),
        Err(DecodeError::BadFieldType {
            class_id: 0,
            method_id: 0,
            type_code: b'Z'
        })
    );
    assert!(matches!(
        decode(b"\x00\x00\x00\x03\x01kI"),
        Err(DecodeError::Truncated { .. })
    ));
    // A length prefix larger than the input is rejected without allocating for it.
    assert!(matches!(
        decode(b"\xff\xff\xff\xff\x01k"),
        Err(DecodeError::Truncated { .. })
    ));
    // Nesting has no limit: levels below MAX_DEPTH are kept undecoded and re-encode to
    // the same bytes; 100,000 levels neither overflow the stack nor fail.
    let nested = |levels: usize, code: u8| {
        let mut inner = BytesMut::from(&b"\x00\x00\x00\x00"[..]);
        for _ in 1..levels {
            let mut outer = BytesMut::new();
            let entry: &[u8] = if code == b'F' { b"\x01kF" } else { b"\x01kA" };
            let mut body = entry.to_vec();
            if code == b'A' {
                // An array of arrays, inside a one-entry table at the top.
                body = b"A".to_vec();
            }
            outer.extend_from_slice(&((inner.len() + body.len()) as u32).to_be_bytes());
            outer.extend_from_slice(&body);
            outer.extend_from_slice(&inner);
            inner = outer;
        }
        let mut top = BytesMut::new();
        top.extend_from_slice(&((inner.len() + 3) as u32).to_be_bytes());
        top.extend_from_slice(&[1, b'k', code]);
        top.extend_from_slice(&inner);
        top.freeze()
    };
    for code in [b'F', b'A'] {
        for levels in [
            field_table::MAX_DEPTH - 1,
            field_table::MAX_DEPTH + 1,
            100_000,
        ] {
            let raw = nested(levels, code);
            let table = read_table(&mut raw.clone()).unwrap();
            let mut out = BytesMut::new();
            write_table(&mut out, &table);
            assert_eq!(out.freeze(), raw, "{levels} levels of {}", code as char);
            let mut skipped = raw.clone();
            field_table::skip_table(&mut skipped).unwrap();
            assert!(skipped.is_empty());
        }
    }
    // The deepest decoded level holds the rest as bytes.
    let mut value = &read_table(&mut nested(100, b'F')).unwrap().0[0].1;
    let mut depth = 1;
    while let FieldValue::Table(t) = value {
        value = &t.0[0].1;
        depth += 1;
    }
    assert_eq!(depth, field_table::MAX_DEPTH);
    assert!(matches!(
        value,
        FieldValue::Undecoded {
            type_code: b'F',
            ..
        }
    ));
    // Truncation deep inside is still found.
    let raw = nested(1000, b'A');
    let cut = raw.slice(..raw.len() - 1);
    let mut whole = BytesMut::new();
    whole.extend_from_slice(&((cut.len() - 4) as u32).to_be_bytes());
    whole.extend_from_slice(&cut[4..]);
    assert!(matches!(
        read_table(&mut whole.freeze()),
        Err(DecodeError::Truncated { .. })
    ));
}
