//! The broker: front doors, the store, dispatch, the outbox, result assembly, audit and
//! the worker registry. It never runs connector code.
//!
//! [`start`] takes a configuration, a bus and a shutdown token, so tests and `outpost up`
//! start and stop a real broker in a few lines.
//!
//! Folders by concept, front doors on top, the store at the bottom; data flows down.
//! Only [`rest`] and [`grpc`] build JSON, CSV or protobuf answers; the domain returns
//! typed values, and each domain operation takes the actor and audits itself.
//!
//! # Layout
//! - [`rest`]: the SOAR-compatible REST API (axum): parse, call the domain, render.
//! - [`grpc`]: the gRPC API (tonic), one file per service.
//! - [`runs`]: dispatch, outbox, ingestion and settling, assembly, watch, connectivity.
//! - [`catalog`]: apps and bundles, assets, containers, artifacts, users, roles, settings.
//! - [`access`]: authentication, the permission table, the audit trail, the keys.
//! - [`workers`]: the worker registry (heartbeats) and health readings.
//! - [`listing`]: the paging, sorting and `_filter_` language of every collection.
//! - [`store`]: everything persistent (SQLite or PostgreSQL); all SQL lives there.
//! - [`config`]: the settings.

pub mod access;
pub mod catalog;
pub mod config;
pub mod grpc;
pub mod listing;
pub mod rest;
pub mod runs;
pub mod store;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

use outpost_bus::Bus;
use outpost_proto::OutpostError;
use outpost_proto::seal::SealKey;
use outpost_proto::topology::DEFAULT_SEGMENT;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::BrokerConfig;

use crate::access::{audit, auth, keys};
use crate::runs::watch::Watch;
use crate::runs::{ingest, outbox};
use crate::store::Store;
use crate::workers::registry::{self, Registry};

/// Everything the broker's parts share.
pub struct Broker {
    pub config: BrokerConfig,
    pub store: Store,
    pub bus: Arc<dyn Bus>,
    /// Seals asset configuration inside tasks; workers hold the same key.
    pub bus_key: SealKey,
    pub auth: auth::Authenticator,
    /// Writes the audit trail; every mutating endpoint calls it.
    pub audit: audit::Audit,
    pub registry: Registry,
    pub watch: Watch,
    /// Wakes the outbox relay when a run is queued.
    pub outbox_wakeup: Notify,
}

/// A started broker.
pub struct RunningBroker {
    pub broker: Arc<Broker>,
    /// Where REST listens (the configured address, with the real port if it was 0).
    pub rest_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    /// Set when the admin password was generated on this start: print it once.
    pub generated_admin_password: Option<String>,
    tasks: JoinSet<()>,
}

impl RunningBroker {
    /// Waits until every part of the broker has stopped (after shutdown was requested).
    pub async fn wait(mut self) {
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = joined
                && e.is_panic()
            {
                tracing::error!(error = %e, "a broker task panicked");
            }
        }
        self.broker.store.close().await;
    }
}

/// Starts the broker: opens the store, bootstraps the administrator, installs the
/// configured bundles, binds both front doors and starts the relay and ingestion.
/// Everything stops when `shutdown` is cancelled.
pub async fn start(
    config: BrokerConfig,
    bus: Arc<dyn Bus>,
    shutdown: CancellationToken,
) -> Result<RunningBroker, OutpostError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| OutpostError::internal(format!("cannot create data dir {}: {e}", config.data_dir.display())))?;
    let keys = keys::Keys::load_or_create(&config.data_dir, config.bus_key.clone())?;
    let store = Store::open(&config.database_url(), keys.store.clone())
        .await
        .map_err(|e| OutpostError::unavailable(format!("cannot open the store: {e}")))?;
    let generated_admin_password =
        auth::bootstrap_admin(&store, &config.data_dir, config.admin_password.as_deref()).await?;

    let audit = audit::Audit::new(store.clone());
    let broker = Arc::new(Broker {
        auth: auth::Authenticator::new(store.clone(), audit.clone()),
        audit,
        registry: Registry::new(config.worker_stale_after),
        watch: Watch::default(),
        outbox_wakeup: Notify::new(),
        bus_key: keys.bus,
        store,
        bus,
        config,
    });

    for path in &broker.config.bundles {
        let bytes = std::fs::read(path)
            .map_err(|e| OutpostError::invalid(format!("cannot read app bundle {}: {e}", path.display())))?;
        let (app, installed) = broker.install_app(&audit::Actor::system(), &bytes).await?;
        tracing::info!(app = %app.name, version = %app.app_version, id = app.id, ?installed, "app installed");
    }
    broker.declare_segments().await;

    let rest_listener = tokio::net::TcpListener::bind(broker.config.rest_addr)
        .await
        .map_err(|e| OutpostError::unavailable(format!("cannot listen on {} (REST): {e}", broker.config.rest_addr)))?;
    let grpc_listener = tokio::net::TcpListener::bind(broker.config.grpc_addr)
        .await
        .map_err(|e| OutpostError::unavailable(format!("cannot listen on {} (gRPC): {e}", broker.config.grpc_addr)))?;
    let rest_addr = rest_listener.local_addr().map_err(|e| OutpostError::internal(e.to_string()))?;
    let grpc_addr = grpc_listener.local_addr().map_err(|e| OutpostError::internal(e.to_string()))?;

    let mut tasks = JoinSet::new();
    tasks.spawn(rest::serve(broker.clone(), rest_listener, shutdown.clone()));
    tasks.spawn(grpc::serve(broker.clone(), grpc_listener, shutdown.clone()));
    tasks.spawn(outbox::run(broker.clone(), shutdown.clone()));
    tasks.spawn(ingest::run(broker.clone(), shutdown.clone()));
    tasks.spawn(ingest::run_dead_letters(broker.clone(), shutdown.clone()));
    tasks.spawn(registry::run(broker.clone(), shutdown.clone()));
    tasks.spawn(audit::retention::run_retention(broker.clone(), shutdown.clone()));
    tasks.spawn(auth::run_refusal_records(broker.clone(), shutdown.clone()));
    tracing::info!(%rest_addr, %grpc_addr, "broker started");
    Ok(RunningBroker { broker, rest_addr, grpc_addr, generated_admin_password, tasks })
}

impl Broker {
    /// Declares the task queue of every known segment, so tasks for a segment without
    /// workers wait in its queue instead of coming back unroutable.
    pub async fn declare_segments(&self) {
        let mut names = vec![DEFAULT_SEGMENT.to_string()];
        match self.store.list_segments().await {
            Ok(segments) => names.extend(segments.into_iter().map(|s| s.name)),
            Err(e) => tracing::warn!(error = %e, "cannot list segments"),
        }
        for name in names {
            if let Err(e) = self.bus.declare_segment(&name).await {
                tracing::warn!(segment = %name, error = %e, "cannot declare the segment's task queue yet");
            }
        }
    }
}
