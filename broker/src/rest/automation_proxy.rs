//! `/rest/automation_proxy`: SOAR's automation brokers, which are Outpost's segments.
//! An asset with `automation_broker_id` runs only on workers started with
//! `--segment <that broker's name>`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use outpost_proto::OutpostError;
use outpost_proto::topology::{DEFAULT_SEGMENT, valid_segment};
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Fields};
use super::openapi::Routes;
use super::render::{self, AutomationProxyBody, Failure, ListBody, Saved, WorkerBody};
use crate::Broker;
use crate::registry::WorkerInfo;

pub fn routes(routes: Routes) -> Routes {
    routes.add(__path_list, list).add(__path_create, create).add(__path_read, read)
}

/// The fields of an automation broker body.
pub const FIELDS: &[&str] = &["name", "type"];

/// An automation broker to create.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AutomationProxyRequest {
    /// 1 to 64 letters, digits, `-` or `_`; not `default`. Workers join it with
    /// `--segment <name>`.
    name: String,
    /// Accepted for SOAR compatibility and ignored.
    #[schema(rename = "type")]
    proxy_type: Option<String>,
}

fn worker(broker: &Broker, w: &WorkerInfo) -> WorkerBody {
    let hb = &w.heartbeat;
    WorkerBody {
        node_guid: hb.node_guid.clone(),
        hostname: hb.hostname.clone(),
        version: hb.version.clone(),
        concurrency: hb.concurrency,
        in_flight: hb.in_flight,
        completed: hb.completed,
        draining: hb.draining,
        status: if broker.registry.is_live(w) { "active" } else { "inactive" }.into(),
        last_seen: render::iso(w.last_seen_ms),
        started: render::iso(hb.started_unix_ms),
    }
}

/// A segment in SOAR's automation-broker shape, with the workers serving it.
fn segment(broker: &Broker, id: Option<i64>, name: &str, created_ms: Option<i64>) -> AutomationProxyBody {
    let workers: Vec<WorkerInfo> =
        broker.registry.workers().into_values().filter(|w| w.heartbeat.segment == name).collect();
    let live: Vec<&WorkerInfo> = workers.iter().filter(|w| broker.registry.is_live(w)).collect();
    let last_seen = workers.iter().map(|w| w.last_seen_ms).max();
    AutomationProxyBody {
        id,
        name: name.to_string(),
        proxy_type: "ACTION_BROKER".into(),
        version: live.iter().map(|w| w.heartbeat.version.clone()).max(),
        last_seen_status: if live.is_empty() { "inactive" } else { "active" }.into(),
        last_seen_time: render::iso_opt(last_seen),
        create_time: render::iso_opt(created_ms),
        worker_count: live.len() as u64,
        workers: workers.iter().map(|w| worker(broker, w)).collect(),
    }
}

/// List automation brokers, the default segment (no id) first.
#[utoipa::path(get, path = "/rest/automation_proxy", tag = "automation brokers",
    responses((status = 200, body = ListBody<AutomationProxyBody>)))]
pub async fn list(State(broker): State<Arc<Broker>>) -> ApiResult<Json<ListBody<AutomationProxyBody>>> {
    let segments = broker.store.list_segments().await?;
    // The default segment (assets bound to no automation broker) has no id.
    let mut data = vec![segment(&broker, None, DEFAULT_SEGMENT, None)];
    data.extend(segments.iter().map(|s| segment(&broker, Some(s.id), &s.name, Some(s.created_ms))));
    Ok(Json(ListBody { count: data.len() as u64, num_pages: 1, data }))
}

/// Read an automation broker and its workers.
#[utoipa::path(get, path = "/rest/automation_proxy/{id}", tag = "automation brokers", params(("id" = i64, Path)),
    responses((status = 200, body = AutomationProxyBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<AutomationProxyBody>> {
    let id = input::id(&id, "automation broker")?;
    let found = broker
        .store
        .get_segment(id)
        .await?
        .ok_or_else(|| OutpostError::not_found(format!("automation broker {id} not found")))?;
    Ok(Json(segment(&broker, Some(found.id), &found.name, Some(found.created_ms))))
}

/// Create an automation broker (a segment); runs for its assets wait in its queue until
/// a worker joins it.
#[utoipa::path(post, path = "/rest/automation_proxy", tag = "automation brokers", request_body = AutomationProxyRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 409, body = Failure)))]
pub async fn create(State(broker): State<Arc<Broker>>, body: Bytes) -> ApiResult<Json<Saved>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    let name = f.required_string("name")?.trim().to_string();
    if !valid_segment(&name) || name == DEFAULT_SEGMENT {
        return Err(OutpostError::invalid(format!(
            "'name' must be 1 to 64 letters, digits, '-' or '_', and not '{DEFAULT_SEGMENT}'; got '{name}'"
        ))
        .into());
    }
    let created = match broker.store.create_segment(&name).await {
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
    Ok(Json(Saved::new(created.id)))
}
