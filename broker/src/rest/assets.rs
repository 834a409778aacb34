//! `/rest/asset`: configured instances of apps. Fields of type `password` are sealed at
//! rest and never returned in clear.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use outpost_proto::OutpostError;
use serde_json::{Map, Value, json};

use super::input::{self, Fields};
use super::{ApiResult, render};
use crate::Broker;
use crate::audit::{self, AuditObject};
use crate::auth::Principal;
use crate::store::apps::App;
use crate::store::assets::NewAsset;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new().route("/rest/asset", post(create)).route("/rest/asset/{id}", get(read).post(super::system::asset_post))
}

const FIELDS: &[&str] = &[
    "name",
    "app",
    "app_id",
    "product_vendor",
    "product_name",
    "configuration",
    "description",
    "automation_broker_id",
    "tags",
    "type",
];

/// Asset names as SOAR keeps them: trimmed, lowercase, no spaces at the ends.
pub fn normalize_name(name: &str) -> Result<String, OutpostError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(OutpostError::invalid("'name' must be 1 to 128 printable characters"));
    }
    if name.parse::<i64>().is_ok() {
        return Err(OutpostError::invalid("'name' cannot be a number: assets are found by id or name"));
    }
    Ok(name)
}

/// Finds the app an asset body names: `app`/`app_id` (id or GUID), or SOAR's
/// `product_vendor` + `product_name`.
pub async fn app_of(broker: &Broker, f: &Fields<'_>) -> Result<App, OutpostError> {
    let key = match (f.id_like("app").ok().flatten(), f.string("app").ok().flatten(), f.id_like("app_id").ok().flatten(), f.string("app_id").ok().flatten()) {
        (Some(id), ..) | (_, _, Some(id), _) => Some(id.to_string()),
        (_, Some(s), ..) | (.., Some(s)) => Some(s),
        _ => None,
    };
    if let Some(key) = key {
        return broker.store.find_app(&key).await?.ok_or_else(|| OutpostError::not_found(format!("app '{key}' not found")));
    }
    let (vendor, product) = (f.string("product_vendor")?, f.string("product_name")?);
    let (Some(vendor), Some(product)) = (vendor, product) else {
        return Err(OutpostError::invalid("name the asset's app: 'app' (id or GUID), or 'product_vendor' and 'product_name'"));
    };
    broker
        .store
        .list_apps()
        .await?
        .into_iter()
        .find(|a| a.manifest.product_vendor.eq_ignore_ascii_case(&vendor) && a.manifest.product_name.eq_ignore_ascii_case(&product))
        .ok_or_else(|| OutpostError::not_found(format!("no app with product_vendor '{vendor}' and product_name '{product}'")))
}

/// Checks a segment id given as `automation_broker_id`.
pub async fn segment_of(broker: &Broker, f: &Fields<'_>) -> Result<Option<i64>, OutpostError> {
    match f.id_like("automation_broker_id")? {
        None => Ok(None),
        Some(id) => match broker.store.get_segment(id).await? {
            Some(_) => Ok(Some(id)),
            None => Err(OutpostError::not_found(format!("automation broker {id} not found"))),
        },
    }
}

async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    let name = normalize_name(&f.required_string("name")?)?;
    let app = app_of(&broker, &f).await?;
    let given = f.object("configuration")?.cloned().unwrap_or_else(Map::new);
    let configuration = app.manifest.apply_configuration(&given).map_err(OutpostError::invalid)?;
    let asset = NewAsset {
        name: name.clone(),
        app_id: app.id,
        description: f.string("description")?.unwrap_or_default(),
        configuration,
        automation_broker_id: segment_of(&broker, &f).await?,
        tags: f.strings("tags")?.unwrap_or_default(),
    };
    match broker.store.create_asset(&asset).await {
        Ok(asset) => {
            let fields = audit::asset_fields(&asset);
            broker.audit.record_change(&who, AuditObject::asset(&asset), None, Some(&fields)).await;
            Ok(Json(json!({"success": true, "id": asset.id})))
        }
        Err(e) if e.is_unique_violation() => Err(OutpostError::conflict(format!("an asset named '{name}' exists already")).into()),
        Err(e) => Err(e.into()),
    }
}

async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "asset")?;
    let asset = broker.store.get_asset(id).await?.ok_or_else(|| OutpostError::not_found(format!("asset {id} not found")))?;
    let app = broker.store.get_app(asset.app_id).await?;
    Ok(Json(render::asset(&asset, app.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_name("  GeoIP Asset ").unwrap(), "geoip asset");
        assert!(normalize_name("").is_err());
        assert!(normalize_name("42").unwrap_err().message.contains("cannot be a number"));
        assert!(normalize_name("a\nb").is_err());
    }
}
