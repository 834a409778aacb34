//! Containers (seed 004): the objects action runs operate on.

use outpost_proto::time::now_ms;
use serde_json::Value;

use super::collections::CONTAINERS;
use super::{Listing, Row, Store, StoreResult, parse_json};
use crate::listing::ListQuery;
use crate::store::args;

#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: i64,
    pub name: String,
    pub label: String,
    pub description: String,
    /// `new`, `open` or `closed`.
    pub status: String,
    pub severity: String,
    pub sensitivity: String,
    pub source_data_identifier: String,
    pub owner_id: Option<i64>,
    pub tags: Vec<String>,
    pub data: Value,
    pub kill_chain: String,
    pub asset_id: Option<i64>,
    pub ingest_app_id: Option<i64>,
    pub custom_fields: Value,
    pub create_ms: i64,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub due_ms: Option<i64>,
    pub close_ms: Option<i64>,
    pub update_ms: i64,
    pub artifact_update_ms: Option<i64>,
    pub artifact_count: i64,
    pub version: i64,
}

/// The writable fields of a container, already validated.
#[derive(Debug, Clone, Default)]
pub struct ContainerFields {
    pub name: String,
    pub label: String,
    pub description: String,
    pub status: String,
    pub severity: String,
    pub sensitivity: String,
    pub source_data_identifier: String,
    pub owner_id: Option<i64>,
    pub tags: Vec<String>,
    pub data: Value,
    pub kill_chain: String,
    pub asset_id: Option<i64>,
    pub ingest_app_id: Option<i64>,
    pub custom_fields: Value,
    pub due_ms: Option<i64>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

const CONTAINER_COLUMNS: &str = "id, name, label, description, status, severity, sensitivity, source_data_identifier,
    owner_id, tags, data, kill_chain, asset_id, ingest_app_id, custom_fields, create_ms, start_ms, end_ms, due_ms,
    close_ms, update_ms, artifact_update_ms, artifact_count, version";

fn container_from_row(row: &Row) -> StoreResult<Container> {
    Ok(Container {
        id: row.i64("id")?,
        name: row.text("name")?,
        label: row.text("label")?,
        description: row.text("description")?,
        status: row.text("status")?,
        severity: row.text("severity")?,
        sensitivity: row.text("sensitivity")?,
        source_data_identifier: row.text("source_data_identifier")?,
        owner_id: row.opt_i64("owner_id")?,
        tags: serde_json::from_value(parse_json(&row.text("tags")?)?).unwrap_or_default(),
        data: parse_json(&row.text("data")?)?,
        kill_chain: row.text("kill_chain")?,
        asset_id: row.opt_i64("asset_id")?,
        ingest_app_id: row.opt_i64("ingest_app_id")?,
        custom_fields: parse_json(&row.text("custom_fields")?)?,
        create_ms: row.i64("create_ms")?,
        start_ms: row.i64("start_ms")?,
        end_ms: row.opt_i64("end_ms")?,
        due_ms: row.opt_i64("due_ms")?,
        close_ms: row.opt_i64("close_ms")?,
        update_ms: row.i64("update_ms")?,
        artifact_update_ms: row.opt_i64("artifact_update_ms")?,
        artifact_count: row.i64("artifact_count")?,
        version: row.i64("version")?,
    })
}

impl Store {
    pub async fn create_container(&self, c: &ContainerFields) -> StoreResult<Container> {
        let now = now_ms();
        let close = (c.status == "closed").then_some(now);
        let row = self
            .db
            .fetch_one(
                &format!(
                    "INSERT INTO containers (name, label, description, status, severity, sensitivity, source_data_identifier,
                     owner_id, tags, data, kill_chain, asset_id, ingest_app_id, custom_fields, create_ms, start_ms, end_ms,
                     due_ms, close_ms, update_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $15)
                     RETURNING {CONTAINER_COLUMNS}"
                ),
                args![
                    &c.name,
                    &c.label,
                    &c.description,
                    &c.status,
                    &c.severity,
                    &c.sensitivity,
                    &c.source_data_identifier,
                    c.owner_id,
                    serde_json::to_string(&c.tags).expect("strings serialize"),
                    c.data.to_string(),
                    &c.kill_chain,
                    c.asset_id,
                    c.ingest_app_id,
                    c.custom_fields.to_string(),
                    now,
                    c.start_ms.unwrap_or(now),
                    c.end_ms,
                    c.due_ms,
                    close
                ],
            )
            .await?;
        container_from_row(&row)
    }

    /// Replaces a container's writable fields; closing it sets `close_time`, reopening
    /// clears it.
    pub async fn update_container(&self, id: i64, c: &ContainerFields) -> StoreResult<Option<Container>> {
        let now = now_ms();
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "UPDATE containers SET name = $1, label = $2, description = $3, status = $4, severity = $5,
                     sensitivity = $6, source_data_identifier = $7, owner_id = $8, tags = $9, data = $10, kill_chain = $11,
                     custom_fields = $12, due_ms = $13, start_ms = COALESCE($14, start_ms), end_ms = $15,
                     close_ms = CASE WHEN $4 = 'closed' THEN COALESCE(close_ms, $16) ELSE NULL END,
                     update_ms = $16, version = version + 1, asset_id = $18, ingest_app_id = $19
                     WHERE id = $17 RETURNING {CONTAINER_COLUMNS}"
                ),
                args![
                    &c.name,
                    &c.label,
                    &c.description,
                    &c.status,
                    &c.severity,
                    &c.sensitivity,
                    &c.source_data_identifier,
                    c.owner_id,
                    serde_json::to_string(&c.tags).expect("strings serialize"),
                    c.data.to_string(),
                    &c.kill_chain,
                    c.custom_fields.to_string(),
                    c.due_ms,
                    c.start_ms,
                    c.end_ms,
                    now,
                    id,
                    c.asset_id,
                    c.ingest_app_id
                ],
            )
            .await?;
        row.as_ref().map(container_from_row).transpose()
    }

    pub async fn get_container(&self, id: i64) -> StoreResult<Option<Container>> {
        let row = self
            .db
            .fetch_optional(&format!("SELECT {CONTAINER_COLUMNS} FROM containers WHERE id = $1"), args![id])
            .await?;
        row.as_ref().map(container_from_row).transpose()
    }

    /// A page of containers (see [`ListQuery`]).
    pub async fn list_containers(&self, query: &ListQuery) -> StoreResult<Listing<Container>> {
        debug_assert!(std::ptr::eq(query.collection, &CONTAINERS));
        self.list(query, CONTAINER_COLUMNS, container_from_row).await
    }

    pub async fn container_exists(&self, id: i64) -> StoreResult<bool> {
        Ok(self.db.fetch_optional("SELECT id FROM containers WHERE id = $1", args![id]).await?.is_some())
    }
}
