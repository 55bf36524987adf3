//! Per-queue metric families encoded straight from each queue's atomics: no sample list
//! is built, and the `{vhost,queue}` labels borrow the queue's own names, so a scrape of
//! 100,000 queues allocates nothing per series. The output is what a
//! [`Family`](super::exposition::Family) of the same samples encodes, byte for byte.

use super::exposition::{Kind, encode_value};
use crate::broker::queue::Queue;
use prometheus_client::encoding::DescriptorEncoder;
use std::sync::Arc;

/// One metric family with a series per queue, read when it is encoded.
#[derive(Debug)]
pub struct QueueFamily {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    queues: Arc<[Arc<Queue>]>,
    value: fn(&Queue) -> u64,
}

impl QueueFamily {
    /// A family reading `value` from every queue of `queues`, in that order.
    pub fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        queues: Arc<[Arc<Queue>]>,
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
        for queue in self.queues.iter() {
            let name = queue.name().to_string_lossy();
            let labels = [("vhost", &*queue.vhost_name), ("queue", name.as_ref())];
            let sample = metric.encode_family(&labels)?;
            encode_value(self.kind, (self.value)(queue), sample)?;
        }
        Ok(())
    }
}
