//! `/rest/action_run`: run an action, list and read action runs, cancel one, list its app
//! runs (seeds 000 and 001).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use outpost_proto::manifest::json_type;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Body, Fields};
use super::openapi::Routes;
use super::params::{ExpensiveDoc, ListingDoc, Params, PrettyDoc};
use super::render::{self, ActionRunBody, AppRunBody, CancelDone, Failure, ListBody, Names, RunQueued};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::listing::Value as FilterValue;
use crate::runs::dispatch::{RunAction, Target};
use crate::store::collections::{ACTION_RUNS, APP_RUNS};

pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_run, run)
        .add(__path_list, list)
        .add(__path_read, read)
        .add(__path_cancel, cancel)
        .add(__path_app_runs, app_runs)
}

/// The fields of a run-action body.
pub const RUN_FIELDS: &[&str] = &["action", "container_id", "name", "targets", "type", "exec_delay_secs"];
/// The fields of one target.
pub const TARGET_FIELDS: &[&str] = &["app_id", "assets", "parameters", "app"];

/// SOAR's run-action body (seed 000).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RunActionRequest {
    /// The action to run, e.g. "whois domain".
    action: String,
    /// The container to run it on.
    container_id: i64,
    /// A name for the run; default `user initiated <action> action`.
    name: Option<String>,
    /// One or more combinations of app, assets and parameter sets.
    targets: Vec<TargetRequest>,
    /// The action's type; default the manifest's.
    #[schema(rename = "type")]
    action_type: Option<String>,
    /// Seconds to wait before running (at most 30 days).
    exec_delay_secs: Option<i64>,
}

/// One target of a run-action body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TargetRequest {
    /// The app: numeric id or GUID.
    #[schema(value_type = Object, example = 12)]
    app_id: Value,
    /// Alias of `app_id`.
    #[schema(value_type = Option<Object>)]
    app: Option<Value>,
    /// Asset ids or names; may be left out when the app has exactly one asset.
    #[schema(value_type = Option<Vec<Object>>)]
    assets: Option<Vec<Value>>,
    /// Parameter sets, each an object; each gets a `context`. At least one of `assets`
    /// and `parameters` is required.
    #[schema(value_type = Option<Vec<Object>>)]
    parameters: Option<Vec<Map<String, Value>>>,
}

/// SOAR's cancel body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CancelRequest {
    /// Must be true.
    cancel: bool,
}

fn in_target(at: &str, e: OutpostError) -> OutpostError {
    OutpostError::invalid(format!("{at}: {}", e.message))
}

/// Reads SOAR's run-action body.
pub fn parse_run(body: &[u8]) -> Result<RunAction, OutpostError> {
    let map = input::object(body)?;
    let f = Fields::new(&map);
    f.only(RUN_FIELDS)?;
    let action = f.required_string("action")?;
    let container_id = f.required_int("container_id")?;
    let targets = f.array("targets")?.ok_or_else(|| OutpostError::invalid("'targets' is required"))?;
    let mut parsed = vec![];
    for (i, target) in targets.iter().enumerate() {
        let at = format!("targets[{i}]");
        let Value::Object(target) = target else {
            return Err(OutpostError::invalid(format!("'{at}' must be an object, got {}", json_type(target))));
        };
        let t = Fields::new(target);
        t.only(TARGET_FIELDS).map_err(|e| in_target(&at, e))?;
        let app_id = match t.value("app_id").or_else(|| t.value("app")) {
            Some(v) => input::id_or_name(v, &format!("{at}.app_id"))?,
            None => return Err(OutpostError::invalid(format!("'{at}.app_id' is required"))),
        };
        let assets = match t.array("assets").map_err(|e| in_target(&at, e))? {
            Some(items) => {
                items.iter().map(|v| input::id_or_name(v, &format!("{at}.assets"))).collect::<Result<Vec<_>, _>>()?
            }
            None => vec![],
        };
        let parameters = match t.array("parameters").map_err(|e| in_target(&at, e))? {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(p, v)| match v {
                    Value::Object(m) => Ok(m.clone()),
                    other => Err(OutpostError::invalid(format!(
                        "'{at}.parameters[{p}]' must be an object, got {}",
                        json_type(other)
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![],
        };
        parsed.push(Target { app_id, assets, parameters });
    }
    Ok(RunAction {
        action,
        container_id,
        name: f.string("name")?.unwrap_or_default(),
        action_type: f.string("type")?,
        exec_delay_secs: f.int("exec_delay_secs")?.unwrap_or(0),
        targets: parsed,
    })
}

/// Run an action: validated against the app manifests, persisted, queued.
#[utoipa::path(post, path = "/rest/action_run", tag = "action runs", request_body = RunActionRequest,
    responses((status = 200, body = RunQueued), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn run(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<RunQueued>> {
    let id = broker.run_action(&Actor::from(&who), parse_run(&body)?).await?;
    Ok(Json(RunQueued { action_run_id: id, message: "New action queued.".into(), success: true }))
}

/// List action runs.
#[utoipa::path(get, path = "/rest/action_run", tag = "action runs", params(ListingDoc),
    description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<ActionRunBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<ActionRunBody>>> {
    let listing = broker.store.list_action_runs(&params.list(&ACTION_RUNS)?).await?;
    let names = Names::fetch(&broker.store, params.pretty, render::action_run_names(&listing.data)).await?;
    Ok(Json(ListBody::new(&listing, |r| render::action_run(r, &names))))
}

/// Read an action run: its status, message and every seed field.
#[utoipa::path(get, path = "/rest/action_run/{id}", tag = "action runs", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = ActionRunBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ActionRunBody>> {
    let run = action_run(&broker, &id).await?;
    let names =
        Names::fetch(&broker.store, params.pretty, render::action_run_names(std::slice::from_ref(&run))).await?;
    Ok(Json(render::action_run(&run, &names)))
}

async fn action_run(broker: &Broker, id: &str) -> Result<crate::store::runs::ActionRun, OutpostError> {
    let id = input::id(id, "action run")?;
    broker.store.get_action_run(id).await?.ok_or_else(|| OutpostError::not_found(format!("action run {id} not found")))
}

/// Cancel a pending or running action run; finished results are kept.
#[utoipa::path(post, path = "/rest/action_run/{id}", tag = "action runs", params(("id" = i64, Path)), request_body = CancelRequest,
    responses((status = 200, body = CancelDone), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn cancel(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<CancelDone>> {
    let id = input::id(&id, "action run")?;
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(&["cancel"])?;
    if f.bool("cancel")? != Some(true) {
        return Err(OutpostError::invalid("only {\"cancel\": true} can be posted to an action run").into());
    }
    let stopped = broker.cancel_action_run(&Actor::from(&who), id).await?;
    Ok(Json(CancelDone {
        cancelled: true,
        message: format!("action run {id} cancelled; {stopped} parameter sets stopped, finished results kept"),
    }))
}

/// List the app runs of an action run.
#[utoipa::path(get, path = "/rest/action_run/{id}/app_runs", tag = "action runs",
    params(("id" = i64, Path), ListingDoc, ExpensiveDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<AppRunBody>), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn app_runs(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ListBody<AppRunBody>>> {
    let run = action_run(&broker, &id).await?;
    let query = params.list(&APP_RUNS)?.with_eq("action_run", FilterValue::Int(run.id));
    Ok(Json(render::app_run_list(&broker.store, &query, params.include_expensive, params.pretty).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        parse_run(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn parses_the_seed_example() {
        let body = r#"{"action": "whois domain", "container_id": 1234, "exec_delay_secs": 30, "name": "test my action delay",
            "targets": [{"app_id": 161, "assets": [2], "parameters": [{"domain": "splunk.com"}]}]}"#;
        let run = parse_run(body.as_bytes()).unwrap();
        assert_eq!(run.action, "whois domain");
        assert_eq!(run.container_id, 1234);
        assert_eq!(run.exec_delay_secs, 30);
        assert_eq!(run.targets[0].app_id, "161");
        assert_eq!(run.targets[0].assets, vec!["2"]);
        assert_eq!(run.targets[0].parameters[0]["domain"], "splunk.com");
    }

    #[test]
    fn bad_bodies_name_the_culprit() {
        assert!(err("{").starts_with("malformed JSON"));
        assert_eq!(err(r#"{"container_id": 1, "targets": []}"#), "'action' is required");
        assert_eq!(err(r#"{"action": "a", "targets": []}"#), "'container_id' is required");
        assert_eq!(
            err(r#"{"action": "a", "container_id": "1", "targets": []}"#),
            "'container_id' must be an integer, got a string"
        );
        assert_eq!(err(r#"{"action": "a", "container_id": 1}"#), "'targets' is required");
        assert_eq!(
            err(r#"{"action": "a", "container_id": 1, "targets": {}}"#),
            "'targets' must be a list, got an object"
        );
        assert_eq!(
            err(r#"{"action": "a", "container_id": 1, "targets": [5]}"#),
            "'targets[0]' must be an object, got a number"
        );
        assert_eq!(err(r#"{"action": "a", "container_id": 1, "targets": [{}]}"#), "'targets[0].app_id' is required");
        assert!(
            err(r#"{"action": "a", "container_id": 1, "targets": [{"app_id": 1, "parameters": [1]}]}"#)
                .contains("'targets[0].parameters[0]' must be an object")
        );
        assert!(
            err(r#"{"action": "a", "container_id": 1, "targets": [{"app_id": 1, "assets": [{}]}]}"#)
                .contains("'targets[0].assets' must hold ids or names")
        );
        assert!(
            err(r#"{"action": "a", "container_id": 1, "targets": [{"app_id": true}]}"#)
                .contains("'targets[0].app_id' must hold ids or names")
        );
        assert!(
            err(r#"{"action": "a", "container_id": 1, "targets": [{"app_id": 1, "assets": "x"}]}"#)
                .contains("targets[0]: 'assets' must be a list, got a string")
        );
        assert!(
            err(r#"{"action": "a", "container_id": 1, "targets": [], "bogus": 1}"#)
                .starts_with("unknown field 'bogus'")
        );
        assert_eq!(
            err(r#"{"action": 5, "container_id": 1, "targets": []}"#),
            "'action' must be a string, got a number"
        );
        assert_eq!(
            err(r#"{"action": "a", "container_id": 1, "targets": [], "name": []}"#),
            "'name' must be a string, got a list"
        );
        assert_eq!(
            err(r#"{"action": "a", "container_id": 1, "targets": [], "type": 1}"#),
            "'type' must be a string, got a number"
        );
        assert_eq!(
            err(r#"{"action": "a", "container_id": 1, "targets": [], "exec_delay_secs": "soon"}"#),
            "'exec_delay_secs' must be an integer, got a string"
        );
    }
}
