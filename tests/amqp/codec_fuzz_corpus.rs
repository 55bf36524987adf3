//! Replays every seed in `fuzz/corpus/` through the fuzz target bodies on stable Rust. The
//! seeds are valid frame streams and tables, so besides "no panic, round-trips" they must
//! decode completely.

use bytes::BytesMut;
use std::path::PathBuf;
use warren::protocol::fuzz::{FUZZ_FRAME_MAX, decode_all, decode_table};
use warren::protocol::{FrameType, read_frame};

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn frame_decoder_seeds_decode_completely() {
    for (name, data) in seeds("frame_decoder") {
        let outcome = decode_all(&data);
        assert_eq!(outcome.roundtrip_failures, 0, "{name}: {outcome:?}");

        let mut buf = BytesMut::from(&data[..]);
        let (mut frames, mut methods, mut headers) = (0, 0, 0);
        while let Some(frame) = read_frame(&mut buf, FUZZ_FRAME_MAX).unwrap() {
            frames += 1;
            match frame.frame_type {
                FrameType::Method => methods += 1,
                FrameType::Header => headers += 1,
                _ => {}
            }
        }
        assert!(buf.is_empty(), "{name}: trailing bytes");
        assert_eq!(outcome.frames, frames, "{name}");
        // Every method and header frame in a seed is valid.
        assert_eq!(outcome.methods, methods, "{name}: {outcome:?}");
        assert_eq!(outcome.headers, headers, "{name}: {outcome:?}");
        assert!(methods > 0, "{name}");
    }
}

#[test]
fn field_table_seeds_decode() {
    for (name, data) in seeds("field_table") {
        let outcome = decode_table(&data);
        assert_eq!(outcome.errors, 0, "{name}: {outcome:?}");
        assert_eq!(outcome.roundtrip_failures, 0, "{name}: {outcome:?}");
    }
}
