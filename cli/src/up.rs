//! `outpost up`: the broker and N local workers in one process, with the SQLite store
//! and the in-process bus. Workers fetch components over the broker's gRPC port, as remote
//! workers do, so both ways of running share one code path.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use outpost_broker::BrokerConfig;
use outpost_bus::{Bus, InProcessBus};
use outpost_worker::WorkerConfig;
use outpost_worker::app_cache::GrpcAppSource;

use crate::broker_args::BrokerSettings;
use crate::sandbox_args::SandboxArgs;

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where the SOAR-compatible REST API listens.
    #[arg(long, env = "OUTPOST_REST_ADDR", default_value = "127.0.0.1:8080")]
    pub rest_addr: SocketAddr,
    /// Where the gRPC API listens.
    #[arg(long, env = "OUTPOST_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Holds the store, keys, the generated admin password and the workers' caches.
    #[arg(long, env = "OUTPOST_DATA_DIR", default_value = "outpost-data")]
    pub data_dir: PathBuf,
    /// Local workers to run.
    #[arg(long, env = "OUTPOST_WORKERS", default_value_t = 2)]
    pub workers: u32,
    /// Parameter sets each worker runs at once.
    #[arg(long, env = "OUTPOST_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u32,
    /// Folder of app bundles (`*.tgz`) installed at start-up; `bash apps/build.sh` fills it.
    #[arg(long, env = "OUTPOST_APPS_DIR", default_value = "apps/dist")]
    pub apps_dir: PathBuf,
    #[command(flatten)]
    pub settings: BrokerSettings,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Also create a demo container and geoip asset, run `geolocate ip` on three public
    /// addresses, and print the finished app run.
    #[arg(long)]
    pub demo: bool,
}

/// The sample apps `up` installs, by bundle name.
pub const SAMPLE_APPS: &[&str] = &["qa", "geoip", "whois", "reputation"];

/// The bundles of the sample apps found in `dir`; at least `qa` and `geoip` must be there.
pub fn sample_bundles(dir: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    let found: Vec<PathBuf> =
        SAMPLE_APPS.iter().map(|name| dir.join(format!("{name}.tgz"))).filter(|p| p.exists()).collect();
    for required in ["qa", "geoip"] {
        if !dir.join(format!("{required}.tgz")).exists() {
            anyhow::bail!(
                "sample app bundle {} not found; build the apps with `bash apps/build.sh` or point --apps-dir at them",
                dir.join(format!("{required}.tgz")).display()
            );
        }
    }
    Ok(found)
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let shutdown = crate::shutdown_on_signal();
    let bundles = sample_bundles(&args.apps_dir)?;
    let mut config = BrokerConfig::new(&args.data_dir);
    config.rest_addr = args.rest_addr;
    config.grpc_addr = args.grpc_addr;
    args.settings.apply(&mut config);
    config.bundles = bundles;

    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let broker = outpost_broker::start(config, bus.clone(), shutdown.clone()).await.context("starting the broker")?;
    let bus_key = broker.broker.bus_key.clone();
    let grpc_url = format!("http://{}", local_target(broker.grpc_addr));

    let mut workers = vec![];
    for i in 0..args.workers.max(1) {
        let mut worker = WorkerConfig::new(args.data_dir.join("workers").join(i.to_string()), bus_key.clone());
        worker.concurrency = args.concurrency.max(1);
        args.sandbox.apply(&mut worker.sandbox)?;
        // One compile cache for the local workers: a component compiled by one (a
        // Python connector takes seconds) is loaded by the others and after restarts.
        worker.sandbox.cache_dir = args.data_dir.join("workers").join("compiled");
        let source = Arc::new(GrpcAppSource::new(grpc_url.clone(), bus_key.derive_token("outpost-worker")));
        workers.push(
            outpost_worker::start(worker, bus.clone(), source, shutdown.clone()).await.context("starting a worker")?,
        );
    }

    let rest_url = format!("http://{}", local_target(broker.rest_addr));
    println!("Outpost {} is up.", outpost_proto::VERSION);
    println!("  REST: {rest_url}/rest   gRPC: {grpc_url}");
    println!("  workers: {} x concurrency {}", workers.len(), args.concurrency.max(1));
    match &broker.generated_admin_password {
        Some(password) => println!(
            "  sign in as 'admin' with password {password} (shown once; kept in {})",
            args.data_dir.join(outpost_broker::access::auth::ADMIN_PASSWORD_FILE).display()
        ),
        None => println!(
            "  sign in as 'admin' (password: OUTPOST_ADMIN_PASSWORD, or the file {})",
            args.data_dir.join(outpost_broker::access::auth::ADMIN_PASSWORD_FILE).display()
        ),
    }
    println!("  e.g. curl -u admin:<password> {rest_url}/rest/app");

    if args.demo {
        // The demo calls the REST API like any client, with a token of its own: it does
        // not need to know the administrator's password.
        let (token_id, token) = broker.broker.issue_admin_token("outpost up --demo", Duration::from_secs(600)).await?;
        let outcome = tokio::select! {
            result = crate::demo::run(&rest_url, &token) => Some(result),
            _ = shutdown.cancelled() => None,
        };
        if let Err(e) = broker.broker.revoke_admin_token(token_id).await {
            tracing::warn!(error = %e, "cannot revoke the demo's token; it expires in 10 minutes");
        }
        match outcome {
            Some(Ok(())) => println!("Demo done; still serving. Ctrl-C stops."),
            // A failed demo is reported; the broker and workers it ran on keep serving.
            Some(Err(e)) => eprintln!("Demo failed: {e:#}; still serving. Ctrl-C stops."),
            None => {}
        }
    }

    shutdown.cancelled().await;
    for worker in workers {
        worker.wait().await;
    }
    broker.wait().await;
    bus.close().await;
    Ok(())
}

/// An address a local client can connect to: a wildcard bind becomes loopback.
pub fn local_target(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() { SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port()) } else { addr }
}
