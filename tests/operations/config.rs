//! Settings loading, precedence, validation and the auth helpers, without touching the
//! process environment (everything goes through `config::load_from`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use warren::access::Access;
use warren::auth::{self, AuthError};
use warren::config::{self, ConfigError, Overrides, Settings, UserSettings};

fn conf_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/warren.toml")
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load_toml(text: &str) -> Result<Settings, ConfigError> {
    let file = toml_file(text);
    config::load_from(Some(file.path()), no_env(), Overrides::default())
}

fn invalid_key(settings: &Settings) -> (String, String) {
    match settings.validate() {
        Err(ConfigError::Invalid { key, reason }) => (key, reason),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn shipped_conf_file_parses_to_exactly_the_defaults() {
    let loaded = config::load_from(Some(&conf_file()), no_env(), Overrides::default()).unwrap();
    assert_eq!(loaded, Settings::default());
    loaded.validate().unwrap();
}

#[test]
fn no_file_no_env_no_flags_gives_the_defaults() {
    let loaded = config::load_from(None, no_env(), Overrides::default()).unwrap();
    assert_eq!(loaded, Settings::default());
}

#[test]
fn file_values_override_defaults_and_omitted_keys_keep_them() {
    let s = load_toml(
        "[amqp]\nframe_max = 65536\n[[auth.users]]\nname = \"alice\"\npassword = \"pw\"\n",
    )
    .unwrap();
    assert_eq!(s.amqp.frame_max, 65536);
    assert_eq!(s.amqp.channel_max, 2047);
    assert_eq!(
        s.auth.users,
        vec![UserSettings {
            name: "alice".into(),
            password: "pw".into(),
            tags: None,
        }]
    );
    assert_eq!(s.auth.vhosts, vec!["/".to_string()]);
}

#[test]
fn env_overrides_file_with_typed_values() {
    let file = toml_file("[server]\nlisten = \"127.0.0.1:1111\"\n[amqp]\nframe_max = 65536\n");
    let s = config::load_from(
        Some(file.path()),
        env(&[
            ("WARREN_SERVER__LISTEN", "127.0.0.1:2222"),
            ("WARREN_AMQP__FRAME_MAX", "8192"),
            ("WARREN_AMQP__HEARTBEAT", "0"),
            ("WARREN_SERVER__MAX_CONNECTIONS", "10"),
            ("WARREN_AUTH__VHOSTS", "/, staging"),
            ("WARREN_AUTH__LOOPBACK_USERS", ""),
            ("HOME", "/ignored"),
        ]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.server.listen, "127.0.0.1:2222");
    assert_eq!(s.amqp.frame_max, 8192);
    assert_eq!(s.amqp.heartbeat, 0);
    assert_eq!(s.server.max_connections, 10);
    assert_eq!(s.auth.vhosts, vec!["/".to_string(), "staging".to_string()]);
    assert!(s.auth.loopback_users.is_empty());
}

#[test]
fn env_value_of_the_wrong_type_names_the_key() {
    let err = config::load_from(
        None,
        env(&[("WARREN_AMQP__CHANNEL_MAX", "70000")]),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Shape(_)), "{err:?}");
    assert!(err.to_string().contains("amqp.channel_max"), "{err}");

    let err = config::load_from(
        None,
        env(&[("WARREN_AMQP__FRAME_MAX", "big")]),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("amqp.frame_max"), "{err}");
}

#[test]
fn flags_override_env() {
    let s = config::load_from(
        None,
        env(&[
            ("WARREN_SERVER__LISTEN", "127.0.0.1:2222"),
            ("WARREN_SERVER__DATA_DIR", "/env/dir"),
            ("WARREN_SERVER__LOG_LEVEL", "debug"),
        ]),
        Overrides {
            listen: Some("127.0.0.1:3333".into()),
            data_dir: Some(PathBuf::from("/flag/dir")),
            log_level: Some("warn".into()),
        },
    )
    .unwrap();
    assert_eq!(s.server.listen, "127.0.0.1:3333");
    assert_eq!(s.server.data_dir, PathBuf::from("/flag/dir"));
    assert_eq!(s.server.log_level, "warn");
}

#[test]
fn cli_flags_parse_into_overrides() {
    use clap::Parser;
    let cli = config::cli::Cli::try_parse_from([
        "warren",
        "--config",
        "x.toml",
        "--listen",
        "[::1]:5673",
        "--data-dir",
        "/d",
        "--log-level",
        "trace",
    ])
    .unwrap();
    assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
    let o = Overrides::from(&cli);
    assert_eq!(o.listen.as_deref(), Some("[::1]:5673"));
    assert_eq!(o.data_dir, Some(PathBuf::from("/d")));
    assert_eq!(o.log_level.as_deref(), Some("trace"));
}

#[test]
fn unknown_key_in_file_is_refused_naming_it() {
    let err = load_toml("[amqp]\nframe_maxx = 4096\n").unwrap_err();
    assert!(err.to_string().contains("frame_maxx"), "{err}");
    let err = load_toml("[nonsense]\nx = 1\n").unwrap_err();
    assert!(err.to_string().contains("nonsense"), "{err}");
    let err =
        load_toml("[[auth.users]]\nname = \"a\"\npassword = \"b\"\nrole = \"c\"\n").unwrap_err();
    assert!(err.to_string().contains("role"), "{err}");
}

#[test]
fn floats_and_booleans_are_refused_not_rounded() {
    let err = load_toml("[amqp]\nframe_max = 4096.5\n").unwrap_err();
    assert_eq!(err.key(), Some("amqp.frame_max"), "{err}");
    let err = load_toml("[server]\nmax_connections = true\n").unwrap_err();
    assert_eq!(err.key(), Some("server.max_connections"), "{err}");
    let err = load_toml("[auth]\nvhosts = [\"/\", 1.5]\n").unwrap_err();
    assert_eq!(err.key(), Some("auth.vhosts[1]"), "{err}");
}

#[test]
fn unknown_env_key_is_refused_naming_it() {
    let err = config::load_from(
        None,
        env(&[("WARREN_AMQP__FRAMEMAX", "4096")]),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("framemax"), "{err}");
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let path = Path::new("/nonexistent/warren.toml");
    let err = config::load_from(Some(path), no_env(), Overrides::default()).unwrap_err();
    assert!(matches!(err, ConfigError::FileNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/warren.toml"),
        "{err}"
    );
}

#[test]
fn malformed_toml_names_the_file() {
    let file = toml_file("[server\nlisten = 1\n");
    let err = config::load_from(Some(file.path()), no_env(), Overrides::default()).unwrap_err();
    assert!(matches!(err, ConfigError::File { .. }), "{err:?}");
    let path = file.path().display().to_string();
    assert!(err.to_string().contains(&path), "{err}");
}

#[test]
fn each_validation_rule_names_its_key() {
    let mut s = Settings::default();
    s.server.listen = "localhost".into();
    assert_eq!(invalid_key(&s).0, "server.listen");

    let mut s = Settings::default();
    s.server.log_level = "warren=loud".into();
    assert_eq!(invalid_key(&s).0, "server.log_level");

    let mut s = Settings::default();
    s.server.compact_free_percent = 101;
    assert_eq!(invalid_key(&s).0, "server.compact_free_percent");

    let mut s = Settings::default();
    s.server.worker_threads = 5000;
    let (key, message) = invalid_key(&s);
    assert_eq!(key, "server.worker_threads");
    assert!(message.contains("got 5000"), "{message}");

    let mut s = Settings::default();
    s.amqp.frame_max = 1024;
    let err = s.validate().unwrap_err();
    assert_eq!(err.key(), Some("amqp.frame_max"));
    assert_eq!(
        err.to_string(),
        "amqp.frame_max: must be at least 4096, got 1024"
    );

    let mut s = Settings::default();
    s.amqp.channel_max = 0;
    assert_eq!(invalid_key(&s).0, "amqp.channel_max");

    let mut s = Settings::default();
    s.amqp.handshake_timeout_ms = 0;
    assert_eq!(invalid_key(&s).0, "amqp.handshake_timeout_ms");

    for bad in [0, 512 * 1024 * 1024 + 1] {
        let mut s = Settings::default();
        s.amqp.max_message_size = bad;
        assert_eq!(invalid_key(&s).0, "amqp.max_message_size", "{bad}");
    }

    let mut s = Settings::default();
    s.auth.users.push(UserSettings {
        name: String::new(),
        password: "x".into(),
        tags: None,
    });
    assert_eq!(invalid_key(&s).0, "auth.users[1].name");

    let mut s = Settings::default();
    s.auth.users.push(UserSettings {
        name: "guest".into(),
        password: "other".into(),
        tags: None,
    });
    let (key, reason) = invalid_key(&s);
    assert_eq!(key, "auth.users[1].name");
    assert!(reason.contains("auth.users[0]"), "{reason}");

    let mut s = Settings::default();
    s.auth.vhosts.push(String::new());
    assert_eq!(invalid_key(&s).0, "auth.vhosts[1]");
}

#[test]
fn boundary_values_are_accepted() {
    let mut s = Settings::default();
    s.amqp.frame_max = 4096;
    s.amqp.channel_max = 1;
    s.amqp.handshake_timeout_ms = 1;
    s.amqp.max_message_size = 512 * 1024 * 1024;
    s.server.listen = "[::]:0".into();
    s.server.log_level = "warn,warren=trace".into();
    s.validate().unwrap();
    assert_eq!(
        s.listen_addr().unwrap(),
        "[::]:0".parse::<SocketAddr>().unwrap()
    );
    s.amqp.max_message_size = 1;
    s.validate().unwrap();
}

#[test]
fn plain_response_is_decoded_and_an_authzid_refused_as_rabbitmq_does() {
    assert_eq!(
        auth::parse_plain(b"\0guest\0secret"),
        Some(("guest".to_string(), b"secret".to_vec()))
    );
    assert_eq!(
        auth::parse_plain(b"\0guest\0"),
        Some(("guest".to_string(), Vec::new()))
    );
    assert_eq!(auth::parse_plain(b"admin\0guest\0"), None);
    assert_eq!(auth::parse_plain(b"guest\0secret"), None);
    assert_eq!(auth::parse_plain(b"\0a\0b\0c"), None);
    assert_eq!(auth::parse_plain(b""), None);
    assert_eq!(auth::parse_plain(b"\0\xff\0pw"), None);
}

#[test]
fn amqplain_response_is_decoded() {
    // What lapin (amq-protocol) and amqprs send: the table body without its length.
    let response = b"\x05LOGINS\x00\x00\x00\x05guest\x08PASSWORDS\x00\x00\x00\x05guest";
    assert_eq!(
        auth::parse_amqplain(response),
        Some(("guest".to_string(), b"guest".to_vec()))
    );
    // Order does not matter.
    let response = b"\x08PASSWORDS\x00\x00\x00\x02pw\x05LOGINS\x00\x00\x00\x01u";
    assert_eq!(
        auth::parse_amqplain(response),
        Some(("u".to_string(), b"pw".to_vec()))
    );
}

#[test]
fn amqplain_rejects_missing_fields_and_truncation() {
    assert_eq!(auth::parse_amqplain(b"\x05LOGINS\x00\x00\x00\x01u"), None);
    assert_eq!(
        auth::parse_amqplain(b"\x05LOGINS\x00\x00\x00\x09u\x08PASSWORDS\x00\x00\x00\x01p"),
        None
    );
    assert_eq!(auth::parse_amqplain(b"\x05LOG"), None);
    assert_eq!(
        auth::parse_amqplain(b"\x05LOGINS\xff\xff\xff\xffu"),
        None,
        "a huge length must not be trusted"
    );
    // LOGIN must be a long string.
    assert_eq!(
        auth::parse_amqplain(b"\x05LOGINI\x00\x00\x00\x01\x08PASSWORDS\x00\x00\x00\x01p"),
        None
    );
    assert_eq!(auth::parse_amqplain(b""), None);
}

fn peer(addr: &str) -> SocketAddr {
    addr.parse().unwrap()
}

#[test]
fn guest_may_connect_only_from_loopback() {
    let (_dir, a) = access_for(&Settings::default().auth);
    for local in [
        "127.0.0.1:4000",
        "127.1.2.3:4000",
        "[::1]:4000",
        "[::ffff:127.0.0.1]:4000",
    ] {
        assert_eq!(
            a.authenticate("guest", b"guest", peer(local)).map(|_| ()),
            Ok(()),
            "{local}"
        );
    }
    for remote in [
        "192.0.2.7:4000",
        "[2001:db8::1]:4000",
        "[::ffff:192.0.2.7]:4000",
    ] {
        assert_eq!(
            a.authenticate("guest", b"guest", peer(remote)).map(|_| ()),
            Err(AuthError::LoopbackOnly {
                user: "guest".into()
            }),
            "{remote}"
        );
    }
}

#[test]
fn credentials_are_checked_before_the_loopback_rule() {
    let (_dir, a) = access_for(&Settings::default().auth);
    let remote = peer("192.0.2.7:4000");
    assert_eq!(
        a.authenticate("guest", b"wrong", remote).map(|_| ()),
        Err(AuthError::BadPassword {
            user: "guest".into()
        })
    );
    assert_eq!(
        a.authenticate("nobody", b"guest", remote).map(|_| ()),
        Err(AuthError::UnknownUser {
            user: "nobody".into()
        })
    );
}

#[test]
fn users_not_in_loopback_users_may_connect_from_anywhere() {
    let mut settings = Settings::default().auth;
    settings.users.push(UserSettings {
        name: "app".into(),
        password: "s3cret".into(),
        tags: None,
    });
    let (_dir, a) = access_for(&settings);
    assert_eq!(
        a.authenticate("app", b"s3cret", peer("192.0.2.7:1"))
            .map(|_| ()),
        Ok(())
    );
    assert!(
        a.authenticate("app", b"s3cre", peer("127.0.0.1:1"))
            .is_err()
    );
    assert!(
        a.authenticate("app", b"s3cret\0", peer("127.0.0.1:1"))
            .is_err()
    );
    assert!(
        a.authenticate("APP", b"s3cret", peer("127.0.0.1:1"))
            .is_err()
    );
    assert!(
        !format!("{a:?}").contains("s3cret"),
        "Debug must not show passwords"
    );
}

#[test]
fn refusals_use_rabbitmq_texts() {
    let unknown = AuthError::UnknownUser { user: "x".into() };
    let bad = AuthError::BadPassword { user: "x".into() };
    let loopback = AuthError::LoopbackOnly {
        user: "guest".into(),
    };
    // Observed from RabbitMQ 3.10 (connection.close 403, class 0, method 0).
    let plain = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. \
                 For details see the broker logfile.";
    for e in [&unknown, &bad, &loopback] {
        assert_eq!(e.refusal_text("PLAIN"), plain);
        assert_eq!(e.reply_code().code(), 403);
    }
    assert!(
        loopback
            .refusal_text("AMQPLAIN")
            .contains("mechanism AMQPLAIN.")
    );
    // Log texts (RabbitMQ's wording); unknown user and bad password look alike.
    assert_eq!(unknown.to_string(), "user 'x' - invalid credentials");
    assert_eq!(bad.to_string(), unknown.to_string());
    assert_eq!(
        loopback.to_string(),
        "user 'guest' can only connect via localhost"
    );
}

#[test]
fn vhosts_come_from_settings() {
    let mut settings = Settings::default().auth;
    settings.vhosts.push("staging".into());
    let (_dir, a) = access_for(&settings);
    assert!(a.vhost_exists("/"));
    assert!(a.vhost_exists("staging"));
    assert!(!a.vhost_exists("prod"));
    assert!(!a.vhost_exists(""));
}

/// Issue #10: `WARREN_HOME` or `WARREN_BIN` in an operator's shell stopped start-up with
/// "unknown field"; only `WARREN_<SECTION>__<KEY>` names are settings.
#[test]
fn only_section_key_variables_are_read_as_settings() {
    let s = config::load_from(
        None,
        env(&[
            ("WARREN_HOME", "/opt/warren"),
            ("WARREN_BIN", "/usr/local/bin/warren"),
            ("WARREN_", "x"),
            ("WARREN___KEY", "x"),
            ("WARREN_SERVER__", "x"),
            ("warren_amqp__heartbeat", "5"),
        ]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.amqp.heartbeat, 5);
    let expected = Settings {
        amqp: config::AmqpSettings {
            heartbeat: 5,
            ..Settings::default().amqp
        },
        ..Settings::default()
    };
    assert_eq!(s, expected);

    let err = config::load_from(
        None,
        env(&[("WARREN_NOPE__KEY", "1")]),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn the_default_listens_on_ipv4_and_ipv6() {
    let addrs = Settings::default().listen_addrs().unwrap();
    let expected: Vec<SocketAddr> = vec![
        "0.0.0.0:5672".parse().unwrap(),
        "[::]:5672".parse().unwrap(),
    ];
    assert_eq!(addrs, expected);
}

#[test]
fn listen_takes_a_list_from_the_file_the_environment_or_the_flags() {
    let two: Vec<SocketAddr> = vec![
        "127.0.0.1:5672".parse().unwrap(),
        "[::1]:5672".parse().unwrap(),
    ];
    let s = load_toml("[server]\nlisten = [\"127.0.0.1:5672\", \"[::1]:5672\"]\n").unwrap();
    assert_eq!(s.listen_addrs().unwrap(), two);
    let s = load_toml("[server]\nlisten = \"127.0.0.1:5672\"\n").unwrap();
    assert_eq!(s.listen_addrs().unwrap(), two[..1].to_vec());

    let s = config::load_from(
        None,
        env(&[("WARREN_SERVER__LISTEN", "127.0.0.1:5672, [::1]:5672")]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.listen_addrs().unwrap(), two);

    use clap::Parser;
    for args in [
        &[
            "warren",
            "--listen",
            "127.0.0.1:5672",
            "--listen",
            "[::1]:5672",
        ][..],
        &["warren", "--listen", "127.0.0.1:5672,[::1]:5672"][..],
    ] {
        let cli = config::cli::Cli::try_parse_from(args).unwrap();
        let s = config::load_from(None, no_env(), Overrides::from(&cli)).unwrap();
        assert_eq!(s.listen_addrs().unwrap(), two, "{args:?}");
    }

    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:5672,localhost:5672".into();
    let (key, reason) = invalid_key(&s);
    assert_eq!(key, "server.listen");
    assert!(reason.contains("localhost:5672"), "{reason}");
}

#[test]
fn tls_and_mechanism_rules_name_their_keys() {
    use config::tls::TlsVerify;
    let tls_on = || {
        let mut s = Settings::default();
        s.tls.listen = "127.0.0.1:5671".into();
        s.tls.certfile = "/etc/warren/cert.pem".into();
        s.tls.keyfile = "/etc/warren/key.pem".into();
        s
    };
    tls_on().validate().unwrap();

    let mut s = tls_on();
    s.tls.certfile = PathBuf::new();
    assert_eq!(invalid_key(&s).0, "tls.certfile");
    let mut s = tls_on();
    s.tls.keyfile = PathBuf::new();
    assert_eq!(invalid_key(&s).0, "tls.keyfile");
    let mut s = tls_on();
    s.tls.verify = TlsVerify::VerifyPeer;
    assert_eq!(invalid_key(&s).0, "tls.cacertfile");
    let mut s = tls_on();
    s.tls.fail_if_no_peer_cert = true;
    assert_eq!(invalid_key(&s).0, "tls.fail_if_no_peer_cert");
    let mut s = tls_on();
    s.tls.versions = vec!["tlsv1.2".into(), "tlsv1.1".into()];
    assert_eq!(invalid_key(&s).0, "tls.versions[1]");
    let mut s = tls_on();
    s.tls.listen = "0.0.0.0".into();
    assert_eq!(invalid_key(&s).0, "tls.listen");
    let mut s = tls_on();
    s.tls.handshake_timeout_ms = 0;
    assert_eq!(invalid_key(&s).0, "tls.handshake_timeout_ms");

    // The plain listener may be off when TLS is on, not both.
    let mut s = tls_on();
    s.server.listen = String::new();
    s.validate().unwrap();
    s.tls.listen = String::new();
    assert_eq!(invalid_key(&s).0, "server.listen");

    let mut s = Settings::default();
    s.auth.mechanisms = vec!["PLAIN".into(), "CRAM-MD5".into()];
    assert_eq!(invalid_key(&s).0, "auth.mechanisms[1]");
    let mut s = Settings::default();
    s.auth.mechanisms.clear();
    assert_eq!(invalid_key(&s).0, "auth.mechanisms");
}

#[test]
fn tls_settings_come_from_the_file_and_the_environment() {
    use config::tls::TlsVerify;
    let file = toml_file(
        "[tls]\nlisten = [\"0.0.0.0:5671\"]\ncertfile = \"/c.pem\"\nkeyfile = \"/k.pem\"\n\
         cacertfile = \"/ca.pem\"\nverify = \"verify_peer\"\nfail_if_no_peer_cert = true\n\
         [auth]\nmechanisms = [\"EXTERNAL\", \"PLAIN\"]\nssl_cert_login_from = \"common_name\"\n",
    );
    let s = config::load_from(
        Some(file.path()),
        env(&[
            ("WARREN_TLS__LISTEN", "0.0.0.0:5671,[::]:5671"),
            ("WARREN_TLS__VERSIONS", "tlsv1.3"),
            ("WARREN_TLS__FAIL_IF_NO_PEER_CERT", "false"),
        ]),
        Overrides::default(),
    )
    .unwrap();
    s.validate().unwrap();
    assert_eq!(s.tls.listen_addrs().unwrap().len(), 2);
    assert_eq!(s.tls.verify, TlsVerify::VerifyPeer);
    assert!(!s.tls.fail_if_no_peer_cert);
    assert_eq!(s.tls.versions, vec!["tlsv1.3".to_string()]);
    assert_eq!(s.auth.mechanisms, vec!["EXTERNAL", "PLAIN"]);
    assert_eq!(
        s.auth.ssl_cert_login_from,
        config::CertLoginFrom::CommonName
    );

    let err = load_toml("[tls]\nverify = \"verify_maybe\"\n").unwrap_err();
    assert!(err.to_string().contains("verify"), "{err}");
    // Only the TLS switch takes a boolean.
    let err = load_toml("[tls]\nhandshake_timeout_ms = true\n").unwrap_err();
    assert_eq!(err.key(), Some("tls.handshake_timeout_ms"), "{err}");
}

/// An access model seeded from `settings` in a fresh data directory.
fn access_for(settings: &warren::config::AuthSettings) -> (tempfile::TempDir, Access) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        warren::store::Store::open(dir.path(), warren::store::StoreOptions::default()).unwrap();
    let access = Access::open(store, settings).unwrap();
    (dir, access)
}

#[test]
fn http_listeners_default_to_every_ipv4_and_ipv6_address() {
    let s = Settings::default();
    assert_eq!(s.management.listen, vec!["0.0.0.0:15672", "[::]:15672"]);
    assert_eq!(s.prometheus.listen, vec!["0.0.0.0:15692", "[::]:15692"]);
}

#[test]
fn http_listeners_come_from_file_and_env_and_an_empty_list_turns_them_off() {
    let file = toml_file("[management]\nlisten = [\"127.0.0.1:8080\"]\n");
    let s = config::load_from(
        Some(file.path()),
        env(&[("WARREN_PROMETHEUS__LISTEN", "")]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.management.listen, vec!["127.0.0.1:8080"]);
    assert!(s.prometheus.listen.is_empty());
    let s = config::load_from(
        None,
        env(&[("WARREN_MANAGEMENT__LISTEN", "127.0.0.1:1, [::1]:2")]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.management.listen, vec!["127.0.0.1:1", "[::1]:2"]);
    s.validate().unwrap();
}

#[test]
fn a_bad_http_listen_address_names_its_entry() {
    let mut s = Settings::default();
    s.management.listen = vec!["0.0.0.0:15672".into(), "localhost:1".into()];
    let (key, reason) = invalid_key(&s);
    assert_eq!(key, "management.listen[1]");
    assert!(reason.contains("localhost:1"), "{reason}");
    let mut s = Settings::default();
    s.prometheus.listen = vec!["15692".into()];
    assert_eq!(invalid_key(&s).0, "prometheus.listen[0]");
}
