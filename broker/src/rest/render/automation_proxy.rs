//! Automation brokers (SOAR's `automation_proxy`): segments and the workers serving them.

use serde::Serialize;
use utoipa::ToSchema;

/// An automation broker (SOAR's `automation_proxy`): an Outpost segment and the workers
/// serving it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationProxyBody {
    /// Its numeric id, as assets' `automation_broker_id` names it; null for the default
    /// segment, which serves assets bound to no automation broker.
    #[schema(required = true)]
    pub id: Option<i64>,
    /// The segment name workers join with `--segment`.
    pub name: String,
    /// Always "ACTION_BROKER".
    #[serde(rename = "type")]
    pub proxy_type: String,
    /// The newest version among its live workers; null when none is live.
    #[schema(required = true)]
    pub version: Option<String>,
    /// `active` while a worker is live, else `inactive`.
    pub last_seen_status: String,
    /// When a worker last reported; null if none ever did.
    #[schema(required = true, format = DateTime)]
    pub last_seen_time: Option<String>,
    /// When it was created; null for the default segment.
    #[schema(required = true, format = DateTime)]
    pub create_time: Option<String>,
    /// How many of its workers are live.
    pub worker_count: u64,
    /// Its alive workers (heartbeats fresh), draining ones included.
    pub workers: Vec<WorkerBody>,
}

/// A worker, as its last heartbeat showed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerBody {
    /// The worker's unique id.
    pub node_guid: String,
    /// The machine it runs on.
    pub hostname: String,
    /// Its Outpost version.
    pub version: String,
    /// How many tasks it runs at once.
    pub concurrency: u32,
    /// How many tasks it was running.
    pub in_flight: u32,
    /// Tasks finished since it started.
    pub completed: u64,
    /// Whether it is shutting down and takes no more tasks.
    pub draining: bool,
    /// SOAR's field: `active`, as every worker listed has fresh heartbeats (a silent
    /// one leaves the list).
    pub status: String,
    /// When the broker last heard from it.
    #[schema(format = DateTime)]
    pub last_seen: String,
    /// When it started.
    #[schema(format = DateTime)]
    pub started: String,
}
