//! Artifacts: the CEF records inside a container. An action run's `context.artifact_id`
//! refers to one. Creating one bumps its container's `artifact_count` and
//! `artifact_update_time` in the same transaction.

use outpost_proto::time::now_ms;
use serde_json::Value;

use super::collections::ARTIFACTS;
use super::{Listing, Row, Store, StoreResult, parse_json};
use crate::listing::ListQuery;
use crate::store::args;

/// An artifact as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// The numeric id clients and `context.artifact_id` use.
    pub id: i64,
    /// The container it belongs to.
    pub container_id: i64,
    /// A short title, e.g. "Source IP".
    pub name: String,
    /// What kind of record it is, e.g. "event"; playbooks select on it.
    pub label: String,
    /// Free text from the source.
    pub description: String,
    /// The source's own type name.
    pub artifact_type: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// The source's id for it (or a generated GUID); unique within the container, so a
    /// re-ingested artifact is recognised.
    pub source_data_identifier: String,
    /// The Common Event Format fields, e.g. `{"sourceAddress": "1.2.3.4"}`.
    pub cef: Value,
    /// What each CEF field contains, e.g. `{"sourceAddress": ["ip"]}`.
    pub cef_types: Value,
    /// The raw record as the source had it.
    pub data: Value,
    /// Free labels.
    pub tags: Vec<String>,
    /// The user who owns it, if any.
    pub owner_id: Option<i64>,
    /// When it was created (Unix ms).
    pub create_ms: i64,
    /// When it last changed (Unix ms).
    pub update_ms: i64,
    /// When the activity it records began (Unix ms); defaults to creation.
    pub start_ms: i64,
    /// When the activity it records ended, if known (Unix ms).
    pub end_ms: Option<i64>,
    /// Schema version of the record.
    pub version: i64,
}

/// The writable fields of a new artifact, already validated.
#[derive(Debug, Clone, Default)]
pub struct NewArtifact {
    /// The container it goes into; must exist.
    pub container_id: i64,
    /// See [`Artifact::name`].
    pub name: String,
    /// See [`Artifact::label`].
    pub label: String,
    /// See [`Artifact::description`].
    pub description: String,
    /// See [`Artifact::artifact_type`].
    pub artifact_type: String,
    /// See [`Artifact::severity`].
    pub severity: String,
    /// See [`Artifact::source_data_identifier`].
    pub source_data_identifier: String,
    /// See [`Artifact::cef`].
    pub cef: Value,
    /// See [`Artifact::cef_types`].
    pub cef_types: Value,
    /// See [`Artifact::data`].
    pub data: Value,
    /// See [`Artifact::tags`].
    pub tags: Vec<String>,
    /// See [`Artifact::owner_id`].
    pub owner_id: Option<i64>,
    /// See [`Artifact::start_ms`]; `None` means now.
    pub start_ms: Option<i64>,
    /// See [`Artifact::end_ms`].
    pub end_ms: Option<i64>,
}

/// What creating an artifact did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// A new artifact.
    New(Box<Artifact>),
    /// The container holds an artifact with that `source_data_identifier` already.
    Existing(i64),
}

pub(crate) const ARTIFACT_COLUMNS: &str = "id, container_id, name, label, description, type, severity,
    source_data_identifier, cef, cef_types, data, tags, owner_id, create_ms, update_ms, start_ms, end_ms, version";

pub(crate) fn artifact_from_row(row: &Row) -> StoreResult<Artifact> {
    Ok(Artifact {
        id: row.i64("id")?,
        container_id: row.i64("container_id")?,
        name: row.text("name")?,
        label: row.text("label")?,
        description: row.text("description")?,
        artifact_type: row.text("type")?,
        severity: row.text("severity")?,
        source_data_identifier: row.text("source_data_identifier")?,
        cef: parse_json(&row.text("cef")?)?,
        cef_types: parse_json(&row.text("cef_types")?)?,
        data: parse_json(&row.text("data")?)?,
        tags: serde_json::from_value(parse_json(&row.text("tags")?)?).unwrap_or_default(),
        owner_id: row.opt_i64("owner_id")?,
        create_ms: row.i64("create_ms")?,
        update_ms: row.i64("update_ms")?,
        start_ms: row.i64("start_ms")?,
        end_ms: row.opt_i64("end_ms")?,
        version: row.i64("version")?,
    })
}

impl Store {
    /// Creates an artifact and counts it in its container, in one transaction. An
    /// artifact with the same `source_data_identifier` in the container is answered
    /// instead of a duplicate.
    pub async fn create_artifact(&self, a: &NewArtifact) -> StoreResult<Created> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let existing = tx
            .fetch_optional(
                "SELECT id FROM artifacts WHERE container_id = $1 AND source_data_identifier = $2",
                args![a.container_id, &a.source_data_identifier],
            )
            .await?;
        if let Some(row) = existing {
            return Ok(Created::Existing(row.i64("id")?));
        }
        let row = tx
            .fetch_one(
                &format!(
                    "INSERT INTO artifacts (container_id, name, label, description, type, severity, source_data_identifier,
                     cef, cef_types, data, tags, owner_id, create_ms, update_ms, start_ms, end_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15)
                     RETURNING {ARTIFACT_COLUMNS}"
                ),
                args![
                    a.container_id,
                    &a.name,
                    &a.label,
                    &a.description,
                    &a.artifact_type,
                    &a.severity,
                    &a.source_data_identifier,
                    a.cef.to_string(),
                    a.cef_types.to_string(),
                    a.data.to_string(),
                    serde_json::to_string(&a.tags).expect("strings serialize"),
                    a.owner_id,
                    now,
                    a.start_ms.unwrap_or(now),
                    a.end_ms
                ],
            )
            .await?;
        let artifact = artifact_from_row(&row)?;
        tx.execute(
            "UPDATE containers SET artifact_count = artifact_count + 1, artifact_update_ms = $1, update_ms = $1
             WHERE id = $2",
            args![now, a.container_id],
        )
        .await?;
        tx.commit().await?;
        Ok(Created::New(Box::new(artifact)))
    }

    pub async fn get_artifact(&self, id: i64) -> StoreResult<Option<Artifact>> {
        let row = self
            .db
            .fetch_optional(&format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id = $1"), args![id])
            .await?;
        row.as_ref().map(artifact_from_row).transpose()
    }

    /// A page of artifacts (see [`ListQuery`]).
    pub async fn list_artifacts(&self, query: &ListQuery) -> StoreResult<Listing<Artifact>> {
        debug_assert!(std::ptr::eq(query.collection, &ARTIFACTS));
        self.list(query, ARTIFACT_COLUMNS, artifact_from_row).await
    }
}
