//! Users over AMQP: RabbitMQ's password hash formats log users in, the config seeds the
//! users, vhosts and permissions on the first start only, run-time changes survive a
//! restart, passwords are stored hashed, and deleting a user or a vhost closes its
//! connections with 320 CONNECTION_FORCED. Warren only (users are set in-process).

use crate::common;

use common::TestBroker;
use common::access::*;
use warren::access::password::{HashingAlgorithm, PasswordHash};
use warren::access::{NewPassword, VHostRecord};
use warren::config::UserSettings;

/// `s3cret` hashed with the salt 908dc60a as RabbitMQ hashes it (base64(salt ‖ H(salt ‖
/// password))), computed independently with Python's hashlib.
const HASHES: [(&str, &str); 3] = [
    (
        "rabbit_password_hashing_sha256",
        "kI3GCkwidbNLQtNlauSvDxHDzz3IO+MCqP9YQ8IPMmUonl9G",
    ),
    (
        "rabbit_password_hashing_sha512",
        "kI3GCky7GMJhP0F/jGJD6y5rh9cUASqnGFQMSVyDfTBLrIj5eJ6HaJSo6uPUnJ0A2/lbJ4uax70J0oFzEuj2PJIVe/4=",
    ),
    (
        "rabbit_password_hashing_md5",
        "kI3GCoeyNuatKbUF3hRPeQ6H5YU=",
    ),
];

/// Logs in as `user` with `password` on `/` (lapin); true if the connection opened.
async fn logs_in(b: &TestBroker, user: &str, password: &str) -> bool {
    let uri = b.uri_with(user, password, "/");
    let conn = common::guard(lapin::Connection::connect(
        &uri,
        lapin::ConnectionProperties::default(),
    ))
    .await;
    match conn {
        Ok(conn) => {
            let _ = common::guard(conn.close(200, "bye".into())).await;
            true
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn rabbitmq_password_hashes_log_the_user_in() {
    skip_if_external!();
    let b = TestBroker::start().await;
    for (i, (algorithm, hash)) in HASHES.iter().enumerate() {
        let user = format!("h{i}");
        let alg = HashingAlgorithm::from_name(algorithm).unwrap();
        let hash = PasswordHash::from_base64(alg, hash).unwrap();
        let a = access(&b);
        a.put_user(&user, NewPassword::Hashed(hash), Vec::new())
            .unwrap();
        a.set_permissions(&user, "/", perms(".*", ".*", ".*"))
            .unwrap();
        assert!(logs_in(&b, &user, "s3cret").await, "{algorithm}");
        assert!(!logs_in(&b, &user, "s3cret!").await, "{algorithm}");
        // The export shows the same hash and algorithm back.
        let stored = a.user(&user).unwrap();
        assert_eq!(stored.password.to_base64(), HASHES[i].1);
        assert_eq!(stored.password.algorithm().name(), *algorithm);
    }
}

#[tokio::test]
async fn config_seeds_guest_as_administrator_and_default_permissions() {
    skip_if_external!();
    let b = TestBroker::start_with(|s| {
        s.auth.vhosts.push("staging".into());
        s.auth.users.push(UserSettings {
            name: "app".into(),
            password: "pw".into(),
            tags: None,
        });
    })
    .await;
    let a = access(&b);
    assert_eq!(a.user("guest").unwrap().tags, vec!["administrator"]);
    assert!(a.user("app").unwrap().tags.is_empty());
    for user in ["guest", "app"] {
        for vhost in ["/", "staging"] {
            assert_eq!(a.permissions(user, vhost), Some(perms(".*", ".*", ".*")));
        }
    }
    let mut c = login(&b, "app", "staging").await;
    c.queue_declare(1, "q", false).await;
}

#[tokio::test]
async fn run_time_changes_survive_a_restart_and_the_config_seeds_only_once() {
    skip_if_external!();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let b = TestBroker::start_with(|s| s.server.data_dir = path.clone()).await;
    let a = access(&b);
    assert!(b_add_vhost(&b, "v2"));
    add_user(&b, "u", Some(perms("^c", "^w", "^r")));
    a.set_permissions("u", "v2", perms("", "", ".*")).unwrap();
    a.set_vhost_limit("v2", "max-queues", Some(7)).unwrap();
    a.set_user_limit("u", "max-channels", Some(3)).unwrap();
    assert!(
        b.server()
            .unwrap()
            .broker()
            .expect("single-node broker")
            .delete_user("guest")
    );
    b.shutdown().await;

    // The config still lists guest and only "/": what is stored wins.
    let b = TestBroker::start_with(|s| s.server.data_dir = path.clone()).await;
    let a = access(&b);
    assert!(a.user("guest").is_none());
    assert_eq!(a.permissions("u", "/"), Some(perms("^c", "^w", "^r")));
    assert_eq!(a.permissions("u", "v2"), Some(perms("", "", ".*")));
    assert_eq!(a.vhost_limits("v2").max_queues, Some(7));
    assert_eq!(a.user_limits("u").unwrap().max_channels, Some(3));
    let mut c = login(&b, "u", "v2").await;
    c.send_method(1, 50, 10, &queue_declare("amq.x", true, &[]))
        .await;
    assert_eq!(c.expect_channel_close(1).await.code, 404);
    assert!(!logs_in(&b, "guest", "guest").await);
    b.shutdown().await;
}

fn b_add_vhost(b: &TestBroker, name: &str) -> bool {
    b.server()
        .unwrap()
        .broker()
        .expect("single-node broker")
        .add_vhost(VHostRecord {
            name: name.into(),
            ..VHostRecord::default()
        })
}

#[tokio::test]
async fn passwords_are_stored_hashed_never_in_clear() {
    skip_if_external!();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let b = TestBroker::start_with(|s| {
        s.server.data_dir = path.clone();
        s.auth.users.push(UserSettings {
            name: "seeded-user".into(),
            password: "seeded-Pa55word".into(),
            tags: None,
        });
    })
    .await;
    access(&b)
        .put_user(
            "runtime-user",
            NewPassword::Clear(b"runtime-Pa55word".to_vec()),
            Vec::new(),
        )
        .unwrap();
    assert!(!format!("{:?}", access(&b)).contains("Pa55word"));
    b.shutdown().await;
    let data = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let contains = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"runtime-user") && contains(b"seeded-user"));
    assert!(!contains(b"runtime-Pa55word") && !contains(b"seeded-Pa55word"));
}

#[tokio::test]
async fn deleting_a_user_closes_its_connections() {
    skip_if_external!();
    let b = TestBroker::start().await;
    add_user(&b, "u", Some(perms(".*", ".*", ".*")));
    let mut c = login(&b, "u", "/").await;
    let mut other = b.raw().await;
    assert!(
        b.server()
            .unwrap()
            .broker()
            .expect("single-node broker")
            .delete_user("u")
    );
    let close = c.expect_connection_close().await;
    assert_eq!(
        (close.code, close.text.as_str()),
        (320, "CONNECTION_FORCED - user 'u' is deleted")
    );
    assert!(!logs_in(&b, "u", "pw").await);
    // Other users' connections stay open.
    other.open_channel(1).await;
    other.sync(1).await;
}

#[tokio::test]
async fn deleting_a_vhost_closes_its_connections_and_removes_its_objects() {
    skip_if_external!();
    let b = TestBroker::start().await;
    let broker = b.server().unwrap().broker().expect("single-node broker");
    assert!(b_add_vhost(&b, "v2"));
    add_user(&b, "u", None);
    access(&b)
        .set_permissions("u", "v2", perms(".*", ".*", ".*"))
        .unwrap();
    let mut c = login(&b, "u", "v2").await;
    let args = common::raw::Args::new()
        .u16(0)
        .shortstr("dq")
        .bits(&[false, true, false, false, false])
        .empty_table()
        .build();
    c.send_method(1, 50, 10, &args).await;
    c.expect_method(50, 11).await;
    c.publish(1, "", "dq", b"kept?").await;
    c.sync(1).await;
    assert!(broker.delete_vhost("v2"));
    let close = c.expect_connection_close().await;
    assert_eq!(
        (close.code, close.text.as_str()),
        (320, "CONNECTION_FORCED - vhost 'v2' is deleted")
    );
    assert!(broker.vhost("v2").is_none());
    let refused = refused_at_open(&b, "u", "v2").await;
    assert_eq!(
        (refused.code, refused.text.as_str()),
        (530, "NOT_ALLOWED - vhost v2 not found")
    );
    // Re-created, it is empty: the durable queue went with the old one.
    assert!(b_add_vhost(&b, "v2"));
    access(&b)
        .set_permissions("u", "v2", perms(".*", ".*", ".*"))
        .unwrap();
    let mut c = login(&b, "u", "v2").await;
    c.send_method(1, 50, 10, &queue_declare("dq", true, &[]))
        .await;
    assert_eq!(c.expect_channel_close(1).await.code, 404);
}
