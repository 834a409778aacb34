//! `deploy/systemd/*.service`: each `ExecStart` runs through the binary's parser with
//! the unit's `Environment=` lines and the variables its header says the
//! `EnvironmentFile` holds; the data dir is writable under `ProtectSystem=strict`; a
//! unit that runs sandboxes lifts the address-space limit.

use std::collections::BTreeMap;

use super::{Start, read, root};

/// What a template instance (`%i`) stands for in these checks.
const INSTANCE: &str = "dmz";

/// One unit file, as far as the checks need it.
struct Unit {
    name: String,
    /// `Key=value` lines of every section, in order (a key may repeat).
    lines: Vec<(String, String)>,
    /// Variables the header documents for the `EnvironmentFile` (`#   OUTPOST_X=...`).
    documented: BTreeMap<String, String>,
}

impl Unit {
    fn load(file: &str) -> Unit {
        let text = read(&format!("deploy/systemd/{file}")).replace("%i", INSTANCE);
        let mut lines = vec![];
        let mut documented = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if let Some((key, value)) = comment.trim().split_once('=')
                    && key.starts_with("OUTPOST_")
                    && !key.contains(' ')
                {
                    documented.insert(key.to_string(), value.to_string());
                }
                continue;
            }
            if let Some((key, value)) = line.split_once('=') {
                lines.push((key.trim().to_string(), value.trim().to_string()));
            }
        }
        Unit { name: file.to_string(), lines, documented }
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.lines.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    fn one(&self, key: &str) -> &str {
        let all = self.all(key);
        assert_eq!(all.len(), 1, "{}: expected one {key}=, found {}", self.name, all.len());
        all[0]
    }

    /// How the unit starts `outpost`.
    fn start(&self) -> Start {
        let exec: Vec<&str> = self.one("ExecStart").split_whitespace().collect();
        assert!(
            exec.first().is_some_and(|p| p.ends_with("/outpost")),
            "{}: ExecStart runs {:?}, not outpost",
            self.name,
            exec.first()
        );
        assert!(!exec.iter().any(|w| w.contains(['"', '\''])), "{}: keep ExecStart free of quoting", self.name);
        let mut env = self.documented.clone();
        for assignment in self.all("Environment") {
            let (key, value) = assignment.split_once('=').expect("Environment=KEY=value");
            env.insert(key.to_string(), value.to_string());
        }
        Start {
            origin: format!("deploy/systemd/{}", self.name),
            args: exec[1..].iter().map(|w| w.to_string()).collect(),
            env,
            image_env: BTreeMap::new(),
        }
    }
}

fn units() -> Vec<Unit> {
    let dir = root().join("deploy/systemd");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("deploy/systemd")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no units in deploy/systemd");
    names.iter().map(|n| Unit::load(n)).collect()
}

#[test]
fn every_exec_start_parses_with_its_environment() {
    for unit in units() {
        let start = unit.start();
        start.parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            unit.documented.keys().any(|k| k.ends_with("_URL")) || start.subcommand() == "up",
            "{}: the header should say which URLs (with their passwords) go in the EnvironmentFile",
            unit.name
        );
        assert!(!unit.all("EnvironmentFile").is_empty(), "{}: secrets come from an EnvironmentFile", unit.name);
    }
}

#[test]
fn the_data_dir_is_writable_and_sandboxes_get_their_address_space() {
    for unit in units() {
        let start = unit.start();
        let data_dir = start.setting("OUTPOST_DATA_DIR").expect("a data dir");
        assert!(data_dir.starts_with('/'), "{}: the data dir {data_dir} must be absolute in a unit", unit.name);
        if unit.all("ProtectSystem").contains(&"strict") {
            let writable: Vec<String> = unit
                .all("ReadWritePaths")
                .iter()
                .flat_map(|v| v.split_whitespace())
                .map(str::to_string)
                .chain(unit.all("StateDirectory").iter().map(|d| format!("/var/lib/{d}")))
                .collect();
            assert!(
                writable.iter().any(|w| data_dir.starts_with(w.as_str())),
                "{}: the data dir {data_dir} is read-only under ProtectSystem=strict (writable: {writable:?})",
                unit.name
            );
        }
        if matches!(start.subcommand(), "worker" | "up") {
            assert_eq!(unit.all("LimitAS"), ["infinity"], "{}: the sandbox pool reserves address space", unit.name);
            let stop = unit.one("TimeoutStopSec").parse::<u64>().expect("seconds");
            let grace = start.setting("OUTPOST_DRAIN_GRACE_SECS").and_then(|g| g.parse::<u64>().ok()).unwrap_or(30);
            assert!(stop > grace, "{}: TimeoutStopSec={stop} must outlast the drain grace of {grace} s", unit.name);
        }
    }
}
