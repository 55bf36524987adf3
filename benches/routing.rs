//! Routing benchmarks: one publish routed through 100,000 topic bindings and through
//! 100,000 direct bindings, hits and misses, plus binding churn on the big topic table.
//! Run with `cargo bench --bench routing`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use warren::broker::exchange::{Binding, Destination, ExchangeKind, Router};
use warren::protocol::{FieldTable, ShortStr};

const BINDINGS: usize = 100_000;

fn binding(queue: String, key: String) -> Binding {
    Binding {
        destination: Destination::Queue(ShortStr::from(queue)),
        routing_key: ShortStr::from(key),
        arguments: FieldTable::new(),
    }
}

/// A topic pattern mix: exact keys, `*` in the middle, `#` at the end and at the start.
fn topic_pattern(i: usize) -> String {
    let (region, service) = (i % 100, i % 1000);
    match i % 4 {
        0 => format!("region{region}.service{service}.event{i}"),
        1 => format!("region{region}.*.event{i}"),
        2 => format!("region{region}.service{service}.#"),
        _ => format!("#.event{i}"),
    }
}

fn topic_router() -> Router {
    let mut router = Router::new(ExchangeKind::Topic);
    for i in 0..BINDINGS {
        router.bind(binding(format!("q{i}"), topic_pattern(i)));
    }
    router
}

fn bench_topic(c: &mut Criterion) {
    let mut router = topic_router();
    let mut out = Vec::with_capacity(64);
    let mut group = c.benchmark_group("topic_100k");
    // Only "region5.*.event5" matches.
    let one = b"region5.service5.event5";
    router.route(one, None, &mut out);
    assert_eq!(out.len(), 1);
    group.bench_function("route_hit_1", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box(one), None, &mut out);
            black_box(out.len())
        })
    });
    // "region2.service2.#" (the 100 bindings i = 2 mod 1000) and "#.event3".
    let many = b"region2.service2.event3";
    out.clear();
    router.route(many, None, &mut out);
    assert_eq!(out.len(), 101);
    group.bench_function("route_hit_101", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box(many), None, &mut out);
            black_box(out.len())
        })
    });
    let miss = b"nowhere.nothing.event-none";
    group.bench_function("route_miss", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box(miss), None, &mut out);
            black_box(out.len())
        })
    });
    let long = b"region7.service107.a.b.c.d.e.f.g.h.i.j.event5";
    group.bench_function("route_long_key", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box(long), None, &mut out);
            black_box(out.len())
        })
    });
    let churn = binding("churn".into(), "region3.*.churn.#".into());
    group.bench_function("bind_unbind", |b| {
        b.iter(|| {
            router.bind(churn.clone());
            router.unbind(black_box(&churn))
        })
    });
    group.finish();
}

fn bench_direct(c: &mut Criterion) {
    let mut router = Router::new(ExchangeKind::Direct);
    for i in 0..BINDINGS {
        router.bind(binding(format!("q{i}"), format!("orders.customer.{i}")));
    }
    let mut out = Vec::with_capacity(8);
    let mut group = c.benchmark_group("direct_100k");
    let hit = b"orders.customer.54321";
    group.bench_function("route_hit", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box(hit), None, &mut out);
            black_box(out.len())
        })
    });
    let miss = b"orders.customer.none";
    group.bench_function("route_miss", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box(miss), None, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

fn bench_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("topic_100k_bindings", |b| {
        b.iter(|| black_box(topic_router().len()))
    });
    group.finish();
}

criterion_group!(benches, bench_topic, bench_direct, bench_build);
criterion_main!(benches);
