//! Assets, their secrets masked.

use outpost_proto::time::iso;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Names, Pretty};
use crate::catalog::assets::masked;
use crate::store::apps::App;
use crate::store::assets::Asset;
use crate::store::collections::Named;

/// An asset: a configured instance of an app. Fields of type `password` show as
/// `********`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Unique and lowercase.
    pub name: String,
    /// Free text describing it.
    pub description: String,
    /// The app it configures.
    pub app: i64,
    /// The app's name; null if the app is gone.
    #[schema(required = true)]
    pub app_name: Option<String>,
    /// The app's vendor: with product_name, SOAR's way to name an app.
    #[schema(required = true)]
    pub product_vendor: Option<String>,
    /// The app's product: with product_vendor, SOAR's way to name an app.
    #[schema(required = true)]
    pub product_name: Option<String>,
    /// The configuration, defaults applied, secrets masked.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// The segment its actions run in; null for the default segment.
    #[schema(required = true)]
    pub automation_broker_id: Option<i64>,
    /// Free labels, for filtering and triage.
    pub tags: Vec<String>,
    /// Outpost extension: the deadline of each parameter set run on this asset, in
    /// seconds (before the action's and the app's; capped by the worker); null when unset.
    #[schema(required = true)]
    pub timeout_secs: Option<u64>,
    /// SOAR's asset type; always "".
    #[serde(rename = "type")]
    pub asset_type: String,
    /// Schema version.
    pub version: i64,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
    /// `?pretty`: the app's name.
    #[serde(rename = "_pretty_app", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_app: Pretty,
    /// `?pretty`: the automation broker's (segment's) name.
    #[serde(rename = "_pretty_automation_broker", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_automation_broker: Pretty,
}

/// The names an asset's `_pretty_*` fields need.
pub fn asset_names(assets: &[Asset]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::App, assets.iter().map(|a| a.app_id).collect()),
        (Named::Segment, assets.iter().filter_map(|a| a.automation_broker_id).collect()),
    ]
}

/// An asset with every `password` field masked.
pub fn asset(asset: &Asset, app: Option<&App>, names: &Names) -> AssetBody {
    let secrets: Vec<&str> = app.map(|a| a.manifest.secret_fields()).unwrap_or_default();
    AssetBody {
        id: asset.id,
        name: asset.name.clone(),
        description: asset.description.clone(),
        app: asset.app_id,
        app_name: app.map(|a| a.name.clone()),
        product_vendor: app.map(|a| a.manifest.product_vendor.clone()),
        product_name: app.map(|a| a.manifest.product_name.clone()),
        configuration: masked(&asset.configuration, &secrets),
        automation_broker_id: asset.automation_broker_id,
        tags: asset.tags.clone(),
        timeout_secs: asset.timeout_secs,
        asset_type: String::new(),
        version: 1,
        create_time: iso(asset.created_ms),
        update_time: iso(asset.updated_ms),
        pretty_app: names.pretty(Named::App, Some(asset.app_id)),
        pretty_automation_broker: names.pretty(Named::Segment, asset.automation_broker_id),
    }
}
