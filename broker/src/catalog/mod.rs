//! What actions run with and on: apps and their bundles, assets, containers and
//! artifacts, with the checks REST and gRPC share. Every change audits itself.
//!
//! # Layout
//! - [`apps`]: installing apps from bundles.
//! - [`bundle`]: app bundle parsing and the component check.
//! - [`assets`]: creating and changing assets; masking their secrets.
//! - [`containers`]: creating and changing containers (seed 004).
//! - [`artifacts`]: creating artifacts inside containers.
//! - [`users`]: users and their tokens; an active administrator always remains.
//! - [`roles`]: roles, their permissions and their members.
//! - [`settings`]: the runtime settings (base URL, time zone).

pub mod apps;
pub mod artifacts;
pub mod assets;
pub mod bundle;
pub mod containers;
pub mod roles;
pub mod settings;
pub mod users;
