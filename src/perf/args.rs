//! Command-line options of `warren-perf`, in the style of RabbitMQ's PerfTest and lavinmqperf.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// How published messages reach the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExchangeKind {
    /// Each producer publishes to one queue (producer i to queue i mod --queues).
    Direct,
    /// Every message is copied to every queue.
    Fanout,
}

/// Load a broker with AMQP 0-9-1 producers and consumers and report its throughput and
/// latency.
///
/// Each producer and each consumer has its own connection. Producers publish to their
/// queue (producer i to queue i mod --queues) or, with `--type fanout`, to every queue;
/// consumer j consumes from queue j mod --queues. Every body carries its send time in its
/// first 8 bytes, so the consumers measure publish-to-delivery latency. Queues are declared
/// at the start and deleted at the end. A progress line goes to stderr every second; the
/// result goes to stdout at the end (one JSON document with --json).
#[derive(Debug, Clone, Parser)]
#[command(name = "warren-perf", version, about, long_about, verbatim_doc_comment)]
pub struct PerfArgs {
    /// Broker URI: amqp://user:pass@host:port/vhost or amqps://… (vhost percent-encoded,
    /// e.g. %2f for "/").
    #[arg(
        short = 'u',
        long,
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub uri: String,

    /// PEM file of the CA certificate(s) that sign the broker's certificate (amqps:// only;
    /// without it the public web roots are trusted).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Number of producers (one connection and channel each).
    #[arg(short = 'x', long, default_value_t = 1)]
    pub producers: usize,

    /// Number of consumers (one connection and channel each).
    #[arg(short = 'y', long, default_value_t = 1)]
    pub consumers: usize,

    /// Number of queues.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub queues: u32,

    /// Queue name pattern; `%d` is replaced by the queue's number (1-based).
    #[arg(long, default_value = "perf-%d")]
    pub queue_pattern: String,

    /// Exchange to publish to; empty for the default exchange (routing key = queue name).
    /// A named exchange is declared (not durable) and each queue bound with its own name.
    #[arg(short = 'e', long, default_value = "")]
    pub exchange: String,

    /// Exchange type: direct (one queue per producer) or fanout (every queue). fanout needs
    /// --exchange.
    #[arg(short = 't', long = "type", value_enum, default_value_t = ExchangeKind::Direct)]
    pub kind: ExchangeKind,

    /// Body size in bytes (at least 8: the send timestamp).
    #[arg(short = 's', long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(8..))]
    pub size: u32,

    /// Messages per second per producer; 0 publishes flat out.
    #[arg(short = 'r', long, default_value_t = 0.0)]
    pub rate: f64,

    /// Use publisher confirms with at most N messages unconfirmed per producer.
    #[arg(short = 'c', long, value_name = "N")]
    pub confirm: Option<u32>,

    /// Prefetch count per consumer (basic.qos); 0 for unlimited.
    #[arg(short = 'q', long, default_value_t = 0)]
    pub prefetch: u16,

    /// Publish persistent messages (delivery-mode 2) to durable queues.
    #[arg(short = 'f', long)]
    pub persistent: bool,

    /// Declare the queues as quorum queues (`x-queue-type = quorum`, durable).
    #[arg(long)]
    pub quorum: bool,

    /// Consume without acknowledgements (no-ack).
    #[arg(short = 'a', long)]
    pub auto_ack: bool,

    /// Acknowledge every N deliveries with one `multiple` ack (sooner when no delivery is
    /// waiting); 1 acknowledges each delivery.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub multi_ack: u32,

    /// Length of the measured period in seconds (after the warm-up).
    #[arg(short = 'z', long, default_value_t = 10.0)]
    pub time: f64,

    /// Seconds of load before measuring starts (not counted in rates or latencies).
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,

    /// Messages each producer publishes; the run then ends when all are delivered (or when
    /// --time runs out). No warm-up in this mode.
    #[arg(short = 'C', long, value_name = "N")]
    pub pmessages: Option<u64>,

    /// Deliveries each consumer takes; the run then ends once the consumers have received
    /// N each (N x consumers in all), or when --time runs out. With --producers 0 this
    /// drains a backlog an earlier run left (see --keep-queues). No warm-up in this mode.
    #[arg(short = 'D', long, value_name = "N")]
    pub cmessages: Option<u64>,

    /// Leave the queues (and the exchange) and whatever they hold in place at the end
    /// instead of deleting them, e.g. to drain the backlog with a later run.
    #[arg(long)]
    pub keep_queues: bool,

    /// Write every measured delivery's send stamp (the body's first 8 bytes, 16 hex digits)
    /// and publish-to-delivery latency in nanoseconds, one line each, to FILE at the end;
    /// `benches/residence.py --latency-log FILE` splits each message's latency into the
    /// broker's share and the clients'. Meant for steady-rate runs (at most 10,000,000 lines).
    #[arg(long, value_name = "FILE")]
    pub latency_log: Option<std::path::PathBuf>,

    /// Print the result as one JSON document.
    #[arg(long)]
    pub json: bool,

    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}
