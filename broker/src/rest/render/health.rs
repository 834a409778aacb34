//! `/rest/health` (seed 003): the readings of the machine and of Outpost's services.

use std::collections::HashMap;

use utoipa::ToSchema;

// Documents the body `crate::workers::health::health` builds (outside `rest`); the OpenAPI test
// checks real answers against it. The shapes below down to `ServiceSnapshot` likewise.
/// `GET /rest/health` (seed 003): real readings of the machine and of Outpost's services.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct HealthBody {
    /// Whether every service in `status` is running.
    all_running: bool,
    /// Free and used MB of the store's partition (SQLite), or the database's size
    /// (PostgreSQL: `Free` is null).
    db_data: Vec<LabelValue>,
    /// When these readings were taken.
    #[schema(format = DateTime)]
    last_snapshot_time: String,
    /// 1, 5 and 15 minute load averages; empty if unreadable.
    load_data: Vec<LoadReading>,
    /// Free, used and cached memory, MB; empty if unreadable.
    memory_data: Vec<LabelValue>,
    /// One snapshot per service: `broker_api`, `store`, `bus`, and every worker by
    /// `node_guid`.
    services: HashMap<String, Vec<ServiceSnapshot>>,
    /// `running` or `stopped`, per service.
    status: HashMap<String, String>,
    /// Free and used swap, MB; empty if unreadable.
    swap_data: Vec<LabelValue>,
    /// Free and used MB of the data dir's partition.
    vault_data: Vec<LabelValue>,
}

/// `{"label": "Free", "value": 95413}`: megabytes.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LabelValue {
    /// `Free`, `Used` or `Cached`.
    label: String,
    /// Megabytes; null when it cannot be read.
    #[schema(required = true)]
    value: Option<u64>,
}

/// A load average.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LoadReading {
    /// The average, two decimals.
    load: f64,
    /// "1 minute", "5 minutes" or "15 minutes".
    time: String,
}

/// A service's snapshot. Process figures are null for services outside this process;
/// the store, the bus and workers add the fields below them.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ServiceSnapshot {
    /// Internal id of the snapshot.
    id: u64,
    /// The service's name (a worker's `node_guid`).
    name: String,
    /// Always 1.
    num_instances: u64,
    /// Its process id; 0 outside this process.
    pid: u32,
    /// KB of resident memory.
    #[schema(required = true)]
    rs_kb: Option<u64>,
    /// System CPU time, clock ticks.
    #[schema(required = true)]
    stime: Option<u64>,
    /// When the snapshot was taken (a worker's: its last heartbeat).
    #[schema(format = DateTime)]
    time: String,
    /// User CPU time, clock ticks.
    #[schema(required = true)]
    utime: Option<u64>,
    /// KB of virtual memory.
    #[schema(required = true)]
    vm_kb: Option<u64>,
    /// The store: `sqlite` or `postgres`.
    backend: Option<String>,
    /// The store: how long a ping took, ms.
    ping_ms: Option<f64>,
    /// The bus: whether the broker is connected to it.
    connected: Option<bool>,
    /// A worker: when its last heartbeat arrived.
    #[schema(format = DateTime)]
    last_heartbeat: Option<String>,
    /// A worker: the segment it serves.
    segment: Option<String>,
    /// A worker: the machine it runs on.
    hostname: Option<String>,
    /// A worker: its version.
    version: Option<String>,
    /// A worker: how many tasks it runs at once.
    concurrency: Option<u32>,
    /// A worker: how many tasks it was running.
    in_flight: Option<u32>,
    /// A worker: tasks finished since it started.
    completed: Option<u64>,
    /// A worker: whether it is shutting down.
    draining: Option<bool>,
    /// A worker: when it started.
    #[schema(format = DateTime)]
    started: Option<String>,
}
