//! The JSON shapes of SOAR's records, field for field as the seed documents show them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::store::Listing;
use crate::store::apps::App;
use crate::store::assets::Asset;
use crate::store::containers::Container;
use crate::store::runs::{ActionResult, ActionRun, AppRun};

/// What a secret field shows instead of its value.
pub const MASK: &str = "********";

/// SOAR's timestamp: `2016-01-15T22:15:58.062000Z`.
pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A timestamp that may be unset: `null` when it is.
pub fn iso_opt(ms: Option<i64>) -> Value {
    ms.map(|ms| Value::String(iso(ms))).unwrap_or(Value::Null)
}

/// SOAR's list envelope.
pub fn listing<T>(listing: &Listing<T>, render: impl Fn(&T) -> Value) -> Value {
    json!({
        "count": listing.count,
        "num_pages": listing.num_pages,
        "data": listing.data.iter().map(render).collect::<Vec<_>>(),
    })
}

pub fn action_run(run: &ActionRun) -> Value {
    json!({
        "action": run.action,
        "assign_time": iso(run.assign_ms),
        "cancelled": run.cancelled,
        "cb_fn": "",
        "close_time": iso_opt(run.close_ms),
        "comment": "",
        "container": run.container_id,
        "create_time": iso(run.create_ms),
        "creator": run.creator,
        "due_time": iso(run.due_ms),
        "exec_delay_secs": run.exec_delay_secs,
        "exec_order": 0,
        "handle": "",
        "id": run.id,
        "message": run.message,
        "name": run.name,
        "owner": run.owner,
        "playbook": null,
        "playbook_run": null,
        "start_time": iso_opt(run.start_ms),
        "status": run.status.as_str(),
        "targets": run.targets,
        "type": run.action_type,
        "update_time": iso(run.update_ms),
        "version": run.version,
    })
}

/// An app run as `/rest/action_run/<id>/app_runs` lists it.
pub fn app_run_summary(run: &AppRun) -> Value {
    json!({
        "id": run.id,
        "action": run.action,
        "action_run": run.action_run_id,
        "asset": run.asset_id,
        "app": run.app_id,
        "app_name": run.app_name,
        "app_version": run.app_version,
        "container": run.container_id,
        "end_time": iso_opt(run.end_ms),
        "exception_occured": run.exception_occured,
        "message": run.message,
        "playbook_run": null,
        "start_time": iso_opt(run.start_ms),
        "status": run.status.as_str(),
        "version": run.version,
    })
}

/// An app run with every field of `/rest/app_run/<id>`.
pub fn app_run(run: &AppRun, results: &[ActionResult]) -> Value {
    let mut out = app_run_summary(run);
    let map = out.as_object_mut().expect("app run renders an object");
    map.insert("extra_data".into(), run.extra_data.clone());
    map.insert("result_summary".into(), run.result_summary.clone());
    map.insert("result_data".into(), Value::Array(results.iter().map(action_result).collect()));
    map.insert("effective_user".into(), json!(run.effective_user));
    map.insert("node_guid".into(), json!(run.node_guid));
    map.insert("automation_broker".into(), json!(run.automation_broker_id));
    out
}

pub fn action_result(result: &ActionResult) -> Value {
    json!({
        "data": result.data,
        "status": result.status.as_str(),
        "message": result.message,
        "summary": result.summary,
        "parameter": result.parameter,
    })
}

/// A container in seed 004's shape; unset times are `""` as the seed shows them.
pub fn container(c: &Container, owner_name: Option<&str>, asset_name: Option<&str>) -> Value {
    let time = |ms: Option<i64>| ms.map(iso).unwrap_or_default();
    json!({
        "id": c.id,
        "version": c.version,
        "label": c.label,
        "name": c.name,
        "source_data_identifier": c.source_data_identifier,
        "description": c.description,
        "status": c.status,
        "sensitivity": c.sensitivity,
        "severity": c.severity,
        "create_time": iso(c.create_ms),
        "start_time": iso(c.start_ms),
        "end_time": time(c.end_ms),
        "due_time": time(c.due_ms),
        "close_time": time(c.close_ms),
        "kill_chain": c.kill_chain,
        "owner": owner_name,
        "owner_id": c.owner_id,
        "hash": container_hash(c),
        "tags": c.tags,
        "asset": c.asset_id,
        "asset_name": asset_name.unwrap_or(""),
        "artifact_update_time": time(c.artifact_update_ms),
        "container_update_time": iso(c.update_ms),
        "ingest_app_id": c.ingest_app_id.map(|id| id.to_string()).unwrap_or_default(),
        "data": c.data,
        "custom_fields": c.custom_fields,
        "artifact_count": c.artifact_count,
    })
}

/// The hash of the container data as ingested, used by ingestion to spot duplicates.
fn container_hash(c: &Container) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(crate::assemble::sorted_json(&c.data).as_bytes());
    hex::encode(&digest[..16])
}

/// An asset with every `password` field masked.
pub fn asset(asset: &Asset, app: Option<&App>) -> Value {
    let secrets: Vec<&str> = app.map(|a| a.manifest.secret_fields()).unwrap_or_default();
    json!({
        "id": asset.id,
        "name": asset.name,
        "description": asset.description,
        "app": asset.app_id,
        "app_name": app.map(|a| a.name.clone()),
        "product_vendor": app.map(|a| a.manifest.product_vendor.clone()),
        "product_name": app.map(|a| a.manifest.product_name.clone()),
        "configuration": masked(&asset.configuration, &secrets),
        "automation_broker_id": asset.automation_broker_id,
        "tags": asset.tags,
        "type": "",
        "version": 1,
        "create_time": iso(asset.created_ms),
        "update_time": iso(asset.updated_ms),
    })
}

/// A configuration with the named secret fields masked.
pub fn masked(configuration: &Map<String, Value>, secrets: &[&str]) -> Value {
    Value::Object(
        configuration
            .iter()
            .map(|(k, v)| {
                let shown = if secrets.contains(&k.as_str()) && !v.is_null() { Value::String(MASK.into()) } else { v.clone() };
                (k.clone(), shown)
            })
            .collect(),
    )
}

pub fn app(app: &App) -> Value {
    let m = &app.manifest;
    json!({
        "id": app.id,
        "appid": app.appid,
        "name": app.name,
        "app_version": app.app_version,
        "description": m.description,
        "product_vendor": m.product_vendor,
        "product_name": m.product_name,
        "publisher": m.publisher,
        "license": m.license,
        "configuration": m.configuration,
        "actions": m.actions,
        "known_versions": app.known_versions,
        "digest": app.digest,
        "outpost": m.outpost,
        "created_time": iso(app.created_ms),
        "update_time": iso(app.updated_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_soar_iso() {
        assert_eq!(iso(1_452_896_158_062), "2016-01-15T22:15:58.062000Z");
        assert_eq!(iso_opt(None), Value::Null);
    }

    #[test]
    fn secrets_are_masked() {
        let config = json!({"base_url": "https://x", "apikey": "s3cret", "unset": null});
        let shown = masked(config.as_object().unwrap(), &["apikey", "unset"]);
        assert_eq!(shown, json!({"base_url": "https://x", "apikey": MASK, "unset": null}));
    }
}
