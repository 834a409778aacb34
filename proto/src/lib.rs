//! Outpost's contracts, shared by every other crate and free of I/O.
//!
//! # Layout
//! - [`v1`]: the gRPC API (`outpost.v1`) and the bus messages (`Task`, `TaskResult`,
//!   `Progress`, `Heartbeat`, `Control`), generated from `outpost/v1/*.proto`.
//! - [`abi`]: what a connector component may import and must export.
//! - [`error`]: one error vocabulary that maps to both an HTTP status and a gRPC code.
//! - [`topology`]: the names of every exchange and queue on the bus.
//! - [`manifest`]: the SOAR-format app manifest (`<app>.json`) and its validation.
//! - [`parameters`]: the parameter object a connector sees (a parameter set, `context` last).
//! - [`seal`]: authenticated encryption of asset configuration for transport and storage.
//! - [`size`]: byte sizes as an operator writes them (`64 MiB`), for limits in messages.
//! - [`time`]: the Unix-millisecond clock every record uses, and every time format REST
//!   and gRPC show.

pub mod abi;
pub mod error;
pub mod manifest;
pub mod parameters;
pub mod seal;
pub mod size;
pub mod time;
pub mod topology;

/// Generated protobuf and gRPC types of the `outpost.v1` package.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("outpost.v1");

    /// The encoded `FileDescriptorSet` of every `.proto`, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("outpost_descriptor");
}

pub use error::{ErrorCode, OutpostError};

/// The version every Outpost binary reports (`/rest/version`, heartbeats).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The connector ABI version this build of Outpost runs: the export interface a
/// component must implement is `outpost:connector/handler@<CONNECTOR_ABI>`.
pub const CONNECTOR_ABI: &str = "0.1.0";
