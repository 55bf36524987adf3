//! Malformed input on a raw socket: protocol headers, frame errors, unexpected frames
//! and undecodable method arguments. Codes and class/method ids follow RabbitMQ 3.10.

use crate::common;

use common::TestBroker;
use common::raw::{
    Args, FRAME_BODY, FRAME_HEARTBEAT, Frame, PROTOCOL_HEADER, RawConn, describe, frame,
    header_frame, method_frame, publish_frame,
};

fn queue_declare_args() -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr("x")
        .bits(&[true, false, false, false, false])
        .empty_table()
        .build()
}

fn qos_frame(channel: u16) -> Vec<u8> {
    method_frame(
        channel,
        60,
        10,
        &Args::new().u32(0).u16(0).bits(&[false]).build(),
    )
}

/// Opens a connection with channel 1 open, sends `bytes`, and returns the connection.close.
async fn close_after(bytes: &[u8]) -> common::raw::Close {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send(bytes).await;
    c.expect_connection_close().await
}

async fn header_is_rejected(header: &[u8]) {
    let broker = TestBroker::start().await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(header).await;
    assert_eq!(c.read_to_eof().await, PROTOCOL_HEADER.to_vec());
}

#[tokio::test]
async fn the_amqp_0_9_header_is_accepted_as_0_9_1_like_rabbitmq_does() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(b"AMQP\x01\x01\x00\x09").await;
    let (mut start, _) = c.expect_method(10, 10).await;
    assert_eq!((start.u8(), start.u8()), (0, 9));
}

#[tokio::test]
async fn an_older_amqp_version_header_is_answered_with_0_9_1_and_closed() {
    header_is_rejected(b"AMQP\x00\x00\x08\x00").await;
}

#[tokio::test]
async fn a_wrong_revision_header_is_answered_with_0_9_1_and_closed() {
    header_is_rejected(b"AMQP\x00\x00\x09\x02").await;
}

#[tokio::test]
async fn an_http_request_is_answered_with_the_amqp_header_and_closed() {
    header_is_rejected(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
}

#[tokio::test]
async fn garbage_after_the_handshake_is_a_501_frame_error() {
    let close = close_after(b"ABCDEFGHIJKLMNOP").await;
    assert_eq!(close.code, 501);
    assert!(close.text.starts_with("FRAME_ERROR - "), "{}", close.text);
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_frame_larger_than_frame_max_is_a_501_frame_error() {
    // frame_max 131072 bounds the whole frame (131064 payload bytes), but RabbitMQ
    // tolerates 8 bytes of slack; a payload above frame_max itself is refused by both.
    let payload = vec![0u8; 131_073];
    let close = close_after(&frame(FRAME_BODY, 1, &payload)).await;
    assert_eq!(close.code, 501);
    assert!(close.text.starts_with("FRAME_ERROR - "), "{}", close.text);
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_bad_frame_end_octet_is_a_501_frame_error() {
    let mut bytes = method_frame(1, 50, 10, &queue_declare_args());
    let last = bytes.len() - 1;
    bytes[last] = 0x00;
    let close = close_after(&bytes).await;
    assert_eq!(close.code, 501);
    assert!(close.text.starts_with("FRAME_ERROR - "), "{}", close.text);
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn after_a_framing_error_one_close_is_sent_and_later_input_is_dropped() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send(&frame(7, 1, &[1, 2, 3])).await;
    let (mut r, channel) = c.expect_method(10, 50).await;
    assert_eq!((channel, r.u16()), (0, 501));
    // A client still sending heartbeats, then its close-ok: no second close comes back.
    for _ in 0..3 {
        c.send(&frame(FRAME_HEARTBEAT, 0, &[])).await;
    }
    c.send_method(0, 10, 51, &[]).await;
    c.shutdown_write().await;
    // RabbitMQ resets the socket, Warren closes it; either way nothing more is sent.
    if let Ok(rest) = c.read_until_closed().await {
        assert!(rest.is_empty(), "more frames after the close: {rest:?}");
    }
}

#[tokio::test]
async fn an_unknown_frame_type_is_a_501_frame_error() {
    let close = close_after(&frame(7, 1, b"abc")).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            501,
            "FRAME_ERROR - type 7, all octets = <<\"abc\">>: unknown_frame",
            0,
            0
        )
    );
}

#[tokio::test]
async fn a_body_frame_on_channel_zero_is_a_505_showing_its_octets() {
    let close = close_after(&frame(FRAME_BODY, 0, &[0, 1, 255])).await;
    assert_eq!(
        (close.code, close.text.as_str()),
        (505, "UNEXPECTED_FRAME - type 3, all octets = <<0,1,255>>")
    );
}

#[tokio::test]
async fn truncated_method_arguments_show_the_bytes_rabbitmq_could_not_decode() {
    // queue.declare: ticket 0, then a short string claiming 5 bytes with only 2 there.
    let close = close_after(&method_frame(1, 50, 10, &[0, 0, 5, b'a', b'b'])).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (501, "FRAME_ERROR - cannot decode <<0,0,5,97,98>>", 50, 10)
    );
}

#[tokio::test]
async fn a_heartbeat_with_a_payload_is_a_501_frame_error() {
    let close = close_after(&frame(FRAME_HEARTBEAT, 0, &[1, 2])).await;
    assert_eq!(close.code, 501);
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_heartbeat_on_a_nonzero_channel_is_a_505_unexpected_frame() {
    let close = close_after(&frame(FRAME_HEARTBEAT, 1, &[])).await;
    assert_eq!(close.code, 505);
    assert!(
        close.text.starts_with("UNEXPECTED_FRAME - "),
        "{}",
        close.text
    );
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_channel_class_method_on_channel_zero_is_a_504_channel_error() {
    let close = close_after(&method_frame(0, 50, 10, &queue_declare_args())).await;
    assert_eq!(close.code, 504);
    assert_eq!(
        close.text,
        "CHANNEL_ERROR - unexpected method in connection state running"
    );
    assert_eq!((close.class_id, close.method_id), (50, 10));
}

#[tokio::test]
async fn handshake_methods_or_a_stray_close_ok_after_open_are_a_504_channel_error() {
    let start_ok = Args::new()
        .empty_table()
        .shortstr("PLAIN")
        .longstr(b"\0guest\0guest")
        .shortstr("en_US")
        .build();
    let tune_ok = Args::new().u16(2047).u32(131_072).u16(0).build();
    let open = Args::new().shortstr("/").shortstr("").u8(0).build();
    for (method, args) in [(11, start_ok), (31, tune_ok), (40, open), (51, Vec::new())] {
        let close = close_after(&method_frame(0, 10, method, &args)).await;
        assert_eq!(
            (
                close.code,
                close.text.as_str(),
                close.class_id,
                close.method_id
            ),
            (
                504,
                "CHANNEL_ERROR - unexpected method in connection state running",
                10,
                method
            )
        );
    }
}

#[tokio::test]
async fn channel_open_on_channel_zero_is_a_504_channel_error() {
    let close = close_after(&method_frame(0, 20, 10, &Args::new().shortstr("").build())).await;
    assert_eq!(close.code, 504);
    assert_eq!((close.class_id, close.method_id), (20, 10));
}

#[tokio::test]
async fn connection_methods_on_a_channel_and_server_only_methods_are_503_unimplemented() {
    let close_args = Args::new().u16(200).shortstr("").u16(0).u16(0).build();
    let declare_ok = Args::new().shortstr("q").u32(0).u32(0).build();
    let flow_ok = Args::new().bits(&[true]).build();
    for (class, method, args) in [
        (10, 50, close_args),
        (50, 11, declare_ok),
        (20, 21, flow_ok),
        (20, 41, Vec::new()),
    ] {
        let close = close_after(&method_frame(1, class, method, &args)).await;
        assert_eq!(
            (
                close.code,
                close.text.as_str(),
                close.class_id,
                close.method_id
            ),
            (503, "COMMAND_INVALID - unimplemented method", class, method)
        );
    }
}

#[tokio::test]
async fn a_content_header_without_a_publish_is_a_505_unexpected_frame() {
    let close = close_after(&header_frame(1, 5)).await;
    assert_eq!(close.code, 505);
    assert!(
        close.text.starts_with("UNEXPECTED_FRAME - "),
        "{}",
        close.text
    );
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_body_frame_without_a_publish_is_a_505_unexpected_frame() {
    let close = close_after(&frame(FRAME_BODY, 1, b"hello")).await;
    assert_eq!(close.code, 505);
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_method_before_the_content_is_complete_is_a_505_naming_basic_publish() {
    let mut bytes = publish_frame(1, "", "q", false);
    bytes.extend(header_frame(1, 3));
    bytes.extend(method_frame(1, 50, 10, &queue_declare_args()));
    let close = close_after(&bytes).await;
    assert_eq!(close.code, 505);
    assert!(
        close.text.starts_with("UNEXPECTED_FRAME - "),
        "{}",
        close.text
    );
    assert_eq!((close.class_id, close.method_id), (60, 40));
}

#[tokio::test]
async fn a_body_longer_than_the_declared_size_is_a_505_naming_basic_publish() {
    // As in RabbitMQ, the excess is noticed at the next frame that is not a body.
    let mut bytes = publish_frame(1, "", "q", false);
    bytes.extend(header_frame(1, 3));
    bytes.extend(frame(FRAME_BODY, 1, b"hello"));
    bytes.extend(frame(FRAME_BODY, 1, b"more"));
    bytes.extend(qos_frame(1));
    let close = close_after(&bytes).await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            505,
            "UNEXPECTED_FRAME - expected content body, got non content body frame instead",
            60,
            40
        )
    );
}

#[tokio::test]
async fn a_body_frame_after_an_empty_content_is_a_505_unexpected_frame() {
    let mut bytes = publish_frame(1, "", "q", false);
    bytes.extend(header_frame(1, 0));
    bytes.extend(frame(FRAME_BODY, 1, &[]));
    let close = close_after(&bytes).await;
    assert_eq!(close.code, 505);
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn a_content_header_for_another_class_is_a_505_naming_basic_publish() {
    let mut bytes = publish_frame(1, "", "q", false);
    let mut header = header_frame(1, 0);
    header[7..9].copy_from_slice(&50u16.to_be_bytes());
    bytes.extend(header);
    let close = close_after(&bytes).await;
    assert_eq!(close.code, 505);
    assert_eq!((close.class_id, close.method_id), (60, 40));
}

#[tokio::test]
async fn truncated_method_arguments_are_a_501_naming_the_method() {
    let args = queue_declare_args();
    let close = close_after(&method_frame(1, 50, 10, &args[..4])).await;
    assert_eq!(close.code, 501);
    assert!(close.text.starts_with("FRAME_ERROR - "), "{}", close.text);
    assert_eq!((close.class_id, close.method_id), (50, 10));
}

#[tokio::test]
async fn a_short_string_running_past_the_frame_is_a_501_naming_the_method() {
    let args = Args::new().u16(0).u8(200).bytes(b"abc").build();
    let close = close_after(&method_frame(1, 50, 10, &args)).await;
    assert_eq!(close.code, 501);
    assert_eq!((close.class_id, close.method_id), (50, 10));
}

#[tokio::test]
async fn trailing_bytes_after_method_arguments_are_a_501_naming_the_method() {
    let mut args = Args::new().u32(0).u16(0).bits(&[false]).build();
    args.extend([1, 2, 3]);
    let close = close_after(&method_frame(1, 60, 10, &args)).await;
    assert_eq!(close.code, 501);
    assert_eq!((close.class_id, close.method_id), (60, 10));
}

#[tokio::test]
async fn an_unknown_class_id_gets_the_connection_closed() {
    // RabbitMQ drops the socket without a connection.close; a close with 503/540 is
    // also acceptable, but the connection must not survive.
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send(&method_frame(1, 99, 10, &[])).await;
    while let Some(f) = c.read_frame().await {
        match f {
            Frame::Method {
                channel: 0,
                class: 10,
                method: 50,
                ref args,
            } => {
                let code = u16::from_be_bytes([args[0], args[1]]);
                assert!(code == 503 || code == 540, "{}", describe(&f));
                c.send_method(0, 10, 51, &[]).await;
            }
            other => panic!("unexpected {}", describe(&other)),
        }
    }
}

#[tokio::test]
async fn an_unknown_method_id_gets_the_connection_closed() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send(&method_frame(1, 50, 99, &[])).await;
    while let Some(f) = c.read_frame().await {
        match f {
            Frame::Method {
                channel: 0,
                class: 10,
                method: 50,
                ref args,
            } => {
                let code = u16::from_be_bytes([args[0], args[1]]);
                assert!(code == 503 || code == 540, "{}", describe(&f));
                c.send_method(0, 10, 51, &[]).await;
            }
            other => panic!("unexpected {}", describe(&other)),
        }
    }
}

fn channel_close_frame(channel: u16) -> Vec<u8> {
    let args = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    method_frame(channel, 20, 40, &args)
}

#[tokio::test]
async fn methods_pipelined_behind_a_channel_close_are_dropped() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    // One write: the declare was sent before the client could see close-ok.
    let mut bytes = channel_close_frame(1);
    bytes.extend(method_frame(1, 50, 10, &queue_declare_args()));
    c.send(&bytes).await;
    c.expect_method(20, 41).await;
    c.open_channel(2).await;
    c.sync(2).await;
}

#[tokio::test]
async fn reopening_a_channel_right_behind_its_close_is_a_504() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let mut bytes = channel_close_frame(1);
    bytes.extend(method_frame(1, 20, 10, &Args::new().shortstr("").build()));
    c.send(&bytes).await;
    let close = loop {
        match c.next_frame().await {
            Frame::Method {
                channel: 0,
                class: 10,
                method: 50,
                args,
            } => break args,
            _ => continue, // RabbitMQ sends no close-ok first, Warren does
        }
    };
    let mut r = common::wire::Reader::new(&close);
    assert_eq!(
        (r.u16(), r.shortstr()),
        (
            504,
            "CHANNEL_ERROR - second 'channel.open' seen".to_string()
        )
    );
}

#[tokio::test]
async fn reopening_a_channel_the_server_closed_before_its_close_ok_is_a_504() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    // A passive declare of a missing queue: the server closes channel 1 with 404.
    let passive = Args::new()
        .u16(0)
        .shortstr("no-such-queue-for-reopen")
        .bits(&[true, false, false, false, false])
        .empty_table()
        .build();
    c.send_method(1, 50, 10, &passive).await;
    c.expect_method(20, 40).await;
    c.send_method(1, 20, 10, &Args::new().shortstr("").build())
        .await;
    let (mut r, channel) = c.expect_method(10, 50).await;
    assert_eq!(
        (channel, r.u16(), r.shortstr()),
        (
            0,
            504,
            "CHANNEL_ERROR - second 'channel.open' seen".to_string()
        )
    );
}
