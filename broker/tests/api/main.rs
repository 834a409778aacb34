//! The REST and gRPC APIs against a real broker started in-process on loopback ports
//! (`outpost_tests::broker::TestBroker`), with the test playing the worker's part on the
//! same in-process bus (`outpost_tests::fake_worker`): tasks are taken from the bus and
//! results published back, so dispatch, the outbox, ingestion and assembly all run for
//! real. One test binary, so the broker is linked once for all of them.
//!
//! The sample bundles come from `OUTPOST_APPS_DIST` (default `<workspace>/apps/dist`);
//! a missing bundle fails the tests rather than skipping them.
//!
//! # Layout
//! - [`rest`]: every REST endpoint: seeds, validation, listing conventions.
//! - [`grpc`]: `ActionService` (`WatchActionRun`) and `RegistryService`.
//! - [`cancel`]: `ActionService.CancelActionRun`, gRPC's cancel.
//! - [`fetch_app`]: `AppService.FetchApp`, as workers call it.
//! - [`openapi`]: the document against the router and real responses.
//! - [`sandbox`]: task limits, the asset deadline, `known_versions`, refused bundles.
//! - [`bundles`]: the install checks of bundles, without a broker.
//! - [`admin`]: users, roles, permissions, tokens, sign-ins, audit, health, system info.
//! - [`soar_apps`]: real SOAR app JSON installs unmodified.

mod admin;
mod bundles;
mod cancel;
mod fetch_app;
mod grpc;
mod openapi;
mod rest;
mod sandbox;
mod soar_apps;
