//! Installed apps: the manifest of the current version, the component by digest, and the
//! versions seen before (`known_versions`).

use outpost_proto::manifest::Manifest;
use outpost_proto::time::now_ms;

use super::collections::APPS;
use super::{Listing, Row, Store, StoreError, StoreResult, parse_json};
use crate::listing::ListQuery;
use crate::store::args;

/// An installed app.
#[derive(Debug, Clone)]
pub struct App {
    pub id: i64,
    pub appid: String,
    pub name: String,
    pub app_version: String,
    pub manifest: Manifest,
    /// sha256 of the current version's component.
    pub digest: String,
    /// Every other version ever installed, each once, in the order they were replaced:
    /// the last one is the version this one replaced (after a downgrade, the newer one).
    pub known_versions: Vec<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What an install did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// A new app.
    Created,
    /// A new version of an app installed before.
    Upgraded,
    /// The same version and component were installed already.
    Unchanged,
}

const APP_COLUMNS: &str = "id, appid, name, app_version, manifest, digest, known_versions, created_ms, updated_ms";

fn app_from_row(row: &Row) -> StoreResult<App> {
    let manifest: Manifest =
        serde_json::from_str(&row.text("manifest")?).map_err(|e| StoreError::Corrupt(format!("app manifest: {e}")))?;
    let known_versions = serde_json::from_value(parse_json(&row.text("known_versions")?)?)
        .map_err(|e| StoreError::Corrupt(format!("known_versions: {e}")))?;
    Ok(App {
        id: row.i64("id")?,
        appid: row.text("appid")?,
        name: row.text("name")?,
        app_version: row.text("app_version")?,
        manifest,
        digest: row.text("digest")?,
        known_versions,
        created_ms: row.i64("created_ms")?,
        updated_ms: row.i64("updated_ms")?,
    })
}

/// `known_versions` after version `replaced` gives way to `installed`: every version
/// ever installed but the current one, each once, the one just replaced last (audit
/// reads it as the previous version).
fn known_versions(known: &[String], replaced: &str, installed: &str) -> Vec<String> {
    let mut versions: Vec<String> = known.iter().filter(|v| *v != installed && *v != replaced).cloned().collect();
    if replaced != installed {
        versions.push(replaced.to_string());
    }
    versions
}

impl Store {
    /// Installs an app or upgrades (or downgrades) it (same `appid`), keeping its numeric
    /// id and recording the replaced version in `known_versions`.
    pub async fn install_app(
        &self,
        manifest: &Manifest,
        digest: &str,
        component: &[u8],
    ) -> StoreResult<(App, Installed)> {
        let now = now_ms();
        let manifest_json = serde_json::to_string(manifest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO app_components (digest, component, size, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (digest) DO NOTHING",
            args![digest, component.to_vec(), component.len() as i64, now],
        )
        .await?;
        let existing = tx
            .fetch_optional(&format!("SELECT {APP_COLUMNS} FROM apps WHERE appid = $1"), args![&manifest.appid])
            .await?;
        let installed = match existing {
            None => {
                tx.execute(
                    "INSERT INTO apps (appid, name, app_version, manifest, digest, known_versions, created_ms, updated_ms,
                     product_vendor, product_name)
                     VALUES ($1, $2, $3, $4, $5, '[]', $6, $6, $7, $8)",
                    args![
                        &manifest.appid,
                        &manifest.name,
                        &manifest.app_version,
                        manifest_json,
                        digest,
                        now,
                        &manifest.product_vendor,
                        &manifest.product_name
                    ],
                )
                .await?;
                Installed::Created
            }
            Some(row) => {
                let app = app_from_row(&row)?;
                if app.app_version == manifest.app_version && app.digest == digest && &app.manifest == manifest {
                    Installed::Unchanged
                } else {
                    let known = known_versions(&app.known_versions, &app.app_version, &manifest.app_version);
                    let known = serde_json::to_string(&known).expect("strings serialize");
                    tx.execute(
                        "UPDATE apps SET name = $1, app_version = $2, manifest = $3, digest = $4, known_versions = $5,
                         updated_ms = $6, product_vendor = $7, product_name = $8 WHERE id = $9",
                        args![
                            &manifest.name,
                            &manifest.app_version,
                            manifest_json,
                            digest,
                            known,
                            now,
                            &manifest.product_vendor,
                            &manifest.product_name,
                            app.id
                        ],
                    )
                    .await?;
                    Installed::Upgraded
                }
            }
        };
        let row =
            tx.fetch_one(&format!("SELECT {APP_COLUMNS} FROM apps WHERE appid = $1"), args![&manifest.appid]).await?;
        tx.commit().await?;
        Ok((app_from_row(&row)?, installed))
    }

    /// A page of apps (see [`ListQuery`]).
    pub async fn list_apps_by(&self, query: &ListQuery) -> StoreResult<Listing<App>> {
        debug_assert!(std::ptr::eq(query.collection, &APPS));
        self.list(query, APP_COLUMNS, app_from_row).await
    }

    /// Finds an app by SOAR's `product_vendor` and `product_name` (case-insensitive).
    pub async fn find_app_by_product(&self, vendor: &str, product: &str) -> StoreResult<Option<App>> {
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT {APP_COLUMNS} FROM apps WHERE LOWER(product_vendor) = LOWER($1) AND LOWER(product_name) = LOWER($2)
                     ORDER BY id LIMIT 1"
                ),
                args![vendor.trim(), product.trim()],
            )
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    pub async fn get_app(&self, id: i64) -> StoreResult<Option<App>> {
        let row = self.db.fetch_optional(&format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1"), args![id]).await?;
        row.as_ref().map(app_from_row).transpose()
    }

    /// Finds an app by numeric id or by its GUID, as SOAR's `app_id` allows.
    pub async fn find_app(&self, id_or_guid: &str) -> StoreResult<Option<App>> {
        if let Ok(id) = id_or_guid.trim().parse::<i64>() {
            return self.get_app(id).await;
        }
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {APP_COLUMNS} FROM apps WHERE LOWER(appid) = LOWER($1)"),
                args![id_or_guid.trim()],
            )
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    /// A component's bytes by digest (any version ever installed).
    pub async fn component(&self, digest: &str) -> StoreResult<Option<Vec<u8>>> {
        let row =
            self.db.fetch_optional("SELECT component FROM app_components WHERE digest = $1", args![digest]).await?;
        Ok(match row {
            Some(row) => Some(row.bytes("component")?),
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::known_versions;

    fn versions(list: &[&str]) -> Vec<String> {
        list.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn known_versions_hold_every_other_version_once() {
        assert_eq!(known_versions(&[], "1.0.0", "2.0.0"), versions(&["1.0.0"]), "upgrade");
        assert_eq!(known_versions(&versions(&["1.0.0"]), "2.0.0", "2.0.0"), versions(&["1.0.0"]), "same version");
        assert_eq!(known_versions(&versions(&["1.0.0"]), "2.0.0", "1.0.0"), versions(&["2.0.0"]), "downgrade");
        assert_eq!(
            known_versions(&versions(&["2.0.0"]), "1.0.0", "2.0.0"),
            versions(&["1.0.0"]),
            "upgrade again after a downgrade"
        );
        assert_eq!(
            known_versions(&versions(&["1.0.0", "2.0.0"]), "3.0.0", "2.0.0"),
            versions(&["1.0.0", "3.0.0"]),
            "the last one is always the version just replaced"
        );
        assert_eq!(known_versions(&versions(&["2.0.0"]), "1.0.0", "3.0.0"), versions(&["2.0.0", "1.0.0"]));
    }
}
