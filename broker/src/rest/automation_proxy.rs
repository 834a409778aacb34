//! `/rest/automation_proxy`: SOAR's automation brokers, which are Outpost's segments.
//! An asset with `automation_broker_id` runs only on workers started with
//! `--segment <that broker's name>`.
//!
//! Each segment lists its alive workers (heartbeats fresh; `draining: true` for one
//! finishing its tasks after SIGTERM); `worker_count` and `last_seen_status` count only
//! those taking tasks. Workers that went silent drop out here at once and stay in
//! `/rest/health` as `stopped` for a while.
//!
//! The list follows the listing conventions of every collection (`page`, `page_size`,
//! `sort`/`order`, `_filter_<field>[__<lookup>]`, unknown fields refused). It joins the
//! store's segments with the in-memory registry, so it is filtered, sorted and paged in
//! memory, by [`crate::listing::select`], with the same parser and meaning as the
//! SQL-backed collections.

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
use super::params::{ListingDoc, Params};
use super::render::{AutomationProxyBody, Failure, ListBody, Saved, WorkerBody};
use crate::Broker;
use crate::listing::{self, Listed};
use crate::listing::{Kind, Value};
use crate::store::collections::{Collection, Field};
use crate::workers::registry::WorkerInfo;

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

/// A listed worker; only alive ones are listed, so its `status` is always `active`.
fn worker(w: &WorkerInfo) -> WorkerBody {
    let hb = &w.heartbeat;
    WorkerBody {
        node_guid: hb.node_guid.clone(),
        hostname: hb.hostname.clone(),
        version: hb.version.clone(),
        concurrency: hb.concurrency,
        in_flight: hb.in_flight,
        completed: hb.completed,
        draining: hb.draining,
        status: "active".into(),
        last_seen: outpost_proto::time::iso(w.last_seen_ms),
        started: outpost_proto::time::iso(hb.started_unix_ms),
    }
}

/// A segment in SOAR's automation-broker shape, with its alive workers, and the raw
/// times the listing filters on.
struct Entry {
    body: AutomationProxyBody,
    last_seen_ms: Option<i64>,
    created_ms: Option<i64>,
}

/// A segment's entry, from its alive workers (by node_guid).
fn segment(broker: &Broker, id: Option<i64>, name: &str, created_ms: Option<i64>, alive: Vec<WorkerInfo>) -> Entry {
    let live: Vec<&WorkerInfo> = alive.iter().filter(|w| broker.registry.is_live(w)).collect();
    let last_seen_ms = alive.iter().map(|w| w.last_seen_ms).max();
    let body = AutomationProxyBody {
        id,
        name: name.to_string(),
        proxy_type: "ACTION_BROKER".into(),
        version: live.iter().map(|w| w.heartbeat.version.clone()).max(),
        last_seen_status: if live.is_empty() { "inactive" } else { "active" }.into(),
        last_seen_time: outpost_proto::time::iso_opt(last_seen_ms),
        create_time: outpost_proto::time::iso_opt(created_ms),
        worker_count: live.len() as u64,
        workers: alive.iter().map(worker).collect(),
    };
    Entry { body, last_seen_ms, created_ms }
}

/// What automation brokers may be filtered and sorted on: the body's scalar fields.
pub static AUTOMATION_PROXIES: Collection = Collection {
    what: "automation brokers",
    // Listed in memory ([`listing::select`]): no table, no SQL.
    table: "",
    base: "",
    fields: &[
        Field { name: "id", sql: "", kind: Kind::Int, nullable: true },
        Field { name: "name", sql: "", kind: Kind::Text, nullable: false },
        Field { name: "version", sql: "", kind: Kind::Text, nullable: true },
        Field { name: "last_seen_status", sql: "", kind: Kind::Text, nullable: false },
        Field { name: "last_seen_time", sql: "", kind: Kind::Time, nullable: true },
        Field { name: "create_time", sql: "", kind: Kind::Time, nullable: true },
        Field { name: "worker_count", sql: "", kind: Kind::Int, nullable: false },
    ],
    default_sort: None,
    tiebreak: "id",
};

impl Listed for Entry {
    fn value(&self, field: &str) -> Option<Value> {
        let body = &self.body;
        match field {
            "id" => body.id.map(Value::Int),
            "name" => Some(Value::Text(body.name.clone())),
            "version" => body.version.clone().map(Value::Text),
            "last_seen_status" => Some(Value::Text(body.last_seen_status.clone())),
            "last_seen_time" => self.last_seen_ms.map(Value::Int),
            "create_time" => self.created_ms.map(Value::Int),
            "worker_count" => Some(Value::Int(body.worker_count as i64)),
            _ => None,
        }
    }
}

/// List automation brokers, the default segment (no id) first.
#[utoipa::path(get, path = "/rest/automation_proxy", tag = "automation brokers", params(ListingDoc),
    description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<AutomationProxyBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<AutomationProxyBody>>> {
    let query = params.list(&AUTOMATION_PROXIES)?;
    let segments = broker.store.list_segments().await?;
    let mut alive = broker.registry.alive_by_segment();
    let mut alive_in = |name: &str| alive.remove(name).unwrap_or_default();
    // The default segment (assets bound to no automation broker) has no id.
    let mut entries = vec![segment(&broker, None, DEFAULT_SEGMENT, None, alive_in(DEFAULT_SEGMENT))];
    for s in &segments {
        entries.push(segment(&broker, Some(s.id), &s.name, Some(s.created_ms), alive_in(&s.name)));
    }
    let (count, page) = listing::select(entries, &query)?;
    Ok(Json(ListBody {
        count,
        num_pages: query.page.num_pages(count),
        data: page.into_iter().map(|e| e.body).collect(),
    }))
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
    let alive = broker.registry.alive_in_segment(&found.name);
    Ok(Json(segment(&broker, Some(found.id), &found.name, Some(found.created_ms), alive).body))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: Option<i64>, name: &str, live: u64, created_ms: Option<i64>) -> Entry {
        Entry {
            body: AutomationProxyBody {
                id,
                name: name.into(),
                proxy_type: "ACTION_BROKER".into(),
                version: None,
                last_seen_status: if live > 0 { "active" } else { "inactive" }.into(),
                last_seen_time: None,
                create_time: outpost_proto::time::iso_opt(created_ms),
                worker_count: live,
                workers: vec![],
            },
            last_seen_ms: None,
            created_ms,
        }
    }

    fn entries() -> Vec<Entry> {
        vec![
            entry(None, "default", 2, None),
            entry(Some(1), "dmz", 1, Some(1_000)),
            entry(Some(2), "Lab", 0, Some(2_000)),
            entry(Some(3), "edge", 3, Some(3_000)),
        ]
    }

    fn names(params: &[(&str, &str)]) -> Result<(u64, Vec<String>), String> {
        let query = listing::parse(&AUTOMATION_PROXIES, params.iter().copied()).map_err(|e| e.message)?;
        let (count, page) = listing::select(entries(), &query).map_err(|e| e.message)?;
        Ok((count, page.into_iter().map(|e| e.body.name).collect()))
    }

    #[test]
    fn the_default_segment_comes_first_then_by_id() {
        assert_eq!(names(&[]).unwrap(), (4, vec!["default".into(), "dmz".into(), "Lab".into(), "edge".into()]));
        assert_eq!(names(&[("order", "desc")]).unwrap().1, ["edge", "Lab", "dmz", "default"]);
    }

    #[test]
    fn filters_sort_and_pages_follow_the_listing_conventions() {
        assert_eq!(names(&[("_filter_name", "\"dmz\"")]).unwrap(), (1, vec!["dmz".into()]));
        assert_eq!(names(&[("_filter_name__icontains", "'LA'")]).unwrap().1, ["Lab"]);
        assert_eq!(names(&[("_filter_worker_count__gte", "2")]).unwrap().1, ["default", "edge"]);
        assert_eq!(names(&[("_filter_last_seen_status", "\"inactive\"")]).unwrap().1, ["Lab"]);
        assert_eq!(names(&[("_filter_id__isnull", "true")]).unwrap().1, ["default"]);
        assert_eq!(names(&[("_filter_id__in", "[1,3]")]).unwrap().1, ["dmz", "edge"]);
        assert_eq!(names(&[("_filter_create_time__gt", "\"1970-01-01T00:00:01.500Z\"")]).unwrap().1, ["Lab", "edge"]);
        // Bytes order, as everywhere: upper case first.
        assert_eq!(names(&[("sort", "name")]).unwrap().1, ["Lab", "default", "dmz", "edge"]);
        // Nulls last ascending, first descending.
        assert_eq!(names(&[("sort", "create_time")]).unwrap().1, ["dmz", "Lab", "edge", "default"]);
        assert_eq!(names(&[("sort", "create_time"), ("order", "desc")]).unwrap().1, ["default", "edge", "Lab", "dmz"]);
        assert_eq!(names(&[("page_size", "2"), ("page", "1")]).unwrap(), (4, vec!["Lab".into(), "edge".into()]));
        assert_eq!(names(&[("page_size", "0")]).unwrap().1.len(), 4);
        assert_eq!(names(&[("page", "9")]).unwrap(), (4, vec![]));
    }

    #[test]
    fn unknown_fields_are_refused_with_the_allowed_ones() {
        let err = names(&[("_filter_colour", "1")]).unwrap_err();
        assert!(err.starts_with("cannot filter automation brokers on 'colour' (filterable: id, name,"), "{err}");
        assert!(names(&[("sort", "workers")]).unwrap_err().starts_with("cannot sort automation brokers on 'workers'"));
        assert!(names(&[("_filter_worker_count", "many")]).unwrap_err().contains("expected an integer"));
    }
}
