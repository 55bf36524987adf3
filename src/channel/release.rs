//! What a closing channel gives back, gathered per queue so each queue takes all of it in
//! one step (see [`Queue::release_channel`]).

use crate::broker::message::QueuedMessage;
use crate::broker::queue::Queue;
use std::sync::Arc;

/// One queue's share of a closing channel.
#[derive(Debug)]
pub(super) struct QueueReturn {
    /// The queue.
    pub(super) queue: Arc<Queue>,
    /// Deliveries the client had (unacked, or acked inside an uncommitted transaction).
    pub(super) delivered: Vec<QueuedMessage>,
    /// Deliveries still in the connection's inbox, with whether they counted as unacked.
    pub(super) in_flight: Vec<(QueuedMessage, bool)>,
}

/// The shares of every queue a closing channel touched, in first-seen order.
#[derive(Debug, Default)]
pub(super) struct Returns(Vec<QueueReturn>);

impl Returns {
    /// The share of `queue` (created empty on first use).
    pub(super) fn of(&mut self, queue: &Arc<Queue>) -> &mut QueueReturn {
        let idx = match self.0.iter().position(|r| Arc::ptr_eq(&r.queue, queue)) {
            Some(idx) => idx,
            None => {
                self.0.push(QueueReturn {
                    queue: Arc::clone(queue),
                    delivered: Vec::new(),
                    in_flight: Vec::new(),
                });
                self.0.len() - 1
            }
        };
        &mut self.0[idx]
    }

    /// The shares.
    pub(super) fn into_inner(self) -> Vec<QueueReturn> {
        self.0
    }
}
