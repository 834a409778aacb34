//! `outpost worker`: runs connectors for one segment. It needs outbound access to
//! RabbitMQ and to the broker's gRPC port, and no inbound port at all.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use outpost_bus::Bus;
use outpost_worker::WorkerConfig;
use outpost_worker::app_cache::GrpcAppSource;

use crate::bus::{BusArgs, connect_bus};
use crate::sandbox_args::SandboxArgs;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The broker's gRPC address, where components are fetched by digest.
    #[arg(long, env = "OUTPOST_BROKER_GRPC", default_value = "http://127.0.0.1:50051")]
    pub broker_grpc: String,
    /// The segment (SOAR automation broker name) whose tasks this worker runs.
    #[arg(long, env = "OUTPOST_SEGMENT", default_value = "default")]
    pub segment: String,
    /// Parameter sets run at once (and the prefetch).
    #[arg(long, env = "OUTPOST_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u32,
    /// Holds the node_guid and the component caches.
    #[arg(long, env = "OUTPOST_DATA_DIR", default_value = "outpost-worker")]
    pub data_dir: PathBuf,
    /// The broker's bus key file (`<broker data dir>/bus.key`), to open asset
    /// configuration sealed in tasks.
    #[arg(long, env = "OUTPOST_BUS_KEY_FILE")]
    pub bus_key_file: PathBuf,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Seconds in-flight tasks may finish after SIGTERM before being handed back.
    #[arg(long, env = "OUTPOST_DRAIN_GRACE_SECS", default_value_t = 30)]
    pub drain_grace_secs: u64,
    /// Seconds between heartbeats to the broker's registry.
    #[arg(long, env = "OUTPOST_HEARTBEAT_SECS", default_value_t = 5)]
    pub heartbeat_secs: u64,
    #[command(flatten)]
    pub bus: BusArgs,
}

pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    if !outpost_proto::topology::valid_segment(&args.segment) {
        anyhow::bail!("--segment '{}' must be letters, digits, '-' or '_'", args.segment);
    }
    let shutdown = crate::shutdown_on_signal();
    let bus_key = outpost_broker::keys::load(&args.bus_key_file).map_err(|e| anyhow::anyhow!(e.message))?;
    let bus: Arc<dyn Bus> = connect_bus(&args.bus).await?;
    let mut config = WorkerConfig::new(&args.data_dir, bus_key.clone());
    config.segment = args.segment.clone();
    config.concurrency = args.concurrency.max(1);
    config.drain_grace = Duration::from_secs(args.drain_grace_secs);
    config.heartbeat_interval = Duration::from_secs(args.heartbeat_secs.max(1));
    args.sandbox.apply(&mut config.sandbox)?;
    let source = Arc::new(GrpcAppSource::new(args.broker_grpc.clone(), bus_key.derive_token("outpost-worker")));
    let worker =
        outpost_worker::start(config, bus.clone(), source, shutdown.clone()).await.context("starting the worker")?;
    println!(
        "Outpost worker {} serving segment '{}' (node_guid {})",
        outpost_proto::VERSION,
        args.segment,
        worker.node_guid
    );
    shutdown.cancelled().await;
    worker.wait().await;
    bus.close().await;
    Ok(())
}
