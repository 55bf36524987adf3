//! `GET /api/nodes/{name}/memory` (and `?memory=true` / `?binary=true` on the node): the
//! memory breakdown in RabbitMQ's keys.
//!
//! What Warren can know honestly: the process's resident memory (`VmRSS`, the total),
//! message bodies held in memory (RabbitMQ's `binary`), and estimates for connections,
//! channels and queues from their counts and the sizes of their records. Categories that
//! exist only in the Erlang VM (code, atoms, ETS, mnesia, the management database, …) are
//! 0; what the estimates do not cover is `other_system`, so the categories add up to the
//! resident total as in RabbitMQ's `rss` strategy.

use super::AppState;
use crate::broker::alarms::resident_memory;
use crate::broker::connections::{ChannelInfo, ConnectionEntry};
use crate::broker::queue::Queue;
use crate::metrics::counters::queue as q;
use serde_json::{Map, Value, json};

/// The initial read buffer of a connection (see `crate::connection`).
const READ_BUFFER: u64 = 4096;

/// Memory by category, as estimated from the broker's objects.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Breakdown {
    /// Connection read buffers.
    pub connection_readers: u64,
    /// Channel records.
    pub connection_channels: u64,
    /// Connection records.
    pub connection_other: u64,
    /// Queue records.
    pub queue_procs: u64,
    /// Message bodies held in memory (ready and unacknowledged, not paged out).
    pub binary: u64,
    /// The resident set size of the process.
    pub rss: u64,
}

impl Breakdown {
    /// Measures the broker now: one pass over connections and queues, reading atomics.
    pub fn measure(state: &AppState) -> Breakdown {
        let broker = &state.broker;
        let mut b = Breakdown {
            rss: resident_memory(),
            ..Breakdown::default()
        };
        for conn in broker.connections.list() {
            b.connection_readers += READ_BUFFER;
            b.connection_other += size_of::<ConnectionEntry>() as u64;
            b.connection_channels += conn.channel_count() as u64 * size_of::<ChannelInfo>() as u64;
        }
        for vhost in broker.vhosts() {
            for queue in vhost.queues() {
                let g = &queue.stats.gauges;
                b.queue_procs += size_of::<Queue>() as u64;
                let bytes = g.get(q::READY_BYTES) + g.get(q::UNACKED_BYTES);
                b.binary += bytes.saturating_sub(g.get(q::PAGED_OUT_BYTES));
            }
        }
        b
    }

    fn known(&self) -> u64 {
        self.connection_readers
            + self.connection_channels
            + self.connection_other
            + self.queue_procs
            + self.binary
    }

    /// RabbitMQ's `memory` object.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: u64| {
            m.insert(k.to_string(), json!(v));
        };
        put("connection_readers", self.connection_readers);
        put("connection_writers", 0);
        put("connection_channels", self.connection_channels);
        put("connection_other", self.connection_other);
        put("queue_procs", self.queue_procs);
        for erlang_only in [
            "queue_slave_procs",
            "quorum_queue_procs",
            "quorum_queue_dlx_procs",
            "stream_queue_procs",
            "stream_queue_replica_reader_procs",
            "stream_queue_coordinator_procs",
            "plugins",
            "other_proc",
            "metrics",
            "mgmt_db",
            "mnesia",
            "quorum_ets",
            "other_ets",
        ] {
            put(erlang_only, 0);
        }
        put("binary", self.binary);
        for erlang_only in ["msg_index", "code", "atom"] {
            put(erlang_only, 0);
        }
        put("other_system", self.rss.saturating_sub(self.known()));
        put("allocated_unused", 0);
        put("reserved_unallocated", 0);
        m.insert("strategy".into(), json!("rss"));
        let total = self.rss.max(self.known());
        m.insert(
            "total".into(),
            json!({"erlang": total, "rss": self.rss, "allocated": total}),
        );
        Value::Object(m)
    }

    /// RabbitMQ's `binary` object (`?binary=true`): binary memory by owner; message bodies
    /// belong to queues.
    pub fn binary_json(&self) -> Value {
        json!({
            "connection_readers": 0,
            "connection_writers": 0,
            "connection_channels": 0,
            "connection_other": 0,
            "queue_procs": self.binary,
            "queue_slave_procs": 0,
            "quorum_queue_procs": 0,
            "quorum_queue_dlx_procs": 0,
            "stream_queue_procs": 0,
            "stream_queue_replica_reader_procs": 0,
            "stream_queue_coordinator_procs": 0,
            "plugins": 0,
            "mgmt_db": 0,
            "msg_index": 0,
            "other": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_add_up_to_the_resident_total() {
        let b = Breakdown {
            connection_readers: 4096,
            connection_channels: 100,
            connection_other: 200,
            queue_procs: 300,
            binary: 1000,
            rss: 1_000_000,
        };
        let j = b.to_json();
        let sum: u64 = j
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(_, v)| v.as_u64())
            .sum();
        assert_eq!(sum, 1_000_000);
        assert_eq!(j["total"]["rss"], 1_000_000);
        assert_eq!(j["strategy"], "rss");
        assert_eq!(b.binary_json()["queue_procs"], 1000);
    }
}
