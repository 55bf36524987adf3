//! `warrenctl`: rabbitmqctl's everyday verbs against Warren's (or RabbitMQ's) management
//! HTTP API. See [`warren::cli`].

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use warren::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 64,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error:\n{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
