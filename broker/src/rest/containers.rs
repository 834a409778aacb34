//! `/rest/container`: the containers action runs operate on (seed 004's schema).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use outpost_proto::OutpostError;
use serde_json::{Map, Value, json};

use super::input::{self, Fields};
use super::{ApiResult, render};
use crate::Broker;
use crate::audit::{self, AuditObject};
use crate::auth::Principal;
use crate::store::containers::{Container, ContainerFields};

pub const STATUSES: &[&str] = &["new", "open", "closed"];
pub const SEVERITIES: &[&str] = &["low", "medium", "high"];
pub const SENSITIVITIES: &[&str] = &["red", "amber", "green", "white"];

const FIELDS: &[&str] = &[
    "name",
    "label",
    "description",
    "status",
    "severity",
    "sensitivity",
    "source_data_identifier",
    "owner_id",
    "tags",
    "data",
    "kill_chain",
    "asset_id",
    "ingest_app_id",
    "custom_fields",
    "due_time",
    "start_time",
    "end_time",
    "run_automation",
];

pub fn routes() -> Router<Arc<Broker>> {
    Router::new().route("/rest/container", post(create)).route("/rest/container/{id}", get(read))
}

/// Parses an ISO 8601 date-time (`2016-01-16T19:18:00Z`, offsets and `+00` accepted).
pub fn parse_time(field: &str, text: &str) -> Result<i64, OutpostError> {
    let text = text.trim();
    let candidates = [text.to_string(), format!("{text}:00"), text.replacen(' ', "T", 1), format!("{}:00", text.replacen(' ', "T", 1))];
    candidates
        .iter()
        .find_map(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| OutpostError::invalid(format!("'{field}' must be an ISO 8601 date-time, got '{text}'")))
}

fn one_of(field: &str, value: String, allowed: &[&str]) -> Result<String, OutpostError> {
    let value = value.to_lowercase();
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(OutpostError::invalid(format!("'{field}' must be one of {}, got '{value}'", allowed.join(", "))))
    }
}

/// Reads a container body; fields left out keep `base`'s values (defaults on create).
pub fn parse_container(map: &Map<String, Value>, base: Option<&Container>) -> Result<ContainerFields, OutpostError> {
    let f = Fields::new(map);
    f.only(FIELDS)?;
    let name = match (f.string("name")?, base) {
        (Some(n), _) if !n.trim().is_empty() => n.trim().to_string(),
        (None, Some(b)) => b.name.clone(),
        _ => return Err(OutpostError::invalid("'name' is required")),
    };
    let time = |field: &str, current: Option<i64>| -> Result<Option<i64>, OutpostError> {
        match f.string(field)? {
            Some(t) if t.trim().is_empty() => Ok(None),
            Some(t) => parse_time(field, &t).map(Some),
            None => Ok(current),
        }
    };
    let object = |field: &str, current: Option<&Value>| -> Result<Value, OutpostError> {
        Ok(match f.object(field)? {
            Some(m) => Value::Object(m.clone()),
            None => current.cloned().unwrap_or_else(|| json!({})),
        })
    };
    Ok(ContainerFields {
        name,
        label: f.string("label")?.map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty())
            .or_else(|| base.map(|b| b.label.clone())).unwrap_or_else(|| "events".into()),
        description: f.string("description")?.or_else(|| base.map(|b| b.description.clone())).unwrap_or_default(),
        status: one_of("status", f.string("status")?.or_else(|| base.map(|b| b.status.clone())).unwrap_or_else(|| "new".into()), STATUSES)?,
        severity: one_of("severity", f.string("severity")?.or_else(|| base.map(|b| b.severity.clone())).unwrap_or_else(|| "medium".into()), SEVERITIES)?,
        sensitivity: one_of(
            "sensitivity",
            f.string("sensitivity")?.or_else(|| base.map(|b| b.sensitivity.clone())).unwrap_or_else(|| "amber".into()),
            SENSITIVITIES,
        )?,
        source_data_identifier: f
            .string("source_data_identifier")?
            .or_else(|| base.map(|b| b.source_data_identifier.clone()))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        owner_id: f.id_like("owner_id")?.or(base.and_then(|b| b.owner_id)),
        tags: f.strings("tags")?.or_else(|| base.map(|b| b.tags.clone())).unwrap_or_default(),
        data: object("data", base.map(|b| &b.data))?,
        kill_chain: f.string("kill_chain")?.or_else(|| base.map(|b| b.kill_chain.clone())).unwrap_or_default(),
        asset_id: f.id_like("asset_id")?.or(base.and_then(|b| b.asset_id)),
        ingest_app_id: f.id_like("ingest_app_id")?.or(base.and_then(|b| b.ingest_app_id)),
        custom_fields: object("custom_fields", base.map(|b| &b.custom_fields))?,
        due_ms: time("due_time", base.and_then(|b| b.due_ms))?,
        start_ms: time("start_time", base.map(|b| b.start_ms))?,
        end_ms: time("end_time", base.and_then(|b| b.end_ms))?,
    })
}

async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let map = input::object(&body)?;
    let fields = parse_container(&map, None)?;
    let container = broker.store.create_container(&fields).await?;
    let audited = audit::container_fields(&container);
    broker.audit.record_change(&who, AuditObject::container(&container), None, Some(&audited)).await;
    Ok(Json(json!({"success": true, "id": container.id})))
}

/// Renders a container with its owner's and asset's names.
pub async fn show(broker: &Broker, c: &Container) -> ApiResult<Value> {
    let owner = match c.owner_id {
        Some(id) => broker.store.get_user(id).await?.map(|u| u.username),
        None => None,
    };
    let asset = match c.asset_id {
        Some(id) => broker.store.get_asset(id).await?.map(|a| a.name),
        None => None,
    };
    Ok(render::container(c, owner.as_deref(), asset.as_deref()))
}

async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "container")?;
    let c = broker.store.get_container(id).await?.ok_or_else(|| OutpostError::not_found(format!("container {id} not found")))?;
    Ok(Json(show(&broker, &c).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<ContainerFields, String> {
        parse_container(v.as_object().unwrap(), None).map_err(|e| e.message)
    }

    #[test]
    fn defaults_and_checks() {
        let c = parse(json!({"name": "my_test_incident", "label": "Incident", "tags": ["a"], "due_time": "2016-01-16T19:18:00Z"})).unwrap();
        assert_eq!(c.label, "incident");
        assert_eq!((c.status.as_str(), c.severity.as_str(), c.sensitivity.as_str()), ("new", "medium", "amber"));
        assert_eq!(c.due_ms, Some(1_452_971_880_000));
        assert!(outpost_proto::manifest::is_guid(&c.source_data_identifier));
        assert_eq!(parse(json!({})).unwrap_err(), "'name' is required");
        assert!(parse(json!({"name": "x", "status": "done"})).unwrap_err().contains("'status' must be one of new, open, closed"));
        assert!(parse(json!({"name": "x", "severity": 3})).unwrap_err().contains("'severity' must be a string"));
        assert!(parse(json!({"name": "x", "due_time": "tomorrow"})).unwrap_err().contains("ISO 8601"));
        assert!(parse(json!({"name": "x", "tags": "a"})).unwrap_err().contains("'tags' must be a list"));
        assert!(parse(json!({"name": "x", "colour": "red"})).unwrap_err().starts_with("unknown field 'colour'"));
        assert_eq!(parse_time("t", "2016-01-16 07:18:46.631897+00").unwrap(), 1_452_928_726_631);
    }
}
