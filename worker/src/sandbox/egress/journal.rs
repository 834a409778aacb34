//! What one run did on the network: the journal of its requests (as
//! `TaskResult.http` carries them, and the first denial, which decides the run's
//! message), kept in the run's egress state next to its policy.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use outpost_proto::v1::HttpExchange;

use super::policy::EgressPolicy;
use super::transport::EgressNet;

/// Bounds on what one run records, so a connector looping over requests cannot grow
/// the result without limit.
const MAX_RECORDED_EXCHANGES: usize = 1000;

/// What one run did on the network: every request in order, and the first denial.
#[derive(Debug, Default)]
pub struct Journal {
    /// One entry per request, as `TaskResult.http` carries it.
    pub exchanges: Vec<HttpExchange>,
    /// `(url, reason)` of the first refused request: it decides the run's message.
    pub first_denial: Option<(String, String)>,
    /// Requests made after the journal was full (1000 entries), not recorded.
    pub unrecorded: u32,
}

/// The egress state of one run, shared between the store's hooks and the request
/// futures they spawn (which outlive a `&mut` borrow of the store).
pub struct EgressRun {
    /// The worker's settings and TLS client, shared by every run.
    pub(super) net: Arc<EgressNet>,
    /// Where this run's asset lets the connector go.
    pub(super) policy: EgressPolicy,
    /// What happened so far; taken once the run ends.
    journal: Mutex<Journal>,
    /// Tags every log line about this run's requests.
    pub(super) task_id: String,
}

impl EgressRun {
    /// The egress state for a task with these (already templated) patterns.
    pub fn new(net: Arc<EgressNet>, patterns: &[String], task_id: &str) -> Arc<Self> {
        Arc::new(Self {
            net,
            policy: EgressPolicy::parse(patterns),
            journal: Mutex::new(Journal::default()),
            task_id: task_id.to_string(),
        })
    }

    /// Takes what was recorded so far.
    pub fn take_journal(&self) -> Journal {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts an entry; `None` when the journal is full.
    pub(super) fn begin(&self, method: &str, url: &str) -> Option<usize> {
        let mut journal = self.lock();
        if journal.exchanges.len() >= MAX_RECORDED_EXCHANGES {
            journal.unrecorded += 1;
            return None;
        }
        journal.exchanges.push(HttpExchange {
            method: method.to_string(),
            url: url.to_string(),
            ..HttpExchange::default()
        });
        Some(journal.exchanges.len() - 1)
    }

    pub(super) fn update(&self, entry: Option<usize>, f: impl FnOnce(&mut HttpExchange)) {
        if let Some(index) = entry
            && let Some(exchange) = self.lock().exchanges.get_mut(index)
        {
            f(exchange);
        }
    }

    pub(super) fn deny(&self, entry: Option<usize>, url: &str, reason: &str, started: Instant) {
        self.update(entry, |exchange| {
            exchange.denied = reason.to_string();
            exchange.duration_ms = millis(started.elapsed());
        });
        self.lock().first_denial.get_or_insert_with(|| (url.to_string(), reason.to_string()));
    }
}

/// A duration in whole milliseconds, as `HttpExchange` records it.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
