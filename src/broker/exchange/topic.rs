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
use std::collections::hash_map::Entry;

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
    /// Created only when a key meets more than `FEW` `#` nodes.
    many: Option<HashMap<usize, usize>>,
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
        } else {
            match self.many.get_or_insert_with(HashMap::new).entry(node) {
                Entry::Occupied(entry) => Some(entry.into_mut()),
                Entry::Vacant(entry) => {
                    entry.insert(pos);
                    None
                }
            }
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
#[path = "topic_tests.rs"]
mod tests;
