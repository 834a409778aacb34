//! Outpost keeps times as Unix milliseconds and formats them only at the edges: SOAR's
//! `2016-01-15T22:15:58.062000Z` on REST (and `2017-07-06 03:06:04.086355+00:00` in the
//! audit CSV), `google.protobuf.Timestamp` on gRPC. Every conversion lives here, so REST
//! and gRPC show one instant alike.

use chrono::{DateTime, Utc};

/// Current time as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// SOAR's timestamp: `2016-01-15T22:15:58.062000Z`.
pub fn iso(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A timestamp that may be unset: `None` when it is.
pub fn iso_opt(ms: Option<i64>) -> Option<String> {
    ms.map(iso)
}

/// The audit CSV's time (seed 002): `2017-07-06 03:06:04.086355+00:00`.
pub fn csv_time(ms: i64) -> String {
    utc(ms).format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
}

/// The calendar day (UTC) of an instant, `2017-07-06`.
pub fn day(ms: i64) -> chrono::NaiveDate {
    utc(ms).date_naive()
}

/// Parses an ISO 8601 date-time (`2016-01-16T19:18:00Z`; offsets, a space instead of `T`
/// and seed 004's `+00` accepted) into Unix ms.
pub fn parse_iso(text: &str) -> Option<i64> {
    let text = text.trim();
    let spaced = text.replacen(' ', "T", 1);
    [text.to_string(), format!("{text}:00"), spaced.clone(), format!("{spaced}:00")]
        .iter()
        .find_map(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp_millis())
}

/// An instant as gRPC sends it.
pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as i32 }
}

/// An instant that may be unset, as gRPC sends it.
pub fn timestamp_opt(ms: Option<i64>) -> Option<prost_types::Timestamp> {
    ms.map(timestamp)
}

/// A gRPC timestamp as Unix ms (sub-millisecond digits dropped, out-of-range saturated).
pub fn from_timestamp(t: &prost_types::Timestamp) -> i64 {
    t.seconds.saturating_mul(1000).saturating_add(i64::from(t.nanos) / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_shows_soar_timestamps() {
        assert_eq!(iso(1_452_896_158_062), "2016-01-15T22:15:58.062000Z");
        assert_eq!(iso_opt(None), None);
        assert_eq!(csv_time(1_499_310_364_086), "2017-07-06 03:06:04.086000+00:00");
        assert_eq!(day(1_499_310_364_086).to_string(), "2017-07-06");
    }

    #[test]
    fn iso_times_parse_as_seeds_write_them() {
        assert_eq!(parse_iso("2016-01-15T22:15:58.062000Z"), Some(1_452_896_158_062));
        assert_eq!(parse_iso("2016-01-16 19:18:00+00"), parse_iso("2016-01-16T19:18:00Z"));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn grpc_timestamps_round_trip_before_and_after_the_epoch() {
        for ms in [0, 1_452_896_158_062, -1, -1_001] {
            assert_eq!(from_timestamp(&timestamp(ms)), ms);
        }
        assert_eq!(timestamp(-1), prost_types::Timestamp { seconds: -1, nanos: 999_000_000 });
    }
}
