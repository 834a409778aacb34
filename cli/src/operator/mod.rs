//! The operator CLI: what people type to drive a running broker instead of curl.
//!
//! # Layout
//! - [`connection`]: the broker's addresses, the credentials (never from argv), errors
//!   as an operator reads them.
//! - [`run`]: `outpost run`, submit and follow an action run live.
//! - [`lists`]: `outpost runs`, `app-runs`, `workers`, `apps`, `assets`, `cancel`.
//! - [`render`]: tables and JSON.
//!
//! Shell completions (`outpost completions <shell>`) are written here too.

pub mod connection;
pub mod lists;
pub mod render;
pub mod run;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `command` (the whole CLI) to stdout, e.g.
/// `outpost completions bash > /etc/bash_completion.d/outpost`.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) {
    clap_complete::generate(args.shell, &mut command, "outpost", &mut std::io::stdout());
}
