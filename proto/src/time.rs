//! Outpost keeps times as Unix milliseconds and formats them only at the edges (SOAR's
//! `2016-01-15T22:15:58.062000Z` on REST, `google.protobuf.Timestamp` on gRPC).

/// Current time as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
