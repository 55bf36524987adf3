//! Hostile and malformed input that is well framed: short strings that are not UTF-8,
//! field tables nested thousands deep, oversized frames before tuning, channel numbers
//! above channel_max. Codes, texts and class/method ids follow RabbitMQ 3.10.8.

use crate::common;

use common::TestBroker;
use common::raw::{Args, FRAME_BODY, RawConn, frame, method_frame};
use warren::protocol::ShortStr;

/// A name that is not UTF-8.
const BAD: &[u8] = b"hostile-\xff\xfe";
/// RabbitMQ's reply text for it.
const MALFORMED: &str = "FRAME_ERROR - Malformed UTF-8 in shortstr";

fn bad_name() -> ShortStr {
    ShortStr::from_bytes(bytes::Bytes::from_static(BAD)).unwrap()
}

/// Sends `frame` on a connection with channel 1 open and returns the connection.close.
async fn close_for(broker: &TestBroker, frame: &[u8]) -> common::raw::Close {
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    c.send(frame).await;
    c.expect_connection_close().await
}

/// Every method without content whose short strings RabbitMQ checks, with the bad name in
/// one of them (channel 1).
fn methods_with_a_bad_name() -> Vec<(&'static str, Vec<u8>)> {
    let table = |a: Args| a.empty_table().build();
    let m = |class: u16, method: u16, args: Vec<u8>| method_frame(1, class, method, &args);
    vec![
        (
            "exchange.declare name",
            m(
                40,
                10,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr_bytes(BAD)
                        .shortstr("direct")
                        .u8(0),
                ),
            ),
        ),
        (
            "exchange.declare type",
            m(
                40,
                10,
                table(Args::new().u16(0).shortstr("x").shortstr_bytes(BAD).u8(0)),
            ),
        ),
        (
            "exchange.delete",
            m(40, 20, Args::new().u16(0).shortstr_bytes(BAD).u8(0).build()),
        ),
        (
            "exchange.bind source",
            m(
                40,
                30,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr("amq.direct")
                        .shortstr_bytes(BAD)
                        .shortstr("k")
                        .u8(0),
                ),
            ),
        ),
        (
            "exchange.unbind key",
            m(
                40,
                40,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr("amq.direct")
                        .shortstr("amq.fanout")
                        .shortstr_bytes(BAD)
                        .u8(0),
                ),
            ),
        ),
        (
            "queue.declare",
            m(50, 10, table(Args::new().u16(0).shortstr_bytes(BAD).u8(0))),
        ),
        (
            "queue.bind queue",
            m(
                50,
                20,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr_bytes(BAD)
                        .shortstr("amq.direct")
                        .shortstr("k")
                        .u8(0),
                ),
            ),
        ),
        (
            "queue.bind exchange",
            m(
                50,
                20,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr("q")
                        .shortstr_bytes(BAD)
                        .shortstr("k")
                        .u8(0),
                ),
            ),
        ),
        (
            "queue.bind routing key",
            m(
                50,
                20,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr("q")
                        .shortstr("amq.direct")
                        .shortstr_bytes(BAD)
                        .u8(0),
                ),
            ),
        ),
        (
            "queue.purge",
            m(50, 30, Args::new().u16(0).shortstr_bytes(BAD).u8(0).build()),
        ),
        (
            "queue.delete",
            m(50, 40, Args::new().u16(0).shortstr_bytes(BAD).u8(0).build()),
        ),
        (
            "queue.unbind routing key",
            m(
                50,
                50,
                table(
                    Args::new()
                        .u16(0)
                        .shortstr("q")
                        .shortstr("amq.direct")
                        .shortstr_bytes(BAD),
                ),
            ),
        ),
        (
            "basic.consume queue",
            m(
                60,
                20,
                table(Args::new().u16(0).shortstr_bytes(BAD).shortstr("tag").u8(0)),
            ),
        ),
        (
            "basic.consume consumer tag",
            m(
                60,
                20,
                table(Args::new().u16(0).shortstr("q").shortstr_bytes(BAD).u8(0)),
            ),
        ),
        (
            "basic.cancel",
            m(60, 30, Args::new().shortstr_bytes(BAD).u8(0).build()),
        ),
        (
            "basic.get",
            m(60, 70, Args::new().u16(0).shortstr_bytes(BAD).u8(0).build()),
        ),
        (
            "channel.close reply text",
            m(
                20,
                40,
                Args::new()
                    .u16(200)
                    .shortstr_bytes(BAD)
                    .u16(0)
                    .u16(0)
                    .build(),
            ),
        ),
        (
            // A method only servers send is decoded (and refused) before it is dispatched.
            "basic.consume-ok from a client",
            m(60, 21, Args::new().shortstr_bytes(BAD).build()),
        ),
    ]
}

#[tokio::test]
async fn a_short_string_that_is_not_utf8_is_a_501_frame_error_in_every_checked_method() {
    let broker = TestBroker::start().await;
    for (what, frame) in methods_with_a_bad_name() {
        let close = close_for(&broker, &frame).await;
        assert_eq!(close.code, 501, "{what}: {}", close.text);
        assert_eq!(close.text, MALFORMED, "{what}");
        // Found while assembling a channel's command: RabbitMQ names no method.
        assert_eq!((close.class_id, close.method_id), (0, 0), "{what}");
    }
}

#[tokio::test]
async fn a_channel_open_whose_reserved_string_is_not_utf8_is_a_501() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.send_method(1, 20, 10, &Args::new().shortstr_bytes(BAD).build())
        .await;
    let close = c.expect_connection_close().await;
    assert_eq!((close.code, close.text.as_str()), (501, MALFORMED));
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn queue_declare_with_a_name_that_is_not_utf8_creates_no_queue() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let frame = method_frame(
        1,
        50,
        10,
        &Args::new()
            .u16(0)
            .shortstr_bytes(BAD)
            .u8(0)
            .empty_table()
            .build(),
    );
    let close = close_for(&broker, &frame).await;
    assert_eq!((close.code, close.text.as_str()), (501, MALFORMED));
    let vhost = broker.warren().unwrap().vhost("/").unwrap();
    assert!(vhost.queue(&bad_name()).is_none(), "the queue was created");
}

#[tokio::test]
async fn exchange_declare_with_a_name_that_is_not_utf8_creates_no_exchange() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let args = Args::new()
        .u16(0)
        .shortstr_bytes(BAD)
        .shortstr("fanout")
        .u8(0)
        .empty_table()
        .build();
    let close = close_for(&broker, &method_frame(1, 40, 10, &args)).await;
    assert_eq!((close.code, close.text.as_str()), (501, MALFORMED));
    let vhost = broker.warren().unwrap().vhost("/").unwrap();
    assert!(
        vhost.exchange(&bad_name()).is_none(),
        "the exchange was created"
    );
}

#[tokio::test]
async fn connection_close_with_a_reply_text_that_is_not_utf8_is_a_501_naming_the_method() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    let args = Args::new()
        .u16(200)
        .shortstr_bytes(BAD)
        .u16(0)
        .u16(0)
        .build();
    c.send_method(0, 10, 50, &args).await;
    // On channel 0 RabbitMQ names the method it could not decode.
    let close = c.expect_connection_close().await;
    assert_eq!((close.code, close.text.as_str()), (501, MALFORMED));
    assert_eq!((close.class_id, close.method_id), (10, 50));
}

#[tokio::test]
async fn connection_open_with_a_vhost_that_is_not_utf8_is_a_501_naming_connection_open() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(common::raw::PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    let start_ok = Args::new()
        .table_bytes(&common::raw::client_properties())
        .shortstr("PLAIN")
        .longstr(b"\0guest\0guest")
        .shortstr("en_US")
        .build();
    c.send_method(0, 10, 11, &start_ok).await;
    let (mut tune, _) = c.expect_method(10, 30).await;
    let (channel_max, frame_max) = (tune.u16(), tune.u32());
    c.send_method(
        0,
        10,
        31,
        &Args::new().u16(channel_max).u32(frame_max).u16(0).build(),
    )
    .await;
    let open = Args::new().shortstr_bytes(BAD).shortstr("").u8(0).build();
    c.send_method(0, 10, 40, &open).await;
    let close = c.expect_connection_close().await;
    assert_eq!((close.code, close.text.as_str()), (501, MALFORMED));
    assert_eq!((close.class_id, close.method_id), (10, 40));
}

#[tokio::test]
async fn basic_publish_takes_raw_bytes_but_binding_them_is_refused() {
    // RabbitMQ does not check the short strings of methods that carry content: a routing
    // key that is not UTF-8 is routed and delivered byte for byte. queue.bind is checked.
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let queue = c.queue_declare(1, "", true).await;
    let bind = |key: &[u8]| {
        Args::new()
            .u16(0)
            .shortstr(&queue)
            .shortstr("amq.topic")
            .shortstr_bytes(key)
            .u8(0)
            .empty_table()
            .build()
    };
    c.send_method(1, 50, 20, &bind(b"#")).await;
    c.expect_method(50, 21).await;
    c.consume(1, &queue, "", true).await;
    let publish = Args::new()
        .u16(0)
        .shortstr("amq.topic")
        .shortstr_bytes(BAD)
        .u8(0)
        .build();
    let mut bytes = method_frame(1, 60, 40, &publish);
    bytes.extend(common::raw::header_frame(1, 1));
    bytes.extend(frame(FRAME_BODY, 1, b"x"));
    c.send(&bytes).await;
    let (deliver, _) = c.expect_method(60, 60).await;
    let args = deliver.rest().to_vec();
    assert!(
        args.ends_with(&[&[BAD.len() as u8][..], BAD].concat()),
        "routing key not delivered byte for byte: {args:?}"
    );
    assert_eq!(c.read_content().await, b"x");
    c.send_method(1, 50, 20, &bind(BAD)).await;
    let close = c.expect_connection_close().await;
    assert_eq!((close.code, close.text.as_str()), (501, MALFORMED));
}

/// A connection.start-ok whose frame payload is `payload_len` bytes (padded client
/// properties), after the protocol header and connection.start.
async fn start_ok_of_size(broker: &TestBroker, payload_len: usize) -> RawConn {
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(common::raw::PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    let build = |pad: &[u8]| {
        let props = Args::new().shortstr("pad").u8(b'S').longstr(pad).build();
        Args::new()
            .table_bytes(&props)
            .shortstr("PLAIN")
            .longstr(b"\0guest\0guest")
            .shortstr("en_US")
            .build()
    };
    // 4 bytes of class and method ids precede the arguments.
    let overhead = 4 + build(b"").len();
    let args = build(&vec![b'x'; payload_len - overhead]);
    assert_eq!(args.len() + 4, payload_len);
    c.send_method(0, 10, 11, &args).await;
    c
}

#[tokio::test]
async fn a_start_ok_larger_than_the_minimum_frame_size_ends_the_connection_before_tune() {
    let broker = TestBroker::start().await;
    // Up to frame-min-size (RabbitMQ allows the 8 octets of frame overhead on top).
    let mut c = start_ok_of_size(&broker, 4096).await;
    c.expect_method(10, 30).await;
    // 16 KiB from a peer that has not authenticated: the connection ends without a tune
    // and without a close, as RabbitMQ ends it.
    let mut c = start_ok_of_size(&broker, 16 * 1024).await;
    let rest = c.read_to_eof().await;
    assert!(
        rest.is_empty(),
        "expected the socket to close, got {rest:?}"
    );
}

/// RabbitMQ 3.10 limits how many channels are open, not their numbers (observed on 3.10.8,
/// and aiormq's own `test_bad_channel` relies on it): a number above the negotiated
/// channel_max opens while few are open.
#[tokio::test]
async fn channel_numbers_above_the_negotiated_channel_max_open_while_few_are_open() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::open_with_channel_max(broker.addr(), 3).await;
    c.open_channel(3).await;
    c.open_channel(4).await;
    c.sync(4).await;
    let mut c = broker.raw().await;
    assert_eq!(c.channel_max, 2047);
    c.open_channel(65535).await;
    // A channel error on it closes that channel only.
    let bind = Args::new()
        .u16(0)
        .shortstr(&common::unique("no-such-queue"))
        .shortstr(&common::unique("no-such-exchange"))
        .shortstr("")
        .bits(&[false])
        .table_bytes(&[])
        .build();
    c.send_method(65535, 50, 20, &bind).await;
    let close = c.expect_channel_close(65535).await;
    assert_eq!(close.code, 404);
    c.open_channel(1).await;
    c.sync(1).await;
}

/// A field value (type code included) of `levels` tables, each holding the next under
/// key `a`.
fn deep_tables(levels: usize) -> Vec<u8> {
    let mut value = vec![0, 0, 0, 0];
    for _ in 1..levels {
        let body = [&[1, b'a', b'F'][..], &value].concat();
        value = [&(body.len() as u32).to_be_bytes()[..], &body].concat();
    }
    [&[b'F'][..], &value].concat()
}

/// A field value (type code included) of `levels` arrays, each holding the next.
fn deep_arrays(levels: usize) -> Vec<u8> {
    let mut value = vec![0, 0, 0, 0];
    for _ in 1..levels {
        let body = [&[b'A'][..], &value].concat();
        value = [&(body.len() as u32).to_be_bytes()[..], &body].concat();
    }
    [&[b'A'][..], &value].concat()
}

/// Encoded table entries: key then value (type code included).
fn entries(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Args::new();
    for (key, value) in pairs {
        out = out.shortstr(key).bytes(value);
    }
    out.build()
}

/// A property list with only `headers` set to the given entries.
fn headers_only(entries: &[u8]) -> Vec<u8> {
    Args::new().u16(0x2000).longstr(entries).build()
}

fn long_string(s: &str) -> Vec<u8> {
    Args::new().u8(b'S').longstr(s.as_bytes()).build()
}

/// Publishes `body` with the raw property list `props`.
async fn publish_with(c: &mut RawConn, exchange: &str, key: &str, props: &[u8], body: &[u8]) {
    let mut bytes = method_frame(
        1,
        60,
        40,
        &Args::new()
            .u16(0)
            .shortstr(exchange)
            .shortstr(key)
            .u8(0)
            .build(),
    );
    let header = Args::new()
        .u16(60)
        .u16(0)
        .u64(body.len() as u64)
        .bytes(props)
        .build();
    bytes.extend(frame(common::raw::FRAME_HEADER, 1, &header));
    bytes.extend(frame(FRAME_BODY, 1, body));
    c.send(&bytes).await;
}

/// basic.get on channel 1: the delivery tag, property list and body of the next message.
async fn get(c: &mut RawConn, queue: &str, no_ack: bool) -> (u64, Vec<u8>, Vec<u8>) {
    let args = Args::new().u16(0).shortstr(queue).bits(&[no_ack]).build();
    c.send_method(1, 60, 70, &args).await;
    let (mut ok, _) = c.expect_method(60, 71).await;
    let tag = ok.u64();
    let props = match c.next_frame().await {
        common::raw::Frame::Header { props, .. } => props,
        other => panic!(
            "expected a content header, got {}",
            common::raw::describe(&other)
        ),
    };
    let body = match c.next_frame().await {
        common::raw::Frame::Body { data, .. } => data,
        other => panic!("expected a body, got {}", common::raw::describe(&other)),
    };
    (tag, props, body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Binds `queue` to `exchange` with `key` and the encoded argument entries.
async fn bind(c: &mut RawConn, queue: &str, exchange: &str, key: &str, arguments: &[u8]) {
    let args = Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr(exchange)
        .shortstr(key)
        .u8(0)
        .longstr(arguments)
        .build();
    c.send_method(1, 50, 20, &args).await;
    c.expect_method(50, 21).await;
}

#[tokio::test]
async fn headers_nested_10000_tables_or_20000_arrays_deep_are_delivered_intact() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let queue = c.queue_declare(1, "", true).await;
    for deep in [deep_tables(10_000), deep_arrays(20_000)] {
        let props = headers_only(&entries(&[("deep", &deep)]));
        publish_with(&mut c, "", &queue, &props, b"deep").await;
        let (_, delivered, body) = get(&mut c, &queue, true).await;
        assert_eq!(body, b"deep");
        assert!(delivered == props, "properties not forwarded byte for byte");
    }
    c.sync(1).await;
}

#[tokio::test]
async fn deep_headers_pass_headers_routing_cc_bcc_and_dead_lettering_intact() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let deep = deep_tables(10_000);
    let (matched, to, cc, bcc, dead) = (
        c.queue_declare(1, "", true).await,
        common::unique("hostile-to"),
        c.queue_declare(1, "", true).await,
        c.queue_declare(1, "", true).await,
        c.queue_declare(1, "", true).await,
    );
    // A queue that dead-letters to `dead` through the default exchange.
    let dlx = entries(&[
        ("x-dead-letter-exchange", &long_string("")),
        ("x-dead-letter-routing-key", &long_string(&dead)),
    ]);
    let declare = Args::new()
        .u16(0)
        .shortstr(&to)
        .bits(&[false, false, true, false, false])
        .longstr(&dlx)
        .build();
    c.send_method(1, 50, 10, &declare).await;
    c.expect_method(50, 11).await;

    // Headers exchange: matched on a shallow key, the deep one beside it.
    let any_k = entries(&[("x-match", &long_string("any")), ("k", &long_string("v"))]);
    bind(&mut c, &matched, "amq.match", "", &any_k).await;
    let props = headers_only(&entries(&[("deep", &deep), ("k", &long_string("v"))]));
    publish_with(&mut c, "amq.match", "", &props, b"headers").await;
    let (_, delivered, _) = get(&mut c, &matched, true).await;
    assert!(delivered == props, "headers-routed properties changed");

    // CC and BCC: routed to both, BCC removed, the deep header kept.
    bind(&mut c, &to, "amq.direct", "to", &[]).await;
    bind(&mut c, &cc, "amq.direct", "cc", &[]).await;
    bind(&mut c, &bcc, "amq.direct", "bcc", &[]).await;
    let array = |key: &str| {
        let item = long_string(key);
        Args::new().u8(b'A').longstr(&item).build()
    };
    let props = headers_only(&entries(&[
        ("deep", &deep),
        ("CC", &array("cc")),
        ("BCC", &array("bcc")),
    ]));
    publish_with(&mut c, "amq.direct", "to", &props, b"cc").await;
    for queue in [&cc, &bcc] {
        let (_, delivered, _) = get(&mut c, queue, true).await;
        assert!(contains(&delivered, &deep), "deep header lost via {queue}");
        assert!(!contains(&delivered, b"BCC"), "BCC delivered");
    }

    // Dead-lettering adds x-death around it.
    let (tag, _, _) = get(&mut c, &to, false).await;
    c.send_method(1, 60, 90, &Args::new().u64(tag).bits(&[false]).build())
        .await;
    let (_, delivered, body) = get(&mut c, &dead, true).await;
    assert_eq!(body, b"cc");
    assert!(
        contains(&delivered, &deep),
        "deep header lost in dead-lettering"
    );
    assert!(contains(&delivered, b"x-death"), "no x-death added");
}

#[tokio::test]
async fn method_arguments_nested_10000_tables_deep_are_accepted() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let arguments = entries(&[("x-deep", &deep_tables(10_000))]);
    let name = common::unique("hostile-deep-args");
    let declare = Args::new()
        .u16(0)
        .shortstr(&name)
        .bits(&[false, false, true, false, false])
        .longstr(&arguments)
        .build();
    c.send_method(1, 50, 10, &declare).await;
    c.expect_method(50, 11).await;
    let binding = [
        &entries(&[("x-match", &long_string("all"))])[..],
        &arguments,
    ]
    .concat();
    bind(&mut c, &name, "amq.match", "", &binding).await;
    c.sync(1).await;
}
