//! Assets (a configured instance of an app) and their connector state.
//!
//! The configuration is sealed with the store key before it is written, so secrets
//! (fields of type `password`) are encrypted at rest.

use outpost_proto::time::now_ms;
use serde_json::{Map, Value};

use super::collections::ASSETS;
use super::{Listing, Row, Store, StoreError, StoreResult, parse_json};
use crate::listing::ListQuery;
use crate::store::args;

/// An asset with its configuration opened.
#[derive(Debug, Clone)]
pub struct Asset {
    pub id: i64,
    /// Unique and lowercase, as SOAR keeps asset names.
    pub name: String,
    pub app_id: i64,
    pub description: String,
    /// Holds secrets in clear: never serialize it without masking.
    pub configuration: Map<String, Value>,
    /// The segment (automation broker) this asset's actions run in; `None` = default.
    pub automation_broker_id: Option<i64>,
    pub tags: Vec<String>,
    /// Outpost extension: the deadline of each parameter set run on this asset, in
    /// seconds; before the action's and the app's, capped by the worker. `None`: not set.
    pub timeout_secs: Option<u64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A new asset, checked by the caller against its app's manifest.
#[derive(Debug, Clone)]
pub struct NewAsset {
    pub name: String,
    pub app_id: i64,
    pub description: String,
    pub configuration: Map<String, Value>,
    pub automation_broker_id: Option<i64>,
    pub tags: Vec<String>,
    /// See [`Asset::timeout_secs`]; checked by the caller.
    pub timeout_secs: Option<u64>,
}

/// Connector state of one (app, asset).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetState {
    pub json: String,
    pub version: i64,
}

const ASSET_COLUMNS: &str =
    "id, name, app_id, description, configuration, automation_broker_id, tags, timeout_secs, created_ms, updated_ms";

/// The column value of a timeout: callers keep it far below `i64::MAX`.
fn stored_timeout(secs: Option<u64>) -> Option<i64> {
    secs.map(|secs| i64::try_from(secs).unwrap_or(i64::MAX))
}

impl Store {
    fn asset_from_row(&self, row: &Row) -> StoreResult<Asset> {
        let configuration = match self.open_json(&row.bytes("configuration")?)? {
            Value::Object(map) => map,
            _ => return Err(StoreError::Corrupt("asset configuration is not an object".into())),
        };
        let tags = serde_json::from_value(parse_json(&row.text("tags")?)?).unwrap_or_default();
        Ok(Asset {
            id: row.i64("id")?,
            name: row.text("name")?,
            app_id: row.i64("app_id")?,
            description: row.text("description")?,
            configuration,
            automation_broker_id: row.opt_i64("automation_broker_id")?,
            tags,
            // A negative value cannot be written through the API; read it as unset.
            timeout_secs: row.opt_i64("timeout_secs")?.and_then(|secs| u64::try_from(secs).ok()),
            created_ms: row.i64("created_ms")?,
            updated_ms: row.i64("updated_ms")?,
        })
    }

    /// Creates an asset; a taken name is a unique violation (see
    /// [`StoreError::is_unique_violation`]).
    pub async fn create_asset(&self, asset: &NewAsset) -> StoreResult<Asset> {
        let now = now_ms();
        let sealed = self.seal_json(&Value::Object(asset.configuration.clone()));
        let tags = serde_json::to_string(&asset.tags).expect("strings serialize");
        let row = self
            .db
            .fetch_one(
                &format!(
                    "INSERT INTO assets (name, app_id, description, configuration, automation_broker_id, tags, timeout_secs,
                     created_ms, updated_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {ASSET_COLUMNS}"
                ),
                args![
                    asset.name.to_lowercase(),
                    asset.app_id,
                    &asset.description,
                    sealed,
                    asset.automation_broker_id,
                    tags,
                    stored_timeout(asset.timeout_secs),
                    now
                ],
            )
            .await?;
        self.asset_from_row(&row)
    }

    /// Replaces an asset's editable fields.
    pub async fn update_asset(&self, id: i64, asset: &NewAsset) -> StoreResult<Option<Asset>> {
        let sealed = self.seal_json(&Value::Object(asset.configuration.clone()));
        let tags = serde_json::to_string(&asset.tags).expect("strings serialize");
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "UPDATE assets SET name = $1, app_id = $2, description = $3, configuration = $4,
                     automation_broker_id = $5, tags = $6, timeout_secs = $7, updated_ms = $8 WHERE id = $9
                     RETURNING {ASSET_COLUMNS}"
                ),
                args![
                    asset.name.to_lowercase(),
                    asset.app_id,
                    &asset.description,
                    sealed,
                    asset.automation_broker_id,
                    tags,
                    stored_timeout(asset.timeout_secs),
                    now_ms(),
                    id
                ],
            )
            .await?;
        row.as_ref().map(|r| self.asset_from_row(r)).transpose()
    }

    /// Deletes an asset that no app run refers to; answers false when it does not exist.
    pub async fn delete_asset(&self, id: i64) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        tx.execute("DELETE FROM asset_state WHERE asset_id = $1", args![id]).await?;
        let n = tx.execute("DELETE FROM assets WHERE id = $1", args![id]).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Whether any app run refers to the asset (then it cannot be deleted).
    pub async fn asset_in_use(&self, id: i64) -> StoreResult<bool> {
        let row = self.db.fetch_one("SELECT COUNT(*) AS n FROM app_runs WHERE asset_id = $1", args![id]).await?;
        Ok(row.i64("n")? > 0)
    }

    pub async fn get_asset(&self, id: i64) -> StoreResult<Option<Asset>> {
        let row =
            self.db.fetch_optional(&format!("SELECT {ASSET_COLUMNS} FROM assets WHERE id = $1"), args![id]).await?;
        row.as_ref().map(|r| self.asset_from_row(r)).transpose()
    }

    /// Finds an asset by numeric id or by (case-insensitive) name.
    pub async fn find_asset(&self, id_or_name: &str) -> StoreResult<Option<Asset>> {
        if let Ok(id) = id_or_name.trim().parse::<i64>() {
            return self.get_asset(id).await;
        }
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {ASSET_COLUMNS} FROM assets WHERE name = $1"),
                args![id_or_name.trim().to_lowercase()],
            )
            .await?;
        row.as_ref().map(|r| self.asset_from_row(r)).transpose()
    }

    /// A page of assets (see [`ListQuery`]).
    pub async fn list_assets_by(&self, query: &ListQuery) -> StoreResult<Listing<Asset>> {
        debug_assert!(std::ptr::eq(query.collection, &ASSETS));
        self.list(query, ASSET_COLUMNS, |row| self.asset_from_row(row)).await
    }

    /// The assets of one app, by id.
    pub async fn assets_of_app(&self, app_id: i64) -> StoreResult<Vec<Asset>> {
        let rows = self
            .db
            .fetch_all(&format!("SELECT {ASSET_COLUMNS} FROM assets WHERE app_id = $1 ORDER BY id"), args![app_id])
            .await?;
        rows.iter().map(|r| self.asset_from_row(r)).collect()
    }

    /// The connector state of (app, asset); `{}` at version 0 when none was saved.
    pub async fn asset_state(&self, app_id: i64, asset_id: i64) -> StoreResult<AssetState> {
        let row = self
            .db
            .fetch_optional(
                "SELECT state, version FROM asset_state WHERE app_id = $1 AND asset_id = $2",
                args![app_id, asset_id],
            )
            .await?;
        Ok(match row {
            Some(row) => AssetState { json: row.text("state")?, version: row.i64("version")? },
            None => AssetState { json: "{}".into(), version: 0 },
        })
    }
}
