//! Unit and property tests for the codec (the generated method strategies live in the
//! crate, so the method round-trip properties run here).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

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
fn read_frame_rejects_bad_header_before_payload_arrives() {
    let mut buf = BytesMut::from(&b"\x09\x00\x01\x00\x00\x00\x03"[..]);
    assert_eq!(
        read_frame(&mut buf, 4096),
        Err(FrameError::UnknownFrameType { frame_type: 9 })
    );
    // RabbitMQ's 8-byte leniency: payload == frame_max passes, frame_max + 1 does not.
    let mut buf = BytesMut::from(&b"\x03\x00\x01\x00\x00\x10\x00"[..]);
    assert_eq!(read_frame(&mut buf, 4096), Ok(None));
    let mut buf = BytesMut::from(&b"\x03\x00\x01\x00\x00\x10\x01"[..]);
    let err = read_frame(&mut buf, 4096).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLarge {
            size: 4097,
            max: 4088
        }
    );
    assert_eq!(err.reply_code(), ReplyCode::FrameError);
}

#[test]
fn read_frame_checks_end_octet() {
    let mut buf = BytesMut::from(&b"\x08\x00\x00\x00\x00\x00\x00\x00"[..]);
    assert_eq!(
        read_frame(&mut buf, 4096),
        Err(FrameError::BadFrameEnd { found: 0 })
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
