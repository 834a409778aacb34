//! The store contract: the same cases against SQLite and PostgreSQL ([`both_backends!`]),
//! one test binary so the broker is linked once for all of them.
//!
//! PostgreSQL cases use a fresh database on the machine's server (trust auth), dropped
//! at the end of each case.
//!
//! # Layout
//! - [`backends`]: runs a case on SQLite in a temp dir and on a fresh PostgreSQL database.
//! - [`runs_and_catalog`]: apps, assets, containers, artifacts, action runs, results,
//!   listings, asset state.
//! - [`access_and_audit`]: roles, users and tokens, the audit trail, settings, figures.

#[macro_use]
mod backends;

mod access_and_audit;
mod runs_and_catalog;
