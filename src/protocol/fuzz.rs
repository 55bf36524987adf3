//! The bodies of the fuzz targets in `fuzz/`, kept in the library so a stable test
//! (`tests/amqp/codec_fuzz_corpus.rs`) replays the corpus without nightly. They never panic;
//! inconsistencies (a decoded value that does not re-encode to what decodes to it again) are
//! counted in `FuzzOutcome::roundtrip_failures`, which the fuzz targets assert is 0.

use super::field_table::{read_table, table_encoded_len, write_table};
use super::frame::{FrameType, read_frame, write_method_frame};
use super::generated::Method;
use super::properties::{BasicProperties, ContentHeader, summarize_properties};
use bytes::{Bytes, BytesMut};

/// The frame_max `decode_all` reads with (RabbitMQ's default).
pub const FUZZ_FRAME_MAX: u32 = 131_072;

/// What one fuzz input decoded to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuzzOutcome {
    /// Whole frames read.
    pub frames: usize,
    /// Methods decoded.
    pub methods: usize,
    /// Content headers decoded.
    pub headers: usize,
    /// Decode or frame errors met (expected for most inputs).
    pub errors: usize,
    /// Values that did not survive encode -> decode -> encode unchanged (must be 0).
    pub roundtrip_failures: usize,
}

/// Reads frames from `data` and decodes every method and content header found, re-encoding
/// each decoded value to check it round-trips; then also tries the whole input directly as
/// a method payload, a content header payload and a field table. Never panics.
pub fn decode_all(data: &[u8]) -> FuzzOutcome {
    let mut outcome = FuzzOutcome::default();
    let mut buf = BytesMut::from(data);
    loop {
        match read_frame(&mut buf, FUZZ_FRAME_MAX) {
            Ok(Some(frame)) => {
                outcome.frames += 1;
                match frame.frame_type {
                    FrameType::Method => check_method(frame.payload, &mut outcome),
                    FrameType::Header => check_header(frame.payload, &mut outcome),
                    FrameType::Body | FrameType::Heartbeat => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = e.reply_code();
                outcome.errors += 1;
                break;
            }
        }
    }
    let whole = Bytes::copy_from_slice(data);
    check_method(whole.clone(), &mut outcome);
    check_header(whole.clone(), &mut outcome);
    check_table(whole, &mut outcome);
    outcome
}

/// Decodes `data` as a field table and checks it round-trips. Never panics.
pub fn decode_table(data: &[u8]) -> FuzzOutcome {
    let mut outcome = FuzzOutcome::default();
    check_table(Bytes::copy_from_slice(data), &mut outcome);
    outcome
}

fn check_method(payload: Bytes, outcome: &mut FuzzOutcome) {
    let method = match Method::decode(payload) {
        Ok(method) => method,
        Err(e) => {
            let _ = (e.reply_code(), e.class_id(), e.method_id(), e.to_string());
            outcome.errors += 1;
            return;
        }
    };
    outcome.methods += 1;
    let mut first = BytesMut::new();
    method.encode(&mut first);
    let consistent = first.len() == method.encoded_len()
        && match Method::decode(first.clone().freeze()) {
            Ok(again) => {
                let mut second = BytesMut::new();
                again.encode(&mut second);
                second == first && again.name() == method.name()
            }
            Err(_) => false,
        };
    let mut framed = BytesMut::new();
    write_method_frame(&mut framed, 1, &method);
    let framed_ok = matches!(
        read_frame(&mut framed, 0),
        Ok(Some(frame)) if frame.payload == first
    );
    if !consistent || !framed_ok {
        outcome.roundtrip_failures += 1;
    }
}

fn check_header(payload: Bytes, outcome: &mut FuzzOutcome) {
    let header = match ContentHeader::decode(payload) {
        Ok(header) => header,
        Err(e) => {
            let _ = (e.reply_code(), e.class_id(), e.to_string());
            outcome.errors += 1;
            return;
        }
    };
    outcome.headers += 1;
    // A header that validated must decode fully and summarize, and re-encode stably.
    let consistent = match (
        BasicProperties::decode(&header.raw_properties),
        summarize_properties(&header.raw_properties),
    ) {
        (Ok(props), Ok(summary)) => {
            let raw = props.to_raw();
            raw.len() == props.encoded_len()
                && summary.delivery_mode == props.delivery_mode
                && summary.priority == props.priority
                && summary.expiration == props.expiration
                && summary.user_id == props.user_id
                && summary.has_headers == props.headers.is_some()
                && BasicProperties::decode(&raw).is_ok_and(|again| again.to_raw() == raw)
        }
        _ => false,
    };
    if !consistent {
        outcome.roundtrip_failures += 1;
    }
}

fn check_table(data: Bytes, outcome: &mut FuzzOutcome) {
    let mut input = data;
    let table = match read_table(&mut input) {
        Ok(table) => table,
        Err(e) => {
            let _ = (e.reply_code(), e.to_string());
            outcome.errors += 1;
            return;
        }
    };
    let mut first = BytesMut::new();
    write_table(&mut first, &table);
    let consistent = first.len() == table_encoded_len(&table)
        && read_table(&mut first.clone().freeze()).is_ok_and(|again| {
            let mut second = BytesMut::new();
            write_table(&mut second, &again);
            second == first
        });
    if !consistent {
        outcome.roundtrip_failures += 1;
    }
}
