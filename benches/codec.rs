//! Codec hot paths: decoding an incoming basic.publish with its content header (frame
//! split, method decode, header validation, property summary) and encoding an outgoing
//! basic.deliver with its header. `cargo bench --bench codec`.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use warren::protocol::*;

fn publish_frames() -> Bytes {
    let props = BasicProperties {
        content_type: Some("application/json".into()),
        delivery_mode: Some(2),
        expiration: Some("60000".into()),
        message_id: Some("0b5e0c1a-6f51-4a8e-9b3c-6f0d7b1e2a44".into()),
        headers: Some(FieldTable(vec![
            (
                "x-trace".into(),
                FieldValue::LongStr(Bytes::from_static(b"abc")),
            ),
            ("x-retries".into(), FieldValue::I32(3)),
        ])),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    let publish = Method::from(BasicPublish {
        ticket: 0,
        exchange: "orders".into(),
        routing_key: "orders.eu.created".into(),
        mandatory: false,
        immediate: false,
    });
    write_method_frame(&mut out, 1, &publish);
    write_content_header_frame(&mut out, 1, CLASS_BASIC, 256, &props.to_raw());
    out.freeze()
}

fn decode_publish(c: &mut Criterion) {
    let frames = publish_frames();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(frames.len() as u64));
    group.bench_function("basic.publish + header", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&frames[..]);
            let method = read_frame(&mut buf, 131_072).unwrap().unwrap();
            let method = Method::decode(method.payload).unwrap();
            let header = read_frame(&mut buf, 131_072).unwrap().unwrap();
            let header = ContentHeader::decode(header.payload).unwrap();
            let summary = summarize_properties(&header.raw_properties).unwrap();
            black_box((method, header, summary))
        })
    });
    group.finish();
}

fn encode_deliver(c: &mut Criterion) {
    let raw_properties = BasicProperties {
        content_type: Some("application/json".into()),
        delivery_mode: Some(2),
        ..Default::default()
    }
    .to_raw();
    let deliver = Method::from(BasicDeliver {
        consumer_tag: "amq.ctag-3nLqJ9bY2pQ0x1Jc7xk9yA".into(),
        delivery_tag: 123_456,
        redelivered: false,
        exchange: "orders".into(),
        routing_key: "orders.eu.created".into(),
    });
    let mut out = BytesMut::with_capacity(4096);
    c.bench_function("encode/basic.deliver + header", |b| {
        b.iter(|| {
            out.clear();
            write_method_frame(&mut out, 1, black_box(&deliver));
            write_content_header_frame(&mut out, 1, CLASS_BASIC, 256, &raw_properties);
            black_box(out.len())
        })
    });
}

criterion_group!(benches, decode_publish, encode_deliver);
criterion_main!(benches);
