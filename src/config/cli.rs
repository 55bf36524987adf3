//! The command line. Flags override the config file and the `WARREN_*` environment.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Warren's command-line flags (`warren --help`).
#[derive(Debug, Clone, Default, PartialEq, Parser)]
#[command(
    name = "warren",
    version,
    about = "An AMQP 0-9-1 message broker that existing RabbitMQ clients use unchanged",
    after_help = "Settings are read from built-in defaults, then --config FILE, then \
                  WARREN_<SECTION>__<KEY> environment variables (e.g. WARREN_AMQP__FRAME_MAX), \
                  then these flags. conf/warren.toml lists every setting."
)]
pub struct Cli {
    /// TOML config file; without it only defaults, environment and flags apply.
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Address and port to listen on (server.listen), e.g. 127.0.0.1:5672; repeat the flag
    /// or separate addresses with commas to listen on several.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Vec<String>,
    /// Directory for the message store (server.data_dir).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Log filter (server.log_level): error, warn, info, debug, trace or a tracing directive.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// What to do instead of running the broker.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Maintenance commands (the broker must not be running on the data directory).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Shrinks the data file to its live data (the file keeps its peak size after a
    /// backlog drains), then exits. Stop the broker first.
    Compact,
    /// Cluster operations, sent to this node's cluster port (`cluster.listen`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// `warren cluster ...`
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ClusterCommand {
    /// This node's view: its id, role, term, leader, members, log and applied indexes.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Asks the running cluster to add this node (from this config: its id and addresses)
    /// as a learner that catches up, then a voter. The node must be running, started with
    /// `cluster.join = true` (which also makes it ask by itself).
    Join {
        /// A member's cluster port to ask (default: each of this config's peers in turn).
        #[arg(long, value_name = "HOST:PORT")]
        via: Option<String>,
    },
    /// Removes node ID from the cluster's membership (asked through this node).
    Remove {
        /// The node to remove.
        id: u64,
    },
}
