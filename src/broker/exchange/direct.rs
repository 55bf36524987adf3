//! Direct exchanges: a hash map from the exact routing key to the destinations bound with
//! it. Routing is one lookup; each destination appears once per key, so no deduplication.

use super::router::{DestinationIndex, RoutingTable, Targets};
use super::{Binding, Destination};
use crate::protocol::{FieldTable, ShortStr};
use std::collections::HashMap;

/// The routing table of a direct exchange.
#[derive(Debug, Default)]
pub(super) struct DirectTable {
    by_key: HashMap<ShortStr, Targets>,
    index: DestinationIndex,
    len: usize,
}

impl RoutingTable for DirectTable {
    fn bind(&mut self, binding: Binding) -> bool {
        let destination = binding.destination.clone();
        let key = binding.routing_key.clone();
        let added = self.by_key.entry(key.clone()).or_default().insert(binding);
        if added {
            self.index.add(&destination, &key);
            self.len += 1;
        }
        added
    }

    fn unbind(&mut self, binding: &Binding) -> bool {
        let key: &[u8] = binding.routing_key.as_bytes();
        let Some(targets) = self.by_key.get_mut(key) else {
            return false;
        };
        if !targets.remove(binding) {
            return false;
        }
        self.len -= 1;
        if !targets.contains(&binding.destination) {
            self.index
                .remove(&binding.destination, &binding.routing_key);
        }
        if targets.is_empty() {
            self.by_key.remove(key);
        }
        true
    }

    fn route(&self, routing_key: &[u8], _headers: &FieldTable, out: &mut Vec<Destination>) {
        if let Some(targets) = self.by_key.get(routing_key) {
            targets.route(out);
        }
    }

    fn remove_destination(&mut self, destination: &Destination) -> usize {
        let mut removed = 0;
        for key in self.index.take(destination) {
            let key: &[u8] = key.as_bytes();
            if let Some(targets) = self.by_key.get_mut(key) {
                removed += targets.remove_destination(destination);
                if targets.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
        self.len -= removed;
        removed
    }

    fn len(&self) -> usize {
        self.len
    }

    fn bindings(&self, out: &mut Vec<Binding>) {
        for targets in self.by_key.values() {
            targets.bindings(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Binding, Destination, ExchangeKind, Router};
    use crate::protocol::{FieldTable, FieldValue, ShortStr};

    fn queue(name: &str) -> Destination {
        Destination::Queue(ShortStr::from(name))
    }

    fn binding(dest: Destination, key: &str, args: FieldTable) -> Binding {
        Binding {
            destination: dest,
            routing_key: ShortStr::from(key),
            arguments: args,
        }
    }

    fn route(router: &Router, key: &str) -> Vec<Destination> {
        let mut out = Vec::new();
        router.route(key.as_bytes(), None, &mut out);
        out.sort();
        out
    }

    fn args(pairs: &[(&str, i32)]) -> FieldTable {
        FieldTable(
            pairs
                .iter()
                .map(|(k, v)| (ShortStr::from(*k), FieldValue::I32(*v)))
                .collect(),
        )
    }

    #[test]
    fn routes_on_the_exact_key_only() {
        let mut r = Router::new(ExchangeKind::Direct);
        assert!(r.bind(binding(queue("q1"), "a", FieldTable::new())));
        assert!(r.bind(binding(queue("q2"), "a", FieldTable::new())));
        assert!(r.bind(binding(queue("q3"), "b", FieldTable::new())));
        assert!(r.bind(binding(queue("q4"), "", FieldTable::new())));
        assert_eq!(route(&r, "a"), vec![queue("q1"), queue("q2")]);
        assert_eq!(route(&r, "b"), vec![queue("q3")]);
        assert_eq!(route(&r, ""), vec![queue("q4")]);
        assert_eq!(route(&r, "A"), Vec::<Destination>::new());
        assert_eq!(route(&r, "a.b"), Vec::<Destination>::new());
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn binding_identity_includes_sorted_arguments() {
        let mut r = Router::new(ExchangeKind::Direct);
        assert!(r.bind(binding(queue("q"), "k", args(&[("a", 1), ("b", 2)]))));
        // Same arguments in another order: the same binding, as in RabbitMQ.
        assert!(!r.bind(binding(queue("q"), "k", args(&[("b", 2), ("a", 1)]))));
        // Different arguments: a second binding, still one delivery.
        assert!(r.bind(binding(queue("q"), "k", args(&[("a", 2)]))));
        assert_eq!(r.len(), 2);
        assert_eq!(route(&r, "k"), vec![queue("q")]);
        let listed = r.bindings();
        assert!(listed.contains(&binding(queue("q"), "k", args(&[("a", 1), ("b", 2)]))));
        assert!(r.unbind(&binding(queue("q"), "k", args(&[("b", 2), ("a", 1)]))));
        assert!(!r.unbind(&binding(queue("q"), "k", args(&[("a", 1), ("b", 2)]))));
        assert_eq!(route(&r, "k"), vec![queue("q")]);
        assert!(r.unbind(&binding(queue("q"), "k", args(&[("a", 2)]))));
        assert_eq!(route(&r, "k"), Vec::<Destination>::new());
        assert!(r.is_empty());
    }

    #[test]
    fn queue_and_exchange_destinations_are_distinct() {
        let mut r = Router::new(ExchangeKind::Direct);
        let x = Destination::Exchange(ShortStr::from("q"));
        assert!(r.bind(binding(queue("q"), "k", FieldTable::new())));
        assert!(r.bind(binding(x.clone(), "k", FieldTable::new())));
        assert_eq!(route(&r, "k"), vec![queue("q"), x.clone()]);
        assert_eq!(r.remove_destination(&x), 1);
        assert_eq!(route(&r, "k"), vec![queue("q")]);
    }

    #[test]
    fn remove_destination_drops_every_binding_of_it() {
        let mut r = Router::new(ExchangeKind::Direct);
        for key in ["a", "b", "c"] {
            assert!(r.bind(binding(queue("gone"), key, FieldTable::new())));
            assert!(r.bind(binding(queue("kept"), key, FieldTable::new())));
        }
        assert!(r.bind(binding(queue("gone"), "a", args(&[("x", 1)]))));
        assert_eq!(r.remove_destination(&queue("gone")), 4);
        assert_eq!(r.remove_destination(&queue("gone")), 0);
        assert_eq!(r.len(), 3);
        for key in ["a", "b", "c"] {
            assert_eq!(route(&r, key), vec![queue("kept")]);
        }
        assert_eq!(r.remove_destination(&queue("kept")), 3);
        assert!(r.is_empty());
        assert!(r.bindings().is_empty());
    }

    #[test]
    fn route_appends_after_existing_entries() {
        let mut r = Router::new(ExchangeKind::Direct);
        assert!(r.bind(binding(queue("q"), "k", FieldTable::new())));
        let mut out = vec![queue("q")];
        r.route(b"k", None, &mut out);
        assert_eq!(out, vec![queue("q"), queue("q")]);
    }
}
