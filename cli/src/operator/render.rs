//! What the operator commands print: tables for people (comfy-table, fitted to the
//! terminal's width when there is one) and JSON for scripts, where every JSON-in-a-string
//! field of the gRPC messages (`parameter_json`, `manifest_json`, ...) is parsed back
//! into JSON.

use comfy_table::{ContentArrangement, Table, presets};
use outpost_proto::v1 as pb;
use serde_json::{Value, json};

/// A table with a header row, as wide as the terminal (unbounded when piped).
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED).set_header(header.iter().copied());
    if let Some((_, columns)) = console::Term::stdout().size_checked() {
        table.set_content_arrangement(ContentArrangement::Dynamic).set_width(columns);
    }
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// Prints a JSON document, pretty.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// At most `max` characters, with an ellipsis when cut: long messages stay on one line
/// of a table (`--json` has them whole).
pub fn clip(text: &str, max: usize) -> String {
    let text = text.replace(['\n', '\r'], " ");
    if text.chars().count() <= max {
        return text;
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `2026-12-02 10:04:05`, UTC; empty when unset.
pub fn when(time: &Option<prost_types::Timestamp>) -> String {
    let Some(time) = time else { return String::new() };
    let text = time.to_string();
    let text = text.split('.').next().unwrap_or(&text).trim_end_matches('Z');
    text.replacen('T', " ", 1)
}

/// An RFC 3339 time from REST (`2026-12-02T10:04:05.661000Z`) as [`when`] writes it.
pub fn when_text(rfc3339: &str) -> String {
    let text = rfc3339.split('.').next().unwrap_or(rfc3339).trim_end_matches('Z');
    text.replacen('T', " ", 1)
}

/// RFC 3339, or null.
fn time_json(time: &Option<prost_types::Timestamp>) -> Value {
    time.as_ref().map(|t| Value::String(t.to_string())).unwrap_or(Value::Null)
}

/// A JSON text field parsed back; the text itself should it not be JSON.
fn parsed(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// A parameter set as people think of it: without the context SOAR adds to each.
pub fn parameters_shown(parameter_json: &str) -> String {
    match parsed(parameter_json) {
        Value::Object(mut fields) => {
            fields.remove("context");
            Value::Object(fields).to_string()
        }
        other => other.to_string(),
    }
}

pub fn action_run_json(run: &pb::ActionRun) -> Value {
    json!({
        "id": run.id,
        "name": run.name,
        "action": run.action,
        "status": run.status,
        "message": run.message,
        "progress": run.progress,
        "cancelled": run.cancelled,
        "container": run.container,
        "type": run.r#type,
        "creator": run.creator,
        "create_time": time_json(&run.create_time),
        "start_time": time_json(&run.start_time),
        "close_time": time_json(&run.close_time),
        "targets": parsed(&run.targets_json),
    })
}

pub fn action_result_json(result: &pb::ActionResult) -> Value {
    json!({
        "status": result.status,
        "message": result.message,
        "parameter": parsed(&result.parameter_json),
        "data": parsed(&result.data_json),
        "summary": parsed(&result.summary_json),
    })
}

pub fn app_run_json(run: &pb::AppRun, asset_name: &str) -> Value {
    json!({
        "id": run.id,
        "action_run": run.action_run,
        "action": run.action,
        "asset": run.asset,
        "asset_name": asset_name,
        "app": run.app,
        "app_name": run.app_name,
        "app_version": run.app_version,
        "status": run.status,
        "message": run.message,
        "exception_occured": run.exception_occured,
        "node_guid": run.node_guid,
        "start_time": time_json(&run.start_time),
        "end_time": time_json(&run.end_time),
        "result_summary": parsed(&run.result_summary_json),
        "result_data": run.result_data.iter().map(action_result_json).collect::<Vec<_>>(),
    })
}

pub fn app_json(app: &pb::App) -> Value {
    json!({
        "id": app.id,
        "appid": app.appid,
        "name": app.name,
        "app_version": app.app_version,
        "product_vendor": app.product_vendor,
        "product_name": app.product_name,
        "publisher": app.publisher,
        "description": app.description,
        "digest": app.digest,
        "actions": action_names(app),
        "known_versions": app.known_versions,
        "create_time": time_json(&app.create_time),
        "update_time": time_json(&app.update_time),
    })
}

/// The actions an app's manifest declares.
pub fn action_names(app: &pb::App) -> Vec<String> {
    let manifest = parsed(&app.manifest_json);
    manifest["actions"]
        .as_array()
        .map(|actions| actions.iter().filter_map(|a| a["action"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

pub fn asset_json(asset: &pb::Asset) -> Value {
    json!({
        "id": asset.id,
        "name": asset.name,
        "app": asset.app,
        "app_name": asset.app_name,
        "product_vendor": asset.product_vendor,
        "product_name": asset.product_name,
        "description": asset.description,
        "configuration": parsed(&asset.configuration_json),
        "automation_broker_id": asset.automation_broker_id,
        "timeout_secs": asset.timeout_secs,
        "tags": asset.tags,
        "create_time": time_json(&asset.create_time),
        "update_time": time_json(&asset.update_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_clipped_on_one_line() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("line one\nline two", 40), "line one line two");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn times_read_as_utc_date_and_time() {
        let time = Some(prost_types::Timestamp { seconds: 1_764_669_845, nanos: 120_000_000 });
        assert_eq!(when(&time), "2025-12-02 10:04:05");
        assert_eq!(when(&None), "");
        assert_eq!(when_text("2026-12-02T01:49:55.661000Z"), "2026-12-02 01:49:55");
    }

    #[test]
    fn parameters_are_shown_without_their_context() {
        let shown = parameters_shown(r#"{"context":{"guid":"x"},"ip":"8.8.8.8"}"#);
        assert_eq!(shown, r#"{"ip":"8.8.8.8"}"#);
    }

    #[test]
    fn json_fields_are_parsed_back_and_bad_ones_kept_as_text() {
        assert_eq!(parsed(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(parsed("not json"), json!("not json"));
        assert_eq!(parsed(""), Value::Null);
    }
}
