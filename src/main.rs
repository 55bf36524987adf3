//! The `warren` binary: command line → settings → logging → broker until SIGINT or SIGTERM.
//!
//! Exit codes: 0 after a clean shutdown, 1 when the broker fails to start or run, 2 when the
//! command line or the settings are wrong (clap uses 2 for usage errors too).

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;
use warren::config::{self, Settings, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli).and_then(|s| s.validate().map(|()| s)) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("warren: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = match EnvFilter::try_new(&settings.server.log_level) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("warren: server.log_level: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(settings))
}

/// Starts the broker, waits for SIGINT or SIGTERM, then shuts it down.
async fn run(settings: Settings) -> ExitCode {
    // Install the handlers before serving so an early signal is not lost.
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!("cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let handle = match warren::server::start(Arc::new(settings)).await {
        Ok(handle) => handle,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!("listening on {}", handle.local_addr());

    let signal_name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!("{signal_name} received, shutting down");
    handle.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}
