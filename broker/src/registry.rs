//! The worker registry: who is alive, where, and how busy, from worker heartbeats.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use outpost_proto::time::now_ms;
use outpost_proto::v1::Heartbeat;
use tokio_util::sync::CancellationToken;

use crate::Broker;

/// A worker as last heard of.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    pub heartbeat: Heartbeat,
    /// When the broker received the last heartbeat (broker clock, Unix ms).
    pub last_seen_ms: i64,
}

/// Workers by node_guid.
#[derive(Clone)]
pub struct Registry {
    workers: Arc<Mutex<HashMap<String, WorkerInfo>>>,
    /// Silence after which a worker counts as stopped.
    pub stale_after: Duration,
}

impl Registry {
    pub fn new(stale_after: Duration) -> Self {
        Registry { workers: Arc::default(), stale_after }
    }

    pub fn record(&self, heartbeat: Heartbeat) {
        let info = WorkerInfo { last_seen_ms: now_ms(), heartbeat };
        self.workers.lock().expect("registry lock").insert(info.heartbeat.node_guid.clone(), info);
    }

    /// Whether a worker was heard from recently and is not draining.
    pub fn is_live(&self, info: &WorkerInfo) -> bool {
        now_ms() - info.last_seen_ms <= self.stale_after.as_millis() as i64 && !info.heartbeat.draining
    }

    /// Every worker ever heard of since the broker started, by node_guid.
    pub fn workers(&self) -> BTreeMap<String, WorkerInfo> {
        self.workers.lock().expect("registry lock").iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Live workers serving a segment.
    pub fn live_in_segment(&self, segment: &str) -> Vec<WorkerInfo> {
        self.workers().into_values().filter(|w| w.heartbeat.segment == segment && self.is_live(w)).collect()
    }
}

/// Feeds the registry from the heartbeat broadcast, and tells pending runs why they wait.
pub async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let mut beats = loop {
        match broker.bus.subscribe_heartbeats().await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to heartbeats yet; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut check = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            beat = beats.next() => match beat {
                Some(beat) => broker.registry.record(beat),
                None => return,
            },
            _ = check.tick() => explain_pending(&broker).await,
        }
    }
}

/// A run waiting on a segment that has no live worker says so in its message.
async fn explain_pending(broker: &Broker) {
    let Ok(pending) = broker.store.pending_segments().await else { return };
    for (action_run_id, segment) in pending {
        if broker.registry.live_in_segment(&segment).is_empty() {
            let message = format!("waiting for a worker in segment '{segment}': none is connected");
            if let Err(e) = broker.store.set_pending_message(action_run_id, &message).await {
                tracing::debug!(error = %e, "pending message not updated");
            }
        }
    }
}
