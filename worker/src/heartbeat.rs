//! Heartbeats: who this worker is, where, and how busy, every few seconds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use outpost_proto::time::now_ms;
use outpost_proto::v1::Heartbeat;
use tokio_util::sync::CancellationToken;

use crate::consume::Consumer;
use crate::identity::hostname;

pub async fn run(consumer: Arc<Consumer>, interval: Duration, shutdown: CancellationToken) {
    let started = now_ms();
    let host = hostname();
    let beat = |draining: bool| Heartbeat {
        node_guid: consumer.node_guid.clone(),
        segment: consumer.config.segment.clone(),
        version: outpost_proto::VERSION.to_string(),
        concurrency: consumer.config.concurrency,
        in_flight: consumer.stats.in_flight.load(Ordering::Relaxed),
        hostname: host.clone(),
        unix_ms: now_ms(),
        started_unix_ms: started,
        completed: consumer.stats.completed.load(Ordering::Relaxed),
        draining,
    };
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {
                if let Err(e) = consumer.bus.publish_heartbeat(&beat(false)).await {
                    tracing::debug!(error = %e, "heartbeat not published");
                }
            }
        }
    }
    // Say goodbye so the broker stops counting on this worker at once.
    let _ = consumer.bus.publish_heartbeat(&beat(true)).await;
}
