//! Sandbox limits and egress settings shared by `outpost up` and `outpost worker`.

use std::time::Duration;

use outpost_proto::topology::MAX_TASK_TIMEOUT_SECS;
use outpost_worker::sandbox::SandboxConfig;

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Private address ranges connectors may reach (CIDR, repeatable or comma-separated).
    /// By default loopback, private, link-local, CGNAT and metadata ranges are refused
    /// even when the asset's egress patterns allow the host name.
    #[arg(long, env = "OUTPOST_EGRESS_ALLOW_CIDRS", value_delimiter = ',')]
    pub egress_allow_cidr: Vec<ipnet::IpNet>,
    /// Most memory one parameter set may use, in MiB (an app may ask for less).
    #[arg(long, env = "OUTPOST_MAX_MEMORY_MB", default_value_t = 64)]
    pub max_memory_mb: u64,
    /// Longest one parameter set may run, in seconds; below RabbitMQ's 30 min consumer timeout.
    #[arg(long, env = "OUTPOST_MAX_TIMEOUT_SECS", default_value_t = 300)]
    pub max_timeout_secs: u64,
    /// Largest result of one parameter set, in MiB; a bigger one is recorded as failed.
    #[arg(long, env = "OUTPOST_MAX_RESULT_MB", default_value_t = 4)]
    pub max_result_mb: u64,
    /// Most log lines one parameter set may write (host log, stdout and stderr
    /// together); the connector is stopped at the next one and its run fails.
    #[arg(long, env = "OUTPOST_MAX_LOG_LINES", default_value_t = 1000)]
    pub max_log_lines: u32,
}

impl SandboxArgs {
    /// Applies the flags to a sandbox configuration, refusing nonsense.
    pub fn apply(&self, config: &mut SandboxConfig) -> anyhow::Result<()> {
        if self.max_timeout_secs == 0 || self.max_timeout_secs > u64::from(MAX_TASK_TIMEOUT_SECS) {
            anyhow::bail!(
                "--max-timeout-secs must be between 1 and {MAX_TASK_TIMEOUT_SECS} (RabbitMQ's consumer timeout is 30 min)"
            );
        }
        if self.max_memory_mb == 0 || self.max_memory_mb > 4096 {
            anyhow::bail!("--max-memory-mb must be between 1 and 4096");
        }
        if self.max_result_mb == 0 || self.max_result_mb > 64 {
            anyhow::bail!("--max-result-mb must be between 1 and 64");
        }
        if self.max_log_lines == 0 || self.max_log_lines > 100_000 {
            anyhow::bail!("--max-log-lines must be between 1 and 100000");
        }
        config.max_memory_bytes = self.max_memory_mb * 1024 * 1024;
        config.max_timeout = Duration::from_secs(self.max_timeout_secs);
        config.max_result_bytes = self.max_result_mb * 1024 * 1024;
        config.max_log_lines = self.max_log_lines;
        config.egress.allow_cidrs = self.egress_allow_cidr.clone();
        Ok(())
    }
}
