//! The readings `/rest/health` shows (seed 003): the machine and Outpost's own services —
//! the REST front door, the store, the bus, and every worker by `node_guid` — as typed
//! values; `rest/` renders them.
//!
//! Machine figures are megabytes as the seed says. A worker silent for longer than
//! `worker_stale_after` is `stopped` and turns `all_running` false; one that said it was
//! draining and then went quiet has shut down cleanly and is left out. Workers silent
//! for longer than [`FORGET_AFTER`](crate::workers::registry::FORGET_AFTER) are not here: the
//! registry has forgotten them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use outpost_proto::time::now_ms;
use sysinfo::{Disks, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::Broker;
use crate::workers::registry::WorkerInfo;

const MB: u64 = 1024 * 1024;
/// How long `/rest/health` waits for the store before calling it stopped.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Numbers each snapshot, as the seed's `id`.
static SNAPSHOTS: AtomicU64 = AtomicU64::new(0);

/// The machine as read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    /// Free, used and cached memory, MB; they add up to the total.
    pub memory: [u64; 3],
    /// Free and used swap, MB.
    pub swap: [u64; 2],
    /// Free and used MB of the partition holding the data dir.
    pub data_disk: Option<[u64; 2]>,
    /// Free and used MB of the partition holding the SQLite file (`None` on PostgreSQL).
    pub db_disk: Option<[u64; 2]>,
    /// This process: resident memory KB.
    pub rss_kb: u64,
    /// This process: virtual memory KB.
    pub vm_kb: u64,
    /// This process: user and system CPU time in clock ticks (Linux `/proc/self/stat`).
    pub ticks: Option<(u64, u64)>,
    /// This process, as `services.broker_api.pid` shows it.
    pub pid: u32,
}

/// Free and used MB of the partition `path` lives on.
fn disk_of(disks: &Disks, path: &Path) -> Option<[u64; 2]> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let disk = disks
        .list()
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())?;
    let free = disk.available_space();
    Some([free / MB, disk.total_space().saturating_sub(free) / MB])
}

/// User and system ticks of this process, from `/proc/self/stat` (fields 14 and 15).
fn own_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// The path of a `sqlite://` store, if that is what the URL names.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Reads the machine. Blocking (it reads `/proc` and the mount table): call it from
/// `spawn_blocking`.
pub fn read_machine(data_dir: &Path, db_file: Option<&Path>) -> Machine {
    let mut system = System::new();
    system.refresh_memory();
    let load = System::load_average();
    let (total, free, used) = (system.total_memory(), system.free_memory(), system.used_memory());
    let cached = total.saturating_sub(free).saturating_sub(used);
    let pid = sysinfo::get_current_pid().ok();
    if let Some(pid) = pid {
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
    }
    let process = pid.and_then(|pid| system.process(pid));
    let disks = Disks::new_with_refreshed_list();
    Machine {
        load: [load.one, load.five, load.fifteen],
        memory: [free / MB, used / MB, cached / MB],
        swap: [system.free_swap() / MB, system.used_swap() / MB],
        data_disk: disk_of(&disks, data_dir),
        db_disk: db_file
            .map(|f| f.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
            .and_then(|p| disk_of(&disks, p)),
        rss_kb: process.map(|p| p.memory() / 1024).unwrap_or(0),
        vm_kb: process.map(|p| p.virtual_memory() / 1024).unwrap_or(0),
        ticks: own_ticks(),
        pid: pid.map(|p| p.as_u32()).unwrap_or(0),
    }
}

/// Figures of a service running inside this process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFigures {
    /// This process's id.
    pub pid: u32,
    /// Resident memory, KB (0 when unreadable).
    pub rss_kb: u64,
    /// Virtual memory, KB (0 when unreadable).
    pub vm_kb: u64,
    /// User and system CPU time in clock ticks, when readable.
    pub ticks: Option<(u64, u64)>,
}

/// What a service adds to its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceDetail {
    /// The REST front door: nothing beyond the process figures.
    BrokerApi,
    /// The store: its backend and how long a ping took.
    Store {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// Milliseconds, two decimals.
        ping_ms: f64,
    },
    /// The bus: whether the broker is connected to it.
    Bus {
        /// As the bus itself says.
        connected: bool,
    },
    /// A worker, as its last heartbeat showed it.
    Worker(Box<WorkerInfo>),
}

/// One service's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// `broker_api`, `store`, `bus`, or a worker's `node_guid`.
    pub name: String,
    /// Running, or stopped (which turns the whole reading red).
    pub running: bool,
    /// Numbers each snapshot, as the seed's `id`.
    pub snapshot: u64,
    /// When the snapshot was taken (a worker's: its last heartbeat), Unix ms.
    pub time_ms: i64,
    /// This process's figures; `None` for services outside it.
    pub process: Option<ProcessFigures>,
    /// What this kind of service adds.
    pub detail: ServiceDetail,
}

/// How big the store is.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreSize {
    /// Free and used MB of the partition holding the SQLite file (`None`: unreadable).
    Disk(Option<[u64; 2]>),
    /// PostgreSQL's disk is not ours to read: the database's size in MB, if it answered.
    Database(Option<u64>),
}

/// The readings `/rest/health` shows (seed 003).
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// When the readings were taken, Unix ms.
    pub taken_ms: i64,
    /// The machine, when it could be read.
    pub machine: Option<Machine>,
    /// The broker's services, then every worker heard from, by `node_guid`.
    pub services: Vec<Service>,
    /// How big the store is.
    pub store_size: StoreSize,
}

impl Health {
    /// Whether every service is running.
    pub fn all_running(&self) -> bool {
        self.services.iter().all(|s| s.running)
    }
}

/// Reads the machine and every service (seed 003's `/rest/health`).
pub async fn health(broker: &Broker) -> Health {
    let data_dir = broker.config.data_dir.clone();
    let db_file = sqlite_path(&broker.config.database_url());
    let db_file_for_read = db_file.clone();
    let machine = tokio::task::spawn_blocking(move || read_machine(&data_dir, db_file_for_read.as_deref())).await.ok();
    let now = now_ms();
    let snapshot = || SNAPSHOTS.fetch_add(1, Ordering::Relaxed) + 1;
    let own = match &machine {
        Some(m) => ProcessFigures { pid: m.pid, rss_kb: m.rss_kb, vm_kb: m.vm_kb, ticks: m.ticks },
        None => ProcessFigures { pid: std::process::id(), rss_kb: 0, vm_kb: 0, ticks: None },
    };
    let mut services = vec![Service {
        name: "broker_api".into(),
        running: true,
        snapshot: snapshot(),
        time_ms: now,
        process: Some(own.clone()),
        detail: ServiceDetail::BrokerApi,
    }];

    let started = Instant::now();
    // A store that does not answer within the probe's patience counts as stopped.
    let store_up = tokio::time::timeout(PROBE_TIMEOUT, broker.store.ping()).await.unwrap_or(false);
    let ping_ms = started.elapsed().as_secs_f64() * 1000.0;
    services.push(Service {
        name: "store".into(),
        running: store_up,
        snapshot: snapshot(),
        time_ms: now,
        // SQLite runs inside this process; PostgreSQL is another machine's.
        process: db_file.is_some().then(|| own.clone()),
        detail: ServiceDetail::Store {
            backend: if db_file.is_some() { "sqlite" } else { "postgres" },
            ping_ms: (ping_ms * 100.0).round() / 100.0,
        },
    });

    // The bus may be in this process or a RabbitMQ cluster: only its connection is ours
    // to read.
    let connected = broker.bus.is_connected();
    services.push(Service {
        name: "bus".into(),
        running: connected,
        snapshot: snapshot(),
        time_ms: now,
        process: None,
        detail: ServiceDetail::Bus { connected },
    });

    for (guid, info) in broker.registry.workers() {
        let silent = Duration::from_millis(now.saturating_sub(info.last_seen_ms).max(0) as u64);
        let stale = silent > broker.registry.stale_after;
        if stale && info.heartbeat.draining {
            continue;
        }
        // A remote process: what its heartbeat says, not process figures.
        services.push(Service {
            name: guid,
            running: !stale && !info.heartbeat.draining,
            snapshot: snapshot(),
            time_ms: info.last_seen_ms,
            process: None,
            detail: ServiceDetail::Worker(Box::new(info)),
        });
    }

    let store_size = match &machine {
        Some(m) if db_file.is_some() => StoreSize::Disk(m.db_disk),
        // PostgreSQL's disk is not ours to read: its size is what we can tell.
        _ => {
            let size = tokio::time::timeout(PROBE_TIMEOUT, broker.store.store_bytes()).await;
            StoreSize::Database(size.ok().and_then(Result::ok).flatten().map(|b| b as u64 / MB))
        }
    };
    Health { taken_ms: now, machine, services, store_size }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_real() {
        let dir = tempfile::tempdir().unwrap();
        let m = read_machine(dir.path(), Some(&dir.path().join("outpost.db")));
        assert!(m.memory.iter().sum::<u64>() > 0, "memory adds up to the machine's: {m:?}");
        assert!(m.data_disk.is_some_and(|[free, used]| free + used > 0), "{m:?}");
        assert_eq!(m.data_disk, m.db_disk);
        assert!(m.rss_kb > 0 && m.vm_kb >= m.rss_kb, "{m:?}");
        if cfg!(target_os = "linux") {
            assert!(m.ticks.is_some());
        }
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/outpost/outpost.db"),
            Some(PathBuf::from("/var/lib/outpost/outpost.db"))
        );
        assert_eq!(sqlite_path("sqlite://data/o.db?mode=rwc"), Some(PathBuf::from("data/o.db")));
        assert_eq!(sqlite_path("postgres://x"), None);
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
