//! Whole byte streams through a real connection (handshake, channels, content, the broker
//! behind it) over an in-memory stream: no panic, well-formed output, valid reply codes.
//! An even first octet puts a valid handshake and channel.open before the rest; an odd
//! one sends the rest as it is. Run with
//! `cargo +nightly fuzz run connection -- -malloc_limit_mb=64` from `fuzz/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warren::connection::fuzz::{FuzzBroker, drive, stream_of_fuzz_input};

/// One runtime (paused clock: delays such as the 3 s silent close pass at once) and one
/// broker for the whole run.
fn world() -> &'static (tokio::runtime::Runtime, FuzzBroker) {
    static WORLD: OnceLock<(tokio::runtime::Runtime, FuzzBroker)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let broker = rt.block_on(async { FuzzBroker::open() }).expect("a broker");
        (rt, broker)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, fuzz) = world();
    let input = stream_of_fuzz_input(data);
    if let Err(violation) = rt.block_on(drive(&fuzz.broker, &input)) {
        panic!("{violation}");
    }
});
