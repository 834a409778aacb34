//! What the host lends a connector besides logging and HTTP: progress messages,
//! per-asset state, and sleeping without burning the CPU deadline.

use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::outpost::connector::host;

/// SOAR's `save_progress`: a message clients see while the action runs.
pub fn save_progress(message: impl AsRef<str>) {
    host::save_progress(message.as_ref());
}

/// SOAR's `load_state`: this asset's saved state, or `T::default()` when nothing was
/// saved yet.
pub fn load_state<T: DeserializeOwned + Default>() -> crate::Result<T> {
    let json = host::load_state();
    if json.trim() == "{}" {
        return Ok(T::default());
    }
    serde_json::from_str(&json).context("the saved state does not match the expected shape")
}

/// SOAR's `save_state`: replaces this asset's state. `state` must serialize to a JSON
/// object; the host refuses one that is too large.
pub fn save_state<T: Serialize>(state: &T) -> crate::Result<()> {
    let json = serde_json::to_string(state).context("cannot serialize the state")?;
    anyhow::ensure!(json.starts_with('{'), "the state must be a JSON object");
    host::save_state(&json).map_err(|reason| anyhow::anyhow!("the host refused the state: {reason}"))
}

/// Sleeps for `duration` by blocking on a `wasi:clocks` monotonic-clock pollable, so
/// the instance waits in the host instead of spinning.
pub fn sleep(duration: Duration) {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    wasi::clocks::monotonic_clock::subscribe_duration(nanos).block();
}
