//! `/rest/automation_proxy`: SOAR's automation brokers, which are Outpost's segments.
//! An asset with `automation_broker_id` runs only on workers started with
//! `--segment <that broker's name>`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use outpost_proto::OutpostError;
use outpost_proto::topology::{DEFAULT_SEGMENT, valid_segment};
use serde_json::{Value, json};

use super::input::{self, Fields};
use super::{ApiResult, render};
use crate::Broker;
use crate::registry::WorkerInfo;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new()
        .route("/rest/automation_proxy", get(list).post(create))
        .route("/rest/automation_proxy/{id}", get(read))
}

fn worker_json(broker: &Broker, w: &WorkerInfo) -> Value {
    let hb = &w.heartbeat;
    json!({
        "node_guid": hb.node_guid,
        "hostname": hb.hostname,
        "version": hb.version,
        "concurrency": hb.concurrency,
        "in_flight": hb.in_flight,
        "completed": hb.completed,
        "draining": hb.draining,
        "status": if broker.registry.is_live(w) { "active" } else { "inactive" },
        "last_seen": render::iso(w.last_seen_ms),
        "started": render::iso(hb.started_unix_ms),
    })
}

/// A segment in SOAR's automation-broker shape, with the workers serving it.
fn segment_json(broker: &Broker, id: Option<i64>, name: &str, created_ms: Option<i64>) -> Value {
    let workers: Vec<WorkerInfo> =
        broker.registry.workers().into_values().filter(|w| w.heartbeat.segment == name).collect();
    let live: Vec<&WorkerInfo> = workers.iter().filter(|w| broker.registry.is_live(w)).collect();
    let last_seen = workers.iter().map(|w| w.last_seen_ms).max();
    json!({
        "id": id,
        "name": name,
        "type": "ACTION_BROKER",
        "version": live.iter().map(|w| w.heartbeat.version.clone()).max(),
        "last_seen_status": if live.is_empty() { "inactive" } else { "active" },
        "last_seen_time": render::iso_opt(last_seen),
        "create_time": render::iso_opt(created_ms),
        "worker_count": live.len(),
        "workers": workers.iter().map(|w| worker_json(broker, w)).collect::<Vec<_>>(),
    })
}

async fn list(State(broker): State<Arc<Broker>>) -> ApiResult<Json<Value>> {
    let segments = broker.store.list_segments().await?;
    // The default segment (assets bound to no automation broker) has no id.
    let mut data = vec![segment_json(&broker, None, DEFAULT_SEGMENT, None)];
    data.extend(segments.iter().map(|s| segment_json(&broker, Some(s.id), &s.name, Some(s.created_ms))));
    Ok(Json(json!({"count": data.len(), "num_pages": 1, "data": data})))
}

async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "automation broker")?;
    let segment = broker
        .store
        .get_segment(id)
        .await?
        .ok_or_else(|| OutpostError::not_found(format!("automation broker {id} not found")))?;
    Ok(Json(segment_json(&broker, Some(segment.id), &segment.name, Some(segment.created_ms))))
}

async fn create(State(broker): State<Arc<Broker>>, body: Bytes) -> ApiResult<Json<Value>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(&["name", "type"])?;
    let name = f.required_string("name")?.trim().to_string();
    if !valid_segment(&name) || name == DEFAULT_SEGMENT {
        return Err(OutpostError::invalid(format!(
            "'name' must be 1 to 64 letters, digits, '-' or '_', and not '{DEFAULT_SEGMENT}'; got '{name}'"
        ))
        .into());
    }
    let segment = match broker.store.create_segment(&name).await {
        Ok(s) => s,
        Err(e) if e.is_unique_violation() => {
            return Err(OutpostError::conflict(format!("an automation broker named '{name}' exists already")).into());
        }
        Err(e) => return Err(e.into()),
    };
    // Declare its queue now, so runs for it wait there until a worker joins.
    if let Err(e) = broker.bus.declare_segment(&name).await {
        tracing::warn!(segment = %name, error = %e, "segment queue not declared yet; the relay declares it on first use");
    }
    Ok(Json(json!({"success": true, "id": segment.id})))
}
