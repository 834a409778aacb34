//! Containers in seed 004's shape.

use outpost_proto::time::iso;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Names, Pretty};
use crate::catalog::containers::content_hash;
use crate::store::collections::Named;
use crate::store::containers::Container;

/// A container in seed 004's shape; unset times are `""` as the seed shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Schema version; bumped by every update.
    pub version: i64,
    /// What kind of content it holds, e.g. "incident"; lowercase.
    pub label: String,
    /// The name people see and search for.
    pub name: String,
    /// The source's id for it, or a generated GUID.
    pub source_data_identifier: String,
    /// Free text describing it.
    pub description: String,
    /// `new`, `open` or `closed`.
    pub status: String,
    /// `red`, `amber`, `green` or `white`.
    pub sensitivity: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When related activity was first seen.
    pub start_time: String,
    /// When related activity was last seen; "" if unknown.
    pub end_time: String,
    /// When its SLA expires; "" if none.
    pub due_time: String,
    /// When it was closed; "" while not closed.
    pub close_time: String,
    /// The kill-chain phase the source reported, if any.
    pub kill_chain: String,
    /// The owner's user name (seed 004), null when unowned.
    #[schema(required = true)]
    pub owner: Option<String>,
    /// The owner's user id.
    #[schema(required = true)]
    pub owner_id: Option<i64>,
    /// A digest of `data`, for spotting duplicates.
    pub hash: String,
    /// Free labels, for filtering and triage.
    pub tags: Vec<String>,
    /// The asset it was ingested from; null if a person created it.
    #[schema(required = true)]
    pub asset: Option<i64>,
    /// The name of that asset, "" if none.
    pub asset_name: String,
    /// When an artifact was last added; "" if none was.
    pub artifact_update_time: String,
    /// When the container last changed, artifacts included.
    #[schema(format = DateTime)]
    pub container_update_time: String,
    /// The ingesting app's id as a string, "" if none.
    pub ingest_app_id: String,
    /// The raw container data from the source.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Site-defined fields.
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    /// How many artifacts it holds.
    pub artifact_count: i64,
    /// `?pretty`: the owner's user name.
    #[serde(rename = "_pretty_owner", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_owner: Pretty,
    /// `?pretty`: the asset's name.
    #[serde(rename = "_pretty_asset", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_asset: Pretty,
}

/// The names a container needs (always: `owner` and `asset_name` show names).
pub fn container_names(containers: &[Container]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::User, containers.iter().filter_map(|c| c.owner_id).collect()),
        (Named::Asset, containers.iter().filter_map(|c| c.asset_id).collect()),
    ]
}

pub fn container(c: &Container, names: &Names) -> ContainerBody {
    let time = |ms: Option<i64>| ms.map(iso).unwrap_or_default();
    ContainerBody {
        id: c.id,
        version: c.version,
        label: c.label.clone(),
        name: c.name.clone(),
        source_data_identifier: c.source_data_identifier.clone(),
        description: c.description.clone(),
        status: c.status.clone(),
        sensitivity: c.sensitivity.clone(),
        severity: c.severity.clone(),
        create_time: iso(c.create_ms),
        start_time: iso(c.start_ms),
        end_time: time(c.end_ms),
        due_time: time(c.due_ms),
        close_time: time(c.close_ms),
        kill_chain: c.kill_chain.clone(),
        owner: names.name(Named::User, c.owner_id),
        owner_id: c.owner_id,
        hash: content_hash(&c.data),
        tags: c.tags.clone(),
        asset: c.asset_id,
        asset_name: names.name(Named::Asset, c.asset_id).unwrap_or_default(),
        artifact_update_time: time(c.artifact_update_ms),
        container_update_time: iso(c.update_ms),
        ingest_app_id: c.ingest_app_id.map(|id| id.to_string()).unwrap_or_default(),
        data: c.data.clone(),
        custom_fields: c.custom_fields.clone(),
        artifact_count: c.artifact_count,
        pretty_owner: names.pretty(Named::User, c.owner_id),
        pretty_asset: names.pretty(Named::Asset, c.asset_id),
    }
}
