//! Artifacts: CEF records inside containers.

use outpost_proto::time::iso;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ListBody, Names, Pretty};
use crate::catalog::containers::content_hash;
use crate::listing::ListQuery;
use crate::store::artifacts::Artifact;
use crate::store::collections::Named;
use crate::store::{Store, StoreResult};

/// The answer to creating an artifact its container holds already.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactExists {
    /// Always true.
    pub failed: bool,
    /// "artifact already exists".
    pub message: String,
    /// The artifact with that `source_data_identifier`.
    pub existing_artifact_id: i64,
}

/// An artifact: a CEF record inside a container.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// The container it belongs to.
    pub container: i64,
    /// The name people see and search for.
    pub name: String,
    /// What kind of record it is, e.g. "event"; lowercase.
    pub label: String,
    /// Free text describing it.
    pub description: String,
    /// The source's own type name.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// The source's id for it, or a generated GUID; unique within the container.
    pub source_data_identifier: String,
    /// The Common Event Format fields.
    #[schema(value_type = Object)]
    pub cef: Value,
    /// What each CEF field contains, e.g. `{"sourceAddress": ["ip"]}`.
    #[schema(value_type = Object)]
    pub cef_types: Value,
    /// The raw record.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Free labels, for filtering and triage.
    pub tags: Vec<String>,
    /// A digest of `cef`, for spotting duplicates.
    pub hash: String,
    /// The owner's user id.
    #[schema(required = true)]
    pub owner_id: Option<i64>,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
    /// When the activity it records began.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// When the activity it records ended; "" if unknown.
    pub end_time: String,
    /// Schema version.
    pub version: i64,
    /// `?pretty`: the container's name.
    #[serde(rename = "_pretty_container", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_container: Pretty,
    /// `?pretty`: the owner's user name.
    #[serde(rename = "_pretty_owner", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_owner: Pretty,
}

/// The names an artifact's `_pretty_*` fields need.
pub fn artifact_names(artifacts: &[Artifact]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::Container, artifacts.iter().map(|a| a.container_id).collect()),
        (Named::User, artifacts.iter().filter_map(|a| a.owner_id).collect()),
    ]
}

pub fn artifact(a: &Artifact, names: &Names) -> ArtifactBody {
    ArtifactBody {
        id: a.id,
        container: a.container_id,
        name: a.name.clone(),
        label: a.label.clone(),
        description: a.description.clone(),
        artifact_type: a.artifact_type.clone(),
        severity: a.severity.clone(),
        source_data_identifier: a.source_data_identifier.clone(),
        cef: a.cef.clone(),
        cef_types: a.cef_types.clone(),
        data: a.data.clone(),
        tags: a.tags.clone(),
        hash: content_hash(&a.cef),
        owner_id: a.owner_id,
        create_time: iso(a.create_ms),
        update_time: iso(a.update_ms),
        start_time: iso(a.start_ms),
        end_time: a.end_ms.map(iso).unwrap_or_default(),
        version: a.version,
        pretty_container: names.pretty(Named::Container, Some(a.container_id)),
        pretty_owner: names.pretty(Named::User, a.owner_id),
    }
}

/// A page of artifacts with the names their `_pretty_*` fields show.
pub async fn artifact_list(store: &Store, query: &ListQuery, pretty: bool) -> StoreResult<ListBody<ArtifactBody>> {
    let listing = store.list_artifacts(query).await?;
    let names = Names::fetch(store, pretty, artifact_names(&listing.data)).await?;
    Ok(ListBody::new(&listing, |a| artifact(a, &names)))
}
