//! The worker: runs connector components in a wasmtime sandbox, one fresh instance per
//! parameter set, and reports results over the bus. It never touches the broker's store:
//! components come by digest over gRPC, state travels with the task and the result.
//!
//! [`run`] takes a configuration, a bus, a component source and a shutdown token.
//!
//! # Layout
//! - [`sandbox`]: the wasmtime engine, component cache, and one sandboxed call; under it,
//!   `sandbox::egress`: outgoing HTTP (the per-asset allowlist, SSRF checks on the
//!   resolved address, the per-run journal, the transport, and the HTTP record/replay
//!   tape of `outpost app test`).
//! - [`bus_key`]: reading the worker's copy of the broker's bus key.
//! - [`local`]: one action run without a broker, in the same sandbox and limits.
//! - [`app_cache`]: components by digest, fetched from the broker, verified, cached.
//! - [`consume`]: take a task, run it, publish the result, then acknowledge.
//! - [`heartbeat`]: periodic signs of life for the broker's registry.
//! - [`identity`]: the persistent `node_guid`.

pub mod app_cache;
pub mod bus_key;
pub mod consume;
pub mod heartbeat;
pub mod identity;
pub mod local;
pub mod sandbox;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use outpost_bus::Bus;
use outpost_proto::seal::SealKey;
use tokio_util::sync::CancellationToken;

use crate::app_cache::{AppCache, AppSource};
use crate::consume::Consumer;
use crate::sandbox::{Sandbox, SandboxConfig};

/// The worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The segment whose tasks this worker takes.
    pub segment: String,
    /// Parameter sets run at once; also the prefetch.
    pub concurrency: u32,
    /// Holds the node_guid, cached components and precompiled artifacts.
    pub data_dir: PathBuf,
    /// Opens the asset configuration sealed in tasks; the broker's bus key.
    pub bus_key: SealKey,
    /// Limits and egress settings of the sandbox.
    pub sandbox: SandboxConfig,
    pub heartbeat_interval: Duration,
    /// How long in-flight tasks may run on after shutdown is requested.
    pub drain_grace: Duration,
}

impl WorkerConfig {
    pub fn new(data_dir: impl Into<PathBuf>, bus_key: SealKey) -> Self {
        let data_dir = data_dir.into();
        let sandbox = SandboxConfig { cache_dir: data_dir.join("compiled"), ..SandboxConfig::default() };
        WorkerConfig {
            segment: outpost_proto::topology::DEFAULT_SEGMENT.into(),
            concurrency: 4,
            data_dir,
            bus_key,
            sandbox,
            heartbeat_interval: Duration::from_secs(5),
            drain_grace: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker data dir: {0}")]
    DataDir(#[from] std::io::Error),
    #[error("sandbox: {0}")]
    Sandbox(String),
}

/// A started worker.
pub struct RunningWorker {
    pub node_guid: String,
    tasks: tokio::task::JoinSet<()>,
}

impl RunningWorker {
    /// Waits until the worker has drained and stopped (after shutdown was requested).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts a worker: identity, sandbox, consume loop, control listener and heartbeats.
pub async fn start(
    mut config: WorkerConfig,
    bus: Arc<dyn Bus>,
    source: Arc<dyn AppSource>,
    shutdown: CancellationToken,
) -> Result<RunningWorker, WorkerError> {
    std::fs::create_dir_all(&config.data_dir)?;
    let node_guid = identity::node_guid(&config.data_dir)?;
    config.sandbox.concurrency = config.concurrency.max(1);
    let sandbox_config = config.sandbox.clone();
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::new(sandbox_config))
        .await
        .map_err(|e| WorkerError::Sandbox(e.to_string()))?
        .map_err(|e| WorkerError::Sandbox(e.to_string()))?;
    let apps = AppCache::new(config.data_dir.join("components"), source);
    let heartbeat_interval = config.heartbeat_interval;
    let consumer = Arc::new(Consumer::new(config, node_guid.clone(), bus, Arc::new(sandbox), apps));
    // Cancelled once the consume loop has drained (or handed back) its in-flight tasks.
    let drained = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let (consumer, shutdown, drained) = (consumer.clone(), shutdown.clone(), drained.clone());
        async move {
            consumer.run(shutdown).await;
            drained.cancel();
        }
    });
    // A cancel must still interrupt a task that runs on while the worker drains.
    tasks.spawn(consume::listen_control(consumer.clone(), drained.clone()));
    // Heartbeats go on while draining (flagged, with the in-flight count) and stop last.
    tasks.spawn(heartbeat::run(consumer.clone(), heartbeat_interval, shutdown.clone(), drained));
    tracing::info!(%node_guid, segment = %consumer.config.segment, concurrency = consumer.config.concurrency, "worker started");
    Ok(RunningWorker { node_guid, tasks })
}
