//! The `[tls]` files are checked at start-up (issue #13): a missing file, a key for another
//! certificate, an expired certificate or an unknown cipher stops start-up with a message
//! naming the setting; RSA, ECDSA and Ed25519 keys are served; versions and ciphers are
//! honoured.

use crate::common;

use common::tls::{Leaf, Pki, enable_tls, tls_connect};
use common::{TestBroker, guard};
use rcgen::KeyPair;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren::config::Settings;

/// Starts Warren with TLS from `server` after `tweak`, returning the start-up error text.
async fn start_error(server: &Leaf, tweak: impl FnOnce(&mut Settings)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.data_dir = dir.path().to_path_buf();
    enable_tls(&mut settings, server);
    tweak(&mut settings);
    settings.validate().unwrap();
    let result = guard(warren::server::start(Arc::new(settings))).await;
    result.expect_err("start-up must fail").to_string()
}

/// Opens TLS with `config` and checks the broker answers the AMQP header with
/// connection.start.
async fn speaks_amqp(broker: &TestBroker, config: Arc<rustls::ClientConfig>) {
    let mut tls = tls_connect(broker.tls_addr(), config).await.unwrap();
    guard(tls.write_all(common::raw::PROTOCOL_HEADER))
        .await
        .unwrap();
    let mut header = [0u8; 11];
    guard(tls.read_exact(&mut header)).await.unwrap();
    assert_eq!(header[0], 1, "a method frame");
    assert_eq!(&header[7..11], &[0, 10, 0, 10], "connection.start");
}

#[tokio::test]
async fn a_missing_certfile_stops_start_up_naming_it() {
    let pki = Pki::new("missing");
    let server = pki.server("server");
    let missing = pki.path("nope.pem");
    let err = start_error(&server, |s| s.tls.certfile = missing.clone()).await;
    assert!(err.starts_with("tls.certfile: cannot read "), "{err}");
    assert!(err.contains("nope.pem"), "{err}");
}

#[tokio::test]
async fn a_key_for_another_certificate_stops_start_up() {
    let pki = Pki::new("mismatch");
    let server = pki.server("server");
    let other = pki.server("other");
    let err = start_error(&server, |s| s.tls.keyfile = other.key_path.clone()).await;
    assert!(
        err.starts_with("tls.keyfile: the key in ") && err.contains("does not match"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_certificate_stops_start_up() {
    let pki = Pki::new("expired");
    let mut params = Pki::server_params();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let server = pki.sign("server", params, KeyPair::generate().unwrap());
    let err = start_error(&server, |_| {}).await;
    assert!(
        err.starts_with("tls.certfile: ") && err.contains("expired"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_without_a_certificate_or_key_stops_start_up() {
    let pki = Pki::new("empty");
    let server = pki.server("server");
    let err = start_error(&server, |s| s.tls.certfile = server.key_path.clone()).await;
    assert!(
        err.starts_with("tls.certfile: ") && err.contains("no certificate"),
        "{err}"
    );
    let err = start_error(&server, |s| s.tls.keyfile = server.cert_path.clone()).await;
    assert!(
        err.starts_with("tls.keyfile: ") && err.contains("no private key"),
        "{err}"
    );
    let err = start_error(&server, |s| {
        s.tls.verify = warren::config::tls::TlsVerify::VerifyPeer;
        s.tls.cacertfile = server.key_path.clone();
    })
    .await;
    assert!(err.starts_with("tls.cacertfile: "), "{err}");
}

#[tokio::test]
async fn an_unknown_cipher_stops_start_up_listing_the_known_ones() {
    let pki = Pki::new("cipher");
    let server = pki.server("server");
    let err = start_error(&server, |s| s.tls.ciphers = vec!["RC4-MD5".into()]).await;
    assert!(
        err.starts_with("tls.ciphers: unknown cipher suite"),
        "{err}"
    );
    assert!(err.contains("TLS13_AES_256_GCM_SHA384"), "{err}");
}

#[tokio::test]
async fn ecdsa_ed25519_and_rsa_keys_are_served() {
    skip_if_external!();
    let pki = Pki::new("keys");
    let mut keys = vec![
        (
            "p256",
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        ),
        (
            "p384",
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        ),
        (
            "ed25519",
            KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
        ),
    ];
    // ring cannot generate RSA keys; openssl makes one (signing with it is ring's job).
    let rsa = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl to make an RSA key");
    assert!(rsa.status.success(), "{rsa:?}");
    let rsa_pem = String::from_utf8(rsa.stdout).unwrap();
    let rsa_key = KeyPair::from_pem_and_sign_algo(&rsa_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    keys.push(("rsa", rsa_key));
    for (name, key) in keys {
        let server = pki.sign(name, Pki::server_params(), key);
        let broker = TestBroker::start_with(|s| enable_tls(s, &server)).await;
        speaks_amqp(&broker, pki.client_config(None)).await;
        broker.shutdown().await;
    }
}

#[tokio::test]
async fn versions_and_ciphers_limit_what_is_negotiated() {
    skip_if_external!();
    let pki = Pki::new("versions");
    let server = pki.server("server");
    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        s.tls.versions = vec!["tlsv1.2".into()];
    })
    .await;
    let tls = tls_connect(broker.tls_addr(), pki.client_config(None))
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    broker.shutdown().await;

    let broker = TestBroker::start_with(|s| {
        enable_tls(s, &server);
        s.tls.versions = vec!["tlsv1.3".into()];
        s.tls.ciphers = vec!["TLS13_CHACHA20_POLY1305_SHA256".into()];
    })
    .await;
    let tls = tls_connect(broker.tls_addr(), pki.client_config(None))
        .await
        .unwrap();
    let suite = tls.get_ref().1.negotiated_cipher_suite().unwrap();
    assert_eq!(
        format!("{:?}", suite.suite()),
        "TLS13_CHACHA20_POLY1305_SHA256"
    );
}
