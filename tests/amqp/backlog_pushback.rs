//! Issue #11: when the store's writer falls behind, publishers are slowed by TCP
//! back-pressure (their connection is not read) instead of the broker buffering their
//! messages in memory.
//!
//! The store writer is held with a test hook ([`warren::store::Store::pause_writer`]) and
//! the pending-write bound is set small (`limits.store_pending_bytes`). A publisher writes
//! far more than the bound with non-blocking writes: the broker reads until the bound is
//! reached (plus at most one socket read), then leaves the socket unread, so the rest stays
//! in the kernel's buffers, the client's writes block and no confirm arrives. After release
//! every message is confirmed and delivered, in order.

use crate::common;

use common::raw::{Frame, RawConn, describe};
use common::wire::{Args, frame, publish_frame};
use common::{TestBroker, guard, unique};
use std::io::ErrorKind;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The bound under test (the smallest the setting allows).
const BOUND: u64 = 65_536;
/// The broker reads at most this much from a socket at once (its read buffer's cap), so it
/// can overshoot the bound by one read.
const ONE_READ: u64 = 256 * 1024;
const BODY: usize = 1024;
const MESSAGES: u64 = 20_000;

/// basic.publish + a content header with delivery-mode 2 + the body (its first 8 bytes are
/// the message's index).
fn persistent_publish(queue: &str, index: u64) -> Vec<u8> {
    let mut out = publish_frame(1, "", queue, false);
    let mut header = Vec::new();
    header.extend_from_slice(&60u16.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    header.extend_from_slice(&(BODY as u64).to_be_bytes());
    header.extend_from_slice(&0x1000u16.to_be_bytes());
    header.push(2);
    out.extend(frame(2, 1, &header));
    let mut body = vec![0u8; BODY];
    body[..8].copy_from_slice(&index.to_be_bytes());
    out.extend(frame(3, 1, &body));
    out
}

/// Declares a durable queue on channel 1 of `conn`.
async fn declare_durable(conn: &mut RawConn, name: &str) {
    let args = Args::new()
        .u16(0)
        .shortstr(name)
        .bits(&[false, true, false, false, false])
        .empty_table()
        .build();
    conn.send_method(1, 50, 10, &args).await;
    conn.expect_method(50, 11).await;
}

/// Reads confirms until `last` is acknowledged; panics on a nack.
async fn await_confirms(conn: &mut RawConn, last: u64) {
    let mut acked = 0;
    while acked < last {
        match conn.next_frame().await {
            Frame::Method {
                class: 60,
                method: 80,
                args,
                ..
            } => {
                let tag = u64::from_be_bytes(args[..8].try_into().unwrap());
                assert!(tag > acked, "confirms went backwards: {tag} after {acked}");
                acked = tag;
            }
            other => panic!("expected basic.ack, got {}", describe(&other)),
        }
    }
}

/// Writes `input` to the publisher without blocking until the socket refuses more while the
/// broker is backed up (or everything went into the kernel's buffers); returns the bytes
/// written.
async fn flood_until_backed_up(
    publisher: &mut RawConn,
    store: &warren::store::Store,
    input: &[u8],
) -> usize {
    let mut written = 0;
    let stream = publisher.stream_mut();
    guard(async {
        loop {
            if written == input.len() {
                if store.is_backed_up() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            match stream.try_write(&input[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if store.is_backed_up() {
                        break;
                    }
                    // The broker may back up (and stop reading) right after the check:
                    // look again shortly instead of waiting for writability alone.
                    tokio::select! {
                        r = stream.writable() => r.unwrap(),
                        () = tokio::time::sleep(Duration::from_millis(5)) => {}
                    }
                }
                Err(e) => panic!("write failed: {e}"),
            }
        }
    })
    .await;
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_stops_reading_the_publisher_and_loses_nothing() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.store_pending_bytes = BOUND).await;
    let store = broker.warren().unwrap().store.clone();
    let queue = unique("pushback");

    let mut publisher = broker.raw().await;
    publisher.open_channel(1).await;
    declare_durable(&mut publisher, &queue).await;
    publisher
        .send_method(1, 85, 10, &Args::new().bits(&[false]).build())
        .await;
    publisher.expect_method(85, 11).await;

    let pause = store.pause_writer();
    let input: Vec<u8> = (0..MESSAGES)
        .flat_map(|i| persistent_publish(&queue, i))
        .collect();
    let written = flood_until_backed_up(&mut publisher, &store, &input).await;

    // The broker took the bound's worth (and at most one more read) and left the rest in
    // the socket; nothing was confirmed, since nothing was committed.
    let pending = store.pending_bytes();
    assert!(
        pending <= BOUND + 2 * ONE_READ,
        "the broker accepted {pending} bytes of writes with the store held (bound {BOUND})"
    );
    let per_message = (BODY as u64) + warren::store::PENDING_OP_BYTES;
    let accepted = pending / per_message;
    let sent = written as u64 / (input.len() as u64 / MESSAGES);
    assert!(
        sent > accepted + 10,
        "the client could write only {sent} messages, the broker accepted {accepted}"
    );
    let mut probe = [0u8; 64];
    match publisher.stream_mut().try_read(&mut probe) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("nothing should arrive while the store is held, got {other:?}"),
    }

    // Release: the rest is read, stored and confirmed.
    drop(pause);
    guard(publisher.stream_mut().write_all(&input[written..]))
        .await
        .unwrap();
    guard(await_confirms(&mut publisher, MESSAGES)).await;

    // Every message is there, in order.
    let mut consumer = broker.raw().await;
    consumer.open_channel(1).await;
    consumer.consume(1, &queue, "c", true).await;
    for i in 0..MESSAGES {
        let d = consumer.expect_delivery().await;
        let index = u64::from_be_bytes(d.body[..8].try_into().unwrap());
        assert_eq!(index, i, "message {i} out of order");
        assert_eq!(d.body.len(), BODY);
    }
    // The deliveries' removals are committed before the clients leave, so no connection is
    // held unread (backed up) while the broker shuts down.
    let flushed = guard(tokio::task::spawn_blocking(move || store.flush())).await;
    assert!(matches!(flushed, Ok(Ok(()))), "store flush: {flushed:?}");
    drop(consumer);
    drop(publisher);
    broker.shutdown().await;
}

/// Only publishers wait for a store that is behind: a consumer on another connection keeps
/// being read, so its acks are handled (and the next message delivered) while the
/// publisher's socket is left unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_keeps_acking_while_a_publisher_is_pushed_back() {
    skip_if_external!();
    let broker = TestBroker::start_with(|s| s.limits.store_pending_bytes = BOUND).await;
    let store = broker.warren().unwrap().store.clone();
    let flooded = unique("pushback-flood");
    let consumed = unique("pushback-acks");
    const WAITING: u64 = 4;

    // A seeder puts a few persistent messages into the consumer's durable queue.
    let mut seeder = broker.raw().await;
    seeder.open_channel(1).await;
    declare_durable(&mut seeder, &consumed).await;
    let seed: Vec<u8> = (0..WAITING)
        .flat_map(|i| persistent_publish(&consumed, i))
        .collect();
    seeder.send(&seed).await;
    seeder.sync(1).await;

    // The consumer takes one at a time (prefetch 1, manual acks): each ack it sends must be
    // read for the next message to come.
    let mut consumer = broker.raw().await;
    consumer.open_channel(1).await;
    let qos = Args::new().u32(0).u16(1).bits(&[false]).build();
    consumer.send_method(1, 60, 10, &qos).await;
    consumer.expect_method(60, 11).await;
    consumer.consume(1, &consumed, "c", false).await;
    let first = consumer.expect_delivery().await;
    assert_eq!(u64::from_be_bytes(first.body[..8].try_into().unwrap()), 0);

    let mut publisher = broker.raw().await;
    publisher.open_channel(1).await;
    declare_durable(&mut publisher, &flooded).await;
    publisher
        .send_method(1, 85, 10, &Args::new().bits(&[false]).build())
        .await;
    publisher.expect_method(85, 11).await;

    let pause = store.pause_writer();
    let input: Vec<u8> = (0..MESSAGES)
        .flat_map(|i| persistent_publish(&flooded, i))
        .collect();
    let written = flood_until_backed_up(&mut publisher, &store, &input).await;
    assert!(written < input.len(), "the publisher was never pushed back");

    // The publisher is held; the consumer's acks still go through, one message each.
    let mut tag = first.delivery_tag;
    for i in 1..WAITING {
        consumer.ack(1, tag, false).await;
        let next = guard(consumer.expect_delivery()).await;
        assert_eq!(u64::from_be_bytes(next.body[..8].try_into().unwrap()), i);
        tag = next.delivery_tag;
        assert!(store.is_backed_up(), "the store stays behind while held");
    }
    let mut probe = [0u8; 64];
    match publisher.stream_mut().try_read(&mut probe) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("no confirm should arrive while the store is held, got {other:?}"),
    }
    consumer.ack(1, tag, false).await;
    consumer.sync(1).await;

    // Release: the publisher's rest is read and confirmed.
    drop(pause);
    guard(publisher.stream_mut().write_all(&input[written..]))
        .await
        .unwrap();
    guard(await_confirms(&mut publisher, MESSAGES)).await;
    let flushed = guard(tokio::task::spawn_blocking(move || store.flush())).await;
    assert!(matches!(flushed, Ok(Ok(()))), "store flush: {flushed:?}");
    drop(consumer);
    drop(seeder);
    drop(publisher);
    broker.shutdown().await;
}
