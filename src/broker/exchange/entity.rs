//! `Exchange`: a declared exchange — its declaration plus its routing table behind a
//! read-mostly lock (publishes read, binds write).

use super::{ExchangeKind, Router};
use crate::policy::Applied;
use crate::policy::effective::alternate_exchange;
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
    /// Where messages it cannot route go: its `alternate-exchange` argument, else the
    /// policy's (read only for unroutable messages).
    alternate: RwLock<Option<ShortStr>>,
    /// The policies applying to it.
    applied: RwLock<Applied>,
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
        let alternate = Self::declared_alternate(&arguments);
        Exchange {
            name,
            kind,
            durable,
            auto_delete,
            internal,
            arguments,
            alternate: RwLock::new(alternate),
            applied: RwLock::new(Applied::default()),
            router: RwLock::new(Router::new(kind)),
            stats: crate::metrics::counters::ExchangeStats::default(),
        }
    }

    fn declared_alternate(arguments: &FieldTable) -> Option<ShortStr> {
        match arguments.get("alternate-exchange") {
            Some(FieldValue::LongStr(b)) => ShortStr::from_bytes(b.clone()),
            _ => None,
        }
    }

    /// The alternate exchange in effect.
    pub fn alternate(&self) -> Option<ShortStr> {
        self.alternate.read().clone()
    }

    /// The policy and operator policy applying to it.
    pub fn applied_policies(&self) -> Applied {
        self.applied.read().clone()
    }

    /// Applies the policies now matching it: an `alternate-exchange` argument wins over
    /// the policy's, as in RabbitMQ. Returns false when nothing changed.
    pub fn apply_policies(&self, applied: Applied) -> bool {
        let mut current = self.applied.write();
        if current.same_as(&applied) {
            return false;
        }
        let declared = Self::declared_alternate(&self.arguments);
        let has_argument = self.arguments.get("alternate-exchange").is_some();
        *self.alternate.write() = alternate_exchange(declared.as_ref(), has_argument, &applied);
        *current = applied;
        true
    }
}
