//! `/rest/health` (seed 003): the readings of the machine and of Outpost's services.

use outpost_proto::time::iso;
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::workers::health::{Health, Service, ServiceDetail, StoreSize};

/// `GET /rest/health` (seed 003): real readings of the machine and of Outpost's services.
#[derive(Debug, Serialize, ToSchema)]
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
    #[schema(value_type = HashMap<String, Vec<ServiceSnapshot>>)]
    services: ByName<[ServiceSnapshot; 1]>,
    /// `running` or `stopped`, per service.
    #[schema(value_type = HashMap<String, String>)]
    status: ByName<&'static str>,
    /// Free and used swap, MB; empty if unreadable.
    swap_data: Vec<LabelValue>,
    /// Free and used MB of the data dir's partition.
    vault_data: Vec<LabelValue>,
}

/// `{"label": "Free", "value": 95413}`: megabytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelValue {
    /// `Free`, `Used` or `Cached`.
    label: String,
    /// Megabytes; null when it cannot be read.
    #[schema(required = true)]
    value: Option<u64>,
}

/// A load average.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadReading {
    /// The average, two decimals.
    load: f64,
    /// "1 minute", "5 minutes" or "15 minutes".
    time: String,
}

/// A service's snapshot. Process figures are null for services outside this process;
/// the store, the bus and workers add the fields below them.
#[derive(Debug, Serialize, ToSchema)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<String>,
    /// The store: how long a ping took, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    ping_ms: Option<f64>,
    /// The bus: whether the broker is connected to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    connected: Option<bool>,
    /// A worker: when its last heartbeat arrived.
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    last_heartbeat: Option<String>,
    /// A worker: the segment it serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<String>,
    /// A worker: the machine it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    /// A worker: its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// A worker: how many tasks it runs at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<u32>,
    /// A worker: how many tasks it was running.
    #[serde(skip_serializing_if = "Option::is_none")]
    in_flight: Option<u32>,
    /// A worker: tasks finished since it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<u64>,
    /// A worker: whether it is shutting down.
    #[serde(skip_serializing_if = "Option::is_none")]
    draining: Option<bool>,
    /// A worker: when it started.
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
}

/// Entries keyed by service name, in the order the services were read.
#[derive(Debug)]
pub struct ByName<T>(Vec<(String, T)>);

impl<T: Serialize> Serialize for ByName<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

fn free_used(pair: Option<[u64; 2]>) -> Vec<LabelValue> {
    let [free, used] = match pair {
        Some([free, used]) => [Some(free), Some(used)],
        None => [None, None],
    };
    vec![LabelValue { label: "Free".into(), value: free }, LabelValue { label: "Used".into(), value: used }]
}

fn snapshot(s: &Service) -> ServiceSnapshot {
    let process = s.process.as_ref();
    let mut snapshot = ServiceSnapshot {
        id: s.snapshot,
        name: s.name.clone(),
        num_instances: 1,
        pid: process.map_or(0, |p| p.pid),
        rs_kb: process.map(|p| p.rss_kb),
        stime: process.and_then(|p| p.ticks).map(|t| t.1),
        time: iso(s.time_ms),
        utime: process.and_then(|p| p.ticks).map(|t| t.0),
        vm_kb: process.map(|p| p.vm_kb),
        backend: None,
        ping_ms: None,
        connected: None,
        last_heartbeat: None,
        segment: None,
        hostname: None,
        version: None,
        concurrency: None,
        in_flight: None,
        completed: None,
        draining: None,
        started: None,
    };
    match &s.detail {
        ServiceDetail::BrokerApi => {}
        ServiceDetail::Store { backend, ping_ms } => {
            snapshot.backend = Some((*backend).into());
            snapshot.ping_ms = Some(*ping_ms);
        }
        ServiceDetail::Bus { connected } => snapshot.connected = Some(*connected),
        ServiceDetail::Worker(info) => {
            let hb = &info.heartbeat;
            snapshot.last_heartbeat = Some(iso(info.last_seen_ms));
            snapshot.segment = Some(hb.segment.clone());
            snapshot.hostname = Some(hb.hostname.clone());
            snapshot.version = Some(hb.version.clone());
            snapshot.concurrency = Some(hb.concurrency);
            snapshot.in_flight = Some(hb.in_flight);
            snapshot.completed = Some(hb.completed);
            snapshot.draining = Some(hb.draining);
            snapshot.started = Some(iso(hb.started_unix_ms));
        }
    }
    snapshot
}

impl From<&Health> for HealthBody {
    fn from(h: &Health) -> Self {
        let m = h.machine.as_ref();
        let two_decimals = |load: f64| (load * 100.0).round() / 100.0;
        HealthBody {
            all_running: h.all_running(),
            db_data: match h.store_size {
                StoreSize::Disk(disk) => free_used(disk),
                StoreSize::Database(used) => {
                    vec![
                        LabelValue { label: "Free".into(), value: None },
                        LabelValue { label: "Used".into(), value: used },
                    ]
                }
            },
            last_snapshot_time: iso(h.taken_ms),
            load_data: m
                .map(|m| {
                    ["1 minute", "5 minutes", "15 minutes"]
                        .iter()
                        .zip(m.load)
                        .map(|(time, load)| LoadReading { load: two_decimals(load), time: (*time).into() })
                        .collect()
                })
                .unwrap_or_default(),
            memory_data: m
                .map(|m| {
                    ["Free", "Used", "Cached"]
                        .iter()
                        .zip(m.memory)
                        .map(|(label, value)| LabelValue { label: (*label).into(), value: Some(value) })
                        .collect()
                })
                .unwrap_or_default(),
            services: ByName(h.services.iter().map(|s| (s.name.clone(), [snapshot(s)])).collect()),
            status: ByName(
                h.services.iter().map(|s| (s.name.clone(), if s.running { "running" } else { "stopped" })).collect(),
            ),
            swap_data: m.map(|m| free_used(Some(m.swap))).unwrap_or_default(),
            vault_data: free_used(m.and_then(|m| m.data_disk)),
        }
    }
}
