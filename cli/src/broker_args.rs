//! Broker settings shared by `outpost up` and `outpost broker`.

use std::time::Duration;

use outpost_broker::BrokerConfig;

#[derive(Debug, Clone, clap::Args)]
pub struct BrokerSettings {
    /// Audit records older than this many days are deleted (hourly); 0 keeps everything.
    #[arg(long, env = "OUTPOST_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,
    /// The URL clients reach this installation at, answered by `/rest/system_info`.
    #[arg(long, env = "OUTPOST_BASE_URL", default_value = "")]
    pub base_url: String,
    /// The time zone answered by `/rest/system_info`.
    #[arg(long, env = "OUTPOST_TIME_ZONE", default_value = "UTC")]
    pub time_zone: String,
    /// Seconds without a heartbeat after which a worker counts as stopped.
    #[arg(long, env = "OUTPOST_WORKER_STALE_SECS", default_value_t = 30)]
    pub worker_stale_secs: u64,
}

impl BrokerSettings {
    pub fn apply(&self, config: &mut BrokerConfig) {
        config.audit_retention_days = self.audit_retention_days;
        config.base_url = self.base_url.clone();
        config.time_zone = self.time_zone.clone();
        config.worker_stale_after = Duration::from_secs(self.worker_stale_secs.max(1));
        config.admin_password = std::env::var("OUTPOST_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    }
}
