//! Writes that must happen together in cluster mode: [`Store::atomically`] collects the
//! replicated writes its closure submits (on this thread, to this store) and hands them to
//! the replicator as one group, which the cluster's proposer puts into one log entry, never
//! split. A dead-letter move (the copy published to the target queues, the entry removed
//! from the source) is such a group: after a failover the message is in exactly one place.
//!
//! Single-node mode (no replicator) runs the closure and nothing else: each write goes to
//! the writer as before (the copy is queued before the removal, so a crash never loses
//! both).

use std::cell::RefCell;
use std::sync::Arc;

use super::Store;
use super::types::{Completion, StoreOp};

/// The group being collected on this thread: the store's identity and its writes.
struct Open {
    store: usize,
    ops: Vec<(StoreOp, Option<Completion>)>,
}

thread_local! {
    static OPEN: RefCell<Option<Open>> = const { RefCell::new(None) };
}

/// Proposes what was collected when the outermost [`Store::atomically`] ends (even by a
/// panic, so nothing collected is lost).
struct Closer<'a> {
    store: &'a Store,
}

impl Drop for Closer<'_> {
    fn drop(&mut self) {
        let open = OPEN.with(|c| c.borrow_mut().take());
        if let Some(open) = open
            && !open.ops.is_empty()
        {
            self.store.propose_group(open.ops);
        }
    }
}

impl Store {
    fn identity(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Runs `f`; in cluster mode the replicated writes `f` submits to this store on this
    /// thread are replicated as one group, applied all together on every node. Nested calls
    /// join the outer group. `f` must not wait for those writes' completions.
    pub fn atomically<T>(&self, f: impl FnOnce() -> T) -> T {
        if !self.is_replicated() {
            return f();
        }
        let id = self.identity();
        let outer = OPEN.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_some() {
                return false;
            }
            *c = Some(Open {
                store: id,
                ops: Vec::new(),
            });
            true
        });
        // Lazily: a `Closer` built and dropped by a nested call would close the group.
        let _closer = outer.then(|| Closer { store: self });
        f()
    }

    /// Whether this thread has a group open for this store.
    pub(super) fn in_group(&self) -> bool {
        let id = self.identity();
        OPEN.with(|c| c.borrow().as_ref().is_some_and(|open| open.store == id))
    }

    /// Takes `op` into this thread's open group, if one is open for this store; otherwise
    /// gives it back.
    pub(super) fn collect(
        &self,
        op: StoreOp,
        done: Option<Completion>,
    ) -> Option<(StoreOp, Option<Completion>)> {
        let id = self.identity();
        OPEN.with(|c| match c.borrow_mut().as_mut() {
            Some(open) if open.store == id => {
                open.ops.push((op, done));
                None
            }
            _ => Some((op, done)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Replicator, StoreError, StoreOptions};
    use parking_lot::Mutex;

    /// Records what it is given and completes every op at once.
    #[derive(Debug, Default)]
    struct Recorder {
        calls: Mutex<Vec<Vec<String>>>,
    }

    impl Replicator for Recorder {
        fn propose(&self, op: StoreOp, durable: Option<Completion>, done: Completion) {
            self.calls.lock().push(vec![format!("{op:?}")]);
            if let Some(durable) = durable {
                durable(Ok(()));
            }
            done(Ok(()));
        }

        fn propose_group(&self, ops: Vec<(StoreOp, Completion)>) {
            self.calls
                .lock()
                .push(ops.iter().map(|(op, _)| format!("{op:?}")).collect());
            for (_, done) in ops {
                done(Ok(()));
            }
        }

        fn queue_counter(&self, _next: u64) {}
    }

    fn remove(seq: u64) -> StoreOp {
        StoreOp::Remove { queue: 1, seq }
    }

    #[test]
    fn writes_inside_atomically_reach_the_replicator_as_one_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
        let recorder = Arc::new(Recorder::default());
        assert!(store.set_replicator(recorder.clone()));
        let completed = Arc::new(Mutex::new(Vec::<Result<(), StoreError>>::new()));
        let c = Arc::clone(&completed);
        store.atomically(|| {
            store.submit(remove(1), Some(Box::new(move |r| c.lock().push(r))));
            // Nested: joins the outer group.
            store.atomically(|| store.submit(remove(2), None));
            let early = recorder.calls.lock().clone();
            assert!(early.is_empty(), "nothing proposed yet: {early:?}");
        });
        store.submit(remove(3), None);
        let calls = recorder.calls.lock().clone();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0].len(), 2, "one group of both writes: {calls:?}");
        assert!(calls[0][0].contains("seq: 1") && calls[0][1].contains("seq: 2"));
        assert_eq!(calls[1].len(), 1, "a later write travels on its own");
        assert_eq!(completed.lock().len(), 1, "the completion ran once");
    }

    #[test]
    fn single_node_mode_runs_the_closure_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
        let n = store.atomically(|| {
            store.submit(remove(1), None);
            42
        });
        assert_eq!(n, 42);
        store.flush().expect("flush");
    }

    /// Records `(tag, ok)` in `log`.
    fn record(log: &Arc<Mutex<Vec<(&'static str, bool)>>>, tag: &'static str) -> Completion {
        let log = Arc::clone(log);
        Box::new(move |r| log.lock().push((tag, r.is_ok())))
    }

    #[test]
    fn a_durable_write_goes_to_the_replicator_with_its_two_completions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
        let recorder = Arc::new(Recorder::default());
        assert!(store.set_replicator(recorder.clone()));
        let log = Arc::new(Mutex::new(Vec::new()));
        store.submit_durable(
            remove(1),
            record(&log, "durable"),
            Some(record(&log, "stored")),
        );
        // The recorder runs the durable completion first, as the proposer does at commit.
        assert_eq!(*log.lock(), [("durable", true), ("stored", true)]);
        // Inside a group, both wait for the group: one completion, stored part first.
        log.lock().clear();
        store.atomically(|| {
            store.submit_durable(
                remove(2),
                record(&log, "durable"),
                Some(record(&log, "stored")),
            );
            assert!(log.lock().is_empty());
        });
        assert_eq!(*log.lock(), [("stored", true), ("durable", true)]);
        assert_eq!(recorder.calls.lock().len(), 2);
    }

    #[test]
    fn on_a_single_node_both_completions_run_after_the_commit_stored_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
        let log = Arc::new(Mutex::new(Vec::new()));
        store.submit_durable(
            StoreOp::MarkDelivered { queue: 1, up_to: 1 },
            record(&log, "durable"),
            Some(record(&log, "stored")),
        );
        store.flush().expect("flush");
        assert_eq!(*log.lock(), [("stored", true), ("durable", true)]);
    }
}
