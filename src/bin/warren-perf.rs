//! `warren-perf`: load an AMQP 0-9-1 broker (Warren or RabbitMQ) and report throughput
//! and latency. See [`warren::perf`] and `warren-perf --help`.

use std::process::ExitCode;

use clap::Parser;
use warren::perf::{PerfArgs, run};

/// jemalloc rather than glibc's malloc: with 20 connections on a few threads, glibc's arena
/// locks and chunk consolidation took about a tenth of the tool's CPU (perf, scenario e of
/// `benches/real_client.sh`), CPU that the broker under test then does not get.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args = PerfArgs::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warren-perf: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(doc) => println!("{doc}"),
                    Err(e) => {
                        eprintln!("warren-perf: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", report.summary());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warren-perf: {e}");
            ExitCode::FAILURE
        }
    }
}
