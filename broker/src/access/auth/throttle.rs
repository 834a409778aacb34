//! Slowing down guessing: failed sign-ins per user name and per source address, the
//! locks they start (doubling with each further failure), and the attempts refused
//! while locked, kept to be recorded once per lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed per user name; the next ones lock the name for a while.
pub const FREE_FAILURES_PER_USER: u32 = 5;
/// Failed sign-ins allowed per source address (password spraying across names).
pub const FREE_FAILURES_PER_SOURCE: u32 = 20;
/// The first lock; each further failure doubles it, up to [`MAX_LOCK`].
pub const FIRST_LOCK: Duration = Duration::from_secs(1);
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
pub(super) const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);
/// Beyond this many tracked names and addresses, forgotten ones are pruned.
pub(super) const MAX_TRACKED: usize = 10_000;

/// Recent failures of one user name or source address.
struct Failures {
    /// Failures within [`FAILURE_MEMORY`] of each other.
    count: u32,
    /// The latest failure; older than `FAILURE_MEMORY`, the count restarts.
    last: Instant,
    /// Attempts before this are refused without checking the credentials.
    locked_until: Option<Instant>,
}

/// Attempts refused during one lock of one user name or address, recorded as one audit
/// record once the lock is over, so a flood of attempts cannot flood the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// `user:<name>` or `ip:<address>`.
    pub key: String,
    /// `login` (Basic) or `token`, as the first refused attempt was.
    pub kind: &'static str,
    /// How many attempts the lock refused.
    pub count: u32,
    /// The user name as the latest refused attempt gave it, for a `user:` key.
    pub username: Option<String>,
    /// Where the latest refused attempt came from.
    pub ip: Option<IpAddr>,
    /// When the lock ends; the refusals are recorded after that.
    until: Instant,
}

/// Slows down guessing: after a number of failures, each further failure locks the
/// user name (or address) for twice as long as the last, up to [`MAX_LOCK`].
#[derive(Default)]
pub(super) struct Throttle {
    /// By `user:<name>` and `ip:<address>`.
    failures: Mutex<HashMap<String, Failures>>,
    /// Refusals of current and ended locks not yet recorded, by key.
    refused: Mutex<HashMap<String, Refusals>>,
}

impl Throttle {
    /// The longest remaining lock among `keys`; when there is one, the attempt counts as
    /// refused against every key that is locked.
    pub(super) fn refuse(
        &self,
        keys: &[(String, u32)],
        kind: &'static str,
        username: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Option<Duration> {
        let now = Instant::now();
        let locks: Vec<(String, Instant)> = {
            let map = self.failures.lock().expect("throttle lock");
            keys.iter()
                .filter_map(|(key, _)| {
                    let until = map.get(key)?.locked_until.filter(|u| *u > now)?;
                    Some((key.clone(), until))
                })
                .collect()
        };
        let mut refused = self.refused.lock().expect("throttle lock");
        for (key, until) in &locks {
            let entry = refused.entry(key.clone()).or_insert(Refusals {
                key: key.clone(),
                kind,
                count: 0,
                username: None,
                ip,
                until: *until,
            });
            entry.count += 1;
            entry.ip = ip;
            entry.username = username.filter(|_| key.starts_with("user:")).map(str::to_string);
            entry.until = entry.until.max(*until);
        }
        locks.iter().map(|(_, until)| until.duration_since(now)).max()
    }

    /// Takes the refusals of locks that are over.
    pub(super) fn ended(&self) -> Vec<Refusals> {
        self.ended_by(Instant::now())
    }

    /// Takes the refusals of locks over by `at` (far ahead: every lock, at shutdown).
    pub(super) fn ended_by(&self, at: Instant) -> Vec<Refusals> {
        let mut refused = self.refused.lock().expect("throttle lock");
        if refused.is_empty() {
            return vec![];
        }
        let ended: Vec<String> = refused.values().filter(|r| r.until <= at).map(|r| r.key.clone()).collect();
        let mut out: Vec<Refusals> = ended.iter().filter_map(|key| refused.remove(key)).collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Counts a failure against each `(key, free failures)`; answers the lock it started.
    pub(super) fn fail(&self, keys: &[(String, u32)]) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() > MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY || f.locked_until.is_some_and(|u| u > now));
        }
        let mut started: Option<Duration> = None;
        for (key, free) in keys {
            let entry = map.entry(key.clone()).or_insert(Failures { count: 0, last: now, locked_until: None });
            if now.duration_since(entry.last) >= FAILURE_MEMORY {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count >= *free {
                let doublings = (entry.count - free).min(20);
                let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
                entry.locked_until = Some(now + lock);
                started = Some(started.map_or(lock, |s| s.max(lock)));
            }
        }
        started
    }

    pub(super) fn succeed(&self, key: &str) {
        self.failures.lock().expect("throttle lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_refused_during_a_lock_are_counted_once_per_lock() {
        let throttle = Throttle::default();
        let keys = vec![("user:erin".to_string(), FREE_FAILURES_PER_USER), ("ip:10.0.0.1".to_string(), 100)];
        let ip = Some("10.0.0.1".parse().unwrap());
        assert_eq!(throttle.refuse(&keys, "login", Some("Erin"), ip), None, "nothing locked yet");
        let until = Instant::now() + Duration::from_millis(50);
        throttle.failures.lock().unwrap().insert(
            "user:erin".into(),
            Failures { count: FREE_FAILURES_PER_USER, last: Instant::now(), locked_until: Some(until) },
        );
        for _ in 0..1000 {
            assert!(throttle.refuse(&keys, "login", Some("Erin"), ip).is_some());
        }
        assert!(throttle.ended().is_empty(), "recorded once the lock is over");
        std::thread::sleep(Duration::from_millis(60));
        let ended = throttle.ended();
        assert_eq!(ended.len(), 1, "one entry for the locked name, none for the unlocked address");
        assert_eq!((ended[0].key.as_str(), ended[0].count, ended[0].kind), ("user:erin", 1000, "login"));
        assert_eq!(ended[0].username.as_deref(), Some("Erin"));
        assert!(throttle.ended().is_empty(), "taken once");
    }
}
