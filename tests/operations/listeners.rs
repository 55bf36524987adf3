//! Listeners (issue #10): several addresses, IPv4 and IPv6 side by side on one port, as
//! RabbitMQ listens by default, so clients that resolve `localhost` to `::1` connect.

use crate::common;

use common::TestBroker;
use common::raw::RawConn;
use std::net::SocketAddr;

/// A port no one listens on now (the OS picks it; the test binds it right after).
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

#[tokio::test]
async fn ipv4_and_ipv6_wildcards_share_one_port_and_both_serve() {
    skip_if_external!();
    let port = free_port();
    let broker =
        TestBroker::start_with(|s| s.server.listen = format!("0.0.0.0:{port},[::]:{port}")).await;
    let handle = broker.server().unwrap();
    let expected: Vec<SocketAddr> = vec![
        format!("0.0.0.0:{port}").parse().unwrap(),
        format!("[::]:{port}").parse().unwrap(),
    ];
    assert_eq!(handle.local_addrs(), &expected[..]);
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let mut c = RawConn::open(addr.parse().unwrap()).await;
        c.open_channel(1).await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn every_listed_address_is_served() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.server.listen = "127.0.0.1:0,[::1]:0".into()).await;
    let addrs = broker.server().unwrap().local_addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    assert_eq!(broker.server().unwrap().local_addr(), addrs[0]);
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6(), "{addrs:?}");
    for addr in addrs {
        let mut c = RawConn::open(addr).await;
        c.open_channel(1).await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn a_listen_address_in_use_stops_start_up_naming_the_setting() {
    skip_if_external!();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = warren::config::Settings::default();
    settings.server.data_dir = dir.path().to_path_buf();
    settings.server.listen = format!("127.0.0.1:0,{addr}");
    let err = warren::server::start(std::sync::Arc::new(settings))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("server.listen: "), "{text}");
    assert!(text.contains(&addr.to_string()), "{text}");
}
