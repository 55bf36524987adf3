//! AMQP over TLS (issue #13): real clients (lapin, amqprs) over the AMQPS listener, with and
//! without client certificates, SASL EXTERNAL as RabbitMQ's `rabbitmq_auth_mechanism_ssl`
//! offers it, and certificate rotation without a restart. Certificates are made by each
//! test with rcgen.

use crate::common;

use amqprs::security::SecurityCredentials;
use common::raw::{PROTOCOL_HEADER, Reader};
use common::tls::{Pki, enable_tls, read_until_closed, replace_file, tls_connect, verify_peers};
use common::{TestBroker, assert_amqp_error, fresh_queue, get_body, guard, publish};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren::config::{CertLoginFrom, UserSettings};

/// Publishes and gets one message on a new channel of `conn`.
async fn lapin_round_trip(conn: &lapin::Connection) {
    let ch = guard(conn.create_channel()).await.unwrap();
    let q = fresh_queue(&ch, "tls").await;
    publish(&ch, "", &q, b"over tls").await;
    assert_eq!(get_body(&ch, &q).await.as_deref(), Some("over tls"));
}

/// Publishes and gets one message on a new channel of an amqprs connection.
async fn amqprs_round_trip(conn: &amqprs::connection::Connection) {
    use amqprs::channel::{BasicGetArguments, BasicPublishArguments, QueueDeclareArguments};
    let ch = guard(conn.open_channel(None)).await.unwrap();
    let q = common::unique("tls-amqprs");
    guard(ch.queue_declare(QueueDeclareArguments::new(&q)))
        .await
        .unwrap();
    let props = amqprs::BasicProperties::default();
    guard(ch.basic_publish(
        props,
        b"via amqprs".to_vec(),
        BasicPublishArguments::new("", &q),
    ))
    .await
    .unwrap();
    let got = guard(ch.basic_get(BasicGetArguments::new(&q).no_ack(true).finish()))
        .await
        .unwrap()
        .expect("the message");
    assert_eq!(got.2, b"via amqprs");
    guard(ch.close()).await.unwrap();
}

/// A user named `name` with a password no test uses.
fn user(name: &str) -> UserSettings {
    UserSettings {
        name: name.to_string(),
        password: "not-used-by-external".to_string(),
        tags: None,
    }
}

/// The mechanisms field of connection.start on a TLS connection.
async fn mechanisms_over_tls(broker: &TestBroker, pki: &Pki) -> Vec<String> {
    let mut tls = tls_connect(broker.tls_addr(), pki.client_config(None))
        .await
        .unwrap();
    guard(tls.write_all(PROTOCOL_HEADER)).await.unwrap();
    let mut header = [0u8; 7];
    guard(tls.read_exact(&mut header)).await.unwrap();
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    let mut payload = vec![0u8; size + 1];
    guard(tls.read_exact(&mut payload)).await.unwrap();
    let mut r = Reader::new(&payload[..size]);
    assert_eq!((r.u16(), r.u16()), (10, 10), "connection.start");
    r.u8();
    r.u8();
    r.table();
    let mechanisms = String::from_utf8(r.longstr()).unwrap();
    mechanisms.split(' ').map(str::to_string).collect()
}

#[tokio::test]
async fn lapin_publishes_and_gets_over_tls() {
    skip_if_external!();
    let pki = Pki::new("lapin");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| enable_tls(s, &server)).await;
    let conn = broker
        .lapin_tls(&broker.amqps_uri(""), pki.lapin_tls(None))
        .await
        .unwrap();
    lapin_round_trip(&conn).await;
    // The plain listener still serves beside it.
    let plain = broker.lapin().await;
    lapin_round_trip(&plain).await;
}

#[tokio::test]
async fn amqprs_logs_in_with_plain_and_amqplain_over_tls() {
    skip_if_external!();
    let pki = Pki::new("amqprs");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| enable_tls(s, &server)).await;
    for credentials in [
        SecurityCredentials::new_plain("guest", "guest"),
        SecurityCredentials::new_amqplain("guest", "guest"),
    ] {
        let conn = broker
            .amqprs_tls(pki.client_config(None), credentials)
            .await
            .unwrap();
        amqprs_round_trip(&conn).await;
        guard(conn.close()).await.unwrap();
    }
}

#[tokio::test]
async fn the_plain_listener_can_be_turned_off() {
    skip_if_external!();
    let pki = Pki::new("tls-only");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        s.server.listen = String::new();
    })
    .await;
    let handle = broker.server().unwrap();
    assert!(handle.local_addrs().is_empty());
    assert_eq!(handle.local_addr(), broker.tls_addr());
    let conn = broker
        .lapin_tls(&broker.amqps_uri(""), pki.lapin_tls(None))
        .await
        .unwrap();
    lapin_round_trip(&conn).await;
}

#[tokio::test]
async fn external_is_offered_on_tls_connections_only() {
    skip_if_external!();
    let pki = Pki::new("offer");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, false);
    })
    .await;
    assert_eq!(
        mechanisms_over_tls(&broker, &pki).await,
        vec!["PLAIN", "AMQPLAIN", "EXTERNAL"]
    );
    let plain = broker.raw().await;
    assert_eq!(plain.mechanisms, "PLAIN AMQPLAIN");
}

#[tokio::test]
async fn amqprs_with_a_client_certificate_logs_in_with_external_by_distinguished_name() {
    skip_if_external!();
    let pki = Pki::new("external-dn");
    let server = pki.server("server");
    let client = pki.client("alice", "alice");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, true);
        s.auth.users.push(user("CN=alice,O=Warren Tests"));
    })
    .await;
    let conn = broker
        .amqprs_tls(
            pki.client_config(Some(&client)),
            SecurityCredentials::new_external(),
        )
        .await
        .unwrap();
    amqprs_round_trip(&conn).await;
    guard(conn.close()).await.unwrap();
}

#[tokio::test]
async fn lapin_with_a_client_certificate_logs_in_with_external_by_common_name() {
    skip_if_external!();
    let pki = Pki::new("external-cn");
    let server = pki.server("server");
    let client = pki.client("bob", "bob");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, true);
        s.auth.ssl_cert_login_from = CertLoginFrom::CommonName;
        s.auth.users.push(user("bob"));
    })
    .await;
    let uri = broker.amqps_uri("?auth_mechanism=external");
    let conn = broker
        .lapin_tls(&uri, pki.lapin_tls(Some(&client)))
        .await
        .unwrap();
    lapin_round_trip(&conn).await;
    // PLAIN still works beside EXTERNAL, with a certificate or without.
    let conn = broker
        .lapin_tls(&broker.amqps_uri(""), pki.lapin_tls(Some(&client)))
        .await
        .unwrap();
    lapin_round_trip(&conn).await;
}

#[tokio::test]
async fn external_without_a_client_certificate_is_refused_with_403() {
    skip_if_external!();
    let pki = Pki::new("external-none");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, false);
    })
    .await;
    let uri = broker.amqps_uri("?auth_mechanism=external");
    let refused = broker.lapin_tls(&uri, pki.lapin_tls(None)).await;
    assert_amqp_error(
        refused,
        403,
        "ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL.",
    );
}

#[tokio::test]
async fn external_for_a_user_that_does_not_exist_is_refused_with_403() {
    skip_if_external!();
    let pki = Pki::new("external-unknown");
    let server = pki.server("server");
    let client = pki.client("mallory", "mallory");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, true);
        s.auth.ssl_cert_login_from = CertLoginFrom::CommonName;
    })
    .await;
    let uri = broker.amqps_uri("?auth_mechanism=external");
    let refused = broker.lapin_tls(&uri, pki.lapin_tls(Some(&client))).await;
    assert_amqp_error(
        refused,
        403,
        "ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL.",
    );
}

#[tokio::test]
async fn fail_if_no_peer_cert_refuses_the_handshake_of_a_client_without_one() {
    skip_if_external!();
    let pki = Pki::new("no-cert");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, true);
    })
    .await;
    // With TLS 1.3 the client finishes first; the server's refusal arrives as an alert.
    let refused = match tls_connect(broker.tls_addr(), pki.client_config(None)).await {
        Err(e) => Err(e),
        Ok(mut tls) => {
            let _ = tls.write_all(PROTOCOL_HEADER).await;
            read_until_closed(&mut tls).await
        }
    };
    let err = refused.expect_err("the server must refuse the handshake");
    assert!(
        err.to_string().contains("CertificateRequired") || err.to_string().contains("alert"),
        "{err}"
    );
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused_at_the_handshake() {
    skip_if_external!();
    let pki = Pki::new("trusted");
    let other = Pki::new("untrusted");
    let server = pki.server("server");
    let stranger = other.client("stranger", "guest");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        verify_peers(s, &pki, false);
    })
    .await;
    let mut config = (*pki.client_config(None)).clone();
    config.client_auth_cert_resolver = other
        .client_config(Some(&stranger))
        .client_auth_cert_resolver
        .clone();
    let refused = match tls_connect(broker.tls_addr(), std::sync::Arc::new(config)).await {
        Err(e) => Err(e),
        Ok(mut tls) => {
            let _ = tls.write_all(PROTOCOL_HEADER).await;
            read_until_closed(&mut tls).await
        }
    };
    let err = refused.expect_err("the server must refuse an unknown issuer");
    assert!(err.to_string().contains("alert"), "{err}");
}

#[tokio::test]
async fn a_reload_serves_new_certificates_to_new_connections_and_keeps_open_ones() {
    skip_if_external!();
    let old_ca = Pki::new("old");
    let new_ca = Pki::new("new");
    let server = old_ca.server("server");
    let broker = TestBroker::start_with(|s| enable_tls(s, &server)).await;
    let open = broker
        .lapin_tls(&broker.amqps_uri(""), old_ca.lapin_tls(None))
        .await
        .unwrap();

    // Rotate: the same file names now hold a certificate from another CA.
    let rotated = new_ca.server("rotated");
    replace_file(&server.cert_path, &rotated.cert_pem);
    replace_file(&server.key_path, &rotated.key_pem);
    broker.server().unwrap().reload_tls().unwrap();

    let fresh = broker
        .lapin_tls(&broker.amqps_uri(""), new_ca.lapin_tls(None))
        .await
        .unwrap();
    lapin_round_trip(&fresh).await;
    let stale = broker
        .lapin_tls(&broker.amqps_uri(""), old_ca.lapin_tls(None))
        .await;
    assert!(
        stale.is_err(),
        "a client trusting only the old CA is refused"
    );
    lapin_round_trip(&open).await;
}

#[tokio::test]
async fn a_reload_with_a_broken_file_keeps_the_previous_certificate() {
    skip_if_external!();
    let pki = Pki::new("keep");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| enable_tls(s, &server)).await;
    replace_file(&server.key_path, "not a key\n");
    let err = broker.server().unwrap().reload_tls().unwrap_err();
    assert!(err.to_string().starts_with("tls.keyfile: "), "{err}");
    let conn = broker
        .lapin_tls(&broker.amqps_uri(""), pki.lapin_tls(None))
        .await
        .unwrap();
    lapin_round_trip(&conn).await;
}
