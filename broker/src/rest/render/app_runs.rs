//! App runs and the results of their parameter sets (seed 000).

use outpost_proto::time::iso_opt;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ListBody, Names, Pretty};
use crate::listing::ListQuery;
use crate::store::collections::Named;
use crate::store::runs::{ActionResult, AppRun};
use crate::store::{Store, StoreResult};

/// An app run: one (target, asset) of an action run (seed 000: `/rest/app_run/<id>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppRunBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// The action that was run.
    pub action: String,
    /// The action run it belongs to.
    pub action_run: i64,
    /// The asset it ran on.
    pub asset: i64,
    /// The app that ran it.
    pub app: i64,
    /// The app's name when the run was made.
    pub app_name: String,
    /// The app's version when the run was made.
    pub app_version: String,
    /// The container of the action run.
    pub container: i64,
    /// When its last parameter set finished; null until then.
    #[schema(required = true, format = DateTime)]
    pub end_time: Option<String>,
    /// Whether the sandbox, not the connector, decided an outcome (trap, timeout,
    /// memory cap, abandoned task). SOAR's spelling.
    pub exception_occured: bool,
    /// SOAR's per-parameter message: `'<run>' on asset '<asset>': 1 action succeeded. (1)For Parameter: ...`.
    pub message: String,
    /// Always null: Outpost runs no playbooks.
    #[schema(required = true)]
    pub playbook_run: Option<i64>,
    /// When its first parameter set started; null while pending.
    #[schema(required = true, format = DateTime)]
    pub start_time: Option<String>,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
    /// Schema version.
    pub version: i64,
    /// What the connector contacted (outgoing HTTP), one object per request.
    #[schema(value_type = Vec<Object>)]
    pub extra_data: Value,
    /// `total_objects`, `total_objects_successful` and the app's own summary keys.
    #[schema(value_type = Object)]
    pub result_summary: Value,
    /// The user the action ran as.
    #[schema(required = true)]
    pub effective_user: Option<i64>,
    /// The worker that ran it (its last parameter set); null until one reported.
    #[schema(required = true)]
    pub node_guid: Option<String>,
    /// The segment (automation broker) it ran in; null for the default.
    #[schema(required = true)]
    pub automation_broker: Option<i64>,
    /// Every parameter set's result: always on `/rest/app_run/<id>`, on lists with
    /// `?include_expensive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_data: Option<Vec<ActionResultBody>>,
    /// `?pretty`: the asset's name.
    #[serde(rename = "_pretty_asset", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_asset: Pretty,
    /// `?pretty`: the app's name.
    #[serde(rename = "_pretty_app", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_app: Pretty,
    /// `?pretty`: the container's name.
    #[serde(rename = "_pretty_container", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_container: Pretty,
    /// `?pretty`: the action run's name.
    #[serde(rename = "_pretty_action_run", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_action_run: Pretty,
    /// `?pretty`: the effective user's name.
    #[serde(rename = "_pretty_effective_user", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_effective_user: Pretty,
    /// `?pretty`: the automation broker's (segment's) name.
    #[serde(rename = "_pretty_automation_broker", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_automation_broker: Pretty,
}

/// The names an app run's `_pretty_*` fields need.
pub fn app_run_names(runs: &[AppRun]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::Asset, runs.iter().map(|r| r.asset_id).collect()),
        (Named::App, runs.iter().map(|r| r.app_id).collect()),
        (Named::Container, runs.iter().map(|r| r.container_id).collect()),
        (Named::ActionRun, runs.iter().map(|r| r.action_run_id).collect()),
        (Named::User, runs.iter().filter_map(|r| r.effective_user).collect()),
        (Named::Segment, runs.iter().filter_map(|r| r.automation_broker_id).collect()),
    ]
}

/// An app run; `results` is `Some` on the detail and with `include_expensive`.
pub fn app_run(run: &AppRun, results: Option<&[ActionResult]>, names: &Names) -> AppRunBody {
    AppRunBody {
        id: run.id,
        action: run.action.clone(),
        action_run: run.action_run_id,
        asset: run.asset_id,
        app: run.app_id,
        app_name: run.app_name.clone(),
        app_version: run.app_version.clone(),
        container: run.container_id,
        end_time: iso_opt(run.end_ms),
        exception_occured: run.exception_occured,
        message: run.message.clone(),
        playbook_run: None,
        start_time: iso_opt(run.start_ms),
        status: run.status.as_str().into(),
        version: run.version,
        extra_data: run.extra_data.clone(),
        result_summary: run.result_summary.clone(),
        effective_user: run.effective_user,
        node_guid: run.node_guid.clone(),
        automation_broker: run.automation_broker_id,
        result_data: results.map(|r| r.iter().map(action_result).collect()),
        pretty_asset: names.pretty(Named::Asset, Some(run.asset_id)),
        pretty_app: names.pretty(Named::App, Some(run.app_id)),
        pretty_container: names.pretty(Named::Container, Some(run.container_id)),
        pretty_action_run: names.pretty(Named::ActionRun, Some(run.action_run_id)),
        pretty_effective_user: names.pretty(Named::User, run.effective_user),
        pretty_automation_broker: names.pretty(Named::Segment, run.automation_broker_id),
    }
}

/// The result of one parameter set (seed 000: `/rest/app_run/<id>/action_result`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResultBody {
    /// The connector's data items.
    #[schema(value_type = Vec<Object>)]
    pub data: Value,
    /// `success` or `failed`.
    pub status: String,
    /// The connector's message.
    pub message: String,
    /// The connector's summary.
    #[schema(value_type = Object)]
    pub summary: Value,
    /// The parameter set, defaults applied, with its `context` (`guid`, `artifact_id`,
    /// `parent_action_run`).
    #[schema(value_type = Object)]
    pub parameter: Value,
}

pub fn action_result(result: &ActionResult) -> ActionResultBody {
    ActionResultBody {
        data: result.data.clone(),
        status: result.status.as_str().into(),
        message: result.message.clone(),
        summary: result.summary.clone(),
        parameter: result.parameter.clone(),
    }
}

/// A page of app runs with the names their `_pretty_*` fields show, and every app run's
/// `result_data` when `include_expensive`.
pub async fn app_run_list(
    store: &Store,
    query: &ListQuery,
    include_expensive: bool,
    pretty: bool,
) -> StoreResult<ListBody<AppRunBody>> {
    let listing = store.list_app_runs(query).await?;
    let mut results = if include_expensive {
        let ids: Vec<i64> = listing.data.iter().map(|r| r.id).collect();
        Some(store.results_of_app_runs(&ids).await?)
    } else {
        None
    };
    let names = Names::fetch(store, pretty, app_run_names(&listing.data)).await?;
    Ok(ListBody {
        count: listing.count,
        num_pages: listing.num_pages,
        data: listing
            .data
            .iter()
            .map(|run| {
                let own = results.as_mut().map(|r| r.remove(&run.id).unwrap_or_default());
                app_run(run, own.as_deref(), &names)
            })
            .collect(),
    })
}
