//! `/rest/app`: installed connectors; installing and upgrading them from bundles.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use outpost_proto::OutpostError;
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Body, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params};
use super::render::{self, AppBody, AppInstalled, Failure, ListBody};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::store::apps::Installed;
use crate::store::collections::APPS;

pub fn routes(routes: Routes) -> Routes {
    routes.add(__path_list, list).add(__path_read, read).add(__path_install, install)
}

/// The fields of an install body.
pub const INSTALL_FIELDS: &[&str] = &["app"];

/// An app bundle to install.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InstallAppRequest {
    /// The bundle (a gzip-compressed tar holding `<app>.json` and `<app>.wasm`), base64.
    app: String,
}

/// List installed apps.
#[utoipa::path(get, path = "/rest/app", tag = "apps", params(ListingDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<AppBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<AppBody>>> {
    let listing = broker.store.list_apps_by(&params.list(&APPS)?).await?;
    Ok(Json(ListBody::new(&listing, render::app)))
}

/// Read an installed app: its manifest's fields, `known_versions` and digest.
#[utoipa::path(get, path = "/rest/app/{id}", tag = "apps", params(("id" = i64, Path)),
    responses((status = 200, body = AppBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<AppBody>> {
    let id = input::id(&id, "app")?;
    let app = broker.store.get_app(id).await?.ok_or_else(|| OutpostError::not_found(format!("app {id} not found")))?;
    Ok(Json(render::app(&app)))
}

/// Install or upgrade a connector from a base64 bundle. An upgrade keeps the app's id
/// and records the replaced version in `known_versions`.
#[utoipa::path(post, path = "/rest/app", tag = "apps", request_body = InstallAppRequest,
    responses((status = 200, body = AppInstalled), (status = 400, body = Failure), (status = 413, body = Failure)))]
pub async fn install(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<AppInstalled>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(INSTALL_FIELDS)?;
    let encoded = f.required_string("app")?;
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bundle = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| OutpostError::invalid(format!("'app' must be a base64-encoded bundle: {e}")))?;
    let (app, installed) = broker.install_app(&Actor::from(&who), &bundle).await?;
    let message = match installed {
        Installed::Created => format!("app '{}' {} installed", app.name, app.app_version),
        Installed::Upgraded => format!("app '{}' upgraded to {}", app.name, app.app_version),
        Installed::Unchanged => format!("app '{}' {} was installed already", app.name, app.app_version),
    };
    Ok(Json(AppInstalled { success: true, id: app.id, message }))
}
