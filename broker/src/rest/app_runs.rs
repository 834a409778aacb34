//! `/rest/app_run`: app runs and their per-parameter results (seeds 000 and 001).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use outpost_proto::OutpostError;

use super::openapi::Routes;
use super::params::{ExpensiveDoc, ListingDoc, PageDoc, Params, PrettyDoc};
use super::render::{self, ActionResultBody, AppRunBody, Failure, ListBody, Names};
use super::{ApiResult, input};
use crate::Broker;
use crate::listing::Value as FilterValue;
use crate::store::collections::{ACTION_RESULTS, APP_RUNS};
use crate::store::runs::AppRun;

pub fn routes(routes: Routes) -> Routes {
    routes.add(__path_list, list).add(__path_read, read).add(__path_results, results)
}

/// List app runs (`_filter_action_run=5`, `_filter_status="failed"`, ...).
#[utoipa::path(get, path = "/rest/app_run", tag = "app runs", params(ListingDoc, ExpensiveDoc),
    description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<AppRunBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<AppRunBody>>> {
    let query = params.list(&APP_RUNS)?;
    Ok(Json(render::app_run_list(&broker.store, &query, params.include_expensive, params.pretty).await?))
}

async fn app_run(broker: &Broker, id: &str) -> Result<AppRun, OutpostError> {
    let id = input::id(id, "app run")?;
    broker.store.get_app_run(id).await?.ok_or_else(|| OutpostError::not_found(format!("app run {id} not found")))
}

/// Read an app run with every seed field, `result_data` included.
#[utoipa::path(get, path = "/rest/app_run/{id}", tag = "app runs", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = AppRunBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<AppRunBody>> {
    let run = app_run(&broker, &id).await?;
    let results = broker.store.results_of(run.id).await?;
    let names = Names::fetch(&broker.store, params.pretty, render::app_run_names(std::slice::from_ref(&run))).await?;
    Ok(Json(render::app_run(&run, Some(&results), &names)))
}

/// List an app run's results, one per parameter set, by parameter index.
#[utoipa::path(get, path = "/rest/app_run/{id}/action_result", tag = "app runs", params(("id" = i64, Path), PageDoc),
    description = "Paged with `page` and `page_size`; `_filter_status`, `_filter_message` and `sort=status|message` work too.",
    responses((status = 200, body = ListBody<ActionResultBody>), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn results(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ListBody<ActionResultBody>>> {
    let run = app_run(&broker, &id).await?;
    let query = params.list(&ACTION_RESULTS)?.with_eq("app_run", FilterValue::Int(run.id));
    let listing = broker.store.list_action_results(&query).await?;
    Ok(Json(ListBody::new(&listing, render::action_result)))
}
