//! Field tables from arbitrary bytes; decoded tables must re-encode consistently.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let outcome = warren::protocol::fuzz::decode_table(data);
    assert_eq!(outcome.roundtrip_failures, 0, "{outcome:?}");
});
