//! `outpost app`: the connector authors' kit.
//!
//! `new` scaffolds a connector (Rust or Python), `build` makes its component, `test`
//! runs one action in a worker's sandbox without a broker (HTTP recorded or replayed
//! from a tape), `validate` runs the broker's install checks and more, `pack` makes the
//! bundle, `install` puts it into a running Outpost.
//!
//! # Layout
//! - `project`: a connector folder or bundle as the commands find it.
//! - `embedded`: the WIT, the Python SDK and the templates the binary carries.
//! - `new`, `build`, `pack`, `validate`, `test`, `install`: one command each.

mod build;
mod embedded;
mod install;
mod new;
mod pack;
mod project;
mod test;
mod validate;

#[derive(Debug, clap::Args)]
pub struct AppArgs {
    #[command(subcommand)]
    pub command: AppCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AppCommand {
    /// Create a connector folder: manifest, source with `test connectivity` and one
    /// example action, a unit test, an HTTP tape and a README.
    New(new::NewArgs),
    /// Build the connector's component into dist/<name>.wasm.
    Build(build::BuildArgs),
    /// Make the installable bundle dist/<name>.tgz, checked as the broker checks it.
    Pack(pack::PackArgs),
    /// Check a connector folder or bundle: the broker's install checks, handled actions,
    /// types, output data paths, egress.
    Validate(validate::ValidateArgs),
    /// Run one action in the worker's sandbox and limits, without a broker.
    Test(test::TestArgs),
    /// Install a bundle into a running Outpost (REST or gRPC).
    Install(install::InstallArgs),
}

pub async fn run(args: AppArgs) -> anyhow::Result<()> {
    match args.command {
        AppCommand::New(args) => new::run(args),
        AppCommand::Build(args) => tokio::task::spawn_blocking(move || build::run(args)).await?,
        AppCommand::Pack(args) => pack::run(args),
        AppCommand::Validate(args) => validate::run(args).await,
        AppCommand::Test(args) => test::run(args).await,
        AppCommand::Install(args) => install::run(args).await,
    }
}
