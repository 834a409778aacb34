//! One retry pace for every loop that waits for the bus or the store to come back:
//! a first pause that doubles after each wait up to a cap (optionally jittered, so a
//! fleet does not retry in lockstep), reset after a success. A wait ends early, and says
//! so, when the caller is stopping.
//!
//! ```
//! # async fn example(bus: &dyn outpost_bus::Bus, shutdown: tokio_util::sync::CancellationToken) {
//! use std::time::Duration;
//! use outpost_bus::retry::{Backoff, until_ok};
//!
//! let mut backoff = Backoff::fixed(Duration::from_secs(1));
//! let beats = until_ok(&mut backoff, &shutdown, || bus.subscribe_heartbeats(), |e, _| {
//!     tracing::warn!(error = %e, "cannot subscribe to heartbeats yet; retrying")
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

/// The pause before the next attempt, and how it grows.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The pause after a success, and the first one.
    first: Duration,
    /// Pauses never grow past this.
    max: Duration,
    /// The pause the next wait takes (before jitter).
    next: Duration,
    /// Whether each pause is spread over 80–120 %.
    jitter: bool,
}

impl Backoff {
    /// Pauses from `first`, doubling after each wait up to `max` (at least `first`).
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max: max.max(first), next: first, jitter: false }
    }

    /// The same pause every time.
    pub fn fixed(pause: Duration) -> Backoff {
        Backoff::new(pause, pause)
    }

    /// Spreads each pause over 80–120 % of itself.
    pub fn jittered(mut self) -> Backoff {
        self.jitter = true;
        self
    }

    /// The pause the next wait takes, before jitter (for "retry in" log fields).
    pub fn pause(&self) -> Duration {
        self.next
    }

    /// Starts again from the first pause, after a success.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Sleeps the next pause, then doubles it (up to the cap). Answers false, at once,
    /// when `stop` completes first.
    pub async fn wait_unless(&mut self, stop: impl Future) -> bool {
        let pause = if self.jitter { self.next.mul_f64(rand::thread_rng().gen_range(0.8..1.2)) } else { self.next };
        self.next = self.next.saturating_mul(2).min(self.max);
        tokio::select! {
            _ = stop => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }

    /// [`Backoff::wait_unless`] the token is cancelled.
    pub async fn wait(&mut self, cancel: &CancellationToken) -> bool {
        self.wait_unless(cancel.cancelled()).await
    }
}

/// Runs `attempt` until it succeeds, pausing by `backoff` between failures; `on_error`
/// hears each failure with the pause before the next try. `None` when `cancel` comes
/// first.
pub async fn until_ok<T, E, F, Fut>(
    backoff: &mut Backoff,
    cancel: &CancellationToken,
    mut attempt: F,
    mut on_error: impl FnMut(&E, Duration),
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    loop {
        match attempt().await {
            Ok(value) => {
                backoff.reset();
                return Some(value);
            }
            Err(e) => {
                on_error(&e, backoff.pause());
                if !backoff.wait(cancel).await {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_start_over_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let mut seen = vec![];
        for _ in 0..5 {
            seen.push(backoff.pause().as_millis());
            backoff.next = backoff.next.saturating_mul(2).min(backoff.max);
        }
        assert_eq!(seen, [100, 200, 400, 500, 500]);
        backoff.reset();
        assert_eq!(backoff.pause(), Duration::from_millis(100));
        assert_eq!(Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).max, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_retried_attempt_succeeds_after_the_failures_with_their_pauses() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(5));
        let mut failures = 0;
        let mut heard = vec![];
        let started = std::time::Instant::now();
        let got = until_ok(
            &mut backoff,
            &CancellationToken::new(),
            || {
                failures += 1;
                let outcome = if failures <= 3 { Err("down") } else { Ok(failures) };
                async move { outcome }
            },
            |e: &&str, pause| heard.push((e.to_string(), pause.as_millis())),
        )
        .await;
        assert_eq!(got, Some(4));
        assert_eq!(heard, [("down".to_string(), 10), ("down".to_string(), 20), ("down".to_string(), 40)]);
        assert!(started.elapsed() >= Duration::from_millis(70), "{:?}", started.elapsed());
        assert_eq!(backoff.pause(), Duration::from_millis(10), "a success starts over");
    }

    #[tokio::test]
    async fn stopping_ends_the_wait_at_once() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut backoff = Backoff::fixed(Duration::from_secs(3600));
        let started = std::time::Instant::now();
        let got: Option<()> = until_ok(&mut backoff, &cancel, || async { Err::<(), _>("down") }, |_, _| {}).await;
        assert_eq!(got, None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn jitter_keeps_each_pause_within_a_fifth() {
        for _ in 0..10 {
            let mut backoff = Backoff::fixed(Duration::from_millis(50)).jittered();
            let started = std::time::Instant::now();
            assert!(backoff.wait_unless(std::future::pending::<()>()).await);
            let slept = started.elapsed();
            assert!(slept >= Duration::from_millis(40) && slept <= Duration::from_millis(500), "{slept:?}");
        }
    }
}
