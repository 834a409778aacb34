//! `/rest/app`: installed connectors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use outpost_proto::OutpostError;
use serde_json::{Value, json};

use super::input::{self, Fields};
use super::{ApiResult, render};
use crate::Broker;
use crate::audit::Actor;
use crate::auth::Principal;
use crate::store::Page;
use crate::store::apps::Installed;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new().route("/rest/app", get(list).post(install)).route("/rest/app/{id}", get(read))
}

async fn list(State(broker): State<Arc<Broker>>) -> ApiResult<Json<Value>> {
    let apps = broker.store.list_apps().await?;
    let page = Page { page: 0, page_size: 0 };
    let listing = crate::store::Listing { count: apps.len() as u64, num_pages: page.num_pages(apps.len() as u64), data: apps };
    Ok(Json(render::listing(&listing, render::app)))
}

async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "app")?;
    let app = broker.store.get_app(id).await?.ok_or_else(|| OutpostError::not_found(format!("app {id} not found")))?;
    Ok(Json(render::app(&app)))
}

/// `{"app": "<base64 bundle>"}` installs or upgrades a connector.
async fn install(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(&["app"])?;
    let encoded = f.required_string("app")?;
    let bundle = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| OutpostError::invalid(format!("'app' must be a base64-encoded bundle: {e}")))?;
    let (app, installed) = broker.install_app(&bundle).await?;
    broker.audit_app_install(&Actor::from(&who), &app, installed).await;
    let message = match installed {
        Installed::Created => format!("app '{}' {} installed", app.name, app.app_version),
        Installed::Upgraded => format!("app '{}' upgraded to {}", app.name, app.app_version),
        Installed::Unchanged => format!("app '{}' {} was installed already", app.name, app.app_version),
    };
    Ok(Json(json!({"success": true, "id": app.id, "message": message})))
}
