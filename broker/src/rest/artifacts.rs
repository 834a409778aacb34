//! `/rest/artifact`: CEF records inside containers, so an action run's
//! `context.artifact_id` can refer to something real. Creating one counts it in its
//! container (`artifact_count`, `artifact_update_time`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Body, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params, PrettyDoc};
use super::render::{self, ArtifactBody, ArtifactExists, Failure, ListBody, Names, Saved};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::catalog::artifacts::ArtifactInput;
use crate::store::artifacts::Created;
use crate::store::collections::ARTIFACTS;

pub fn routes(routes: Routes) -> Routes {
    routes.add(__path_create, create).add(__path_list, list).add(__path_read, read)
}

/// The fields of an artifact body.
pub const FIELDS: &[&str] = &[
    "container_id",
    "container",
    "name",
    "label",
    "description",
    "type",
    "severity",
    "source_data_identifier",
    "cef",
    "cef_types",
    "data",
    "tags",
    "owner_id",
    "start_time",
    "end_time",
    "run_automation",
];

/// An artifact to create.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ArtifactRequest {
    /// The container it goes into (required).
    container_id: Option<i64>,
    /// Alias of `container_id`.
    container: Option<i64>,
    /// Default "artifact".
    name: Option<String>,
    /// Stored lowercase; default "event".
    label: Option<String>,
    /// Free text describing it.
    description: Option<String>,
    /// The source's own type name.
    #[schema(rename = "type")]
    artifact_type: Option<String>,
    /// `low`, `medium` (default) or `high`.
    severity: Option<String>,
    /// Default: a fresh GUID. A container holds one artifact per identifier: a second
    /// one is answered with `existing_artifact_id`.
    source_data_identifier: Option<String>,
    /// The Common Event Format fields, e.g. `{"sourceAddress": "1.2.3.4"}`.
    #[schema(value_type = Option<Object>)]
    cef: Option<Map<String, Value>>,
    /// What each CEF field contains, e.g. `{"sourceAddress": ["ip"]}`.
    #[schema(value_type = Option<Object>)]
    cef_types: Option<Map<String, Value>>,
    /// The raw data from the source, kept as given.
    #[schema(value_type = Option<Object>)]
    data: Option<Map<String, Value>>,
    /// Free labels, for filtering and triage.
    tags: Option<Vec<String>>,
    /// An existing user's id.
    owner_id: Option<i64>,
    /// ISO 8601; default now.
    start_time: Option<String>,
    /// ISO 8601.
    end_time: Option<String>,
    /// Accepted for SOAR compatibility and ignored (Outpost runs no playbooks).
    run_automation: Option<bool>,
}

/// Reads an artifact body.
pub fn parse_artifact(body: &[u8]) -> Result<ArtifactInput, OutpostError> {
    let map = input::object(body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    f.bool("run_automation")?;
    let object =
        |field: &str| -> Result<Option<Value>, OutpostError> { Ok(f.object(field)?.map(|m| Value::Object(m.clone()))) };
    Ok(ArtifactInput {
        container_id: match f.id_like("container_id")? {
            Some(id) => Some(id),
            None => f.id_like("container")?,
        },
        name: f.string("name")?,
        label: f.string("label")?,
        description: f.string("description")?,
        artifact_type: f.string("type")?,
        severity: f.string("severity")?,
        source_data_identifier: f.string("source_data_identifier")?,
        cef: object("cef")?,
        cef_types: object("cef_types")?,
        data: object("data")?,
        tags: f.strings("tags")?,
        owner_id: f.id_like("owner_id")?,
        start_ms: f.time("start_time")?.flatten(),
        end_ms: f.time("end_time")?.flatten(),
    })
}

/// Create an artifact in a container.
#[utoipa::path(post, path = "/rest/artifact", tag = "artifacts", request_body = ArtifactRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure),
        (status = 409, description = "the container holds an artifact with that source_data_identifier", body = ArtifactExists)))]
pub async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Response> {
    match broker.create_artifact(&Actor::from(&who), parse_artifact(&body)?).await? {
        Created::New(artifact) => Ok(Json(Saved::new(artifact.id)).into_response()),
        Created::Existing(id) => Ok((
            StatusCode::CONFLICT,
            Json(ArtifactExists { failed: true, message: "artifact already exists".into(), existing_artifact_id: id }),
        )
            .into_response()),
    }
}

/// List artifacts (`_filter_container=N` for one container's).
#[utoipa::path(get, path = "/rest/artifact", tag = "artifacts", params(ListingDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<ArtifactBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<ArtifactBody>>> {
    Ok(Json(render::artifact_list(&broker.store, &params.list(&ARTIFACTS)?, params.pretty).await?))
}

/// Read an artifact.
#[utoipa::path(get, path = "/rest/artifact/{id}", tag = "artifacts", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = ArtifactBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ArtifactBody>> {
    let id = input::id(&id, "artifact")?;
    let artifact = broker
        .store
        .get_artifact(id)
        .await?
        .ok_or_else(|| OutpostError::not_found(format!("artifact {id} not found")))?;
    let names =
        Names::fetch(&broker.store, params.pretty, render::artifact_names(std::slice::from_ref(&artifact))).await?;
    Ok(Json(render::artifact(&artifact, &names)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_typed() {
        let parse = |v: Value| parse_artifact(v.to_string().as_bytes()).map_err(|e| e.message);
        let a =
            parse(json!({"container": 3, "cef": {"sourceAddress": "1.2.3.4"}, "start_time": "2016-01-16T19:18:00Z"}))
                .unwrap();
        assert_eq!(a.container_id, Some(3));
        assert_eq!(a.start_ms, Some(1_452_971_880_000));
        assert!(
            parse(json!({"container_id": 1, "cef": "x"}))
                .unwrap_err()
                .contains("'cef' must be an object, got a string")
        );
        assert!(parse(json!({"container_id": "one"})).unwrap_err().contains("'container_id' must be an integer id"));
        assert!(parse(json!({"container_id": 1, "hue": 1})).unwrap_err().starts_with("unknown field 'hue'"));
    }
}
