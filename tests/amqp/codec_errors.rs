//! Malformed input maps to the reply codes RabbitMQ 3.10.8 answers with (probed with a raw
//! socket; see `src/protocol/error.rs` for the table), carrying class and method ids.

use bytes::{Bytes, BytesMut};
use warren::protocol::*;

fn method_payload(class_id: u16, method_id: u16, args: &[u8]) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(&class_id.to_be_bytes());
    out.extend_from_slice(&method_id.to_be_bytes());
    out.extend_from_slice(args);
    Bytes::from(out)
}

fn header_payload(class_id: u16, weight: u16, props: &[u8]) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(&class_id.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(props);
    Bytes::from(out)
}

#[test]
fn frame_errors_are_501() {
    let mut unknown = BytesMut::from(&b"\x09\x00\x01\x00\x00\x00\x03abc\xce"[..]);
    let err = read_frame(&mut unknown, 131_072).unwrap_err();
    assert_eq!(
        err.to_string(),
        "type 9, all octets = <<\"abc\">>: unknown_frame"
    );
    assert_eq!(err.reply_code().code(), 501);

    // RabbitMQ: payload 131073 with frame_max 131072 -> {frame_too_large,131073,131064}.
    let mut oversize = BytesMut::from(&b"\x03\x00\x01\x00\x02\x00\x01"[..]);
    let err = read_frame(&mut oversize, 131_072).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLarge {
            frame_type: 3,
            size: 131_073,
            max: 131_064
        }
    );
    assert_eq!(
        err.to_string(),
        "type 3, all octets = <<>>: {frame_too_large,131073,131064}"
    );
    assert_eq!(err.reply_code().code(), 501);

    let mut bad_end = BytesMut::from(&b"\x01\x00\x01\x00\x00\x00\x04\x00\x5a\x00\x0a\x00"[..]);
    let err = read_frame(&mut bad_end, 131_072).unwrap_err();
    assert_eq!(
        err.to_string(),
        "type 1, all octets = <<0,90,0,10>>: {invalid_frame_end_marker,0}"
    );
    assert_eq!(err.reply_code().code(), 501);
}

#[test]
fn unknown_methods_are_540_with_ids() {
    for (class_id, method_id) in [(99, 10), (60, 999), (30, 20)] {
        let err = Method::decode(method_payload(class_id, method_id, b"")).unwrap_err();
        assert_eq!(
            err,
            DecodeError::UnknownMethod {
                class_id,
                method_id
            }
        );
        assert_eq!(err.reply_code(), ReplyCode::NotImplemented);
        assert_eq!((err.class_id(), err.method_id()), (class_id, method_id));
        assert_eq!(method_name(class_id, method_id), None);
    }
}

#[test]
fn short_method_payload_is_501() {
    let err = Method::decode(Bytes::from_static(b"\x00\x3c")).unwrap_err();
    assert_eq!(err, DecodeError::MethodFrameTooShort { len: 2 });
    assert_eq!(err.reply_code().code(), 501);
    assert_eq!((err.class_id(), err.method_id()), (0, 0));
}

#[test]
fn truncated_and_trailing_arguments_are_501_with_ids() {
    // RabbitMQ: "FRAME_ERROR - cannot decode <<0,0,5,97,98>>", class 50, method 10.
    let err = Method::decode(method_payload(50, 10, b"\x00\x00\x05ab")).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Truncated {
            class_id: 50,
            method_id: 10,
            ..
        }
    ));
    assert_eq!(err.reply_code().code(), 501);

    // RabbitMQ: "FRAME_ERROR - cannot decode <<0,0,0,0,0,10,0,122,122>>", class 60, method 10.
    let err =
        Method::decode(method_payload(60, 10, b"\x00\x00\x00\x00\x00\x0a\x00zz")).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TrailingBytes {
            class_id: 60,
            method_id: 10,
            extra: 2
        }
    );
    assert_eq!(err.reply_code().code(), 501);

    // A table length running past the payload: RabbitMQ 501, class 50, method 10.
    let err = Method::decode(method_payload(
        50,
        10,
        b"\x00\x00\x02q1\x00\x00\x00\x00\x64\x01k",
    ))
    .unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Truncated {
            class_id: 50,
            method_id: 10,
            ..
        }
    ));
    assert_eq!(err.reply_code().code(), 501);
}

#[test]
fn bad_field_type_in_method_is_501_with_ids() {
    // RabbitMQ 3.10.8 crashes the connection (TCP reset) here; we close with 501.
    let err = Method::decode(method_payload(
        50,
        10,
        b"\x00\x00\x02q1\x00\x00\x00\x00\x04\x01kZ\x00",
    ))
    .unwrap_err();
    assert_eq!(
        err,
        DecodeError::BadFieldType {
            class_id: 50,
            method_id: 10,
            type_code: b'Z'
        }
    );
    assert_eq!(err.reply_code().code(), 501);
}

#[test]
fn unused_bits_in_a_bit_octet_are_ignored() {
    // RabbitMQ accepts basic.qos with global octet 0xfe and replies qos-ok.
    let m = Method::decode(method_payload(60, 10, b"\x00\x00\x00\x00\x00\x0a\xfe")).unwrap();
    assert_eq!(
        m,
        Method::BasicQos(BasicQos {
            prefetch_size: 0,
            prefetch_count: 10,
            global: false
        })
    );
}

#[test]
fn content_header_errors_match_rabbitmq() {
    // Shorter than 14 bytes: RabbitMQ 501 "unknown_frame".
    let err = ContentHeader::decode(Bytes::from_static(b"\x00\x3c\x00\x00")).unwrap_err();
    assert_eq!(err, DecodeError::ContentHeaderTooShort { len: 4 });
    assert_eq!(err.reply_code().code(), 501);

    // Non-zero weight: RabbitMQ 505 "got non content header frame instead".
    let err = ContentHeader::decode(header_payload(60, 7, b"\x00\x00")).unwrap_err();
    assert_eq!(err.reply_code().code(), 505);
    assert_eq!(err.class_id(), 60);

    // Class without content: RabbitMQ 505 (it expected a class 60 header).
    let err = ContentHeader::decode(header_payload(50, 0, b"\x00\x00")).unwrap_err();
    assert_eq!(err, DecodeError::ContentHeaderClass { class_id: 50 });
    assert_eq!(err.reply_code().code(), 505);

    // Malformed property lists: RabbitMQ's channel crashes, connection closes with 541.
    let cases: [&[u8]; 4] = [
        b"\x80\x00\x05ab",                 // truncated content-type
        b"\x00\x00zz",                     // trailing bytes
        b"\x20\x00\x00\x00\x00\x03\x01kZ", // bad field type in headers
        b"\x00\x01\x00\x00",               // continuation flag
    ];
    for props in cases {
        let err = ContentHeader::decode(header_payload(60, 0, props)).unwrap_err();
        assert_eq!(err.reply_code().code(), 541, "{props:?}: {err}");
        assert_eq!(err.class_id(), 60);
        assert_eq!(
            BasicProperties::decode(&Bytes::copy_from_slice(props)),
            Err(err.clone())
        );
        assert_eq!(
            summarize_properties(&Bytes::copy_from_slice(props)),
            Err(err)
        );
    }

    // Flag bit 1 is ignored, as RabbitMQ does.
    let header = ContentHeader::decode(header_payload(60, 0, b"\x00\x02")).unwrap();
    assert_eq!(header.properties().unwrap(), BasicProperties::default());
}

#[test]
fn content_header_keeps_raw_properties_without_copying() {
    let payload = header_payload(60, 0, b"\x10\x00\x02");
    let header = ContentHeader::decode(payload.clone()).unwrap();
    assert_eq!(&header.raw_properties[..], b"\x10\x00\x02");
    // The raw properties point into the frame payload's buffer.
    let start = payload.as_ptr() as usize + 12;
    assert_eq!(header.raw_properties.as_ptr() as usize, start);
    let summary = summarize_properties(&header.raw_properties).unwrap();
    assert_eq!(summary.delivery_mode, Some(2));
}

#[test]
fn method_strings_slice_the_payload() {
    let payload = method_payload(60, 40, b"\x00\x00\x02ex\x02rk\x00");
    let Method::BasicPublish(publish) = Method::decode(payload.clone()).unwrap() else {
        panic!("not a publish");
    };
    assert_eq!(publish.exchange, "ex");
    assert_eq!(publish.routing_key, "rk");
    assert_eq!(
        publish.routing_key.as_bytes().as_ptr() as usize,
        payload.as_ptr() as usize + 4 + 2 + 3 + 1
    );
}
