//! SOAR's timestamp format: ISO 8601 in UTC with microseconds, e.g.
//! `2016-01-15T22:15:58.062000Z`.
//!
//! Outpost keeps times as Unix milliseconds internally and formats them only at the
//! edges.

/// Current time as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
