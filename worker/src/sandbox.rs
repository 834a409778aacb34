//! The sandbox: runs one parameter set of one action in a fresh wasmtime instance with
//! hard limits and only the capabilities its asset grants.
//!
//! One [`Sandbox`] per worker owns the wasmtime `Engine` (Cranelift, epoch interruption,
//! a pooling allocator sized from the worker's concurrency), the `Linker` with every
//! import a connector may use, and the prepared apps. [`Sandbox::prepare`] compiles a
//! component once per digest (or loads its precompiled artifact from `cache_dir`);
//! [`Sandbox::run`] gives every parameter set a new `Store` and instance, and turns
//! whatever happens — a result, a trap, a timeout, a cap — into an [`Outcome`].
//!
//! What a connector is linked against (and nothing else):
//! - `outpost:connector/host@0.1.0`: `log`, `save-progress`, `load-state`, `save-state`;
//! - WASI 0.2 (`wasi:cli`, `wasi:clocks`, `wasi:filesystem`, `wasi:io`, `wasi:random`,
//!   `wasi:sockets`) over an empty context: no preopened directories, environment,
//!   arguments or stdin; sockets and name lookup refused; stdout/stderr go to the
//!   worker's log, bounded. Looking for files, arguments or sockets finds nothing and
//!   fails the run, naming what was denied; the environment is empty, but reading it
//!   cannot be told from Rust's own panic and error paths and is not reported
//!   (`capabilities`);
//! - `wasi:http/outgoing-handler` and `wasi:http/types`, filtered by [`egress`].
//!
//! # Layout
//! - [`egress`]: outgoing HTTP: the per-asset allowlist, address checks, the per-run
//!   journal and the transport.
//! - `bindings`, `engine`, `state`: the WIT bindings, the engine and its pool, one run's
//!   store data and the host imports.
//! - `capabilities`, `output`, `outcome`: what a connector is denied, its log and
//!   stdout/stderr, and how a run's end becomes an [`Outcome`].

mod bindings;
mod capabilities;
mod egress;
mod engine;
mod outcome;
mod output;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::Instrument;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use bindings::{ConnectorPre, HANDLER_INTERFACE};
use egress::{EgressNet, EgressRun};
use engine::EpochTicker;
use outcome::Ended;
use output::LogSink;
use state::RunState;

pub use egress::{EgressConfig, tape};

/// How long one epoch tick lasts: the granularity of CPU deadlines, cancellation and
/// of yielding a busy connector back to the async runtime.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest state a connector may save (`save-state`).
pub const MAX_STATE_BYTES: usize = 1 << 20;

/// How many prepared apps (one `InstancePre` per app version) stay in memory.
pub const PREPARED_APPS: usize = 64;

/// Settings of a worker's sandbox; every per-task limit is clamped to these.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Parameter sets run at once; sizes the pooling allocator.
    pub concurrency: u32,
    /// Worker-wide maximum memory per parameter set (default 64 MiB); a task asking for
    /// more is clamped.
    pub max_memory_bytes: u64,
    /// Worker-wide maximum deadline per parameter set (default 300 s; must stay below
    /// RabbitMQ's 30 min consumer timeout).
    pub max_timeout: Duration,
    /// Worker-wide maximum result size (default 4 MiB).
    pub max_result_bytes: u64,
    /// Where precompiled components are kept across restarts.
    pub cache_dir: PathBuf,
    /// Outgoing-HTTP settings of this worker.
    pub egress: EgressConfig,
    /// Max log lines per parameter set (default 1000): guest `log` calls plus lines on
    /// stdout/stderr. A hard limit, like memory: the lines up to it are logged, and the
    /// connector is stopped at the next one, its run failed.
    pub max_log_lines: u32,
    /// Max bytes per log line (default 4096); longer lines are cut.
    pub max_log_line_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_memory_bytes: 64 << 20,
            max_timeout: Duration::from_secs(300),
            max_result_bytes: 4 << 20,
            cache_dir: std::env::temp_dir().join("outpost-cache"),
            egress: EgressConfig::default(),
            max_log_lines: 1000,
            max_log_line_bytes: 4096,
        }
    }
}

/// Why the sandbox could not start or prepare an app. Runs never fail this way: see
/// [`Sandbox::run`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    #[error("cannot use the component cache directory {path}: {error}")]
    CacheDir { path: PathBuf, error: String },
    #[error("the component's sha256 is {actual}, not the expected {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    #[error("the component does not export {HANDLER_INTERFACE} (it exports: {exports})")]
    MissingHandler { exports: String },
    #[error("the component cannot be linked: {0}")]
    Link(String),
    #[error("the compile task failed: {0}")]
    CompileTask(String),
    #[error("the component cannot be instantiated: {0}")]
    Instantiate(String),
}

/// An app version compiled and linked, ready to instantiate.
pub struct PreparedApp {
    /// Lowercase hex sha256 of the component.
    pub digest: String,
    /// The interfaces the component imports, e.g. `wasi:http/outgoing-handler@0.2.4`,
    /// for an operator (or an install-time check) to see what it may use.
    pub imports: Vec<String>,
    /// How long compiling (or loading the precompiled artifact) and linking took.
    pub prepare_time: Duration,
    pre: ConnectorPre<RunState>,
}

impl std::fmt::Debug for PreparedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedApp")
            .field("digest", &self.digest)
            .field("imports", &self.imports)
            .field("prepare_time", &self.prepare_time)
            .finish_non_exhaustive()
    }
}

/// SOAR's `context` of a parameter set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Unique id of this parameter set's execution.
    pub guid: String,
    /// The artifact the parameters came from, 0 when none.
    pub artifact_id: i64,
    /// Action runs that led to this one (playbook chains), outermost first.
    pub parent_action_run: Vec<i64>,
}

/// Limits a task asks for; 0 (or a zero duration) means the worker's maximum, and
/// anything above the worker's maximum is clamped to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub timeout: Duration,
    pub max_result_bytes: u64,
}

/// SOAR's result status of one parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

/// One parameter set to run, with everything the connector sees and every limit.
#[derive(Debug)]
pub struct Invocation {
    /// The action's name, e.g. "geolocate ip".
    pub action: String,
    /// The action's identifier from the manifest, e.g. "geolocate_ip".
    pub identifier: String,
    /// The parameter object as JSON, as the connector sees it: `context` included, last.
    pub parameter_json: String,
    /// The asset configuration as JSON, already decrypted.
    pub asset_config_json: String,
    pub asset_id: i64,
    pub asset_name: String,
    pub container_id: i64,
    pub action_run_id: i64,
    pub app_run_id: i64,
    /// The same context, typed (the task carries it so; the WIT request has both).
    pub context: Context,
    /// What the task asks for; clamped to the worker's maxima.
    pub limits: Limits,
    /// Allowed outbound patterns, already templated by the broker.
    pub egress: Vec<String>,
    /// The asset's state ("{}" when none).
    pub state_json: String,
    /// Where `save-progress` messages go (lossy, rate-limited).
    pub progress: Option<tokio::sync::mpsc::Sender<String>>,
    /// Cancelled => the run stops promptly with "the action run was cancelled".
    pub cancel: tokio_util::sync::CancellationToken,
    /// For log tagging.
    pub task_id: String,
}

/// What became of one parameter set: SOAR's ActionResult plus what the worker saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
    /// Each a JSON object.
    pub data: Vec<String>,
    /// A JSON object.
    pub summary: String,
    /// True when the sandbox, not the connector, decided the outcome.
    pub exception: bool,
    /// Some(json) when the connector called `save-state` (last call wins).
    pub saved_state: Option<String>,
    /// Every outgoing HTTP request the connector made or attempted.
    pub http: Vec<outpost_proto::v1::HttpExchange>,
    /// Log lines kept: at most `max_log_lines` (the line past it stops the run).
    pub log_lines: u32,
    /// Wall time of the run, instantiation included.
    pub duration: Duration,
}

/// The worker's wasm runtime. Cheap to share behind an `Arc`; dropping it stops the
/// epoch ticker.
pub struct Sandbox {
    config: SandboxConfig,
    engine: Engine,
    linker: Arc<Linker<RunState>>,
    net: Arc<EgressNet>,
    apps: Mutex<Lru<Arc<PreparedApp>>>,
    /// One lock per digest being prepared, so concurrent tasks of a new app compile it once.
    preparing: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Runs past the pool's capacity wait here instead of failing to instantiate.
    slots: tokio::sync::Semaphore,
    _ticker: EpochTicker,
}

impl Sandbox {
    /// Builds the engine, the linker and the epoch ticker.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if config.concurrency == 0 {
            return Err(SandboxError::Config("concurrency must be at least 1".into()));
        }
        if config.max_memory_bytes < (1 << 20) || config.max_memory_bytes > (4 << 30) {
            return Err(SandboxError::Config("max memory per parameter set must be between 1 MiB and 4 GiB".into()));
        }
        if config.max_timeout.is_zero() {
            return Err(SandboxError::Config("max timeout must be positive".into()));
        }
        let cache = engine::open_cache(&config.cache_dir)?;
        let engine = engine::build(&config, cache)?;
        let linker = Arc::new(state::linker(&engine)?);
        let net =
            EgressNet::new(config.egress.clone()).map_err(|e| SandboxError::Config(format!("egress tls: {e}")))?;
        let ticker = EpochTicker::start(engine.clone(), EPOCH_TICK)
            .map_err(|e| SandboxError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Sandbox {
            _ticker: ticker,
            slots: tokio::sync::Semaphore::new(engine::pool_slots(config.concurrency) as usize),
            config,
            engine,
            linker,
            net: Arc::new(net),
            apps: Mutex::new(Lru::new(PREPARED_APPS)),
            preparing: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Compiles (or loads the precompiled artifact of) a component once per digest, off
    /// the async threads, checks it implements `outpost:connector/handler@0.1.x`, and
    /// keeps an `InstancePre` in a bounded LRU.
    pub async fn prepare(&self, digest: &str, wasm: &[u8]) -> Result<Arc<PreparedApp>, SandboxError> {
        if let Some(app) = self.prepared(digest) {
            return Ok(app);
        }
        let gate = self.preparing.lock().await.entry(digest.to_string()).or_default().clone();
        let _gate = gate.lock().await;
        if let Some(app) = self.prepared(digest) {
            return Ok(app);
        }
        let started = Instant::now();
        let engine = self.engine.clone();
        let linker = self.linker.clone();
        let digest_owned = digest.to_string();
        let wasm = wasm.to_vec();
        let result =
            tokio::task::spawn_blocking(move || prepare_blocking(&engine, &linker, &digest_owned, &wasm, started))
                .await
                .map_err(|e| SandboxError::CompileTask(e.to_string()));
        self.preparing.lock().await.remove(digest);
        let app = Arc::new(result??);
        tracing::info!(digest = %digest, prepare_ms = app.prepare_time.as_millis() as u64,
            imports = app.imports.len(), "prepared connector");
        self.apps.lock().unwrap_or_else(|p| p.into_inner()).insert(digest.to_string(), app.clone());
        Ok(app)
    }

    /// A prepared app already in memory, if any.
    pub fn prepared(&self, digest: &str) -> Option<Arc<PreparedApp>> {
        self.apps.lock().unwrap_or_else(|p| p.into_inner()).get(digest)
    }

    /// Runs one parameter set in a fresh Store + instance. Never panics, never returns
    /// Err: every failure becomes an Outcome with status Failed and exception = true.
    pub async fn run(&self, app: &PreparedApp, invocation: Invocation) -> Outcome {
        let span = tracing::info_span!("connector", task_id = %invocation.task_id,
            action_run_id = invocation.action_run_id, app_run_id = invocation.app_run_id,
            action = %invocation.action);
        self.run_inner(app, invocation).instrument(span).await
    }

    async fn run_inner(&self, app: &PreparedApp, inv: Invocation) -> Outcome {
        // The semaphore is never closed, so acquiring fails only in theory.
        let _slot = self.slots.acquire().await.ok();
        let started = Instant::now();
        let limits = self.clamp(inv.limits);
        let deadline = started + limits.timeout;
        let log = Arc::new(LogSink::new(
            &inv.task_id,
            inv.action_run_id,
            self.config.max_log_lines,
            self.config.max_log_line_bytes,
        ));
        let egress = EgressRun::new(self.net.clone(), &inv.egress, &inv.task_id);
        let request = bindings::request(&inv);
        let mut store = self.store(
            state::RunSetup {
                log: log.clone(),
                egress: egress.clone(),
                memory_bytes: limits.memory_bytes,
                state_json: inv.state_json.clone(),
                progress: inv.progress.clone(),
                max_line_bytes: self.config.max_log_line_bytes,
            },
            deadline,
            inv.cancel.clone(),
        );

        let call = async {
            let instance = app.pre.instantiate_async(&mut store).await.map_err(Ended::Instantiate)?;
            store.data_mut().attempts_mut().watch();
            instance.outpost_connector_handler().call_handle(&mut store, &request).await.map_err(Ended::Trapped)
        };
        let ended = tokio::select! {
            biased;
            () = inv.cancel.cancelled() => Ended::Cancelled,
            result = tokio::time::timeout(limits.timeout, call) => match result {
                Ok(Ok(result)) => Ended::Returned(result),
                Ok(Err(ended)) => ended,
                Err(_) => Ended::TimedOut,
            },
        };
        let ended = match ended {
            Ended::Trapped(_) | Ended::Instantiate(_) if inv.cancel.is_cancelled() => Ended::Cancelled,
            other => other,
        };
        let memory_exhausted = store.data().memory_exhausted();
        let saved_state = store.data_mut().take_saved_state();
        let denied = store.data_mut().attempts_mut().message();
        drop(store);
        log.flush();
        let journal = egress.take_journal();
        let outcome = outcome::build(outcome::Facts {
            ended,
            memory_exhausted,
            denied,
            limits,
            log: &log,
            journal,
            saved_state,
            started,
        });
        if outcome.exception {
            tracing::warn!(message = %outcome.message, duration_ms = outcome.duration.as_millis() as u64,
                "connector run failed");
        } else {
            tracing::debug!(status = ?outcome.status, duration_ms = outcome.duration.as_millis() as u64,
                "connector run finished");
        }
        outcome
    }

    /// Instantiates an app in a fresh store with the worker's limits and drops it: a
    /// check that it starts at all (e.g. right after install), and what the benchmark
    /// measures as the fixed cost of a parameter set.
    pub async fn instantiate(&self, app: &PreparedApp) -> Result<(), SandboxError> {
        let _slot = self.slots.acquire().await.ok();
        let log = Arc::new(LogSink::new("instantiate", 0, self.config.max_log_lines, self.config.max_log_line_bytes));
        let mut store = self.store(
            state::RunSetup {
                log,
                egress: EgressRun::new(self.net.clone(), &[], "instantiate"),
                memory_bytes: self.config.max_memory_bytes,
                state_json: "{}".into(),
                progress: None,
                max_line_bytes: self.config.max_log_line_bytes,
            },
            Instant::now() + self.config.max_timeout,
            tokio_util::sync::CancellationToken::new(),
        );
        let instantiate = app.pre.instantiate_async(&mut store);
        match tokio::time::timeout(self.config.max_timeout, instantiate).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SandboxError::Instantiate(format!("{e:#}"))),
            Err(_) => Err(SandboxError::Instantiate("instantiation exceeded the deadline".into())),
        }
    }

    /// A fresh store with the run's memory cap and an epoch callback that, every tick,
    /// stops the connector when past the deadline or cancelled, and otherwise yields to
    /// the async runtime so a busy connector neither starves other tasks nor delays
    /// `tokio::time::timeout` and cancellation.
    fn store(
        &self,
        setup: state::RunSetup,
        deadline: Instant,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Store<RunState> {
        let mut store = Store::new(&self.engine, RunState::new(setup));
        store.limiter(|state| state.limiter());
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if cancel.is_cancelled() || Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    fn clamp(&self, asked: Limits) -> Limits {
        let pick = |asked: u64, max: u64| if asked == 0 { max } else { asked.min(max) };
        Limits {
            memory_bytes: pick(asked.memory_bytes, self.config.max_memory_bytes),
            timeout: if asked.timeout.is_zero() {
                self.config.max_timeout
            } else {
                asked.timeout.min(self.config.max_timeout)
            },
            max_result_bytes: pick(asked.max_result_bytes, self.config.max_result_bytes),
        }
    }
}

/// Compiles or loads, checks and links one component; runs on a blocking thread.
fn prepare_blocking(
    engine: &Engine,
    linker: &Linker<RunState>,
    digest: &str,
    wasm: &[u8],
    started: Instant,
) -> Result<PreparedApp, SandboxError> {
    let actual = hex::encode(Sha256::digest(wasm));
    if !actual.eq_ignore_ascii_case(digest) {
        return Err(SandboxError::DigestMismatch { expected: digest.to_string(), actual });
    }
    // With `Config::cache` set, this loads the precompiled artifact when `cache_dir`
    // has one for these bytes and this engine, and writes one after compiling.
    let component = Component::new(engine, wasm).map_err(|e| SandboxError::InvalidComponent(format!("{e:#}")))?;
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    if !exports.iter().any(|name| bindings::is_handler_export(name)) {
        let exports = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
        return Err(SandboxError::MissingHandler { exports });
    }
    let imports = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let pre = linker.instantiate_pre(&component).map_err(|e| SandboxError::Link(format!("{e:#}")))?;
    let pre = ConnectorPre::new(pre).map_err(|e| SandboxError::Link(format!("{e:#}")))?;
    Ok(PreparedApp { digest: digest.to_ascii_lowercase(), imports, prepare_time: started.elapsed(), pre })
}

/// A small LRU (of prepared apps): a lookup refreshes an entry, an insert past the
/// capacity evicts the least recently used one. Linear eviction is fine at 64 entries.
struct Lru<V> {
    entries: HashMap<String, (V, u64)>,
    clock: u64,
    capacity: usize,
}

impl<V: Clone> Lru<V> {
    fn new(capacity: usize) -> Self {
        Self { entries: HashMap::new(), clock: 0, capacity }
    }

    fn get(&mut self, key: &str) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = clock;
            value.clone()
        })
    }

    fn insert(&mut self, key: String, value: V) {
        self.clock += 1;
        self.entries.insert(key, (value, self.clock));
        while self.entries.len() > self.capacity {
            let oldest = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.entries.remove(&key),
                None => break,
            };
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped_to_the_worker_maxima() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::new(SandboxConfig {
            cache_dir: dir.path().to_path_buf(),
            concurrency: 1,
            ..SandboxConfig::default()
        })
        .unwrap();
        let clamped =
            sandbox.clamp(Limits { memory_bytes: 1 << 40, timeout: Duration::from_secs(100_000), max_result_bytes: 0 });
        assert_eq!(clamped.memory_bytes, 64 << 20);
        assert_eq!(clamped.timeout, Duration::from_secs(300));
        assert_eq!(clamped.max_result_bytes, 4 << 20);
        let asked = Limits { memory_bytes: 8 << 20, timeout: Duration::from_secs(2), max_result_bytes: 1024 };
        assert_eq!(sandbox.clamp(asked), asked);
    }

    #[test]
    fn a_bad_configuration_is_refused() {
        for config in [
            SandboxConfig { concurrency: 0, ..SandboxConfig::default() },
            SandboxConfig { max_memory_bytes: 5 << 30, ..SandboxConfig::default() },
            SandboxConfig { max_timeout: Duration::ZERO, ..SandboxConfig::default() },
        ] {
            assert!(matches!(Sandbox::new(config), Err(SandboxError::Config(_))));
        }
    }

    #[test]
    fn the_lru_evicts_the_least_recently_used_app() {
        let mut apps = Lru::new(2);
        apps.insert("a".into(), 1);
        apps.insert("b".into(), 2);
        assert_eq!(apps.get("a"), Some(1));
        apps.insert("c".into(), 3);
        assert_eq!(apps.len(), 2);
        assert_eq!(apps.get("b"), None, "b was used least recently");
        assert_eq!((apps.get("a"), apps.get("c")), (Some(1), Some(3)));
    }
}
