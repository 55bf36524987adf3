//! Fanout exchanges: every bound destination gets the message once; the routing key is
//! ignored (but still part of a binding's identity, as in RabbitMQ).

use super::router::{RoutingTable, Targets};
use super::{Binding, Destination};
use crate::protocol::FieldTable;

/// The routing table of a fanout exchange.
#[derive(Debug, Default)]
pub(super) struct FanoutTable {
    targets: Targets,
    len: usize,
}

impl RoutingTable for FanoutTable {
    fn bind(&mut self, binding: Binding) -> bool {
        let added = self.targets.insert(binding);
        if added {
            self.len += 1;
        }
        added
    }

    fn unbind(&mut self, binding: &Binding) -> bool {
        let removed = self.targets.remove(binding);
        if removed {
            self.len -= 1;
        }
        removed
    }

    fn route(&self, _routing_key: &[u8], _headers: &FieldTable, out: &mut Vec<Destination>) {
        self.targets.route(out);
    }

    fn remove_destination(&mut self, destination: &Destination) -> usize {
        let removed = self.targets.remove_destination(destination);
        self.len -= removed;
        removed
    }

    fn len(&self) -> usize {
        self.len
    }

    fn bindings(&self, out: &mut Vec<Binding>) {
        self.targets.bindings(out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Binding, Destination, ExchangeKind, Router};
    use crate::protocol::{FieldTable, ShortStr};

    fn queue(name: &str) -> Destination {
        Destination::Queue(ShortStr::from(name))
    }

    fn binding(dest: Destination, key: &str) -> Binding {
        Binding {
            destination: dest,
            routing_key: ShortStr::from(key),
            arguments: FieldTable::new(),
        }
    }

    fn route(router: &Router, key: &str) -> Vec<Destination> {
        let mut out = Vec::new();
        router.route(key.as_bytes(), None, &mut out);
        out.sort();
        out
    }

    #[test]
    fn every_destination_once_whatever_the_key() {
        let mut r = Router::new(ExchangeKind::Fanout);
        assert!(r.bind(binding(queue("q1"), "")));
        assert!(r.bind(binding(queue("q1"), "other key")));
        assert!(!r.bind(binding(queue("q1"), "other key")));
        assert!(r.bind(binding(queue("q2"), "x")));
        let x = Destination::Exchange(ShortStr::from("e"));
        assert!(r.bind(binding(x.clone(), "")));
        assert_eq!(r.len(), 4);
        let all = vec![queue("q1"), queue("q2"), x.clone()];
        assert_eq!(route(&r, ""), all);
        assert_eq!(route(&r, "anything.at.all"), all);
    }

    #[test]
    fn unbind_and_remove_destination() {
        let mut r = Router::new(ExchangeKind::Fanout);
        assert!(r.bind(binding(queue("q1"), "a")));
        assert!(r.bind(binding(queue("q1"), "b")));
        assert!(r.bind(binding(queue("q2"), "a")));
        assert!(r.unbind(&binding(queue("q1"), "a")));
        assert!(!r.unbind(&binding(queue("q1"), "a")));
        assert_eq!(route(&r, ""), vec![queue("q1"), queue("q2")]);
        assert_eq!(r.remove_destination(&queue("q1")), 1);
        assert_eq!(route(&r, ""), vec![queue("q2")]);
        assert_eq!(r.bindings(), vec![binding(queue("q2"), "a")]);
        assert!(r.unbind(&binding(queue("q2"), "a")));
        assert!(r.is_empty());
        assert_eq!(route(&r, ""), Vec::<Destination>::new());
    }
}
