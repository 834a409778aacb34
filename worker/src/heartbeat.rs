//! Heartbeats: who this worker is, where, and how busy, every few seconds.
//!
//! They go on while the worker drains after a shutdown request, flagged `draining` and
//! with the in-flight count, so the broker sees it alive and finishing its tasks rather
//! than gone; a last one is sent once it has drained.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use outpost_proto::time::now_ms;
use outpost_proto::v1::Heartbeat;
use tokio_util::sync::CancellationToken;

use crate::consume::Consumer;
use crate::identity::hostname;

/// Beats every `interval` until `drained`; from `shutdown` on, each says `draining`.
pub async fn run(consumer: Arc<Consumer>, interval: Duration, shutdown: CancellationToken, drained: CancellationToken) {
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
    let bus = consumer.bus.clone();
    let publish = |heartbeat: Heartbeat| {
        let bus = bus.clone();
        async move {
            if let Err(e) = bus.publish_heartbeat(&heartbeat).await {
                tracing::debug!(error = %e, "heartbeat not published");
            }
        }
    };
    let mut ticker = tokio::time::interval(interval);
    let mut draining = false;
    loop {
        tokio::select! {
            biased;
            _ = drained.cancelled() => break,
            // Say so at once, so the broker stops counting on this worker for new tasks.
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                ticker.reset();
                publish(beat(true)).await;
            }
            _ = ticker.tick() => publish(beat(draining)).await,
        }
    }
    publish(beat(true)).await;
}
