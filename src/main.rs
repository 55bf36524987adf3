//! The `warren` binary: command line → settings → logging → broker until SIGINT or SIGTERM;
//! SIGHUP reloads the TLS certificate, key and CA files.
//!
//! Exit codes: 0 after a clean shutdown, 1 when the broker fails to start or run, 2 when the
//! command line or the settings are wrong (clap uses 2 for usage errors too).

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;
use warren::config::cli::{Cli, Command};
use warren::config::{self, Settings};

mod allocator;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli).and_then(|s| s.validate().map(|()| s)) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("warren: {e}");
            return ExitCode::from(2);
        }
    };
    // openraft reports every heartbeat and election at INFO; keep it at WARN unless the
    // operator names it in `server.log_level`.
    let level = &settings.server.log_level;
    let directives = if level.contains("openraft") {
        level.clone()
    } else {
        format!("{level},openraft=warn")
    };
    let filter = match EnvFilter::try_new(&directives) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("warren: server.log_level: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt().with_env_filter(filter).init();
    if cli.command == Some(Command::Compact) {
        return compact(&settings);
    }
    if let Some(Command::Cluster(command)) = &cli.command {
        return cluster(&settings, command);
    }

    allocator::install();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().on_thread_park(|| {
        warren::idle_trim::run();
    });
    if settings.server.worker_threads > 0 {
        builder.worker_threads(settings.server.worker_threads);
    }
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(settings))
}

/// `warren compact`: compacts the data directory's store and reports the sizes.
fn compact(settings: &Settings) -> ExitCode {
    match warren::store::compact(&settings.server.data_dir) {
        Ok(c) => {
            println!(
                "compacted {}: {} -> {} bytes in {:.2} s",
                settings.server.data_dir.display(),
                c.before,
                c.after,
                c.elapsed.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warren compact: {e}");
            ExitCode::from(1)
        }
    }
}

/// `warren cluster ...`: asks this node's cluster port and prints the answer.
fn cluster(settings: &Settings, command: &warren::config::cli::ClusterCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("warren cluster: cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(warren::cluster::admin::run(settings, command)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warren cluster: {e}");
            ExitCode::from(1)
        }
    }
}

/// Starts the broker, reloads TLS files on SIGHUP, and shuts down on SIGINT or SIGTERM.
async fn run(settings: Settings) -> ExitCode {
    // Install the handlers before serving so an early signal is not lost.
    let (mut interrupt, mut terminate, mut hangup) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(i), Ok(t), Ok(h)) => (i, t, h),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!("cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let handle = match warren::server::start(Arc::new(settings)).await {
        Ok(handle) => handle,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("warren: {e}");
            return ExitCode::from(1);
        }
    };
    let signal_name = loop {
        tokio::select! {
            _ = interrupt.recv() => break "SIGINT",
            _ = terminate.recv() => break "SIGTERM",
            _ = hangup.recv() => match handle.reload_tls() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate, key and CA files reloaded"),
                Err(e) => tracing::error!("SIGHUP: TLS files not reloaded, previous ones stay: {e}"),
            },
        }
    };
    tracing::info!("{signal_name} received, shutting down");
    handle.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}
