//! Installed apps: their SOAR manifest's fields plus what Outpost keeps.

use outpost_proto::time::iso;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::apps::App;

/// The answer to `POST /rest/app`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppInstalled {
    /// Always true.
    pub success: bool,
    /// The app's numeric id (kept across upgrades).
    pub id: i64,
    /// Whether it was installed, upgraded or already there.
    pub message: String,
}

/// An installed app: its SOAR manifest's fields plus what Outpost keeps.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppBody {
    /// The numeric id, kept across upgrades.
    pub id: i64,
    /// The app's GUID from its manifest.
    pub appid: String,
    /// The name people see and search for.
    pub name: String,
    /// The installed version.
    pub app_version: String,
    /// Free text describing it.
    pub description: String,
    /// The app's vendor: with product_name, SOAR's way to name an app.
    pub product_vendor: String,
    /// The app's product: with product_vendor, SOAR's way to name an app.
    pub product_name: String,
    /// Who published the app.
    pub publisher: String,
    /// The app's license.
    pub license: String,
    /// The asset configuration fields, as the manifest declares them.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// The actions, as the manifest declares them.
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    /// Every other version ever installed, each once, in the order they were replaced:
    /// the last one is the version this one replaced.
    pub known_versions: Vec<String>,
    /// sha256 of the component that runs.
    pub digest: String,
    /// The manifest's sandbox settings (`egress`, `memory_mb`, `timeout_secs`).
    #[schema(value_type = Object)]
    pub outpost: Value,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
}

pub fn app(app: &App) -> AppBody {
    let m = &app.manifest;
    AppBody {
        id: app.id,
        appid: app.appid.clone(),
        name: app.name.clone(),
        app_version: app.app_version.clone(),
        description: m.description.clone(),
        product_vendor: m.product_vendor.clone(),
        product_name: m.product_name.clone(),
        publisher: m.publisher.clone(),
        license: m.license.clone(),
        configuration: Value::Object(m.configuration.clone()),
        actions: serde_json::to_value(&m.actions).unwrap_or_default(),
        known_versions: app.known_versions.clone(),
        digest: app.digest.clone(),
        outpost: serde_json::to_value(&m.outpost).unwrap_or_default(),
        create_time: iso(app.created_ms),
        update_time: iso(app.updated_ms),
    }
}
