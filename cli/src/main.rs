//! `outpost`: the one binary people type.
//!
//! Every flag has an `OUTPOST_*` env twin (a flag beats its twin, which beats the
//! default); `--help` is the reference. Secrets (the admin password, keys) come from the
//! environment or files, never from the command line.
//!
//! # Layout
//! - [`up`]: broker and local workers in one process, embedded store and bus.
//! - [`app`]: the connector authors' kit (`new`, `build`, `test`, `validate`, `pack`, `install`).
//! - [`broker`]: the broker alone, on RabbitMQ and (optionally) PostgreSQL.
//! - [`worker`]: a worker for one segment, on RabbitMQ.
//! - [`broker_args`]: broker settings of `up` and `broker`.
//! - [`bus`]: the RabbitMQ settings both share.
//! - [`bench`]: what one action costs, against baselines measured in the same run.
//! - [`sandbox_args`]: sandbox limits and egress settings of `up` and `worker`.
//! - [`demo`]: what `outpost up --demo` does once everything runs.
//! - [`logging`]: tracing set-up.

mod app;
mod bench;
mod broker;
mod broker_args;
mod bus;
mod demo;
mod logging;
mod sandbox_args;
mod up;
mod worker;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "outpost",
    version,
    about = "Outpost: SOAR-compatible automation broker with sandboxed WebAssembly connectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker and local workers in one process, with the embedded store and bus,
    /// and install the sample apps.
    Up(up::UpArgs),
    /// Run the broker alone, on RabbitMQ; workers connect with `outpost worker`.
    Broker(broker::BrokerArgs),
    /// Run a worker for one segment, on RabbitMQ.
    Worker(worker::WorkerArgs),
    /// Write, build, test offline, validate, pack and install connectors.
    App(app::AppArgs),
    /// Measure the sandbox per action and end-to-end throughput, against a process spawn
    /// per action and raw RabbitMQ measured in the same run.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init();
    // Two rustls crypto providers are compiled in (ring and aws-lc-rs, through different
    // dependencies); choose one before anything builds a TLS config.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Broker(args) => broker::run(args).await,
            Command::Worker(args) => worker::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::App(args) => app::run(args).await,
        }
    })
}

/// Cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler can be installed");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    token
}
