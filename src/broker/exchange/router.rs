//! [`Router`]: one exchange's routing table, dispatching to the table of its kind, plus the
//! pieces the tables share: [`Targets`] (bindings grouped by destination), the
//! destination → keys index used to unbind a deleted queue without a scan, and the binding
//! normalisation (sorted arguments, bytes detached from the frame they arrived in).

use super::direct::DirectTable;
use super::fanout::FanoutTable;
use super::headers::{self, HeadersTable};
use super::topic::TopicTable;
use super::{Binding, BindingError, Destination, ExchangeKind};
use crate::protocol::{FieldTable, FieldValue, ShortStr};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};

/// The operations every kind's table provides; [`Router`] forwards to them.
pub(super) trait RoutingTable {
    /// Adds a normalised binding; false if an identical one exists.
    fn bind(&mut self, binding: Binding) -> bool;
    /// Removes a binding identical to the normalised `binding`; false if none.
    fn unbind(&mut self, binding: &Binding) -> bool;
    /// Appends every matching destination, each once.
    fn route(&self, routing_key: &[u8], headers: &FieldTable, out: &mut Vec<Destination>);
    /// Drops every binding to `destination`, returning how many there were.
    fn remove_destination(&mut self, destination: &Destination) -> usize;
    /// Number of bindings.
    fn len(&self) -> usize;
    /// Appends a copy of every binding.
    fn bindings(&self, out: &mut Vec<Binding>);
}

/// A routing table for one exchange.
#[derive(Debug)]
pub struct Router {
    table: Table,
}

#[derive(Debug)]
enum Table {
    Direct(DirectTable),
    Fanout(FanoutTable),
    Topic(TopicTable),
    Headers(HeadersTable),
}

/// The empty table a message without headers is matched against.
static NO_HEADERS: FieldTable = FieldTable(Vec::new());

impl Router {
    /// An empty routing table for an exchange of `kind`.
    pub fn new(kind: ExchangeKind) -> Router {
        let table = match kind {
            ExchangeKind::Direct => Table::Direct(DirectTable::default()),
            ExchangeKind::Fanout => Table::Fanout(FanoutTable::default()),
            ExchangeKind::Topic => Table::Topic(TopicTable::default()),
            ExchangeKind::Headers => Table::Headers(HeadersTable::default()),
        };
        Router { table }
    }

    /// The kind of exchange this table routes for.
    pub fn kind(&self) -> ExchangeKind {
        match self.table {
            Table::Direct(_) => ExchangeKind::Direct,
            Table::Fanout(_) => ExchangeKind::Fanout,
            Table::Topic(_) => ExchangeKind::Topic,
            Table::Headers(_) => ExchangeKind::Headers,
        }
    }

    /// Checks binding arguments for this kind: headers exchanges need `x-match` (when
    /// present) to be the long string `all`, `any`, `all-with-x` or `any-with-x`; the other
    /// kinds accept any arguments, as RabbitMQ does.
    pub fn validate(&self, arguments: &FieldTable) -> Result<(), BindingError> {
        match self.table {
            Table::Headers(_) => headers::validate(arguments),
            _ => Ok(()),
        }
    }

    /// Adds a binding; false if an identical one (same destination, key and arguments, the
    /// arguments' top-level keys compared in sorted order) exists. Does not validate: call
    /// [`Router::validate`] first (an invalid `x-match` would match as `all`).
    pub fn bind(&mut self, binding: Binding) -> bool {
        let binding = normalize(binding);
        self.table_mut().bind(binding)
    }

    /// Removes a binding identical to `binding`; false if there was none.
    pub fn unbind(&mut self, binding: &Binding) -> bool {
        if is_sorted(&binding.arguments) {
            self.table_mut().unbind(binding)
        } else {
            let mut sorted = binding.clone();
            sort_arguments(&mut sorted.arguments);
            self.table_mut().unbind(&sorted)
        }
    }

    /// Appends every destination this message matches to `out`, each at most once per call
    /// (destinations already in `out` are not looked at). A message without headers is
    /// matched as one with an empty header table.
    pub fn route(
        &self,
        routing_key: &[u8],
        headers: Option<&FieldTable>,
        out: &mut Vec<Destination>,
    ) {
        self.table()
            .route(routing_key, headers.unwrap_or(&NO_HEADERS), out);
    }

    /// Drops every binding to `destination` (a queue or exchange was deleted); returns how
    /// many there were.
    pub fn remove_destination(&mut self, destination: &Destination) -> usize {
        self.table_mut().remove_destination(destination)
    }

    /// True when the exchange has no bindings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// A copy of every binding, arguments sorted by key (as RabbitMQ lists them); the order
    /// of the bindings is not significant.
    pub fn bindings(&self) -> Vec<Binding> {
        let mut out = Vec::with_capacity(self.len());
        self.table().bindings(&mut out);
        out
    }

    fn table(&self) -> &dyn RoutingTable {
        match &self.table {
            Table::Direct(t) => t,
            Table::Fanout(t) => t,
            Table::Topic(t) => t,
            Table::Headers(t) => t,
        }
    }

    fn table_mut(&mut self) -> &mut dyn RoutingTable {
        match &mut self.table {
            Table::Direct(t) => t,
            Table::Fanout(t) => t,
            Table::Topic(t) => t,
            Table::Headers(t) => t,
        }
    }
}

/// Bindings that share one match point (a direct key, a topic trie node, a fanout
/// exchange), grouped by destination so routing yields each destination once.
#[derive(Debug, Default)]
pub(super) struct Targets {
    /// Sorted by destination; every entry has at least one binding.
    entries: Vec<Target>,
}

#[derive(Debug)]
struct Target {
    destination: Destination,
    /// (routing key, sorted arguments) of each binding to this destination.
    bindings: Vec<(ShortStr, FieldTable)>,
}

impl Targets {
    /// Adds a normalised binding; false if an identical one is here.
    pub(super) fn insert(&mut self, binding: Binding) -> bool {
        let Binding {
            destination,
            routing_key,
            arguments,
        } = binding;
        match self.find(&destination) {
            Ok(i) => match self.entries.get_mut(i) {
                Some(target) => {
                    let exists = target
                        .bindings
                        .iter()
                        .any(|(k, a)| *k == routing_key && *a == arguments);
                    if !exists {
                        target.bindings.push((routing_key, arguments));
                    }
                    !exists
                }
                None => false,
            },
            Err(i) => {
                let target = Target {
                    destination,
                    bindings: vec![(routing_key, arguments)],
                };
                self.entries.insert(i, target);
                true
            }
        }
    }

    /// Removes the binding identical to `binding` (arguments sorted); false if none.
    pub(super) fn remove(&mut self, binding: &Binding) -> bool {
        let Ok(i) = self.find(&binding.destination) else {
            return false;
        };
        let Some(target) = self.entries.get_mut(i) else {
            return false;
        };
        let Some(pos) = target
            .bindings
            .iter()
            .position(|(k, a)| *k == binding.routing_key && *a == binding.arguments)
        else {
            return false;
        };
        target.bindings.swap_remove(pos);
        if target.bindings.is_empty() {
            self.entries.remove(i);
        }
        true
    }

    /// Drops every binding to `destination`, returning how many there were.
    pub(super) fn remove_destination(&mut self, destination: &Destination) -> usize {
        match self.find(destination) {
            Ok(i) => self.entries.remove(i).bindings.len(),
            Err(_) => 0,
        }
    }

    /// True when some binding here sends to `destination`.
    pub(super) fn contains(&self, destination: &Destination) -> bool {
        self.find(destination).is_ok()
    }

    /// True when there are no bindings here.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends each destination once.
    pub(super) fn route(&self, out: &mut Vec<Destination>) {
        out.extend(self.entries.iter().map(|t| t.destination.clone()));
    }

    /// Appends a copy of every binding.
    pub(super) fn bindings(&self, out: &mut Vec<Binding>) {
        for target in &self.entries {
            for (routing_key, arguments) in &target.bindings {
                out.push(Binding {
                    destination: target.destination.clone(),
                    routing_key: routing_key.clone(),
                    arguments: arguments.clone(),
                });
            }
        }
    }

    fn find(&self, destination: &Destination) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|t| t.destination.cmp(destination))
    }
}

/// Which binding keys each destination is bound with, so that deleting a queue visits only
/// its own bindings instead of scanning the whole table.
#[derive(Debug, Default)]
pub(super) struct DestinationIndex {
    keys: HashMap<Destination, HashSet<ShortStr>>,
}

impl DestinationIndex {
    /// Records that `destination` has a binding with `key`.
    pub(super) fn add(&mut self, destination: &Destination, key: &ShortStr) {
        if let Some(keys) = self.keys.get_mut(destination) {
            keys.insert(key.clone());
        } else {
            self.keys
                .insert(destination.clone(), HashSet::from([key.clone()]));
        }
    }

    /// Records that `destination` has no binding with `key` any more.
    pub(super) fn remove(&mut self, destination: &Destination, key: &ShortStr) {
        if let Some(keys) = self.keys.get_mut(destination) {
            keys.remove(key);
            if keys.is_empty() {
                self.keys.remove(destination);
            }
        }
    }

    /// Forgets `destination`, returning the keys it was bound with.
    pub(super) fn take(&mut self, destination: &Destination) -> HashSet<ShortStr> {
        self.keys.remove(destination).unwrap_or_default()
    }
}

/// Sorts and deduplicates what was appended to `out` since `start`, for tables where one
/// destination can be reached through several match points. Each match point appends a
/// sorted run, and the stable sort merges runs in near-linear time.
pub(super) fn dedup_since(out: &mut Vec<Destination>, start: usize) {
    if out.len().saturating_sub(start) < 2 {
        return;
    }
    let mut tail = out.split_off(start);
    tail.sort();
    tail.dedup();
    out.append(&mut tail);
}

/// Prepares a binding for storage: bytes copied out of the frame they arrived in (so a
/// long-lived binding does not pin a whole read buffer) and arguments sorted by key.
fn normalize(binding: Binding) -> Binding {
    let destination = match &binding.destination {
        Destination::Queue(name) => Destination::Queue(detach_str(name)),
        Destination::Exchange(name) => Destination::Exchange(detach_str(name)),
    };
    let mut arguments = detach_table(&binding.arguments);
    sort_arguments(&mut arguments);
    Binding {
        destination,
        routing_key: detach_str(&binding.routing_key),
        arguments,
    }
}

/// Stable sort by key, as RabbitMQ does to binding arguments (top level only).
fn sort_arguments(arguments: &mut FieldTable) {
    arguments.0.sort_by(|(a, _), (b, _)| a.cmp(b));
}

fn is_sorted(arguments: &FieldTable) -> bool {
    arguments.0.windows(2).all(|w| match w {
        [(a, _), (b, _)] => a <= b,
        _ => true,
    })
}

fn detach_str(s: &ShortStr) -> ShortStr {
    ShortStr::from_bytes(Bytes::copy_from_slice(s.as_bytes())).unwrap_or_else(|| s.clone())
}

fn detach_table(table: &FieldTable) -> FieldTable {
    FieldTable(
        table
            .iter()
            .map(|(k, v)| (detach_str(k), detach_value(v)))
            .collect(),
    )
}

fn detach_value(value: &FieldValue) -> FieldValue {
    match value {
        FieldValue::LongStr(b) => FieldValue::LongStr(Bytes::copy_from_slice(b)),
        FieldValue::ByteArray(b) => FieldValue::ByteArray(Bytes::copy_from_slice(b)),
        FieldValue::Array(items) => FieldValue::Array(items.iter().map(detach_value).collect()),
        FieldValue::Table(t) => FieldValue::Table(detach_table(t)),
        other => other.clone(),
    }
}
