//! Helpers for the access tests: users and permissions set through Warren's in-process
//! broker, raw logins as those users, and the methods whose refusals the tests check.

use super::TestBroker;
use super::ext::{encode_table, table, vstr};
use super::raw::{Args, Close, RawConn, TuneOk};
use warren::access::{Access, NewPassword, PermissionSpec};

/// Warren's access model (the tests that use it skip an external broker).
pub fn access(broker: &TestBroker) -> &Access {
    &broker
        .server()
        .expect("an in-process Warren")
        .broker()
        .expect("single-node broker")
        .access
}

/// Permissions from three patterns.
pub fn perms(configure: &str, write: &str, read: &str) -> PermissionSpec {
    PermissionSpec {
        configure: configure.into(),
        write: write.into(),
        read: read.into(),
    }
}

/// Adds `user` (password `pw`, no tags) with `permissions` on vhost `/` (none if `None`).
pub fn add_user(broker: &TestBroker, user: &str, permissions: Option<PermissionSpec>) {
    let a = access(broker);
    a.put_user(user, NewPassword::Clear(b"pw".to_vec()), Vec::new())
        .unwrap();
    if let Some(p) = permissions {
        a.set_permissions(user, "/", p).unwrap();
    }
}

/// A raw connection as `user` (password `pw`) on `vhost` with channel 1 open.
pub async fn login(broker: &TestBroker, user: &str, vhost: &str) -> RawConn {
    let mut c = RawConn::connect(broker.addr()).await;
    Box::pin(c.handshake(user, "pw", vhost)).await;
    Box::pin(c.open_channel(1)).await;
    c
}

/// The connection.close answering connection.open for `user` (password `pw`) on `vhost`.
pub async fn refused_at_open(broker: &TestBroker, user: &str, vhost: &str) -> Close {
    let mut c = RawConn::connect(broker.addr()).await;
    Box::pin(c.handshake_until_open((user, "pw", vhost), TuneOk::default())).await;
    Box::pin(c.expect_connection_close()).await
}

/// exchange.declare arguments (`passive`, durable false, auto-delete false) with `args`.
pub fn exchange_declare(name: &str, kind: &str, passive: bool, args: &[(&str, &str)]) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(name)
        .shortstr(kind)
        .bits(&[passive, false, false, false, false])
        .table_bytes(&string_table(args))
        .build()
}

/// queue.declare arguments (`passive`, not exclusive, not auto-delete) with `args`.
pub fn queue_declare(name: &str, passive: bool, args: &[(&str, &str)]) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(name)
        .bits(&[passive, false, false, false, false])
        .table_bytes(&string_table(args))
        .build()
}

/// A field table of string values.
pub fn string_table(entries: &[(&str, &str)]) -> Vec<u8> {
    let values: Vec<(&str, super::raw::Value)> =
        entries.iter().map(|(k, v)| (*k, vstr(v))).collect();
    encode_table(&table(&values))
}

/// Arguments of queue.bind / queue.unbind (`unbind` has no nowait bit).
pub fn queue_binding(queue: &str, exchange: &str, rk: &str, unbind: bool) -> Vec<u8> {
    let a = Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr(exchange)
        .shortstr(rk);
    let a = if unbind { a } else { a.bits(&[false]) };
    a.empty_table().build()
}

/// Arguments of exchange.bind / exchange.unbind.
pub fn exchange_binding(destination: &str, source: &str, rk: &str) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(destination)
        .shortstr(source)
        .shortstr(rk)
        .bits(&[false])
        .empty_table()
        .build()
}

/// Arguments of a method that takes (ticket, name, bits…) only: exchange.delete,
/// queue.purge, queue.delete, basic.get.
pub fn named(name: &str, bits: &[bool]) -> Vec<u8> {
    Args::new().u16(0).shortstr(name).bits(bits).build()
}

/// basic.consume arguments.
pub fn consume(queue: &str) -> Vec<u8> {
    Args::new()
        .u16(0)
        .shortstr(queue)
        .shortstr("")
        .bits(&[false, true, false, false])
        .empty_table()
        .build()
}
