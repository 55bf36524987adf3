//! Random byte streams through a whole connection (handshake, channels, content, the
//! broker behind them), on stable Rust: a fixed-seed proptest builds streams from real
//! methods, content and garbage, with names that are not UTF-8, deep tables and flipped
//! bytes, and `warren::connection::fuzz::drive` plays each to a real connection over an
//! in-memory stream. Every case must end without a panic, with well-formed output whose
//! closes carry valid reply codes, and without any single allocation above
//! `ALLOCATION_LIMIT` (nothing is sized by a length the input declares). The seeds in
//! `fuzz/corpus/connection/` (inputs of the cargo-fuzz target) are replayed too.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use warren::connection::fuzz::{FuzzBroker, client_handshake, drive, stream_of_fuzz_input};

/// Cases per run: a few seconds in a debug build.
const CASES: u32 = 600;
/// The fixed seed, so every run plays the same streams.
const SEED: [u8; 32] = *b"warren-connection-fuzz-seed-0001";
/// The largest single allocation a case may make.
const ALLOCATION_LIMIT: usize = 16 * 1024 * 1024;

/// The system allocator, recording the largest single request.
struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

fn shortstr(s: &[u8]) -> Vec<u8> {
    let s = &s[..s.len().min(255)];
    [&[s.len() as u8][..], s].concat()
}

fn longstr(s: &[u8]) -> Vec<u8> {
    [&(s.len() as u32).to_be_bytes()[..], s].concat()
}

fn frame(frame_type: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    [
        &[frame_type][..],
        &channel.to_be_bytes(),
        &(payload.len() as u32).to_be_bytes(),
        payload,
        &[0xCE],
    ]
    .concat()
}

fn method(channel: u16, class: u16, method: u16, args: &[u8]) -> Vec<u8> {
    let payload = [&class.to_be_bytes()[..], &method.to_be_bytes(), args].concat();
    frame(1, channel, &payload)
}

/// A field value nested `levels` tables (or arrays) deep.
fn deep(levels: usize, table: bool) -> Vec<u8> {
    let mut value = vec![0, 0, 0, 0];
    for _ in 1..levels {
        let body = if table {
            [&[1, b'a', b'F'][..], &value].concat()
        } else {
            [&[b'A'][..], &value].concat()
        };
        value = longstr(&body);
    }
    [&[if table { b'F' } else { b'A' }][..], &value].concat()
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"q1".to_vec()),
        Just(b"q2".to_vec()),
        Just(Vec::new()),
        Just(b"amq.direct".to_vec()),
        Just(b"amq.topic".to_vec()),
        Just(b"amq.match".to_vec()),
        Just(b"amq.rabbitmq.reply-to".to_vec()),
        Just(b"x1".to_vec()),
        Just(b"bad\xff".to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
    ]
}

fn channel() -> impl Strategy<Value = u16> {
    prop_oneof![
        8 => Just(1u16),
        2 => Just(2u16),
        1 => Just(0u16),
        1 => Just(2047u16),
        1 => Just(65535u16),
        1 => any::<u16>(),
    ]
}

/// Encoded table entries (without the length prefix).
fn entries() -> impl Strategy<Value = Vec<u8>> {
    let s = |v: &str| [&[b'S'][..], &longstr(v.as_bytes())].concat();
    let entry = prop_oneof![
        Just([shortstr(b"x-message-ttl"), vec![b'I', 0, 0, 0, 5]].concat()),
        Just([shortstr(b"x-max-length"), vec![b'I', 0, 0, 0, 1]].concat()),
        Just([shortstr(b"x-dead-letter-exchange"), s("")].concat()),
        Just([shortstr(b"x-dead-letter-routing-key"), s("q2")].concat()),
        Just([shortstr(b"x-overflow"), s("reject-publish")].concat()),
        Just([shortstr(b"x-match"), s("any")].concat()),
        Just([shortstr(b"x-queue-type"), s("quorum")].concat()),
        Just([shortstr(b"x-max-priority"), vec![b'b', 3]].concat()),
        Just([shortstr(b"alternate-exchange"), s("amq.fanout")].concat()),
        Just([shortstr(b"CC"), b"A".to_vec(), longstr(&s("q2"))].concat()),
        Just([shortstr(b"BCC"), b"A".to_vec(), longstr(&s("q1"))].concat()),
        (1usize..300, any::<bool>()).prop_map(|(n, t)| [shortstr(b"deep"), deep(n, t)].concat()),
        Just([shortstr(b"deeper"), deep(5000, true)].concat()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(entry, 0..3).prop_map(|e| e.concat())
}

fn table() -> impl Strategy<Value = Vec<u8>> {
    entries().prop_map(|e| longstr(&e))
}

/// A property list: flags and values, mostly valid.
fn properties() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![0, 0]),
        Just([&[0x10, 0][..], &[2]].concat()),
        entries().prop_map(|e| [&[0x20, 0][..], &longstr(&e)].concat()),
        Just([&[0x01, 0x00][..], &shortstr(b"5")].concat()),
        prop::collection::vec(any::<u8>(), 0..16),
    ]
}

/// A publish: method, header and body frames (sizes sometimes wrong).
fn publish() -> impl Strategy<Value = Vec<u8>> {
    (
        channel(),
        name(),
        name(),
        any::<u8>(),
        properties(),
        prop::collection::vec(any::<u8>(), 0..64),
        0u64..4,
        1usize..40,
    )
        .prop_map(|(ch, exchange, key, bits, props, body, skew, chunk)| {
            let args = [
                &[0, 0][..],
                &shortstr(&exchange),
                &shortstr(&key),
                &[bits & 3],
            ]
            .concat();
            let mut out = method(ch, 60, 40, &args);
            let declared = (body.len() as u64).saturating_add(skew).saturating_sub(1);
            let header = [
                &60u16.to_be_bytes()[..],
                &[0, 0],
                &declared.to_be_bytes(),
                &props,
            ]
            .concat();
            out.extend(frame(2, ch, &header));
            for piece in body.chunks(chunk) {
                out.extend(frame(3, ch, piece));
            }
            out
        })
}

/// One client method with plausible arguments.
fn client_method() -> impl Strategy<Value = Vec<u8>> {
    (
        channel(),
        name(),
        name(),
        name(),
        any::<u8>(),
        table(),
        any::<u64>(),
        0u16..14,
    )
        .prop_map(|(ch, a, b, key, bits, table, n, which)| {
            let tag = n % 4;
            let (class, id, args): (u16, u16, Vec<u8>) = match which {
                0 => (20, 10, shortstr(b"")),
                1 => (
                    20,
                    40,
                    [&200u16.to_be_bytes()[..], &shortstr(b"bye"), &[0, 0, 0, 0]].concat(),
                ),
                2 => {
                    let kind: &[u8] = [&b"direct"[..], b"fanout", b"topic", b"headers", b"x-no"]
                        [(n % 5) as usize];
                    (
                        40,
                        10,
                        [
                            &[0, 0][..],
                            &shortstr(&a),
                            &shortstr(kind),
                            &[bits & 31],
                            &table,
                        ]
                        .concat(),
                    )
                }
                3 => (40, 20, [&[0, 0][..], &shortstr(&a), &[bits & 3]].concat()),
                4 => (
                    40,
                    30,
                    [
                        &[0, 0][..],
                        &shortstr(&a),
                        &shortstr(&b),
                        &shortstr(&key),
                        &[bits & 1],
                        &table,
                    ]
                    .concat(),
                ),
                5 => (
                    50,
                    10,
                    [&[0, 0][..], &shortstr(&a), &[bits & 31], &table].concat(),
                ),
                6 => (
                    50,
                    20,
                    [
                        &[0, 0][..],
                        &shortstr(&a),
                        &shortstr(&b),
                        &shortstr(&key),
                        &[bits & 1],
                        &table,
                    ]
                    .concat(),
                ),
                7 => (
                    50,
                    40 + 10 * (n % 2) as u16,
                    [&[0, 0][..], &shortstr(&a), &[bits & 7]].concat(),
                ),
                8 => (
                    60,
                    10,
                    [&(n as u32 % 3).to_be_bytes()[..], &[0, 1], &[bits & 1]].concat(),
                ),
                9 => (
                    60,
                    20,
                    [
                        &[0, 0][..],
                        &shortstr(&a),
                        &shortstr(&b),
                        &[bits & 15],
                        &table,
                    ]
                    .concat(),
                ),
                10 => (60, 30, [&shortstr(&a)[..], &[bits & 1]].concat()),
                11 => (60, 70, [&[0, 0][..], &shortstr(&a), &[bits & 1]].concat()),
                12 => {
                    let ack = [80u16, 90, 120][(n % 3) as usize];
                    (60, ack, [&tag.to_be_bytes()[..], &[bits & 3]].concat())
                }
                _ => {
                    let (class, id) = [
                        (85u16, 10u16),
                        (90, 10),
                        (90, 20),
                        (90, 30),
                        (60, 110),
                        (20, 20),
                        (10, 50),
                        (10, 51),
                    ][(n % 8) as usize];
                    let args = match (class, id) {
                        (85, 10) | (60, 110) | (20, 20) => vec![bits & 1],
                        (10, 50) => {
                            [&200u16.to_be_bytes()[..], &shortstr(b"bye"), &[0, 0, 0, 0]].concat()
                        }
                        _ => Vec::new(),
                    };
                    (class, id, args)
                }
            };
            method(ch, class, id, &args)
        })
}

/// One piece of a stream.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => client_method(),
        3 => publish(),
        1 => Just(frame(8, 0, &[])),
        1 => (any::<u8>(), channel(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(t, ch, payload)| frame(t, ch, &payload)),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ]
}

/// A whole stream: usually a valid handshake first, then pieces, with a few flipped bytes.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::bool::weighted(0.9),
        prop::collection::vec(piece(), 0..24),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(handshake, pieces, flips)| {
            let mut out = if handshake {
                client_handshake()
            } else {
                Vec::new()
            };
            out.extend(pieces.concat());
            if !out.is_empty() {
                for (at, byte) in flips {
                    let at = at.index(out.len());
                    out[at] = byte;
                }
            }
            out
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/connection");
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn random_streams_through_a_whole_connection_end_cleanly() {
    let rt = runtime();
    let fuzz = rt.block_on(async { FuzzBroker::open() }).unwrap();
    LARGEST.store(0, Ordering::Relaxed);

    for (name, seed) in corpus() {
        let input = stream_of_fuzz_input(&seed);
        let outcome = rt.block_on(drive(&fuzz.broker, &input));
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }

    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let closed = std::cell::Cell::new(0u32);
    runner
        .run(&stream(), |input| {
            let outcome = rt.block_on(drive(&fuzz.broker, &input));
            prop_assert!(outcome.is_ok(), "{outcome:?}");
            if outcome.is_ok_and(|o| o.connection_close.is_some()) {
                closed.set(closed.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    // The streams reach the connection's error paths, not just its happy ones.
    let closed = closed.get();
    assert!(
        closed > CASES / 10,
        "only {closed} of {CASES} cases ended in a close"
    );
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= ALLOCATION_LIMIT,
        "an allocation of {largest} bytes"
    );
    drop(fuzz);
}
