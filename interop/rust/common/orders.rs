//! Scenario A (`order-pipeline`), client-independent: the orders, which of them payment
//! fails, their routing keys, and the checks on what the services and the dead-letter
//! queue collected.

use std::collections::BTreeMap;

/// Orders published (ids `0..ORDERS`).
pub const ORDERS: u64 = 300;
/// The regions, by `id % 3`, that make up the routing keys.
pub const REGIONS: [&str; 3] = ["eu", "us", "ap"];

/// Payment fails (rejects without requeue) the orders with `id % 7 == 3`.
pub fn failing(id: u64) -> bool {
    id % 7 == 3
}

/// The region of order `id`.
pub fn region(id: u64) -> &'static str {
    REGIONS[(id % 3) as usize]
}

/// The routing key order `id` is published with: `order.created.<region>`.
pub fn routing_key(id: u64) -> String {
    format!("order.created.{}", region(id))
}

/// The message id order `id` is published with.
pub fn message_id(id: u64) -> String {
    format!("order-{id}")
}

/// Every order id, ascending.
pub fn all() -> Vec<u64> {
    (0..ORDERS).collect()
}

/// The ids payment completes, ascending.
pub fn good() -> Vec<u64> {
    (0..ORDERS).filter(|id| !failing(*id)).collect()
}

/// The ids payment dead-letters, ascending (the order they reach `rejected` in).
pub fn bad() -> Vec<u64> {
    (0..ORDERS).filter(|id| failing(*id)).collect()
}

/// Asserts that `ids` holds each of `expected` exactly once (no duplicates, none missing).
pub fn assert_each_once(name: &str, ids: &[u64], expected: &[u64]) {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(*id).or_insert(0) += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dups.is_empty(), "{name}: ids seen more than once: {dups:?}");
    let got: Vec<u64> = counts.keys().copied().collect();
    assert_eq!(got, expected, "{name}: ids seen");
}

/// Checks a service that acks everything (inventory, e-mail) from its deliveries as
/// (order id, redelivered): every order exactly once, nothing redelivered.
pub fn check_acking_service(name: &str, deliveries: &[(u64, bool)]) {
    let ids: Vec<u64> = deliveries.iter().map(|(id, _)| *id).collect();
    assert_each_once(name, &ids, &all());
    assert!(
        deliveries.iter().all(|(_, r)| !r),
        "{name}: nothing redelivered"
    );
}

/// Checks payment from its deliveries as (order id, redelivered) and the ids it completed:
/// every order delivered, order 0 twice (first fresh, then redelivered) and nothing else
/// redelivered; exactly the good orders completed, each once.
pub fn check_payment(deliveries: &[(u64, bool)], completed: &[u64]) {
    assert_each_once("payment completions", completed, &good());
    let mut ids: Vec<u64> = deliveries.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    let mut want = all();
    want.push(0);
    want.sort_unstable();
    assert_eq!(ids, want, "payment deliveries: every order, order 0 twice");
    let zero: Vec<bool> = deliveries
        .iter()
        .filter(|(id, _)| *id == 0)
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(
        zero,
        [false, true],
        "order 0: first delivery, then redelivered"
    );
    let redelivered: Vec<u64> = deliveries
        .iter()
        .filter(|(_, r)| *r)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(redelivered, [0], "only order 0 is redelivered to payment");
}

/// The first `x-death` entry of a dead-lettered order, as read by a client.
#[derive(Debug)]
pub struct Death {
    /// `queue`: where the message died.
    pub queue: Option<String>,
    /// `reason`.
    pub reason: Option<String>,
    /// `exchange`: where it had been published.
    pub exchange: Option<String>,
    /// `count`, widened.
    pub count: Option<i128>,
    /// `routing-keys`: the keys it had been published with.
    pub routing_keys: Vec<String>,
}

/// Checks the `x-death` entry of dead-lettered order `id`: the payment queue, reason
/// `rejected`, count 1, the orders exchange and the original routing key.
pub fn check_death(id: u64, death: &Death, payment_queue: &str, exchange: &str) {
    assert_eq!(
        death.queue.as_deref(),
        Some(payment_queue),
        "order {id}: x-death queue"
    );
    assert_eq!(
        death.reason.as_deref(),
        Some("rejected"),
        "order {id}: x-death reason"
    );
    assert_eq!(
        death.exchange.as_deref(),
        Some(exchange),
        "order {id}: x-death exchange"
    );
    assert_eq!(death.count, Some(1), "order {id}: x-death count");
    assert_eq!(
        death.routing_keys,
        [routing_key(id)],
        "order {id}: x-death routing-keys"
    );
}
