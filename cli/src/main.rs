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
//! - [`operator`]: the operator CLI (`run`, `runs`, `app-runs`, `workers`, `apps`,
//!   `assets`, `cancel`, `completions`), a client of a running broker.

mod app;
mod bench;
mod broker;
mod broker_args;
mod bus;
mod demo;
#[cfg(test)]
mod deploy_check;
mod logging;
mod operator;
mod sandbox_args;
mod up;
mod worker;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Submit an action run over gRPC, follow it live with a progress bar, and print its
    /// results; exits non-zero when the run failed.
    Run(operator::run::RunArgs),
    /// List action runs, newest first.
    Runs(operator::lists::RunsArgs),
    /// List the app runs of one action run.
    AppRuns(operator::lists::AppRunsArgs),
    /// List the segments and their live workers.
    Workers(operator::lists::ListArgs),
    /// List the installed apps and their actions.
    Apps(operator::lists::ListArgs),
    /// List the assets.
    Assets(operator::lists::ListArgs),
    /// Cancel an action run: queued parameter sets stop, finished results stay.
    Cancel(operator::lists::CancelArgs),
    /// Print a shell completion script, e.g. `outpost completions bash > /etc/bash_completion.d/outpost`.
    Completions(operator::CompletionsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Completions(args) = cli.command {
        operator::completions(args, Cli::command());
        return Ok(());
    }
    logging::init();
    // Only ring is compiled in (the workspace trims aws-lc-rs away); installing it as the
    // process default keeps TLS working should a dependency bring a second provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Broker(args) => broker::run(args).await,
            Command::Worker(args) => worker::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::App(args) => app::run(args).await,
            Command::Run(args) => operator::run::run(args).await,
            Command::Runs(args) => operator::lists::runs(args).await,
            Command::AppRuns(args) => operator::lists::app_runs(args).await,
            Command::Workers(args) => operator::lists::workers(args).await,
            Command::Apps(args) => operator::lists::apps(args).await,
            Command::Assets(args) => operator::lists::assets(args).await,
            Command::Cancel(args) => operator::lists::cancel(args).await,
            Command::Completions(_) => Ok(()),
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
