//! The broker's settings. The CLI maps flags and their `OUTPOST_*` env twins onto this.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use outpost_proto::seal::SealKey;

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where the SOAR-compatible REST API listens.
    pub rest_addr: SocketAddr,
    /// Where the gRPC API listens (clients and workers fetching components).
    pub grpc_addr: SocketAddr,
    /// Holds the SQLite store (unless `database_url` says otherwise), the keys and the
    /// generated admin password.
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite://...`; default: `sqlite://<data_dir>/outpost.db`.
    pub database_url: Option<String>,
    /// The administrator's password; generated and kept in the data dir when unset.
    pub admin_password: Option<String>,
    /// The key sealing asset configuration inside tasks; default: `<data_dir>/bus.key`,
    /// created on first start. Workers need the same key.
    pub bus_key: Option<SealKey>,
    /// App bundles to install (or upgrade) at start-up.
    pub bundles: Vec<PathBuf>,
    /// A worker silent for longer than this counts as stopped.
    pub worker_stale_after: Duration,
    /// Audit records older than this many days are deleted (hourly); 0 keeps them all.
    /// SOC policies commonly ask for a year.
    pub audit_retention_days: u32,
    /// `/rest/system_info`'s `base_url`: how users reach this broker (empty when unset),
    /// until changed at run time through `/rest/system_settings`.
    pub base_url: String,
    /// `/rest/system_info`'s `time_zone` (an IANA name), until changed at run time
    /// through `/rest/system_settings`.
    pub time_zone: String,
}

impl BrokerConfig {
    /// A configuration that works on one laptop: loopback ports, a data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        BrokerConfig {
            rest_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: data_dir.into(),
            database_url: None,
            admin_password: None,
            bus_key: None,
            bundles: vec![],
            worker_stale_after: Duration::from_secs(30),
            audit_retention_days: 365,
            base_url: String::new(),
            time_zone: "UTC".into(),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("outpost.db").display()))
    }
}
