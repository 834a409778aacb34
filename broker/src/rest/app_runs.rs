//! `/rest/app_run/<id>` and its `action_result` listing (seeds 000 and 001).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use outpost_proto::OutpostError;
use serde_json::Value;

use super::action_runs::PageQuery;
use super::{ApiResult, input, render};
use crate::Broker;
use crate::store::Page;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new()
        .route("/rest/app_run/{id}", get(read))
        .route("/rest/app_run/{id}/action_result", get(results))
}

async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "app run")?;
    let run = broker.store.get_app_run(id).await?.ok_or_else(|| OutpostError::not_found(format!("app run {id} not found")))?;
    let results = broker.store.list_results(id, Page { page: 0, page_size: 0 }).await?;
    Ok(Json(render::app_run(&run, &results.data)))
}

async fn results(State(broker): State<Arc<Broker>>, Path(id): Path<String>, Query(page): Query<PageQuery>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "app run")?;
    if broker.store.get_app_run(id).await?.is_none() {
        return Err(OutpostError::not_found(format!("app run {id} not found")).into());
    }
    let listing = broker.store.list_results(id, page.page()?).await?;
    Ok(Json(render::listing(&listing, render::action_result)))
}
