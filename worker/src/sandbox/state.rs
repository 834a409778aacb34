//! The data of one run's `Store`: WASI and wasi:http contexts, the memory limiter, and
//! the `outpost:connector/host` imports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{Connector, outpost::connector::host, outpost::connector::types};
use super::capabilities::{self, Attempts};
use super::egress::{EgressHooks, EgressRun};
use super::output::{GuestOutput, LogSink, truncate};
use super::{MAX_STATE_BYTES, SandboxError};

/// The fewest milliseconds between two progress messages forwarded to the broker;
/// more frequent ones are dropped (the latest one is what a client wants anyway).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Resources (streams, requests, fields, ...) one run may hold at once.
const MAX_RESOURCES: usize = 10_000;
/// The most random bytes a connector may ask for in one call.
const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// Links everything a connector may import, and nothing else.
pub fn linker(engine: &Engine) -> Result<Linker<RunState>, SandboxError> {
    let link = |e: wasmtime::Error| SandboxError::Engine(format!("cannot link host interfaces: {e:#}"));
    let mut linker = Linker::new(engine);
    Connector::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |state| state).map_err(link)?;
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
    capabilities::add_to_linker(&mut linker).map_err(link)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
    Ok(linker)
}

/// What a run starts from.
pub struct RunSetup {
    pub log: Arc<LogSink>,
    pub egress: Arc<EgressRun>,
    pub memory_bytes: u64,
    pub state_json: String,
    pub progress: Option<tokio::sync::mpsc::Sender<String>>,
    pub max_line_bytes: usize,
}

/// The `T` of a run's `Store<T>`.
pub struct RunState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: EgressHooks,
    limits: RunLimits,
    log: Arc<LogSink>,
    progress: Option<tokio::sync::mpsc::Sender<String>>,
    last_progress: Option<Instant>,
    max_line_bytes: usize,
    state_json: String,
    saved_state: Option<String>,
    /// Denied capabilities the connector tried (files, arguments, sockets, ...).
    attempts: Attempts,
}

impl RunState {
    pub fn new(setup: RunSetup) -> Self {
        // Grants nothing: no preopens, environment, arguments, stdin, sockets or name
        // lookup. Clocks and randomness are WASI's own.
        let wasi = WasiCtx::builder()
            .stdout(GuestOutput::stdout(setup.log.clone()))
            .stderr(GuestOutput::stderr(setup.log.clone()))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let memory = usize::try_from(setup.memory_bytes).unwrap_or(usize::MAX);
        Self {
            table,
            wasi,
            http: WasiHttpCtx::new(),
            hooks: EgressHooks::new(setup.egress),
            limits: RunLimits {
                inner: StoreLimitsBuilder::new().memory_size(memory).trap_on_grow_failure(true).build(),
                memory_exhausted: false,
            },
            log: setup.log,
            progress: setup.progress,
            last_progress: None,
            max_line_bytes: setup.max_line_bytes,
            state_json: setup.state_json,
            saved_state: None,
            attempts: Attempts::default(),
        }
    }

    /// The denied capabilities the connector tried so far.
    pub fn attempts_mut(&mut self) -> &mut Attempts {
        &mut self.attempts
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }

    /// Whether the connector hit its memory cap (the trap that follows is reported as such).
    pub fn memory_exhausted(&self) -> bool {
        self.limits.memory_exhausted
    }

    pub fn take_saved_state(&mut self) -> Option<String> {
        self.saved_state.take()
    }
}

/// `StoreLimits` that remember a refused growth, so the trap can be named correctly.
struct RunLimits {
    inner: StoreLimits,
    memory_exhausted: bool,
}

impl ResourceLimiter for RunLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let result = self.inner.memory_growing(current, desired, maximum);
        if !matches!(result, Ok(true)) {
            self.memory_exhausted = true;
        }
        result
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_exhausted = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl types::Host for RunState {}

impl host::Host for RunState {
    /// Traps the connector on the line past its budget, as the memory cap does.
    fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            host::Level::Debug => tracing::Level::DEBUG,
            host::Level::Info => tracing::Level::INFO,
            host::Level::Warn => tracing::Level::WARN,
            host::Level::Error => tracing::Level::ERROR,
        };
        self.log.log(level, &message)?;
        Ok(())
    }

    fn save_progress(&mut self, message: String) {
        let Some(progress) = &self.progress else { return };
        let now = Instant::now();
        if self.last_progress.is_some_and(|last| now - last < PROGRESS_INTERVAL) {
            return;
        }
        // Lossy on purpose: a slow consumer must not slow the connector down.
        if progress.try_send(truncate(&message, self.max_line_bytes).into_owned()).is_ok() {
            self.last_progress = Some(now);
        }
    }

    fn load_state(&mut self) -> String {
        self.saved_state.clone().unwrap_or_else(|| self.state_json.clone())
    }

    fn save_state(&mut self, state: String) -> Result<(), String> {
        if state.len() > MAX_STATE_BYTES {
            return Err(format!(
                "state is {} bytes, more than the {} allowed",
                state.len(),
                outpost_proto::size::human_bytes(MAX_STATE_BYTES as u64)
            ));
        }
        match serde_json::from_str::<serde_json::Value>(&state) {
            Ok(serde_json::Value::Object(_)) => {
                self.saved_state = Some(state);
                Ok(())
            }
            Ok(_) => Err("state must be a JSON object".into()),
            Err(e) => Err(format!("state is not valid JSON: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::egress::{EgressConfig, EgressNet};
    use host::Host as _;

    fn state() -> RunState {
        let net = Arc::new(EgressNet::new(EgressConfig::default()).unwrap());
        RunState::new(RunSetup {
            log: Arc::new(LogSink::new("t", 1, 10, 100)),
            egress: EgressRun::new(net, &[], "t"),
            memory_bytes: 1 << 20,
            state_json: r#"{"before":true}"#.into(),
            progress: None,
            max_line_bytes: 100,
        })
    }

    #[test]
    fn save_state_takes_only_json_objects_up_to_1_mib() {
        let mut state = state();
        assert_eq!(state.load_state(), r#"{"before":true}"#);
        assert_eq!(state.save_state("[1,2]".into()), Err("state must be a JSON object".into()));
        assert_eq!(state.save_state("\"text\"".into()), Err("state must be a JSON object".into()));
        assert!(state.save_state("{not json".into()).unwrap_err().starts_with("state is not valid JSON"));
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_STATE_BYTES));
        assert_eq!(
            state.save_state(big),
            Err(format!("state is {} bytes, more than the 1 MiB allowed", MAX_STATE_BYTES + 8))
        );
        assert_eq!(state.take_saved_state(), None, "refused states are not kept");
        state.save_state(r#"{"after":1}"#.into()).unwrap();
        assert_eq!(state.load_state(), r#"{"after":1}"#, "load-state sees the latest save");
        assert_eq!(state.take_saved_state().as_deref(), Some(r#"{"after":1}"#));
    }

    #[tokio::test]
    async fn progress_is_rate_limited_and_lossy() {
        let mut state = state();
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        state.progress = Some(tx);
        state.save_progress("first".into());
        state.save_progress("too soon".into());
        assert_eq!(rx.try_recv().unwrap(), "first");
        assert!(rx.try_recv().is_err());
        state.last_progress = Some(Instant::now() - PROGRESS_INTERVAL);
        state.save_progress("later".into());
        state.last_progress = Some(Instant::now() - PROGRESS_INTERVAL);
        state.save_progress("channel full, dropped".into());
        assert_eq!(rx.try_recv().unwrap(), "later");
        assert!(rx.try_recv().is_err());
    }
}
