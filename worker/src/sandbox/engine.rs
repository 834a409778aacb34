//! The one wasmtime `Engine` of a worker and the thread that advances its epoch.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy};

use super::{SandboxConfig, SandboxError};

/// Core instances, linear memories and tables one component may hold: the connector
/// ABI's limits, which the broker checks at install (`outpost_proto::abi`), so a
/// component that installs fits a slot.
const CORE_INSTANCES_PER_COMPONENT: u32 = outpost_proto::abi::MAX_CORE_INSTANCES_PER_COMPONENT;
const MEMORIES_PER_COMPONENT: u32 = outpost_proto::abi::MAX_MEMORIES_PER_COMPONENT;
const TABLES_PER_COMPONENT: u32 = outpost_proto::abi::MAX_TABLES_PER_COMPONENT;
/// Elements of one function table: Rust connectors need a few hundred, an embedded
/// interpreter tens of thousands. 8 bytes each, committed lazily.
const TABLE_ELEMENTS: usize = 65_536;

/// Opens (creating it, owner-only) the directory of precompiled artifacts.
///
/// This is wasmtime's own compilation cache, used instead of `precompile_component` +
/// `Component::deserialize_file` because it needs no `unsafe` in our code. Each
/// artifact's key is the sha256 of the wasm bytes together with the engine's
/// compatibility hash (the very value `Engine::precompile_compatibility_hash()`
/// returns) and the wasmtime version; it is written atomically and loaded back by
/// `Component::new` without recompiling. Whoever can write this directory can make the
/// worker run native code, exactly as with `deserialize_file`: keep it private to the
/// worker's user.
pub fn open_cache(dir: &Path) -> Result<Cache, SandboxError> {
    let cache_error = |error: String| SandboxError::CacheDir { path: dir.to_path_buf(), error };
    std::fs::create_dir_all(dir).map_err(|e| cache_error(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| cache_error(e.to_string()))?;
    }
    let dir = std::fs::canonicalize(dir).map_err(|e| cache_error(e.to_string()))?;
    let mut config = CacheConfig::new();
    config.with_directory(dir);
    Cache::new(config).map_err(|e| cache_error(format!("{e:#}")))
}

/// Builds the engine: Cranelift, epoch interruption, no component-model concurrency,
/// and a pooling allocator sized from the worker's concurrency.
/// Component instances the pool holds: twice the concurrency (the next task of a slot
/// may instantiate while the previous store is still being torn down), plus headroom.
pub fn pool_slots(concurrency: u32) -> u32 {
    concurrency.saturating_mul(2).saturating_add(2)
}

pub fn build(config: &SandboxConfig, cache: Cache) -> Result<Engine, SandboxError> {
    let slots = pool_slots(config.concurrency);
    let max_memory = usize::try_from(config.max_memory_bytes)
        .map_err(|_| SandboxError::Config("max memory does not fit this platform".into()))?;

    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT))
        .total_stacks(slots)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_tables_per_module(TABLES_PER_COMPONENT)
        .table_elements(TABLE_ELEMENTS)
        .max_memory_size(max_memory);

    let mut wasm = Config::new();
    wasm.strategy(Strategy::Cranelift)
        .epoch_interruption(true)
        .concurrency_support(false)
        .wasm_component_model(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .cache(Some(cache));
    Engine::new(&wasm).map_err(|e| SandboxError::Engine(format!("{e:#}")))
}

/// Advances the engine's epoch every tick until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine, tick: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("outpost-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
