//! Lines for the worker's log, tagged by the host with the run and task ids.
//!
//! The host bounds how many lines a parameter set may write and how long each may be.
//! Never log secrets: the asset configuration's `password` fields included.

use crate::bindings::outpost::connector::host::{self, Level};

/// Logs a debug line.
pub fn debug(message: impl AsRef<str>) {
    host::log(Level::Debug, message.as_ref());
}

/// Logs an info line.
pub fn info(message: impl AsRef<str>) {
    host::log(Level::Info, message.as_ref());
}

/// Logs a warning.
pub fn warn(message: impl AsRef<str>) {
    host::log(Level::Warn, message.as_ref());
}

/// Logs an error.
pub fn error(message: impl AsRef<str>) {
    host::log(Level::Error, message.as_ref());
}
