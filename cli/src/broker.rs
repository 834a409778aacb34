//! `outpost broker`: the broker alone, on RabbitMQ, for distributed deployments. Workers
//! anywhere that reach RabbitMQ (and the broker's gRPC port, to fetch components) run
//! `outpost worker`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use outpost_broker::BrokerConfig;
use outpost_bus::Bus;

use crate::broker_args::BrokerSettings;
use crate::bus::{BusArgs, redact, start_bus};

#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Where the SOAR-compatible REST API listens.
    #[arg(long, env = "OUTPOST_REST_ADDR", default_value = "127.0.0.1:8080")]
    pub rest_addr: SocketAddr,
    /// Where the gRPC API listens (clients, and workers fetching components).
    #[arg(long, env = "OUTPOST_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Holds the keys, the generated admin password and (without --database-url) the
    /// SQLite store.
    #[arg(long, env = "OUTPOST_DATA_DIR", default_value = "outpost-data")]
    pub data_dir: PathBuf,
    /// `postgres://user@host/db` or `sqlite://path`. Prefer the env twin: a URL with a
    /// password does not belong on a command line.
    #[arg(long, env = "OUTPOST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder of app bundles (`*.tgz`) installed at start-up.
    #[arg(long, env = "OUTPOST_APPS_DIR", default_value = "apps/dist")]
    pub apps_dir: PathBuf,
    #[command(flatten)]
    pub settings: BrokerSettings,
    #[command(flatten)]
    pub bus: BusArgs,
}

pub async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let shutdown = crate::shutdown_on_signal();
    // Up even while RabbitMQ is not: REST and gRPC serve, runs wait in the store's outbox,
    // and /rest/health shows the bus stopped until the background connection succeeds.
    let bus: Arc<dyn Bus> = Arc::new(start_bus(&args.bus)?);
    let mut config = BrokerConfig::new(&args.data_dir);
    config.rest_addr = args.rest_addr;
    config.grpc_addr = args.grpc_addr;
    config.database_url = args.database_url.clone();
    args.settings.apply(&mut config);
    config.bundles = crate::up::sample_bundles(&args.apps_dir)?;
    let broker = outpost_broker::start(config, bus.clone(), shutdown.clone()).await.context("starting the broker")?;
    println!("Outpost broker {} is up.", outpost_proto::VERSION);
    println!("  REST: http://{}/rest   gRPC: http://{}", crate::up::local_target(broker.rest_addr), broker.grpc_addr);
    println!(
        "  workers need a copy of the bus key {} (as <worker data dir>/bus.key, or --bus-key-file)",
        args.data_dir.join(outpost_broker::access::keys::BUS_KEY_FILE).display()
    );
    if !bus.is_connected() {
        println!(
            "  RabbitMQ at {} is not reachable yet: runs wait in the store until it is",
            redact(&args.bus.amqp_url)
        );
    }
    if let Some(password) = &broker.generated_admin_password {
        println!("  sign in as 'admin' with password {password} (shown once; kept in the data dir)");
    }
    shutdown.cancelled().await;
    broker.wait().await;
    bus.close().await;
    Ok(())
}
