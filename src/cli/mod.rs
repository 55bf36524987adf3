//! `warrenctl`: the operator's command line, with rabbitmqctl's verbs, talking to the
//! management HTTP API.
//!
//! - [`args`]: the command line (clap), verbs named as rabbitmqctl names them.
//! - [`client`]: a blocking HTTP client of the management API.
//! - [`format`](mod@format): rabbitmqctl's tab-separated tables and its `--formatter json`.
//! - [`verbs`]: one module per family of verbs.
//! - [`error`]: what can go wrong, with rabbitmqctl's exit codes.

pub mod args;
pub mod client;
pub mod error;
pub mod format;
pub mod verbs;

use std::io::Write;

pub use args::Cli;
pub use error::CliError;

/// Runs the parsed command, writing its normal output to `out`.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let client = client::Client::new(&cli.connection)?;
    let ctx = verbs::Context {
        client: &client,
        vhost: &cli.vhost,
        output: format::Output {
            formatter: cli.formatter,
            quiet: cli.quiet || cli.silent,
            headers: !(cli.no_table_headers || cli.silent),
        },
    };
    verbs::dispatch(&ctx, &cli.verb, out)
}
