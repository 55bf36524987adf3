//! Topic exchanges: a trie over the words of the binding keys, with separate `*` and `#`
//! edges, so routing visits only the branches a key can match instead of scanning every
//! binding (the reason LavinMQ's scanning router is not the model here).
//!
//! Words are separated by `.`; empty words are words (`a..b` has three), but the empty key
//! has none, so `#` matches `""` and `*` does not (as in RabbitMQ). `*` matches exactly one
//! word, `#` zero or more; a binding key may hold any number of `#`.
//!
//! Routing walks (node, words consumed) states. A `#` node entered at position `p` stands
//! for every position `p..=n`; each `#` node remembers the lowest position it was entered
//! at during one routing call and only adds the positions below that, so every (node,
//! position) state is visited at most once however many `#` a key has.

use super::router::{DestinationIndex, RoutingTable, Targets, dedup_since};
use super::{Binding, Destination};
use crate::protocol::FieldTable;
use bytes::Bytes;
use std::collections::HashMap;

const ROOT: usize = 0;

/// The routing table of a topic exchange.
#[derive(Debug)]
pub(super) struct TopicTable {
    /// Arena of trie nodes; `ROOT` always exists. Freed nodes are reset and reused.
    nodes: Vec<Node>,
    free: Vec<usize>,
    index: DestinationIndex,
    len: usize,
}

#[derive(Debug, Default)]
struct Node {
    words: HashMap<Bytes, usize>,
    star: Option<usize>,
    hash: Option<usize>,
    /// Bindings whose key ends at this node (all of them have the same key).
    targets: Targets,
}

impl Node {
    fn is_unused(&self) -> bool {
        self.words.is_empty()
            && self.star.is_none()
            && self.hash.is_none()
            && self.targets.is_empty()
    }
}

/// The words of a routing or binding key: none for the empty key, else split at `.`.
fn words(key: &[u8]) -> impl Iterator<Item = &[u8]> {
    let split = (!key.is_empty()).then(|| key.split(|b| *b == b'.'));
    split.into_iter().flatten()
}

impl Default for TopicTable {
    fn default() -> Self {
        TopicTable {
            nodes: vec![Node::default()],
            free: Vec::new(),
            index: DestinationIndex::default(),
            len: 0,
        }
    }
}

impl TopicTable {
    fn child(&self, id: usize, word: &[u8]) -> Option<usize> {
        let node = self.nodes.get(id)?;
        match word {
            b"*" => node.star,
            b"#" => node.hash,
            _ => node.words.get(word).copied(),
        }
    }

    fn child_or_insert(&mut self, id: usize, word: &[u8]) -> usize {
        if let Some(child) = self.child(id, word) {
            return child;
        }
        let child = self.alloc();
        if let Some(node) = self.nodes.get_mut(id) {
            match word {
                b"*" => node.star = Some(child),
                b"#" => node.hash = Some(child),
                _ => {
                    node.words.insert(Bytes::copy_from_slice(word), child);
                }
            }
        }
        child
    }

    fn alloc(&mut self) -> usize {
        match self.free.pop() {
            Some(id) => id,
            None => {
                self.nodes.push(Node::default());
                self.nodes.len() - 1
            }
        }
    }

    /// The node ids from the root to the node of `key`, if that node exists.
    fn path(&self, key: &[u8]) -> Option<Vec<usize>> {
        let mut path = vec![ROOT];
        let mut id = ROOT;
        for word in words(key) {
            id = self.child(id, word)?;
            path.push(id);
        }
        Some(path)
    }

    /// Frees the unused nodes at the end of `path` (the path of `key`), leaf first.
    fn prune(&mut self, key: &[u8], path: &[usize]) {
        let words: Vec<&[u8]> = words(key).collect();
        for (pair, word) in path.windows(2).zip(words).rev() {
            let &[parent, child] = pair else { break };
            if !self.nodes.get(child).is_some_and(Node::is_unused) {
                break;
            }
            if let Some(node) = self.nodes.get_mut(parent) {
                match word {
                    b"*" => node.star = None,
                    b"#" => node.hash = None,
                    _ => {
                        node.words.remove(word);
                    }
                }
            }
            if let Some(node) = self.nodes.get_mut(child) {
                *node = Node::default();
                self.free.push(child);
            }
        }
    }
}

impl RoutingTable for TopicTable {
    fn bind(&mut self, binding: Binding) -> bool {
        let mut id = ROOT;
        for word in words(binding.routing_key.as_bytes()) {
            id = self.child_or_insert(id, word);
        }
        let destination = binding.destination.clone();
        let key = binding.routing_key.clone();
        let added = self
            .nodes
            .get_mut(id)
            .is_some_and(|node| node.targets.insert(binding));
        if added {
            self.index.add(&destination, &key);
            self.len += 1;
        }
        added
    }

    fn unbind(&mut self, binding: &Binding) -> bool {
        let key = binding.routing_key.as_bytes();
        let Some(path) = self.path(key) else {
            return false;
        };
        let Some(node) = path.last().and_then(|&id| self.nodes.get_mut(id)) else {
            return false;
        };
        if !node.targets.remove(binding) {
            return false;
        }
        if !node.targets.contains(&binding.destination) {
            self.index
                .remove(&binding.destination, &binding.routing_key);
        }
        self.len -= 1;
        self.prune(key, &path);
        true
    }

    fn route(&self, routing_key: &[u8], _headers: &FieldTable, out: &mut Vec<Destination>) {
        let words: Vec<&[u8]> = words(routing_key).collect();
        let n = words.len();
        let start = out.len();
        let mut hits = 0usize;
        let mut floors = HashFloors::default();
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((id, pos)) = stack.pop() {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            if let Some(hash) = node.hash {
                let upto = floors.enter(hash, pos, n);
                stack.extend((pos..upto).map(|j| (hash, j)));
            }
            match words.get(pos) {
                None => {
                    if !node.targets.is_empty() {
                        node.targets.route(out);
                        hits += 1;
                    }
                }
                Some(word) => {
                    if let Some(&child) = node.words.get(*word) {
                        stack.push((child, pos + 1));
                    }
                    if let Some(star) = node.star {
                        stack.push((star, pos + 1));
                    }
                }
            }
        }
        // Each node is visited at most once per position and only collects at the end of
        // the key, so duplicates exist only when several nodes matched.
        if hits > 1 {
            dedup_since(out, start);
        }
    }

    fn remove_destination(&mut self, destination: &Destination) -> usize {
        let mut removed = 0;
        for key in self.index.take(destination) {
            let key = key.as_bytes();
            let Some(path) = self.path(key) else {
                continue;
            };
            if let Some(node) = path.last().and_then(|&id| self.nodes.get_mut(id)) {
                removed += node.targets.remove_destination(destination);
            }
            self.prune(key, &path);
        }
        self.len -= removed;
        removed
    }

    fn len(&self) -> usize {
        self.len
    }

    fn bindings(&self, out: &mut Vec<Binding>) {
        for node in &self.nodes {
            node.targets.bindings(out);
        }
    }
}

/// For each `#` node entered during one routing call, the lowest position it was entered
/// at. A short list first (keys rarely meet more than a few `#` nodes), a map past that.
#[derive(Default)]
struct HashFloors {
    few: Vec<(usize, usize)>,
    many: HashMap<usize, usize>,
}

impl HashFloors {
    const FEW: usize = 8;

    /// Enters `node` at `pos` (of `n` words) and returns the end of the positions still to
    /// visit: they are `pos..end`, empty when an earlier entry already covered them.
    fn enter(&mut self, node: usize, pos: usize, n: usize) -> usize {
        let floor = if let Some(i) = self.few.iter().position(|(id, _)| *id == node) {
            self.few.get_mut(i).map(|(_, floor)| floor)
        } else if self.few.len() < Self::FEW {
            self.few.push((node, pos));
            None
        } else if let Some(floor) = self.many.get_mut(&node) {
            Some(floor)
        } else {
            self.many.insert(node, pos);
            None
        };
        match floor {
            Some(floor) => {
                let end = *floor;
                *floor = end.min(pos);
                end
            }
            // First entry: every position from `pos` on is new.
            None => n + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Binding, Destination, ExchangeKind, Router};
    use crate::protocol::{FieldTable, ShortStr};
    use proptest::prelude::*;

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

    /// (binding key, routing key, routed?) as observed on RabbitMQ 3.10.8.
    const RABBITMQ_CASES: &[(&str, &str, bool)] = &[
        ("#", "", true),
        ("*", "", false),
        ("", "", true),
        ("", "a", false),
        ("a", "", false),
        ("#.#", "", true),
        ("*.#", "", false),
        ("#.*", "", false),
        ("a.*.b", "a..b", true),
        ("a.b", "a..b", false),
        ("*.*", ".", true),
        ("*", ".", false),
        ("#", ".", true),
        (".", ".", true),
        ("", ".", false),
        ("#.#", "a", true),
        ("a.#.#.b", "a.b", true),
        ("a.#", "a", true),
        ("#.a", "a", true),
        ("a.*.#", "a", false),
        ("a.*.#", "a.b", true),
        ("a.*", "a.", true),
        ("a.*", "a", false),
        ("a.#", "a.", true),
        ("*", "*", true),
        ("a", "*", false),
        ("#", "a.b.c", true),
        ("a#", "a#", true),
        ("a#", "ab", false),
        ("#.b.#", "b", true),
        ("#.b.#", "a.b.c", true),
        ("#.b.#", "a.c", false),
        ("*.#.*", "a", false),
        ("*.#.*", "a.b", true),
        ("#.#.#.#", "a.b", true),
        (".#", "", false),
        (".#", "a", false),
        (".#", ".a", true),
        ("#.", "a.", true),
        ("#.", "", false),
        ("#.", "a", false),
        ("*.", "a.", true),
        ("a.#.a", "a.a", true),
        ("a.#.a", "a", false),
        ("#.#.a", "a", true),
    ];

    #[test]
    fn matches_rabbitmq_on_observed_cases() {
        for &(pattern, key, expected) in RABBITMQ_CASES {
            let mut r = Router::new(ExchangeKind::Topic);
            assert!(r.bind(binding(queue("q"), pattern)));
            let routed = !route(&r, key).is_empty();
            assert_eq!(routed, expected, "binding {pattern:?}, routing key {key:?}");
            assert_eq!(
                reference_match(pattern, key),
                expected,
                "reference on {pattern:?} {key:?}"
            );
        }
    }

    #[test]
    fn a_destination_matched_by_several_patterns_gets_one_copy() {
        let mut r = Router::new(ExchangeKind::Topic);
        for pattern in ["a.b", "a.*", "#", "a.#", "#.b", "*.*"] {
            assert!(r.bind(binding(queue("q"), pattern)));
        }
        assert!(r.bind(binding(queue("other"), "x.#")));
        assert_eq!(r.len(), 7);
        assert_eq!(route(&r, "a.b"), vec![queue("q")]);
        assert_eq!(route(&r, "x.y"), vec![queue("other"), queue("q")]);
    }

    #[test]
    fn many_hashes_and_long_keys_stay_cheap() {
        let mut r = Router::new(ExchangeKind::Topic);
        // Both stay under the 255-byte limit of a short string.
        let pattern = vec!["#"; 100].join(".");
        assert!(r.bind(binding(queue("q"), &pattern)));
        let mut key = vec!["w"; 120].join(".");
        assert_eq!(route(&r, &key), vec![queue("q")]);
        key.push_str(".end");
        assert!(r.bind(binding(queue("end"), &format!("{pattern}.end"))));
        assert_eq!(route(&r, &key), vec![queue("end"), queue("q")]);
    }

    #[test]
    fn unbind_prunes_and_keeps_siblings() {
        let mut r = Router::new(ExchangeKind::Topic);
        assert!(r.bind(binding(queue("q1"), "a.b.c")));
        assert!(r.bind(binding(queue("q2"), "a.b")));
        assert!(r.bind(binding(queue("q3"), "a.#")));
        assert!(!r.bind(binding(queue("q3"), "a.#")));
        assert!(!r.unbind(&binding(queue("q1"), "a.b")));
        assert!(!r.unbind(&binding(queue("q1"), "a.b.c.d")));
        assert!(r.unbind(&binding(queue("q1"), "a.b.c")));
        assert_eq!(route(&r, "a.b.c"), vec![queue("q3")]);
        assert_eq!(route(&r, "a.b"), vec![queue("q2"), queue("q3")]);
        assert!(r.unbind(&binding(queue("q2"), "a.b")));
        assert!(r.unbind(&binding(queue("q3"), "a.#")));
        assert!(r.is_empty());
        assert_eq!(route(&r, "a"), Vec::<Destination>::new());
        // Freed nodes are reused.
        assert!(r.bind(binding(queue("q4"), "a.b.c")));
        assert_eq!(route(&r, "a.b.c"), vec![queue("q4")]);
    }

    #[test]
    fn remove_destination_drops_all_its_patterns() {
        let mut r = Router::new(ExchangeKind::Topic);
        for pattern in ["a.*", "#", "b", ""] {
            assert!(r.bind(binding(queue("gone"), pattern)));
        }
        assert!(r.bind(binding(queue("kept"), "a.*")));
        assert_eq!(r.remove_destination(&queue("gone")), 4);
        assert_eq!(r.len(), 1);
        assert_eq!(route(&r, "a.x"), vec![queue("kept")]);
        assert_eq!(route(&r, "b"), Vec::<Destination>::new());
        assert_eq!(r.bindings(), vec![binding(queue("kept"), "a.*")]);
    }

    /// Every word sequence over `alphabet` with at most `max` words.
    fn all_sequences(alphabet: &[&str], max: usize) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = vec![Vec::new()];
        let mut level: Vec<Vec<String>> = vec![Vec::new()];
        for _ in 0..max {
            level = level
                .iter()
                .flat_map(|seq| {
                    alphabet.iter().map(move |w| {
                        let mut next = seq.clone();
                        next.push((*w).to_owned());
                        next
                    })
                })
                .collect();
            out.extend(level.iter().cloned());
        }
        out
    }

    #[test]
    fn exhaustive_small_patterns_agree_with_reference() {
        // 120 patterns over {a, *, #} (up to 4 words) with and without a trailing "x": many
        // distinct `#` nodes meet each key, past the short list of `HashFloors`.
        let mut patterns: Vec<String> = Vec::new();
        for seq in all_sequences(&["a", "*", "#"], 4) {
            patterns.push(seq.join("."));
            let mut with_x = seq.clone();
            with_x.push("x".to_owned());
            patterns.push(with_x.join("."));
        }
        let mut r = Router::new(ExchangeKind::Topic);
        for (i, p) in patterns.iter().enumerate() {
            assert!(r.bind(binding(queue(&format!("p{i:03}")), p)));
        }
        for seq in all_sequences(&["a", "x", ""], 5) {
            let key = seq.join(".");
            let mut expected: Vec<Destination> = patterns
                .iter()
                .enumerate()
                .filter(|(_, p)| reference_match(p, &key))
                .map(|(i, _)| queue(&format!("p{i:03}")))
                .collect();
            expected.sort();
            assert_eq!(route(&r, &key), expected, "key {key:?}");
        }
    }

    /// Splits like RabbitMQ: the empty key has no words.
    fn reference_words(key: &str) -> Vec<&str> {
        if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        }
    }

    /// A plain dynamic-programming matcher: `m[i][j]` says whether the first `i` pattern
    /// words match the first `j` key words.
    fn reference_match(pattern: &str, key: &str) -> bool {
        let p = reference_words(pattern);
        let k = reference_words(key);
        let mut m = vec![vec![false; k.len() + 1]; p.len() + 1];
        m[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=k.len() {
                m[i][j] = match p[i - 1] {
                    "#" => m[i - 1][j] || (j > 0 && m[i][j - 1]),
                    "*" => j > 0 && m[i - 1][j - 1],
                    word => j > 0 && m[i - 1][j - 1] && k[j - 1] == word,
                };
            }
        }
        m[p.len()][k.len()]
    }

    fn key_strategy(words: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(words), 0..6).prop_map(|w| w.join("."))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn trie_agrees_with_reference_matcher(
            patterns in prop::collection::vec(key_strategy(&["a", "b", "", "*", "#"]), 1..24),
            keys in prop::collection::vec(key_strategy(&["a", "b", "", "*"]), 1..16),
            removed in prop::collection::vec(any::<bool>(), 24),
        ) {
            let mut r = Router::new(ExchangeKind::Topic);
            for (i, p) in patterns.iter().enumerate() {
                r.bind(binding(queue(&format!("q{}", i % 7)), p));
                r.bind(binding(queue(&format!("p{i}")), p));
            }
            let check = |r: &Router, live: &dyn Fn(usize) -> bool| {
                for key in &keys {
                    let mut expected: Vec<Destination> = Vec::new();
                    for (i, p) in patterns.iter().enumerate() {
                        if live(i) && reference_match(p, key) {
                            expected.push(queue(&format!("q{}", i % 7)));
                            expected.push(queue(&format!("p{i}")));
                        }
                    }
                    expected.sort();
                    expected.dedup();
                    prop_assert_eq!(route(r, key), expected, "key {:?}", key);
                }
                Ok(())
            };
            check(&r, &|_| true)?;
            for (i, p) in patterns.iter().enumerate() {
                if removed[i] {
                    r.unbind(&binding(queue(&format!("p{i}")), p));
                    if patterns.iter().enumerate().all(|(j, q)| j % 7 != i % 7 || q != p || removed[j]) {
                        r.unbind(&binding(queue(&format!("q{}", i % 7)), p));
                    }
                }
            }
            check(&r, &|i| !removed[i])?;
            for i in 0..7 {
                r.remove_destination(&queue(&format!("q{i}")));
            }
            for (i, p) in patterns.iter().enumerate() {
                r.unbind(&binding(queue(&format!("p{i}")), p));
            }
            prop_assert!(r.is_empty());
            prop_assert!(r.bindings().is_empty());
        }
    }
}
