//! Content frames out of place, worded as RabbitMQ's content assembler words them: what it
//! expected next (a method, the header for class 60, a body frame) and what came instead.

use crate::common;

use common::TestBroker;
use common::raw::{
    Args, FRAME_BODY, FRAME_HEADER, frame, header_frame, method_frame, publish_frame,
};

/// Opens channel 1, sends `bytes` and returns the connection.close as (code, text, ids).
async fn close_after(bytes: &[u8]) -> (u16, String, u16, u16) {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send(bytes).await;
    let close = c.expect_connection_close().await;
    (close.code, close.text, close.class_id, close.method_id)
}

fn publish() -> Vec<u8> {
    publish_frame(1, "", "x", false)
}

const EXPECTED_HEADER: &str =
    "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead";
const EXPECTED_BODY: &str =
    "UNEXPECTED_FRAME - expected content body, got non content body frame instead";

#[tokio::test]
async fn a_body_where_the_header_belongs_is_505_expected_content_header() {
    let mut bytes = publish();
    bytes.extend(frame(FRAME_BODY, 1, b"abc"));
    assert_eq!(
        close_after(&bytes).await,
        (505, EXPECTED_HEADER.to_string(), 60, 40)
    );
}

#[tokio::test]
async fn a_method_or_a_second_header_where_the_body_belongs_is_505_expected_content_body() {
    let declare = Args::new()
        .u16(0)
        .shortstr("q")
        .bits(&[false; 5])
        .empty_table()
        .build();
    for interruption in [method_frame(1, 50, 10, &declare), header_frame(1, 3)] {
        let mut bytes = publish();
        bytes.extend(header_frame(1, 3));
        bytes.extend(interruption);
        assert_eq!(
            close_after(&bytes).await,
            (505, EXPECTED_BODY.to_string(), 60, 40)
        );
    }
}

#[tokio::test]
async fn a_channel_close_in_the_middle_of_a_message_is_505() {
    let mut bytes = publish();
    bytes.extend(header_frame(1, 3));
    let close = Args::new().u16(200).shortstr("").u16(0).u16(0).build();
    bytes.extend(method_frame(1, 20, 40, &close));
    assert_eq!(
        close_after(&bytes).await,
        (505, EXPECTED_BODY.to_string(), 60, 40)
    );
}

#[tokio::test]
async fn a_header_for_another_class_is_505_naming_that_class() {
    let header = Args::new().u16(50).u16(0).u64(0).u16(0).build();
    let mut bytes = publish();
    bytes.extend(frame(FRAME_HEADER, 1, &header));
    assert_eq!(
        close_after(&bytes).await,
        (
            505,
            "UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead"
                .to_string(),
            60,
            40
        )
    );
}

#[tokio::test]
async fn a_malformed_property_list_is_a_bare_541_internal_error() {
    // Flags say content-type is present, but the list is empty.
    let header = Args::new().u16(60).u16(0).u64(1).u16(0x8000).build();
    let mut bytes = publish();
    bytes.extend(frame(FRAME_HEADER, 1, &header));
    bytes.extend(frame(FRAME_BODY, 1, b"x"));
    assert_eq!(
        close_after(&bytes).await,
        (541, "INTERNAL_ERROR".to_string(), 0, 0)
    );
}
