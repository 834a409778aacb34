//! `/rest/container`: the containers action runs operate on (seed 004's schema); the
//! checks live in [`crate::catalog::containers`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Body, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params, PrettyDoc};
use super::render::{self, ArtifactBody, ContainerBody, Failure, ListBody, Names, Saved};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::catalog::containers::ContainerInput;
use crate::listing::Value as FilterValue;
use crate::store::collections::{ARTIFACTS, CONTAINERS};
use crate::store::containers::Container;

pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_create, create)
        .add(__path_list, list)
        .add(__path_read, read)
        .add(__path_update, update)
        .add(__path_artifacts, artifacts)
}

/// The fields of a container body.
pub const FIELDS: &[&str] = &[
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

/// A container to create, or the fields of one to change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ContainerRequest {
    /// Required on create.
    name: Option<String>,
    /// Stored lowercase; default "events".
    label: Option<String>,
    /// Free text describing it.
    description: Option<String>,
    /// `new` (default), `open` or `closed`; closing sets `close_time`.
    status: Option<String>,
    /// `low`, `medium` (default) or `high`.
    severity: Option<String>,
    /// `red`, `amber` (default), `green` or `white`.
    sensitivity: Option<String>,
    /// Default: a fresh GUID.
    source_data_identifier: Option<String>,
    /// An existing user's id; `null` clears.
    owner_id: Option<i64>,
    /// Free labels, for filtering and triage.
    tags: Option<Vec<String>>,
    /// The raw data from the source, kept as given.
    #[schema(value_type = Option<Object>)]
    data: Option<Map<String, Value>>,
    /// The kill-chain phase the source reported, if any.
    kill_chain: Option<String>,
    /// An existing asset's id; `null` clears.
    asset_id: Option<i64>,
    /// An installed app's id; `null` clears.
    ingest_app_id: Option<i64>,
    /// Site-defined fields, kept as given.
    #[schema(value_type = Option<Object>)]
    custom_fields: Option<Map<String, Value>>,
    /// ISO 8601; `""` or `null` clears.
    due_time: Option<String>,
    /// ISO 8601; default now.
    start_time: Option<String>,
    /// ISO 8601; `""` or `null` clears.
    end_time: Option<String>,
    /// Accepted for SOAR compatibility and ignored (Outpost runs no playbooks).
    run_automation: Option<bool>,
}

/// Reads a container body.
pub fn parse_container(body: &[u8]) -> Result<ContainerInput, OutpostError> {
    let map = input::object(body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    f.bool("run_automation")?;
    let object =
        |field: &str| -> Result<Option<Value>, OutpostError> { Ok(f.object(field)?.map(|m| Value::Object(m.clone()))) };
    let start_ms = match f.time("start_time")? {
        Some(None) => return Err(OutpostError::invalid("'start_time' cannot be cleared")),
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    Ok(ContainerInput {
        name: f.string("name")?,
        label: f.string("label")?,
        description: f.string("description")?,
        status: f.string("status")?,
        severity: f.string("severity")?,
        sensitivity: f.string("sensitivity")?,
        source_data_identifier: f.string("source_data_identifier")?,
        owner_id: f.nullable_id("owner_id")?,
        tags: f.strings("tags")?,
        data: object("data")?,
        kill_chain: f.string("kill_chain")?,
        asset_id: f.nullable_id("asset_id")?,
        ingest_app_id: f.nullable_id("ingest_app_id")?,
        custom_fields: object("custom_fields")?,
        due_ms: f.time("due_time")?,
        start_ms,
        end_ms: f.time("end_time")?,
    })
}

/// Renders containers with their owners' and assets' names.
pub async fn show(broker: &Broker, containers: &[Container], pretty: bool) -> ApiResult<Vec<ContainerBody>> {
    let names = Names::fetch_always(&broker.store, pretty, render::container_names(containers)).await?;
    Ok(containers.iter().map(|c| render::container(c, &names)).collect())
}

/// Create a container.
#[utoipa::path(post, path = "/rest/container", tag = "containers", request_body = ContainerRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Saved>> {
    let container = broker.create_container(&Actor::from(&who), parse_container(&body)?).await?;
    Ok(Json(Saved::new(container.id)))
}

/// List containers.
#[utoipa::path(get, path = "/rest/container", tag = "containers", params(ListingDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<ContainerBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<ContainerBody>>> {
    let listing = broker.store.list_containers(&params.list(&CONTAINERS)?).await?;
    let data = show(&broker, &listing.data, params.pretty).await?;
    Ok(Json(ListBody { count: listing.count, num_pages: listing.num_pages, data }))
}

/// Read a container.
#[utoipa::path(get, path = "/rest/container/{id}", tag = "containers", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = ContainerBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ContainerBody>> {
    let container = broker.container(input::id(&id, "container")?).await?;
    Ok(Json(show(&broker, std::slice::from_ref(&container), params.pretty).await?.remove(0)))
}

/// Change a container (as SOAR does, with POST): only the fields given change.
#[utoipa::path(post, path = "/rest/container/{id}", tag = "containers", params(("id" = i64, Path)), request_body = ContainerRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn update(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Saved>> {
    let id = input::id(&id, "container")?;
    let container = broker.update_container(&Actor::from(&who), id, parse_container(&body)?).await?;
    Ok(Json(Saved::new(container.id)))
}

/// List the artifacts of a container.
#[utoipa::path(get, path = "/rest/container/{id}/artifacts", tag = "containers", params(("id" = i64, Path), ListingDoc),
    description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<ArtifactBody>), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn artifacts(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ListBody<ArtifactBody>>> {
    let container = broker.container(input::id(&id, "container")?).await?;
    let query = params.list(&ARTIFACTS)?.with_eq("container", FilterValue::Int(container.id));
    Ok(Json(render::artifact_list(&broker.store, &query, params.pretty).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ContainerInput, String> {
        parse_container(v.to_string().as_bytes()).map_err(|e| e.message)
    }

    #[test]
    fn bodies_are_typed() {
        let c = parse(json!({"name": "my_test_incident", "label": "Incident", "tags": ["a"], "due_time": "2016-01-16T19:18:00Z", "owner_id": null}))
            .unwrap();
        assert_eq!(c.due_ms, Some(Some(1_452_971_880_000)));
        assert_eq!(c.owner_id, Some(None));
        assert!(parse(json!({"name": "x", "severity": 3})).unwrap_err().contains("'severity' must be a string"));
        assert!(parse(json!({"name": "x", "due_time": "tomorrow"})).unwrap_err().contains("ISO 8601"));
        assert!(parse(json!({"name": "x", "tags": "a"})).unwrap_err().contains("'tags' must be a list"));
        assert!(parse(json!({"name": "x", "colour": "red"})).unwrap_err().starts_with("unknown field 'colour'"));
        assert!(parse(json!({"name": "x", "start_time": ""})).unwrap_err().contains("cannot be cleared"));
        assert!(parse(json!({"name": "x", "run_automation": "yes"})).unwrap_err().contains("true or false"));
    }
}
