//! HTTPS for the management API and the Prometheus endpoint (issue #13): the `[tls]`
//! certificate settings on `management.tls_listen` and `prometheus.tls_listen`, beside the
//! plain listeners; client certificates as RabbitMQ checks them on its management TLS
//! listener (verify_peer + fail_if_no_peer_cert refuses a client without a certificate at
//! the handshake, and Basic credentials are still required); hostile peers; the setting
//! check at start-up. Rotation on SIGHUP is in tests/operations/tls_sighup.rs.

use crate::common;

use common::https::https;
use common::tls::{Leaf, Pki, enable_tls, read_until_closed, verify_peers};
use common::{TestBroker, guard};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use warren::config::Settings;

/// Turns on HTTPS for the API and the metrics endpoint (127.0.0.1, any port) with `server`'s
/// files; the plain listeners stay on. AMQPS stays off.
fn enable_https(s: &mut Settings, server: &Leaf) {
    enable_tls(s, server);
    s.tls.listen = String::new();
    s.management.tls_listen = vec!["127.0.0.1:0".to_string()];
    s.prometheus.tls_listen = vec!["127.0.0.1:0".to_string()];
}

async fn https_broker(name: &str, tweak: impl FnOnce(&mut Settings, &Pki)) -> (TestBroker, Pki) {
    let pki = Pki::new(name);
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| {
        enable_https(s, &server);
        tweak(s, &pki);
    })
    .await;
    (broker, pki)
}

fn api_addr(broker: &TestBroker) -> SocketAddr {
    broker.handle().unwrap().management_tls_addrs()[0]
}

fn metrics_addr(broker: &TestBroker) -> SocketAddr {
    broker.handle().unwrap().prometheus_tls_addrs()[0]
}

/// The listener of `/api/overview` with `protocol`.
fn listener<'a>(overview: &'a Value, protocol: &str) -> &'a Value {
    overview["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["protocol"] == protocol)
        .unwrap_or_else(|| panic!("no {protocol} listener in {overview}"))
}

#[tokio::test]
async fn the_api_and_metrics_are_served_over_https_beside_plain_http() {
    skip_if_external!();
    let (broker, pki) = https_broker("serve", |_, _| {}).await;
    let mut api = https(api_addr(&broker), pki.client_config(None))
        .await
        .unwrap();
    let leaf = CertificateDer::from_pem_file(pki.path("server.pem")).unwrap();
    assert_eq!(api.server_cert, leaf, "the client sees tls.certfile");

    let reply = api.get("/api/overview", true).await.unwrap();
    assert_eq!(reply.status, 200);
    let overview = reply.json();
    let api_listener = listener(&overview, "https");
    assert_eq!(api_listener["port"], api_addr(&broker).port());
    assert_eq!(api_listener["ip_address"], "127.0.0.1");
    assert_eq!(api_listener["socket_opts"]["ssl"], true);
    let ssl_opts = &api_listener["socket_opts"]["ssl_opts"];
    assert_eq!(
        ssl_opts["certfile"],
        pki.path("server.pem").display().to_string()
    );
    assert_eq!(ssl_opts["verify"], "verify_none");
    let metrics = listener(&overview, "https/prometheus");
    assert_eq!(metrics["port"], metrics_addr(&broker).port());
    assert_eq!(
        listener(&overview, "http")["socket_opts"],
        serde_json::json!({})
    );
    listener(&overview, "http/prometheus");
    let contexts = overview["contexts"].as_array().unwrap();
    let api_port = api_addr(&broker).port().to_string();
    let context = contexts.iter().find(|c| c["port"] == api_port.as_str());
    let context = context.expect("a context for the HTTPS API");
    assert_eq!(context["description"], "RabbitMQ Management");
    assert_eq!(context["ssl"], "true");

    // The same connection serves a second request (keep-alive), and still wants credentials.
    assert_eq!(api.get("/api/overview", false).await.unwrap().status, 401);

    let mut metrics = https(metrics_addr(&broker), pki.client_config(None))
        .await
        .unwrap();
    let reply = metrics.get("/metrics", false).await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("text/plain"));
    let text = String::from_utf8(reply.body).unwrap();
    assert!(text.contains("rabbitmq_connections"), "{text}");

    // Plain HTTP keeps working beside HTTPS.
    let plain = reqwest::get(format!("{}/metrics", broker.metrics_url()))
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 200);
}

#[tokio::test]
async fn verify_peer_with_fail_if_no_peer_cert_refuses_clients_without_a_certificate() {
    skip_if_external!();
    let (broker, pki) = https_broker("verify", |s, pki| verify_peers(s, pki, true)).await;
    let addr = api_addr(&broker);

    // No certificate: with TLS 1.3 the client's handshake ends before the server's
    // verdict, which arrives as a certificate_required alert instead of the response
    // (RabbitMQ's management listener answers the same way).
    let refused = match https(addr, pki.client_config(None)).await {
        Err(e) => e.to_string(),
        Ok(mut conn) => match conn.get("/api/overview", true).await {
            Err(e) => format!("{e:?}"),
            Ok(reply) => panic!("served without a client certificate: {}", reply.status),
        },
    };
    assert!(refused.contains("CertificateRequired"), "{refused}");

    // A certificate from another CA fails the handshake.
    let other = Pki::new("other");
    let stranger = other.client("stranger", "guest");
    let config = other_ca_client(&pki, &stranger);
    let refused = match https(addr, config).await {
        Err(e) => e.to_string(),
        Ok(mut conn) => match conn.get("/api/overview", true).await {
            Err(e) => format!("{e:?}"),
            Ok(reply) => panic!("served with an untrusted certificate: {}", reply.status),
        },
    };
    assert!(
        refused.contains("UnknownCA") || refused.contains("alert"),
        "{refused}"
    );

    // A trusted certificate gets through TLS; the API still wants Basic credentials.
    let client = pki.client("client", "guest");
    let mut conn = https(addr, pki.client_config(Some(&client))).await.unwrap();
    assert_eq!(conn.get("/api/overview", false).await.unwrap().status, 401);
    let reply = conn.get("/api/whoami", true).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "guest");
    let overview = conn.get("/api/overview", true).await.unwrap().json();
    let ssl_opts = &listener(&overview, "https")["socket_opts"]["ssl_opts"];
    assert_eq!(ssl_opts["verify"], "verify_peer");
    assert_eq!(ssl_opts["fail_if_no_peer_cert"], true);
    assert_eq!(ssl_opts["cacertfile"], pki.ca_path.display().to_string());
}

/// A client config that trusts `pki`'s CA (so the server is accepted) but presents
/// `identity`, signed by another CA.
fn other_ca_client(pki: &Pki, identity: &Leaf) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(warren::tls::crypto_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(identity.cert_pem.as_bytes()).unwrap()],
                rustls::pki_types::PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
                    .unwrap(),
            )
            .unwrap();
    Arc::new(config)
}

#[tokio::test]
async fn verify_peer_without_fail_if_no_peer_cert_serves_clients_without_a_certificate() {
    skip_if_external!();
    let (broker, pki) = https_broker("optional", |s, pki| verify_peers(s, pki, false)).await;
    let mut conn = https(api_addr(&broker), pki.client_config(None))
        .await
        .unwrap();
    assert_eq!(conn.get("/api/whoami", true).await.unwrap().status, 200);
}

#[tokio::test]
async fn plain_http_on_the_https_port_gets_an_alert_and_a_close() {
    skip_if_external!();
    let (broker, pki) = https_broker("plain", |_, _| {}).await;
    for addr in [api_addr(&broker), metrics_addr(&broker)] {
        let mut tcp = guard(TcpStream::connect(addr)).await.unwrap();
        let request = b"GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        guard(tcp.write_all(request)).await.unwrap();
        let reply = read_until_closed(&mut tcp)
            .await
            .expect("a clean close, not a reset");
        assert!(!reply.starts_with(b"HTTP"), "no HTTP on the HTTPS port");
        // Nothing but TLS alert records (content type 21).
        let mut rest = &reply[..];
        while rest.len() >= 5 {
            assert_eq!(rest[0], 21, "expected a TLS alert, got {reply:?}");
            let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
            rest = &rest[(5 + len).min(rest.len())..];
        }
        assert!(rest.is_empty(), "truncated record: {reply:?}");
    }
    let mut conn = https(api_addr(&broker), pki.client_config(None))
        .await
        .unwrap();
    assert_eq!(conn.get("/api/whoami", true).await.unwrap().status, 200);
}

#[tokio::test]
async fn stalled_handshakes_are_closed_at_the_deadline_while_others_are_served() {
    skip_if_external!();
    let (broker, pki) = https_broker("stalled", |_, _| {}).await;
    let addr = api_addr(&broker);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(pki.client_config(None), name).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let mut halfway = guard(TcpStream::connect(addr)).await.unwrap();
    guard(halfway.write_all(&hello[..hello.len() / 2]))
        .await
        .unwrap();
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(guard(TcpStream::connect(addr)).await.unwrap());
    }
    // While those hang, another client is served, on the same listener and repeatedly.
    for _ in 0..3 {
        let mut conn = https(addr, pki.client_config(None)).await.unwrap();
        assert_eq!(conn.get("/api/whoami", true).await.unwrap().status, 200);
    }
    // Each is closed cleanly at the handshake deadline (2 s here), nothing sent.
    let reply = read_until_closed(&mut halfway)
        .await
        .expect("a clean close");
    assert!(reply.is_empty(), "nothing is sent to a half ClientHello");
    for mut tcp in silent {
        let reply = read_until_closed(&mut tcp).await.expect("a clean close");
        assert!(reply.is_empty());
    }
}

#[test]
fn a_tls_listen_without_certificate_settings_names_the_setting() {
    let mut s = Settings::default();
    s.prometheus.tls_listen = vec!["127.0.0.1:15691".to_string()];
    let err = s.validate().unwrap_err();
    assert_eq!(err.key(), Some("tls.certfile"));
    assert!(err.to_string().contains("prometheus.tls_listen"), "{err}");

    let mut s = Settings::default();
    s.management.tls_listen = vec!["127.0.0.1:15671".to_string()];
    s.tls.certfile = "cert.pem".into();
    let err = s.validate().unwrap_err();
    assert_eq!(err.key(), Some("tls.keyfile"));
    assert!(err.to_string().contains("management.tls_listen"), "{err}");

    let mut s = Settings::default();
    s.management.tls_listen = vec!["localhost:15671".to_string()];
    s.tls.certfile = "cert.pem".into();
    s.tls.keyfile = "key.pem".into();
    let err = s.validate().unwrap_err();
    assert_eq!(err.key(), Some("management.tls_listen[0]"));
}

#[tokio::test]
async fn the_binary_refuses_to_start_with_https_but_no_certificate() {
    let data = tempfile::tempdir().unwrap();
    let out = guard(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_warren"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("WARREN_MANAGEMENT__LISTEN", "")
            .env("WARREN_PROMETHEUS__LISTEN", "")
            .env("WARREN_MANAGEMENT__TLS_LISTEN", "127.0.0.1:0")
            .output(),
    )
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tls.certfile") && stderr.contains("management.tls_listen"),
        "{stderr}"
    );
}
