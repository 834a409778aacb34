//! Result assembly: how parameter-set results become an app run's and an action run's
//! status, message and summary, in SOAR's formats.
//!
//! - App run message, byte for byte as SOAR writes it:
//!   `'<action run name>' on asset '<asset name>': 1 action succeeded. (1)For Parameter: {<parameter JSON, keys sorted, compact>} Message: "<result message>"`
//!   with one `(n)For Parameter: ... Message: "..."` entry per parameter set, joined by `, `.
//! - `result_summary`: `total_objects` and `total_objects_successful`, then the app's own
//!   summary keys merged across parameter sets (numbers summed, anything else: the last
//!   parameter set's value).
//! - Status: an app run succeeds when at least one of its parameter sets succeeded (SOAR's
//!   rule); an action run succeeds when every app run did and it was not cancelled. The
//!   messages name what failed either way.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// The status of an action run, an app run or one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Running,
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Success => "success",
            Status::Failed => "failed",
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Success | Status::Failed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "pending" => Ok(Status::Pending),
            "running" => Ok(Status::Running),
            "success" => Ok(Status::Success),
            "failed" => Ok(Status::Failed),
            _ => Err(()),
        }
    }
}

/// One parameter set's recorded result, as assembly needs it.
#[derive(Debug, Clone)]
pub struct ParameterOutcome {
    pub parameter: Value,
    pub status: Status,
    pub message: String,
    pub summary: Value,
    pub exception: bool,
}

/// What a finished app run shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRunDone {
    pub status: Status,
    pub message: String,
    pub summary: Value,
    pub exception: bool,
}

/// Compact JSON with object keys sorted at every depth, as SOAR prints parameters.
pub fn sorted_json(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

/// "1 action succeeded", "3 actions failed", "2 actions succeeded, 1 action failed".
fn counts(succeeded: usize, failed: usize) -> String {
    let noun = |n: usize| if n == 1 { "action" } else { "actions" };
    match (succeeded, failed) {
        (s, 0) => format!("{s} {} succeeded", noun(s)),
        (0, f) => format!("{f} {} failed", noun(f)),
        (s, f) => format!("{s} {} succeeded, {f} {} failed", noun(s), noun(f)),
    }
}

/// Assembles a finished app run from its parameter sets' results, in index order.
pub fn app_run(run_name: &str, asset_name: &str, results: &[ParameterOutcome]) -> AppRunDone {
    let succeeded = results.iter().filter(|r| r.status == Status::Success).count();
    let failed = results.len() - succeeded;
    let entries: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(i, r)| format!("({})For Parameter: {} Message: \"{}\"", i + 1, sorted_json(&r.parameter), r.message))
        .collect();
    let message =
        format!("'{run_name}' on asset '{asset_name}': {}. {}", counts(succeeded, failed), entries.join(", "));

    let mut summary = Map::new();
    summary.insert("total_objects".into(), results.len().into());
    summary.insert("total_objects_successful".into(), succeeded.into());
    for result in results {
        let Value::Object(own) = &result.summary else { continue };
        for (key, value) in own {
            if key == "total_objects" || key == "total_objects_successful" {
                continue;
            }
            let merged = match (summary.get(key), value) {
                (Some(Value::Number(a)), Value::Number(b)) => add_numbers(a, b),
                _ => value.clone(),
            };
            summary.insert(key.clone(), merged);
        }
    }
    AppRunDone {
        status: if succeeded > 0 { Status::Success } else { Status::Failed },
        message,
        summary: Value::Object(summary),
        exception: results.iter().any(|r| r.exception),
    }
}

fn add_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Value {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.checked_add(y).map(Value::from).unwrap_or_else(|| Value::from(x as f64 + y as f64)),
        _ => serde_json::Number::from_f64(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
            .map(Value::Number)
            .unwrap_or(Value::Null),
    }
}

/// One parameter set of an action run, as its message needs it.
#[derive(Debug, Clone)]
pub struct ParameterRef {
    pub asset: String,
    /// 0-based parameter index within its app run.
    pub index: u32,
    pub status: Status,
    pub message: String,
}

/// What a finished action run shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRunDone {
    pub status: Status,
    pub message: String,
}

/// How many failed parameter sets an action run's message names.
const NAMED_FAILURES: usize = 5;

/// Assembles a finished action run from its app runs' statuses and its parameter sets:
/// "3 actions succeeded", or the counts and which failed.
pub fn action_run(cancelled: &str, app_runs: &[Status], results: &[ParameterRef]) -> ActionRunDone {
    let failed: Vec<&ParameterRef> = results.iter().filter(|r| r.status != Status::Success).collect();
    let succeeded = results.len() - failed.len();
    let mut message = if succeeded > 0 && failed.is_empty() {
        // SOAR writes the plural even for one: "1 actions succeeded".
        format!("{succeeded} actions succeeded")
    } else {
        counts(succeeded, failed.len())
    };
    if !failed.is_empty() {
        let named: Vec<String> = failed
            .iter()
            .take(NAMED_FAILURES)
            .map(|r| format!("asset '{}' parameter ({}): \"{}\"", r.asset, r.index + 1, r.message))
            .collect();
        message.push_str(". Failed: ");
        message.push_str(&named.join("; "));
        if failed.len() > NAMED_FAILURES {
            message.push_str(&format!("; and {} more", failed.len() - NAMED_FAILURES));
        }
    }
    if !cancelled.is_empty() {
        message = format!("Cancelled ({cancelled}). {message}");
    }
    let every_app_run_succeeded = !app_runs.is_empty() && app_runs.iter().all(|s| *s == Status::Success);
    let status = if cancelled.is_empty() && every_app_run_succeeded { Status::Success } else { Status::Failed };
    ActionRunDone { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(parameter: Value, message: &str, summary: Value) -> ParameterOutcome {
        ParameterOutcome { parameter, status: Status::Success, message: message.into(), summary, exception: false }
    }

    #[test]
    fn one_parameter_message_matches_soar_byte_for_byte() {
        let parameter = json!({
            "ip": "3.216.107.103",
            "context": {"parent_action_run": [], "guid": "b691d246-aa6c-49f6-bf71-adc8db6b9350", "artifact_id": 0}
        });
        let done = app_run("DSP", "virustotal", &[ok(parameter, "Detected urls: 0", json!({"total_positives": 0}))]);
        assert_eq!(
            done.message,
            r#"'DSP' on asset 'virustotal': 1 action succeeded. (1)For Parameter: {"context":{"artifact_id":0,"guid":"b691d246-aa6c-49f6-bf71-adc8db6b9350","parent_action_run":[]},"ip":"3.216.107.103"} Message: "Detected urls: 0""#
        );
        assert_eq!(done.summary, json!({"total_objects": 1, "total_objects_successful": 1, "total_positives": 0}));
        assert_eq!(done.status, Status::Success);
    }

    #[test]
    fn several_parameters_are_numbered_and_summaries_merged() {
        let results = vec![
            ok(json!({"ip": "1.1.1.1"}), "Country: Australia", json!({"country": "Australia", "hits": 1})),
            ParameterOutcome {
                parameter: json!({"ip": "x"}),
                status: Status::Failed,
                message: "'x' is not a valid IPv4 or IPv6 address".into(),
                summary: json!({}),
                exception: false,
            },
            ok(json!({"ip": "8.8.8.8"}), "Country: United States", json!({"country": "United States", "hits": 2})),
        ];
        let done = app_run("user initiated geolocate ip action", "geoip", &results);
        assert!(done.message.starts_with("'user initiated geolocate ip action' on asset 'geoip': 2 actions succeeded, 1 action failed. (1)For Parameter: {\"ip\":\"1.1.1.1\"} Message: \"Country: Australia\", (2)For Parameter:"));
        assert_eq!(
            done.summary,
            json!({"total_objects": 3, "total_objects_successful": 2, "country": "United States", "hits": 3})
        );
        assert_eq!(done.status, Status::Success);
        assert!(!done.exception);
    }

    #[test]
    fn all_failed_is_failed_and_exceptions_show() {
        let mut r = ok(json!({}), "the connector trapped", json!({}));
        r.status = Status::Failed;
        r.exception = true;
        let done = app_run("n", "a", &[r]);
        assert_eq!(done.status, Status::Failed);
        assert!(done.exception);
        assert!(done.message.contains(": 1 action failed. (1)For Parameter: {} Message: \"the connector trapped\""));
    }

    #[test]
    fn action_run_messages() {
        let r = |status, index| ParameterRef { asset: "geo".into(), index, status, message: "m".into() };
        let ok = [Status::Success];
        assert_eq!(action_run("", &ok, &[r(Status::Success, 0)]).message, "1 actions succeeded");
        let three = action_run("", &ok, &[r(Status::Success, 0), r(Status::Success, 1), r(Status::Success, 2)]);
        assert_eq!(three.message, "3 actions succeeded");
        assert_eq!(three.status, Status::Success);
        // One app run with one of two parameter sets failed: SOAR counts it a success,
        // and the message says what failed.
        let mixed = action_run("", &ok, &[r(Status::Success, 0), r(Status::Failed, 1)]);
        assert_eq!(mixed.status, Status::Success);
        assert_eq!(mixed.message, "1 action succeeded, 1 action failed. Failed: asset 'geo' parameter (2): \"m\"");
        let one_app_run_failed =
            action_run("", &[Status::Success, Status::Failed], &[r(Status::Success, 0), r(Status::Failed, 0)]);
        assert_eq!(one_app_run_failed.status, Status::Failed);
        let cancelled = action_run("cancelled by admin", &ok, &[r(Status::Success, 0)]);
        assert_eq!(cancelled.status, Status::Failed);
        assert!(cancelled.message.starts_with("Cancelled (cancelled by admin). "));
        let many: Vec<_> = (0..8).map(|i| r(Status::Failed, i)).collect();
        assert!(action_run("", &[Status::Failed], &many).message.ends_with("; and 3 more"));
    }

    #[test]
    fn status_round_trip() {
        for s in [Status::Pending, Status::Running, Status::Success, Status::Failed] {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        assert!("done".parse::<Status>().is_err());
    }
}
