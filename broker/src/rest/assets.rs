//! `/rest/asset`: configured instances of apps. Fields of type `password` are sealed at
//! rest and never returned in clear; the checks live in [`crate::catalog::assets`].
//! `POST /rest/asset/<id>/test` (or SOAR's `{"test_connectivity": true}` on the asset)
//! starts its connectivity test; `/rest/app_status` shows the outcome.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use outpost_proto::topology::MAX_TASK_TIMEOUT_SECS;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};

use super::ApiResult;
use super::input::{self, Body, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params, PrettyDoc};
use super::render::{self, AssetBody, Deleted, Failure, ListBody, Names, Saved, TestStartedBody};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::catalog::assets::AssetInput;
use crate::store::apps::App;
use crate::store::assets::Asset;
use crate::store::collections::ASSETS;

pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_create, create)
        .add(__path_list, list)
        .add(__path_read, read)
        .add(__path_update, update)
        .add(__path_delete, delete)
        .add(__path_test_asset, test_asset)
}

/// The fields of an asset body.
pub const FIELDS: &[&str] = &[
    "name",
    "app",
    "app_id",
    "product_vendor",
    "product_name",
    "configuration",
    "description",
    "automation_broker_id",
    "tags",
    "timeout_secs",
    "type",
];

/// An asset to create, or the fields of one to change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssetRequest {
    /// Unique; stored lowercase. Required on create.
    name: Option<String>,
    /// The app: numeric id or GUID (on create, this or `product_vendor` + `product_name`).
    #[schema(value_type = Option<Object>)]
    app: Option<Value>,
    /// Alias of `app`.
    #[schema(value_type = Option<Object>)]
    app_id: Option<Value>,
    /// With `product_name`, names the app as SOAR does.
    product_vendor: Option<String>,
    /// With `product_vendor`, names the app as SOAR does.
    product_name: Option<String>,
    /// Checked against the app's `configuration` schema; defaults filled in. On update,
    /// merged key by key (`null` removes a key); a secret sent as `********` or left out
    /// keeps its stored value.
    #[schema(value_type = Option<Object>)]
    configuration: Option<Map<String, Value>>,
    /// Free text describing it.
    description: Option<String>,
    /// The segment (automation broker) its actions run in; `null` for the default.
    automation_broker_id: Option<i64>,
    /// Free labels, for filtering and triage.
    tags: Option<Vec<String>>,
    /// Outpost extension: the deadline of each parameter set run on this asset
    /// (documented by [`timeout_secs_schema`], whose bounds are the bus's).
    #[schema(schema_with = timeout_secs_schema)]
    timeout_secs: Option<i64>,
    /// Accepted for SOAR compatibility and ignored.
    #[schema(rename = "type")]
    asset_type: Option<String>,
}

/// `timeout_secs` in the OpenAPI document, bounded by [`MAX_TASK_TIMEOUT_SECS`] (a schema
/// attribute takes only literals).
fn timeout_secs_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .description(Some(format!(
            "Outpost extension: the deadline of each parameter set run on this asset, in whole\n\
             seconds (1 to {MAX_TASK_TIMEOUT_SECS}). It comes before the action's and the app's `timeout_secs`;\n\
             the worker's `--max-timeout-secs` caps it. `null` clears it."
        )))
        .minimum(Some(1))
        .maximum(Some(MAX_TASK_TIMEOUT_SECS))
        .build()
}

/// `{"test_connectivity": true}`: SOAR's way to test an asset's connectivity, on the
/// asset's own route.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TestConnectivityRequest {
    /// Must be true (false is no field of an asset).
    test_connectivity: bool,
}

/// What `POST /rest/asset/<id>` takes: a change, or a connectivity test.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum AssetUpdateRequest {
    /// The fields to change.
    Change(Box<AssetRequest>),
    /// Run the connectivity test instead.
    Test(TestConnectivityRequest),
}

/// What `POST /rest/asset/<id>` answers: the change saved, or the test started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AssetUpdated {
    /// The asset was changed.
    Saved(Saved),
    /// Its connectivity test was started.
    TestStarted(TestStartedBody),
}

/// Reads an asset body.
pub fn parse_asset(body: &[u8]) -> Result<AssetInput, OutpostError> {
    let map = input::object(body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    f.string("type")?;
    let app = match f.value("app").map(|v| ("app", v)).or_else(|| f.value("app_id").map(|v| ("app_id", v))) {
        Some((field, value)) => Some(input::id_or_name(value, field)?),
        None => None,
    };
    Ok(AssetInput {
        name: f.string("name")?,
        app,
        product_vendor: f.string("product_vendor")?,
        product_name: f.string("product_name")?,
        description: f.string("description")?,
        configuration: f.object("configuration")?.cloned(),
        automation_broker_id: f.nullable_id("automation_broker_id")?,
        tags: f.strings("tags")?,
        timeout_secs: match map.get("timeout_secs") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => Some(f.int("timeout_secs")?),
        },
    })
}

/// Renders assets with their apps (for masking) and names.
async fn show(broker: &Broker, assets: &[Asset], pretty: bool) -> ApiResult<Vec<AssetBody>> {
    let mut apps: HashMap<i64, Option<App>> = HashMap::new();
    for asset in assets {
        if let std::collections::hash_map::Entry::Vacant(entry) = apps.entry(asset.app_id) {
            entry.insert(broker.store.get_app(asset.app_id).await?);
        }
    }
    let names = Names::fetch(&broker.store, pretty, render::asset_names(assets)).await?;
    Ok(assets.iter().map(|a| render::asset(a, apps.get(&a.app_id).and_then(Option::as_ref), &names)).collect())
}

/// Create an asset.
#[utoipa::path(post, path = "/rest/asset", tag = "assets", request_body = AssetRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure), (status = 409, body = Failure)))]
pub async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Saved>> {
    let asset = broker.create_asset(&Actor::from(&who), parse_asset(&body)?).await?;
    Ok(Json(Saved::new(asset.id)))
}

/// List assets.
#[utoipa::path(get, path = "/rest/asset", tag = "assets", params(ListingDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<AssetBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<AssetBody>>> {
    let listing = broker.store.list_assets_by(&params.list(&ASSETS)?).await?;
    let data = show(&broker, &listing.data, params.pretty).await?;
    Ok(Json(ListBody { count: listing.count, num_pages: listing.num_pages, data }))
}

/// Read an asset; secrets show as `********`.
#[utoipa::path(get, path = "/rest/asset/{id}", tag = "assets", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = AssetBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<AssetBody>> {
    let asset = broker.asset(input::id(&id, "asset")?).await?;
    let mut shown = show(&broker, std::slice::from_ref(&asset), params.pretty).await?;
    Ok(Json(shown.remove(0)))
}

/// Change an asset (as SOAR does, with POST): only the fields given change. With
/// `{"test_connectivity": true}`, run its connectivity test instead.
#[utoipa::path(post, path = "/rest/asset/{id}", tag = "assets", params(("id" = i64, Path)), request_body = AssetUpdateRequest,
    responses((status = 200, body = AssetUpdated), (status = 400, body = Failure), (status = 404, body = Failure), (status = 409, body = Failure)))]
pub async fn update(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<AssetUpdated>> {
    let id = input::id(&id, "asset")?;
    // SOAR runs an asset's connectivity test with `{"test_connectivity": true}` on this
    // same route.
    if let Ok(map) = input::object(&body)
        && is_test_connectivity(&map)
    {
        Fields::new(&map).only(&["test_connectivity"])?;
        let started = broker.test_connectivity(&Actor::from(&who), id).await?;
        return Ok(Json(AssetUpdated::TestStarted(TestStartedBody::from(&started))));
    }
    let asset = broker.update_asset(&Actor::from(&who), id, parse_asset(&body)?).await?;
    Ok(Json(AssetUpdated::Saved(Saved::new(asset.id))))
}

/// Delete an asset no app run refers to (assets with run history are kept).
#[utoipa::path(delete, path = "/rest/asset/{id}", tag = "assets", params(("id" = i64, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn delete(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    let asset = broker.delete_asset(&Actor::from(&who), input::id(&id, "asset")?).await?;
    Ok(Json(Deleted { success: true, id: asset.id, message: format!("asset '{}' deleted", asset.name) }))
}

/// Test an asset's connectivity: runs the app's `test connectivity` action on the
/// system container; `/rest/app_status` shows the outcome.
#[utoipa::path(post, path = "/rest/asset/{id}/test", tag = "assets", params(("id" = i64, Path)),
    responses((status = 200, body = TestStartedBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn test_asset(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<TestStartedBody>> {
    let id = input::id(&id, "asset")?;
    let started = broker.test_connectivity(&Actor::from(&who), id).await?;
    Ok(Json(TestStartedBody::from(&started)))
}

/// Whether an asset POST body asks for a connectivity test (`{"test_connectivity": true}`).
pub fn is_test_connectivity(map: &Map<String, Value>) -> bool {
    map.get("test_connectivity").and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_documented_deadline_is_bounded_by_the_bus() {
        let schema = serde_json::to_value(super::timeout_secs_schema()).unwrap();
        assert_eq!((&schema["minimum"], &schema["maximum"]), (&json!(1), &json!(1799)));
        assert_eq!(schema["type"], json!(["integer", "null"]));
        assert!(schema["description"].as_str().unwrap().contains("in whole\nseconds (1 to 1799)."), "{schema}");
    }
}
