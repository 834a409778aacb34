//! Retention: audit records older than `audit_retention_days` are deleted, and each purge
//! is itself recorded.

use std::sync::Arc;
use std::time::Duration;

use outpost_proto::time::now_ms;
use tokio_util::sync::CancellationToken;

use super::{Actor, AuditObject};
use crate::Broker;

/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Deletes records older than `audit_retention_days` (0 keeps everything), at start and
/// hourly; each purge is itself an administration record.
pub async fn run_retention(broker: Arc<Broker>, shutdown: CancellationToken) {
    run_retention_every(broker, shutdown, RETENTION_EVERY).await;
}

/// [`run_retention`], purging every `every` instead of hourly (tests run it fast).
pub async fn run_retention_every(broker: Arc<Broker>, shutdown: CancellationToken, every: Duration) {
    let days = broker.config.audit_retention_days;
    if days == 0 {
        return;
    }
    loop {
        let before = now_ms() - i64::from(days) * 24 * 3600 * 1000;
        match broker.store.purge_audit(before).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(purged = n, days, "audit retention");
                let note = format!("retention:purged {n} records older than {days} days");
                broker.audit.record_administration(Actor::system(), AuditObject::Audit, &note).await;
            }
            Err(e) => tracing::warn!(error = %e, "audit retention failed; retrying later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
