//! The worker registry: who is alive, where, and how busy, from worker heartbeats.
//!
//! A worker is *alive* while its heartbeats are fresh (within `stale_after`), draining
//! or not, and *live* while alive and not draining: only live workers take tasks. A
//! silent worker is kept (health shows it `stopped`) until [`FORGET_AFTER`], then
//! forgotten.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use outpost_bus::retry::{Backoff, until_ok};
use outpost_proto::time::now_ms;
use outpost_proto::v1::Heartbeat;
use tokio_util::sync::CancellationToken;

use crate::Broker;

/// A crashed worker stays visible (as `stopped` in health) this long, then is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// How often the registry explains waiting runs and forgets long-silent workers.
const CHECK_EVERY: Duration = Duration::from_secs(2);

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
        self.record_at(heartbeat, now_ms());
    }

    fn record_at(&self, heartbeat: Heartbeat, seen_ms: i64) {
        let info = WorkerInfo { last_seen_ms: seen_ms, heartbeat };
        self.workers.lock().expect("registry lock").insert(info.heartbeat.node_guid.clone(), info);
    }

    /// Whether a worker was heard from recently, draining or not.
    pub fn is_alive(&self, info: &WorkerInfo) -> bool {
        now_ms() - info.last_seen_ms <= self.stale_after.as_millis() as i64
    }

    /// Whether a worker was heard from recently and is not draining: it takes tasks.
    pub fn is_live(&self, info: &WorkerInfo) -> bool {
        self.is_alive(info) && !info.heartbeat.draining
    }

    /// Every worker heard from within [`FORGET_AFTER`], by node_guid.
    pub fn workers(&self) -> BTreeMap<String, WorkerInfo> {
        self.workers.lock().expect("registry lock").iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Alive workers of a segment (draining ones included), by node_guid.
    pub fn alive_in_segment(&self, segment: &str) -> Vec<WorkerInfo> {
        self.workers().into_values().filter(|w| w.heartbeat.segment == segment && self.is_alive(w)).collect()
    }

    /// Alive workers (draining ones included) grouped by segment, each group by
    /// node_guid, from one look at the registry.
    pub fn alive_by_segment(&self) -> HashMap<String, Vec<WorkerInfo>> {
        let mut by_segment: HashMap<String, Vec<WorkerInfo>> = HashMap::new();
        for info in self.workers().into_values().filter(|w| self.is_alive(w)) {
            by_segment.entry(info.heartbeat.segment.clone()).or_default().push(info);
        }
        by_segment
    }

    /// Live workers serving a segment.
    pub fn live_in_segment(&self, segment: &str) -> Vec<WorkerInfo> {
        self.workers().into_values().filter(|w| w.heartbeat.segment == segment && self.is_live(w)).collect()
    }

    /// Forgets workers silent for longer than [`FORGET_AFTER`]: autoscaled workers get a
    /// new node_guid each, so without this the registry would grow with every one ever
    /// started. Answers how many were forgotten.
    pub fn forget_silent(&self) -> usize {
        self.forget_silent_at(now_ms())
    }

    fn forget_silent_at(&self, now: i64) -> usize {
        let horizon = FORGET_AFTER.as_millis() as i64;
        let mut workers = self.workers.lock().expect("registry lock");
        let before = workers.len();
        workers.retain(|_, w| now - w.last_seen_ms <= horizon);
        before - workers.len()
    }
}

/// Feeds the registry from the heartbeat broadcast, tells pending runs why they wait,
/// and forgets long-silent workers.
pub async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let subscribed = until_ok(
        &mut Backoff::fixed(Duration::from_secs(1)),
        &shutdown,
        || broker.bus.subscribe_heartbeats(),
        |e, _| tracing::warn!(error = %e, "cannot subscribe to heartbeats yet; retrying"),
    )
    .await;
    let Some(mut beats) = subscribed else { return };
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            beat = beats.next() => match beat {
                Some(beat) => broker.registry.record(beat),
                None => return,
            },
            _ = check.tick() => {
                explain_pending(&broker).await;
                let forgotten = broker.registry.forget_silent();
                if forgotten > 0 {
                    tracing::info!(forgotten, "forgot workers silent for an hour");
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(guid: &str, segment: &str, draining: bool) -> Heartbeat {
        Heartbeat { node_guid: guid.into(), segment: segment.into(), draining, ..Default::default() }
    }

    #[test]
    fn alive_includes_draining_workers_live_does_not() {
        let registry = Registry::new(Duration::from_secs(10));
        registry.record(beat("a", "dmz", false));
        registry.record(beat("b", "dmz", true));
        registry.record_at(beat("c", "dmz", false), now_ms() - 60_000);
        registry.record(beat("d", "default", false));
        let guids = |workers: Vec<WorkerInfo>| workers.into_iter().map(|w| w.heartbeat.node_guid).collect::<Vec<_>>();
        assert_eq!(guids(registry.alive_in_segment("dmz")), ["a", "b"]);
        assert_eq!(guids(registry.live_in_segment("dmz")), ["a"]);
        assert_eq!(registry.workers().len(), 4, "the silent one is still remembered");
        let by_segment = registry.alive_by_segment();
        assert_eq!(by_segment.len(), 2);
        assert_eq!(guids(by_segment["dmz"].clone()), ["a", "b"]);
        assert_eq!(guids(by_segment["default"].clone()), ["d"]);
    }

    #[test]
    fn workers_silent_past_the_horizon_are_forgotten() {
        let registry = Registry::new(Duration::from_secs(10));
        let now = now_ms();
        let horizon = FORGET_AFTER.as_millis() as i64;
        registry.record_at(beat("gone", "dmz", false), now - horizon - 1);
        registry.record_at(beat("stopped", "dmz", false), now - horizon + 60_000);
        registry.record_at(beat("fresh", "dmz", false), now);
        assert_eq!(registry.forget_silent_at(now), 1);
        assert_eq!(registry.workers().keys().cloned().collect::<Vec<_>>(), ["fresh", "stopped"]);
        assert_eq!(registry.forget_silent_at(now), 0);
    }
}
