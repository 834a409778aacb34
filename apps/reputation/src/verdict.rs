//! The summary of a VirusTotal object, from `attributes.last_analysis_stats`, with the
//! keys SOAR's VirusTotal v3 app uses.

use serde::Serialize;
use serde_json::Value;

/// Counts of the engines' last analysis.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// SOAR's name for the malicious count.
    pub total_positives: u64,
    pub malicious: u64,
    pub suspicious: u64,
    pub harmless: u64,
    pub undetected: u64,
    /// Every count of the stats added up (timeouts and unsupported types included).
    pub total_scans: u64,
}

impl Verdict {
    /// Reads the counts out of a `data` object; missing counts are 0.
    pub fn of(data: &Value) -> Verdict {
        let stats = data.pointer("/attributes/last_analysis_stats");
        let count = |name: &str| stats.and_then(|s| s.get(name)).and_then(Value::as_u64).unwrap_or(0);
        let total_scans = stats
            .and_then(Value::as_object)
            .map_or(0, |s| s.values().filter_map(Value::as_u64).sum());
        Verdict {
            total_positives: count("malicious"),
            malicious: count("malicious"),
            suspicious: count("suspicious"),
            harmless: count("harmless"),
            undetected: count("undetected"),
            total_scans,
        }
    }

    /// `Malicious: 3, Suspicious: 0, Harmless: 60, Undetected: 10`.
    pub fn message(&self) -> String {
        format!(
            "Malicious: {}, Suspicious: {}, Harmless: {}, Undetected: {}",
            self.malicious, self.suspicious, self.harmless, self.undetected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_come_from_the_last_analysis() {
        let data = json!({"id": "x", "type": "file", "attributes": {"last_analysis_stats": {
            "malicious": 3, "suspicious": 0, "harmless": 60, "undetected": 10, "timeout": 1, "type-unsupported": 2
        }}});
        let verdict = Verdict::of(&data);
        assert_eq!(
            verdict,
            Verdict {
                total_positives: 3,
                malicious: 3,
                suspicious: 0,
                harmless: 60,
                undetected: 10,
                total_scans: 76
            }
        );
        assert_eq!(
            verdict.message(),
            "Malicious: 3, Suspicious: 0, Harmless: 60, Undetected: 10"
        );
    }

    #[test]
    fn an_object_without_stats_counts_zero() {
        assert_eq!(Verdict::of(&json!({"attributes": {}})), Verdict::default());
    }
}
