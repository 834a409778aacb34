//! `outpost worker`: runs connectors for one segment. It needs outbound access to
//! RabbitMQ and to the broker's gRPC port, and no inbound port at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use outpost_bus::Bus;
use outpost_proto::seal::SealKey;
use outpost_worker::WorkerConfig;
use outpost_worker::app_cache::GrpcAppSource;
use outpost_worker::bus_key::{self, BUS_KEY_FILE, BusKeyError};

use crate::bus::{BusArgs, start_bus};
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
    /// A copy of the broker's bus key (`<broker data dir>/bus.key`), which opens the
    /// asset configuration sealed in tasks; default `<data-dir>/bus.key`. Keep it
    /// readable by its owner only.
    #[arg(long, env = "OUTPOST_BUS_KEY_FILE")]
    pub bus_key_file: Option<PathBuf>,
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
    let key_file = args.bus_key_file.clone().unwrap_or_else(|| args.data_dir.join(BUS_KEY_FILE));
    let bus_key = load_bus_key(&key_file)?;
    // A worker often starts before RabbitMQ is reachable (a pod or unit started first):
    // wait for it, each failed attempt logged, rather than exit.
    let amqp = start_bus(&args.bus)?;
    tokio::select! {
        connected = amqp.wait_connected() => connected.context("connecting to RabbitMQ")?,
        _ = shutdown.cancelled() => {
            amqp.close().await;
            return Ok(());
        }
    }
    let bus: Arc<dyn Bus> = Arc::new(amqp);
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

/// Reads the bus key, saying where it was expected and how to put it there.
fn load_bus_key(path: &Path) -> anyhow::Result<SealKey> {
    bus_key::read(path).map_err(|error| match error {
        BusKeyError::Missing { .. } => {
            anyhow::anyhow!("{error}, or name it with --bus-key-file / OUTPOST_BUS_KEY_FILE")
        }
        other => anyhow::Error::new(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of its own under the system temp dir, removed afterwards.
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("outpost-cli-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_missing_bus_key_names_the_expected_path() {
        let dir = Dir::new("missing-key");
        let err = load_bus_key(&dir.0.join(BUS_KEY_FILE)).unwrap_err().to_string();
        assert!(err.starts_with(&format!("no bus key at {}", dir.0.join("bus.key").display())), "{err}");
        assert!(err.contains("--bus-key-file"), "{err}");
    }

    #[test]
    fn the_bus_key_defaults_to_the_data_dir() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            worker: WorkerArgs,
        }
        let cli = Cli::try_parse_from(["outpost", "--data-dir", "/var/lib/w"]).unwrap();
        assert_eq!(cli.worker.bus_key_file, None, "no flag, no env: the data dir's bus.key");
        let dir = Dir::new("default-key");
        let key = SealKey::generate();
        std::fs::write(dir.0.join(BUS_KEY_FILE), key.to_hex()).unwrap();
        assert_eq!(load_bus_key(&dir.0.join(BUS_KEY_FILE)).unwrap().to_hex(), key.to_hex());
    }
}
