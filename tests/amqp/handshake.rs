//! Connection handshake: authentication, server properties, tuning, close.

use crate::common;

use common::raw::{Args, PROTOCOL_HEADER, RawConn, Value};
use common::{TestBroker, amqp_error, guard};
use lapin::ConnectionProperties;
use std::time::Duration;

/// Client properties announcing `authentication_failure_close`.
fn client_properties_with_auth_failure_close() -> Vec<u8> {
    let caps = Args::new()
        .shortstr("authentication_failure_close")
        .u8(b't')
        .u8(1)
        .build();
    Args::new()
        .shortstr("capabilities")
        .u8(b'F')
        .longstr(&caps)
        .build()
}

/// Sends the header, reads connection.start, answers start-ok with PLAIN credentials
/// (announcing the authentication_failure_close capability).
async fn start_ok_plain(addr: std::net::SocketAddr, user: &str, pass: &str) -> RawConn {
    start_ok_plain_with(
        addr,
        user,
        pass,
        &client_properties_with_auth_failure_close(),
    )
    .await
}

async fn start_ok_plain_with(
    addr: std::net::SocketAddr,
    user: &str,
    pass: &str,
    client_props: &[u8],
) -> RawConn {
    let mut c = RawConn::connect(addr).await;
    c.send(PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    let resp = format!("\0{user}\0{pass}");
    let args = Args::new()
        .table_bytes(client_props)
        .shortstr("PLAIN")
        .longstr(resp.as_bytes())
        .shortstr("en_US")
        .build();
    c.send_method(0, 10, 11, &args).await;
    c
}

#[tokio::test]
async fn plain_login_with_lapin_opens_a_usable_channel() {
    let broker = TestBroker::start().await;
    let conn = broker.lapin().await;
    assert!(conn.status().connected());
    assert_eq!(conn.status().username(), "guest");
    assert_eq!(conn.status().vhost().as_str(), "/");
    let ch = guard(conn.create_channel()).await.unwrap();
    assert!(ch.status().connected());
    guard(conn.close(200, "bye".into())).await.unwrap();
}

#[tokio::test]
async fn amqplain_login_with_amqprs_opens_a_usable_channel() {
    let broker = TestBroker::start().await;
    let args = amqprs::connection::OpenConnectionArguments::new(
        &broker.addr().ip().to_string(),
        broker.addr().port(),
        "guest",
        "guest",
    )
    .credentials(amqprs::security::SecurityCredentials::new_amqplain(
        "guest", "guest",
    ))
    .finish();
    let conn = guard(amqprs::connection::Connection::open(&args))
        .await
        .unwrap();
    assert!(conn.is_open());
    let ch = guard(conn.open_channel(None)).await.unwrap();
    assert!(ch.is_open());
    guard(ch.close()).await.unwrap();
    guard(conn.close()).await.unwrap();
}

#[tokio::test]
async fn connection_start_offers_version_0_9_and_plain_and_amqplain_mechanisms() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(PROTOCOL_HEADER).await;
    let (mut r, channel) = c.expect_method(10, 10).await;
    assert_eq!(channel, 0);
    assert_eq!((r.u8(), r.u8()), (0, 9));
    let _props = r.table();
    let mechanisms = String::from_utf8(r.longstr()).unwrap();
    let mut mechs: Vec<&str> = mechanisms.split(' ').collect();
    mechs.sort();
    assert!(mechs.contains(&"PLAIN"), "mechanisms {mechanisms:?}");
    assert!(mechs.contains(&"AMQPLAIN"), "mechanisms {mechanisms:?}");
    let locales = String::from_utf8(r.longstr()).unwrap();
    assert!(
        locales.split(' ').any(|l| l == "en_US"),
        "locales {locales:?}"
    );
}

#[tokio::test]
async fn server_properties_carry_product_version_and_all_capabilities() {
    let broker = TestBroker::start().await;
    let c = broker.raw().await;
    let props = Value::Table(c.server_properties.clone());
    for key in [
        "product",
        "version",
        "platform",
        "information",
        "copyright",
        "cluster_name",
    ] {
        match props.get(key) {
            Some(Value::Str(s)) => assert!(!s.is_empty(), "{key} is empty"),
            other => panic!("{key} should be a long string, got {other:?}"),
        }
    }
    // As the RabbitMQ release it reproduces (clients gate RabbitMQ features on these);
    // Warren names itself in platform and information.
    assert_eq!(
        props.get("product"),
        Some(&Value::Str(b"RabbitMQ".to_vec()))
    );
    assert_eq!(
        props.get("version"),
        Some(&Value::Str(
            warren::management::RABBITMQ_VERSION.as_bytes().to_vec()
        ))
    );
    for key in ["platform", "information"] {
        assert!(
            matches!(props.get(key), Some(Value::Str(s)) if s.starts_with(b"Warren ")),
            "{key}: {:?}",
            props.get(key)
        );
    }
    let caps = props.get("capabilities").expect("capabilities table");
    for cap in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "per_consumer_qos",
        "authentication_failure_close",
        "connection.blocked",
    ] {
        assert_eq!(caps.get(cap), Some(&Value::Bool(true)), "capability {cap}");
    }
}

#[tokio::test]
async fn amqprs_sees_the_advertised_capabilities() {
    let broker = TestBroker::start().await;
    let conn = broker.amqprs().await;
    let props = conn.server_properties();
    assert!(!props.product().is_empty());
    assert!(!props.version().is_empty());
    let caps = props.capabilities();
    assert!(caps.publisher_confirms());
    assert!(caps.exchange_exchange_bindings());
    assert!(caps.basic_nack());
    assert!(caps.consumer_cancel_notify());
    assert!(caps.per_consumer_qos());
    assert!(caps.authentication_failure_close());
    assert!(caps.connection_blocked());
    guard(conn.close()).await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_refused_with_403_access_refused() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "guest", "not-the-password").await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 403);
    assert!(
        close
            .text
            .starts_with("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"),
        "{}",
        close.text
    );
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn wrong_password_without_the_capability_just_closes_the_socket() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain_with(broker.addr(), "guest", "nope", &[]).await;
    let rest = c.read_to_eof().await;
    assert!(rest.is_empty(), "expected a silent close, got {rest:?}");
}

#[tokio::test]
async fn wrong_password_makes_lapin_connect_fail_with_403() {
    let broker = TestBroker::start().await;
    let uri = broker.uri_with("guest", "wrong", "/");
    let err = guard(lapin::Connection::connect(
        &uri,
        ConnectionProperties::default(),
    ))
    .await
    .expect_err("login must fail");
    let (code, text) = amqp_error(&err);
    assert_eq!(code, 403);
    assert!(text.starts_with("ACCESS_REFUSED"), "{text}");
}

#[tokio::test]
async fn unknown_user_is_refused_with_403_access_refused() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "nobody-such", "guest").await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 403);
    assert!(
        close.text.starts_with("ACCESS_REFUSED - "),
        "{}",
        close.text
    );
}

#[tokio::test]
async fn unknown_vhost_is_refused_with_530_not_allowed() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "guest", "guest").await;
    let (mut r, _) = c.expect_method(10, 30).await;
    let tune_ok = Args::new().u16(r.u16()).u32(r.u32()).u16(0).build();
    c.send_method(0, 10, 31, &tune_ok).await;
    let open = Args::new()
        .shortstr("no-such-vhost")
        .shortstr("")
        .u8(0)
        .build();
    c.send_method(0, 10, 40, &open).await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 530);
    assert_eq!(close.text, "NOT_ALLOWED - vhost no-such-vhost not found");
    assert_eq!((close.class_id, close.method_id), (10, 40));
}

#[tokio::test]
async fn unknown_vhost_makes_lapin_connect_fail_with_530() {
    let broker = TestBroker::start().await;
    let uri = broker.uri_with("guest", "guest", "no-such-vhost");
    let err = guard(lapin::Connection::connect(
        &uri,
        ConnectionProperties::default(),
    ))
    .await
    .expect_err("open must fail");
    let (code, text) = amqp_error(&err);
    assert_eq!(code, 530);
    assert!(text.starts_with("NOT_ALLOWED"), "{text}");
}

#[tokio::test]
async fn tune_offers_channel_max_2047_frame_max_131072_heartbeat_60() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "guest", "guest").await;
    let (mut r, channel) = c.expect_method(10, 30).await;
    assert_eq!(channel, 0);
    assert_eq!(r.u16(), 2047, "channel_max");
    assert_eq!(r.u32(), 131_072, "frame_max");
    assert_eq!(r.u16(), 60, "heartbeat");
}

#[tokio::test]
async fn lapin_negotiates_the_offered_limits() {
    let broker = TestBroker::start().await;
    let conn = broker.lapin().await;
    let cfg = conn.configuration();
    assert_eq!(cfg.channel_max(), 2047);
    assert_eq!(cfg.frame_max(), 131_072);
    assert_eq!(cfg.heartbeat(), 60);
}

#[tokio::test]
async fn client_close_is_answered_with_close_ok_then_the_socket_closes() {
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    c.send_method(0, 10, 50, &close).await;
    let (r, channel) = c.expect_method(10, 51).await;
    assert_eq!(channel, 0);
    assert!(r.rest().is_empty());
    // close-ok tells the client to close the socket; once it does, the server follows.
    c.shutdown_write().await;
    let rest = c.read_to_eof().await;
    assert!(rest.is_empty(), "nothing may follow close-ok: {rest:?}");
}

#[tokio::test]
async fn open_ok_is_sent_on_channel_zero_after_the_vhost_is_accepted() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "guest", "guest").await;
    let (mut r, _) = c.expect_method(10, 30).await;
    let tune_ok = Args::new().u16(r.u16()).u32(r.u32()).u16(0).build();
    c.send_method(0, 10, 31, &tune_ok).await;
    let open = Args::new().shortstr("/").shortstr("").u8(0).build();
    c.send_method(0, 10, 40, &open).await;
    let (mut r, channel) = c.expect_method(10, 41).await;
    assert_eq!(channel, 0);
    assert_eq!(r.shortstr(), "", "known-hosts");
}

#[tokio::test]
async fn the_server_sends_heartbeats_at_the_negotiated_interval() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::open_with_heartbeat(broker.addr(), 1).await;
    // Keep our side alive too, then expect at least two server heartbeats.
    let mut seen = 0;
    while seen < 2 {
        c.send(&common::raw::frame(common::raw::FRAME_HEARTBEAT, 0, &[]))
            .await;
        match c.read_frame().await {
            Some(common::raw::Frame::Heartbeat { channel: 0 }) => seen += 1,
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_silent_client_is_disconnected_after_missing_heartbeats() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::open_with_heartbeat(broker.addr(), 1).await;
    // We send nothing; the server may heartbeat (or send connection.close) before it
    // drops the socket, which must happen well within the hang guard.
    while let Some(f) = c.read_frame().await {
        match f {
            common::raw::Frame::Heartbeat { channel: 0 } => {}
            common::raw::Frame::Method {
                channel: 0,
                class: 10,
                method: 50,
                ..
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn configured_limits_are_offered_in_tune() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| {
        s.amqp.channel_max = 16;
        s.amqp.frame_max = 4096;
        s.amqp.heartbeat = 5;
    })
    .await;
    let mut c = start_ok_plain(broker.addr(), "guest", "guest").await;
    let (mut r, _) = c.expect_method(10, 30).await;
    assert_eq!((r.u16(), r.u32(), r.u16()), (16, 4096, 5));
}

#[tokio::test]
async fn a_small_frame_max_still_carries_large_messages() {
    skip_if_external!();
    // lapin never answers tune with less than 8192, so that is the smallest it can use.
    let broker = TestBroker::start_with(|s| s.amqp.frame_max = 8192).await;
    let (_conn, ch) = broker.lapin_channel().await;
    let q = common::fresh_queue(&ch, "small-frames").await;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    common::publish(&ch, "", &q, &body).await;
    let got = guard(ch.basic_get(
        q.as_str().into(),
        lapin::options::BasicGetOptions { no_ack: true },
    ))
    .await
    .unwrap()
    .expect("a message");
    assert!(got.delivery.data == body);
}

#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_dropped() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.amqp.handshake_timeout_ms = 300).await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    // No start-ok: the server gives up and closes the socket.
    c.read_to_eof().await;
}

#[tokio::test]
async fn shutdown_closes_open_connections_with_320_connection_forced() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let closing = tokio::spawn(async move { c.expect_connection_close().await });
    broker.shutdown().await;
    let close = guard(closing).await.unwrap();
    assert_eq!(close.code, 320);
    assert!(
        close.text.starts_with("CONNECTION_FORCED - "),
        "{}",
        close.text
    );
}

/// Reads until the server drops the socket, which must come without any frame: RabbitMQ
/// refuses a broken handshake by closing the socket (after a delay), not with a close.
async fn assert_refused(c: &mut RawConn) {
    if let Some(f) = c.read_frame().await {
        panic!("handshake should be refused without a frame, got {f:?}");
    }
}

/// Gets to connection.tune, answers tune-ok with the given values and sends open.
async fn tune_ok_with(addr: std::net::SocketAddr, channel_max: u16, frame_max: u32) -> RawConn {
    let mut c = start_ok_plain(addr, "guest", "guest").await;
    c.expect_method(10, 30).await;
    let tune_ok = Args::new().u16(channel_max).u32(frame_max).u16(0).build();
    c.send_method(0, 10, 31, &tune_ok).await;
    let open = Args::new().shortstr("/").shortstr("").u8(0).build();
    c.send_method(0, 10, 40, &open).await;
    c
}

#[tokio::test]
async fn an_unknown_auth_mechanism_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    let args = Args::new()
        .table_bytes(&client_properties_with_auth_failure_close())
        .shortstr("FOO")
        .longstr(b"\0guest\0guest")
        .shortstr("en_US")
        .build();
    c.send_method(0, 10, 11, &args).await;
    assert_refused(&mut c).await;
}

/// Sends the header and a start-ok with this PLAIN response (announcing the
/// authentication_failure_close capability).
async fn start_ok_plain_response(addr: std::net::SocketAddr, response: &[u8]) -> RawConn {
    let mut c = RawConn::connect(addr).await;
    c.send(PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    let args = Args::new()
        .table_bytes(&client_properties_with_auth_failure_close())
        .shortstr("PLAIN")
        .longstr(response)
        .shortstr("en_US")
        .build();
    c.send_method(0, 10, 11, &args).await;
    c
}

#[tokio::test]
async fn a_malformed_plain_response_or_one_with_an_authzid_is_refused_without_a_close() {
    let broker = TestBroker::start().await;
    let addr = broker.addr();
    let refused = |response: &'static [u8]| async move {
        let mut c = start_ok_plain_response(addr, response).await;
        assert_refused(&mut c).await;
    };
    tokio::join!(refused(b"no-separators"), refused(b"guest\0guest\0guest"));
}

#[tokio::test]
async fn tune_ok_with_frame_max_above_the_offer_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = tune_ok_with(broker.addr(), 2047, 200_000).await;
    assert_refused(&mut c).await;
}

#[tokio::test]
async fn tune_ok_with_frame_max_below_4096_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = tune_ok_with(broker.addr(), 2047, 1000).await;
    assert_refused(&mut c).await;
}

#[tokio::test]
async fn tune_ok_with_unlimited_frame_max_or_channel_max_is_refused_when_the_server_set_a_limit() {
    let broker = TestBroker::start().await;
    for (channel_max, frame_max) in [(2047, 0), (0, 131_072)] {
        let mut c = tune_ok_with(broker.addr(), channel_max, frame_max).await;
        assert_refused(&mut c).await;
    }
}

#[tokio::test]
async fn tune_ok_with_channel_max_above_the_offer_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = tune_ok_with(broker.addr(), 4000, 131_072).await;
    assert_refused(&mut c).await;
}

#[tokio::test]
async fn connection_open_before_start_ok_is_refused() {
    let broker = TestBroker::start().await;
    let mut c = RawConn::connect(broker.addr()).await;
    c.send(PROTOCOL_HEADER).await;
    c.expect_method(10, 10).await;
    let open = Args::new().shortstr("/").shortstr("").u8(0).build();
    c.send_method(0, 10, 40, &open).await;
    assert_refused(&mut c).await;
}

#[tokio::test]
async fn channel_open_before_connection_open_is_a_505_unexpected_frame() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "guest", "guest").await;
    let (mut r, _) = c.expect_method(10, 30).await;
    let tune_ok = Args::new().u16(r.u16()).u32(r.u32()).u16(0).build();
    c.send_method(0, 10, 31, &tune_ok).await;
    c.send_method(1, 20, 10, &Args::new().shortstr("").build())
        .await;
    let close = c.expect_connection_close().await;
    assert_eq!(close.code, 505);
    assert!(
        close.text.starts_with("UNEXPECTED_FRAME - "),
        "{}",
        close.text
    );
    assert_eq!((close.class_id, close.method_id), (0, 0));
}

#[tokio::test]
async fn connection_close_instead_of_open_is_a_504_in_the_opening_state() {
    let broker = TestBroker::start().await;
    let mut c = start_ok_plain(broker.addr(), "guest", "guest").await;
    let (mut r, _) = c.expect_method(10, 30).await;
    let tune_ok = Args::new().u16(r.u16()).u32(r.u32()).u16(0).build();
    c.send_method(0, 10, 31, &tune_ok).await;
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    c.send_method(0, 10, 50, &close).await;
    let close = c.expect_connection_close().await;
    assert_eq!(
        (
            close.code,
            close.text.as_str(),
            close.class_id,
            close.method_id
        ),
        (
            504,
            "CHANNEL_ERROR - unexpected method in connection state opening",
            10,
            50
        )
    );
}

/// After close-ok the socket stays open until the client hangs up, as RabbitMQ 3.10.8 keeps
/// it (observed: a second connection.close gets a second close-ok, and a client's
/// half-close is followed by the server's at once). Clients that close from several
/// threads at once (amqp091-go's `TestConcurrentClose`) each get their close-ok instead of
/// an end of stream. Under tokio's paused clock, virtual time moves only when every task
/// waits on a timer: the server ends the connection right behind the client's half-close,
/// not after a timer.
#[tokio::test(start_paused = true)]
async fn after_close_ok_each_close_is_answered_and_the_client_hangs_up_first() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let mut c = broker.raw().await;
    c.open_channel(1).await;
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    c.send_method(0, 10, 50, &close).await;
    c.expect_method(10, 51).await;
    // Frames after close-ok are dropped, a second close is answered again.
    c.send_method(1, 20, 10, &Args::new().shortstr("").build())
        .await;
    c.send_method(0, 10, 50, &close).await;
    c.expect_method(10, 51).await;
    let before = tokio::time::Instant::now();
    c.shutdown_write().await;
    let rest = c
        .read_until_closed()
        .await
        .expect("a clean end of stream, not a reset");
    assert!(
        rest.is_empty(),
        "nothing may follow the close-oks: {rest:?}"
    );
    assert_eq!(
        tokio::time::Instant::now(),
        before,
        "the server waited on a timer after the client hung up"
    );
}

/// A client that never hangs up after close-ok: the server ends the connection once the
/// heartbeat interval has passed (RabbitMQ: the interval, at most 30 s), in virtual time.
#[tokio::test(start_paused = true)]
async fn after_close_ok_the_server_ends_a_connection_the_client_keeps_open() {
    skip_if_external!();
    let broker = TestBroker::start().await;
    let mut c = RawConn::open_with_heartbeat(broker.addr(), 4).await;
    let close = Args::new().u16(200).shortstr("bye").u16(0).u16(0).build();
    c.send_method(0, 10, 50, &close).await;
    c.expect_method(10, 51).await;
    let before = tokio::time::Instant::now();
    let rest = c
        .read_until_closed()
        .await
        .expect("a clean end of stream, not a reset");
    assert!(rest.is_empty(), "nothing may follow close-ok: {rest:?}");
    let waited = tokio::time::Instant::now() - before;
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(5),
        "ended after {waited:?} of virtual time, not the 4 s heartbeat interval"
    );
}

/// RabbitMQ sends `cluster_name` as its node name, `rabbit@<short host name>`; Warren does
/// the same unless `server.cluster_name` says otherwise.
#[tokio::test]
async fn cluster_name_is_rabbit_at_the_host_name_unless_configured() {
    skip_if_external!();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let short = host.trim().split('.').next().unwrap().to_string();
    let broker = TestBroker::start().await;
    let c = broker.raw().await;
    let props = Value::Table(c.server_properties.clone());
    assert_eq!(
        props.get("cluster_name"),
        Some(&Value::Str(format!("rabbit@{short}").into_bytes()))
    );

    let broker = TestBroker::start_with(|s| s.server.cluster_name = "orders-eu".into()).await;
    let c = broker.raw().await;
    let props = Value::Table(c.server_properties.clone());
    assert_eq!(
        props.get("cluster_name"),
        Some(&Value::Str(b"orders-eu".to_vec()))
    );
}
