//! Action runs from request to result: validating and persisting them, publishing their
//! tasks, recording what workers report, and assembling SOAR's records from it.
//!
//! # Layout
//! - [`dispatch`]: validates run-action requests and persists action runs; cancel.
//! - [`outbox`]: publishes persisted tasks to the bus, honouring `exec_delay_secs`.
//! - [`ingest`]: reads worker events from the bus, in batches; dead letters.
//! - [`settle`]: records results, progress and cancels, and settles runs with them.
//! - [`assemble`]: SOAR's app run and action run status, message and summary (pure).
//! - [`watch`]: change notifications for `WatchActionRun`.
//! - [`connectivity`]: test connectivity runs and the system container they use.

pub mod assemble;
pub mod connectivity;
pub mod dispatch;
pub mod ingest;
pub mod outbox;
pub mod settle;
pub mod watch;
