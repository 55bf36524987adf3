//! Hostile peers on the AMQPS port (issue #13): plaintext AMQP, garbage, a handshake that
//! stops halfway, a client that sends nothing, a huge ClientHello. Each is closed by the
//! server within the TLS handshake deadline (2 s here), without buffering what it sends,
//! while the broker keeps serving everyone else.

use crate::common;

use common::raw::PROTOCOL_HEADER;
use common::tls::{Pki, enable_tls, read_until_closed, tls_connect};
use common::{TestBroker, guard};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A broker with TLS on, and the PKI its clients trust.
async fn tls_broker(name: &str) -> (TestBroker, Pki) {
    let pki = Pki::new(name);
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| enable_tls(s, &server)).await;
    (broker, pki)
}

/// A well-behaved TLS client completes an AMQP handshake (the broker still serves).
async fn a_good_client_is_served(broker: &TestBroker, pki: &Pki) {
    let conn = broker
        .lapin_tls(&broker.amqps_uri(""), pki.lapin_tls(None))
        .await
        .expect("a good client is served");
    guard(conn.create_channel()).await.unwrap();
}

/// Sends `bytes` to the TLS port and returns what the server sent back before it closed
/// the socket cleanly (a reset fails the test).
async fn send_and_read_until_closed(broker: &TestBroker, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = guard(TcpStream::connect(broker.tls_addr())).await.unwrap();
    guard(tcp.write_all(bytes)).await.unwrap();
    read_until_closed(&mut tcp)
        .await
        .expect("a clean close, not a reset")
}

/// The bytes of a real ClientHello, from a rustls client.
fn client_hello(pki: &Pki) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(pki.client_config(None), name).unwrap();
    let mut out = Vec::new();
    client.write_tls(&mut out).unwrap();
    out
}

/// Asserts `bytes` is nothing but TLS alert records (content type 21), if anything.
fn assert_only_alerts(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "truncated record: {bytes:?}");
        assert_eq!(rest[0], 21, "expected a TLS alert, got {bytes:?}");
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        rest = &rest[(5 + len).min(rest.len())..];
    }
}

#[tokio::test]
async fn plaintext_amqp_on_the_tls_port_gets_an_alert_and_a_close() {
    skip_if_external!();
    let (broker, pki) = tls_broker("plaintext").await;
    let reply = send_and_read_until_closed(&broker, PROTOCOL_HEADER).await;
    assert!(!reply.starts_with(b"AMQP"), "no AMQP on the TLS port");
    assert_only_alerts(&reply);
    a_good_client_is_served(&broker, &pki).await;
}

#[tokio::test]
async fn garbage_on_the_tls_port_gets_an_alert_and_a_close() {
    skip_if_external!();
    let (broker, pki) = tls_broker("garbage").await;
    let garbage: Vec<u8> = (0..64u32).map(|i| (i * 7 + 3) as u8).collect();
    let reply = send_and_read_until_closed(&broker, &garbage).await;
    assert_only_alerts(&reply);
    a_good_client_is_served(&broker, &pki).await;
}

#[tokio::test]
async fn a_handshake_that_stops_halfway_is_closed_at_the_deadline_while_others_are_served() {
    skip_if_external!();
    let (broker, pki) = tls_broker("halfway").await;
    let hello = client_hello(&pki);
    let mut stuck = guard(TcpStream::connect(broker.tls_addr())).await.unwrap();
    guard(stuck.write_all(&hello[..hello.len() / 2]))
        .await
        .unwrap();
    // While that handshake hangs, another client gets through.
    a_good_client_is_served(&broker, &pki).await;
    let reply = read_until_closed(&mut stuck)
        .await
        .expect("a clean close at the deadline");
    assert!(reply.is_empty(), "nothing is sent to a half ClientHello");
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_closed_at_the_deadline_while_others_are_served() {
    skip_if_external!();
    let (broker, pki) = tls_broker("silent").await;
    let mut silent = guard(TcpStream::connect(broker.tls_addr())).await.unwrap();
    a_good_client_is_served(&broker, &pki).await;
    let reply = read_until_closed(&mut silent)
        .await
        .expect("a clean close at the deadline");
    assert!(reply.is_empty());
}

#[tokio::test]
async fn a_huge_client_hello_is_refused_without_being_buffered() {
    skip_if_external!();
    let (broker, pki) = tls_broker("huge").await;
    let mut tcp = guard(TcpStream::connect(broker.tls_addr())).await.unwrap();
    let (mut rx, mut tx) = tcp.split();
    // A handshake record announcing a 16 MiB ClientHello, then 64 MiB of it: far more
    // than socket buffers hold, so the send can only finish if the server reads it all.
    let mut record = vec![22, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff];
    record.resize(5 + 0x4000, 0);
    let sending = async {
        for _ in 0..(64 * 1024 * 1024 / record.len()) {
            tx.write_all(&record).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let (sent, reply) = tokio::join!(sending, read_until_closed(&mut rx));
    assert!(
        sent.is_err(),
        "the server read 64 MiB of a ClientHello instead of closing"
    );
    // The alert may be lost to the reset our unread bytes cause; if it came, it is alone.
    if let Ok(reply) = reply {
        assert_only_alerts(&reply);
    }
    drop(tcp);
    a_good_client_is_served(&broker, &pki).await;
}

#[tokio::test]
async fn many_stalled_handshakes_do_not_stop_a_good_client() {
    skip_if_external!();
    let (broker, pki) = tls_broker("many").await;
    let mut stalled = Vec::new();
    for _ in 0..50 {
        stalled.push(guard(TcpStream::connect(broker.tls_addr())).await.unwrap());
    }
    let conn = tls_connect(broker.tls_addr(), Arc::clone(&pki.client_config(None))).await;
    assert!(conn.is_ok(), "TLS handshake beside 50 stalled ones");
    a_good_client_is_served(&broker, &pki).await;
    for mut s in stalled {
        read_until_closed(&mut s)
            .await
            .expect("each stalled handshake is closed cleanly");
    }
}
