//! `Exchange`: a declared exchange — its declaration plus its routing table behind a
//! read-mostly lock (publishes read, binds write).

use super::{ExchangeKind, Router};
use crate::protocol::{FieldTable, FieldValue, ShortStr};
use parking_lot::RwLock;

/// A declared exchange.
#[derive(Debug)]
pub struct Exchange {
    /// Exchange name.
    pub name: ShortStr,
    /// direct, fanout, topic or headers.
    pub kind: ExchangeKind,
    /// Survives a restart.
    pub durable: bool,
    /// Deleted when its last binding (as source) goes.
    pub auto_delete: bool,
    /// Cannot be published to directly.
    pub internal: bool,
    /// Declaration arguments, as received.
    pub arguments: FieldTable,
    /// The `alternate-exchange` argument: where messages it cannot route go.
    pub alternate: Option<ShortStr>,
    /// Bindings from this exchange.
    pub router: RwLock<Router>,
    /// Messages in and out (relaxed atomics).
    pub stats: crate::metrics::counters::ExchangeStats,
}

impl Exchange {
    /// Builds an exchange from its declaration.
    pub fn new(
        name: ShortStr,
        kind: ExchangeKind,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: FieldTable,
    ) -> Exchange {
        let alternate = match arguments.get("alternate-exchange") {
            Some(FieldValue::LongStr(b)) => ShortStr::from_bytes(b.clone()),
            _ => None,
        };
        Exchange {
            name,
            kind,
            durable,
            auto_delete,
            internal,
            arguments,
            alternate,
            router: RwLock::new(Router::new(kind)),
            stats: crate::metrics::counters::ExchangeStats::default(),
        }
    }
}
