//! Per-queue metric families encoded straight from each queue's atomics: no sample list
//! is built, and the `{vhost,queue}` labels borrow the queue's own names, so a scrape of
//! 100,000 queues allocates nothing per series. The output is what a
//! [`Family`](super::exposition::Family) of the same samples encodes, byte for byte.

use super::exposition::{Kind, encode_value};
use crate::broker::queue::Queue;
use prometheus_client::encoding::DescriptorEncoder;
use std::sync::Arc;

/// A queue as one scrape labels it: its name turned into text once per scrape, not once
/// per family (that conversion was a fifth of a 100,000-queue scrape).
#[derive(Debug)]
pub struct LabelledQueue {
    queue: Arc<Queue>,
    name: Box<str>,
}

/// Every queue of one scrape, each labelled once.
pub fn labelled(queues: Vec<Arc<Queue>>) -> Arc<[LabelledQueue]> {
    queues
        .into_iter()
        .map(|queue| LabelledQueue {
            name: queue.name().to_string_lossy().into(),
            queue,
        })
        .collect()
}

/// One metric family with a series per queue, read when it is encoded.
#[derive(Debug)]
pub struct QueueFamily {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    queues: Arc<[LabelledQueue]>,
    value: fn(&Queue) -> u64,
}

impl QueueFamily {
    /// A family reading `value` from every queue of `queues`, in that order.
    pub fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        queues: Arc<[LabelledQueue]>,
        value: fn(&Queue) -> u64,
    ) -> QueueFamily {
        QueueFamily {
            name,
            help,
            kind,
            queues,
            value,
        }
    }

    /// Writes the family's descriptor and one sample per queue.
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric =
            encoder.encode_descriptor(self.name, self.help, None, self.kind.metric_type())?;
        for LabelledQueue { queue, name } in self.queues.iter() {
            let labels = [("vhost", &*queue.vhost_name), ("queue", &**name)];
            let sample = metric.encode_family(&labels)?;
            encode_value(self.kind, (self.value)(queue), sample)?;
        }
        Ok(())
    }
}
