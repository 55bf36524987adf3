//! Frames from arbitrary bytes: every method and content header found is decoded and must
//! re-encode consistently. Run with `cargo +nightly fuzz run frame_decoder` from `fuzz/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let outcome = warren::protocol::fuzz::decode_all(data);
    assert_eq!(outcome.roundtrip_failures, 0, "{outcome:?}");
});
