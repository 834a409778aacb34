//! `/rest/health` (seed 003): real readings of the machine and of Outpost's own
//! services — the REST front door, the store, the bus, and every worker by `node_guid`.
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
use serde_json::{Map, Value, json};
use sysinfo::{Disks, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::Broker;
use outpost_proto::time::iso;

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

fn free_used(pair: Option<[u64; 2]>) -> Value {
    match pair {
        Some([free, used]) => json!([{"label": "Free", "value": free}, {"label": "Used", "value": used}]),
        None => json!([{"label": "Free", "value": null}, {"label": "Used", "value": null}]),
    }
}

/// A service entry for something outside this process: no process figures to read.
fn remote(name: &str, now: i64) -> Value {
    let id = SNAPSHOTS.fetch_add(1, Ordering::Relaxed) + 1;
    json!({"id": id, "name": name, "num_instances": 1, "pid": 0, "rs_kb": null, "stime": null, "time": iso(now), "utime": null, "vm_kb": null})
}

/// The seed's `/rest/health` body.
pub async fn health(broker: &Broker) -> Value {
    let data_dir = broker.config.data_dir.clone();
    let db_file = sqlite_path(&broker.config.database_url());
    let db_file_for_read = db_file.clone();
    let machine = tokio::task::spawn_blocking(move || read_machine(&data_dir, db_file_for_read.as_deref())).await.ok();
    let now = now_ms();
    let snapshot = || SNAPSHOTS.fetch_add(1, Ordering::Relaxed) + 1;
    let mut services = Map::new();
    let mut status = Map::new();
    let mut all_running = true;
    let mut put = |name: &str, running: bool, entry: Value| {
        all_running &= running;
        status.insert(name.into(), json!(if running { "running" } else { "stopped" }));
        services.insert(name.into(), json!([entry]));
    };

    let (ticks, rss, vm, pid) = match &machine {
        Some(m) => (m.ticks, m.rss_kb, m.vm_kb, m.pid),
        None => (None, 0, 0, std::process::id()),
    };
    let own = |name: &str| {
        json!({
            "id": snapshot(),
            "name": name,
            "num_instances": 1,
            "pid": pid,
            "rs_kb": rss,
            "stime": ticks.map(|t| t.1),
            "time": iso(now),
            "utime": ticks.map(|t| t.0),
            "vm_kb": vm,
        })
    };
    put("broker_api", true, own("broker_api"));

    let started = Instant::now();
    // A store that does not answer within the probe's patience counts as stopped.
    let store_up = tokio::time::timeout(PROBE_TIMEOUT, broker.store.ping()).await.unwrap_or(false);
    let ping_ms = started.elapsed().as_secs_f64() * 1000.0;
    // SQLite runs inside this process; PostgreSQL is another machine's.
    let mut store = if db_file.is_some() { own("store") } else { remote("store", now) };
    store["backend"] = json!(if db_file.is_some() { "sqlite" } else { "postgres" });
    store["ping_ms"] = json!((ping_ms * 100.0).round() / 100.0);
    put("store", store_up, store);

    // The bus may be in this process or a RabbitMQ cluster: only its connection is ours
    // to read.
    let bus_up = broker.bus.is_connected();
    let mut bus = remote("bus", now);
    bus["connected"] = json!(bus_up);
    put("bus", bus_up, bus);

    for (guid, info) in broker.registry.workers() {
        let silent = Duration::from_millis(now.saturating_sub(info.last_seen_ms).max(0) as u64);
        let stale = silent > broker.registry.stale_after;
        if stale && info.heartbeat.draining {
            continue;
        }
        let running = !stale && !info.heartbeat.draining;
        let hb = &info.heartbeat;
        // A remote process: what its heartbeat says, not process figures.
        let mut entry = remote(&guid, info.last_seen_ms);
        let details = json!({
            "last_heartbeat": iso(info.last_seen_ms),
            "segment": hb.segment,
            "hostname": hb.hostname,
            "version": hb.version,
            "concurrency": hb.concurrency,
            "in_flight": hb.in_flight,
            "completed": hb.completed,
            "draining": hb.draining,
            "started": iso(hb.started_unix_ms),
        });
        if let (Some(entry), Value::Object(details)) = (entry.as_object_mut(), details) {
            entry.extend(details);
        }
        put(&guid, running, entry);
    }

    let db_data = match &machine {
        Some(m) if db_file.is_some() => free_used(m.db_disk),
        // PostgreSQL's disk is not ours to read: its size is what we can tell.
        _ => {
            let size = tokio::time::timeout(PROBE_TIMEOUT, broker.store.store_bytes()).await;
            let used = size.ok().and_then(Result::ok).flatten().map(|b| b as u64 / MB);
            json!([{"label": "Free", "value": null}, {"label": "Used", "value": used}])
        }
    };
    let m = machine.as_ref();
    json!({
        "all_running": all_running,
        "db_data": db_data,
        "last_snapshot_time": iso(now),
        "load_data": m.map(|m| json!([
            {"load": (m.load[0] * 100.0).round() / 100.0, "time": "1 minute"},
            {"load": (m.load[1] * 100.0).round() / 100.0, "time": "5 minutes"},
            {"load": (m.load[2] * 100.0).round() / 100.0, "time": "15 minutes"},
        ])).unwrap_or_else(|| json!([])),
        "memory_data": m.map(|m| json!([
            {"label": "Free", "value": m.memory[0]},
            {"label": "Used", "value": m.memory[1]},
            {"label": "Cached", "value": m.memory[2]},
        ])).unwrap_or_else(|| json!([])),
        "services": services,
        "status": status,
        "swap_data": m.map(|m| free_used(Some(m.swap))).unwrap_or_else(|| json!([])),
        "vault_data": free_used(m.and_then(|m| m.data_disk)),
    })
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
