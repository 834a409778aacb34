//! The workers as the broker knows them: the registry fed by their heartbeats, and the
//! health readings of the broker's own services and of every worker.
//!
//! # Layout
//! - [`registry`]: live workers from their heartbeats; why pending runs wait.
//! - [`health`]: system readings for `/rest/health` (seed 003).

pub mod health;
pub mod registry;
