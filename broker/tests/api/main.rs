//! The REST and gRPC APIs against a real broker started in-process on loopback ports,
//! with the test playing the worker's part on the same in-process bus: tasks are taken
//! from the bus and results published back, so dispatch, the outbox, ingestion and
//! assembly all run for real.
//!
//! The sample bundles come from `OUTPOST_APPS_DIST` (default `<workspace>/apps/dist`);
//! a missing bundle fails the tests rather than skipping them.
//!
//! # Layout
//! - [`harness`]: starting a broker, a REST client, a fake worker, bundles.
//! - [`rest`]: every REST endpoint: seeds, validation, listing conventions.
//! - [`grpc`]: `ActionService` (`WatchActionRun`) and `RegistryService`.
//! - [`cancel`]: `ActionService.CancelActionRun`, gRPC's cancel.
//! - [`fetch_app`]: `AppService.FetchApp`, as workers call it.
//! - [`openapi`]: the document against the router and real responses.
//! - [`sandbox`]: task limits, the asset deadline, `known_versions`, refused bundles.
//! - [`soar_apps`]: real SOAR app JSON installs unmodified.

mod cancel;
mod fetch_app;
mod grpc;
mod harness;
mod openapi;
mod rest;
mod sandbox;
mod soar_apps;
