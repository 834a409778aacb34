//! `/rest/action_run`: run an action, read its status, cancel it, list its app runs
//! (seeds 000 and 001).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use outpost_proto::OutpostError;
use outpost_proto::manifest::json_type;
use serde_json::{Value, json};

use super::input::{self, Fields};
use super::{ApiResult, render};
use crate::Broker;
use crate::audit::Actor;
use crate::auth::Principal;
use crate::dispatch::{RunAction, Target};
use crate::store::Page;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new()
        .route("/rest/action_run", axum::routing::post(run))
        .route("/rest/action_run/{id}", get(read).post(cancel))
        .route("/rest/action_run/{id}/app_runs", get(app_runs))
}

/// Reads SOAR's run-action body.
pub fn parse_run(body: &[u8], creator: Option<i64>) -> Result<RunAction, OutpostError> {
    let map = input::object(body)?;
    let f = Fields::new(&map);
    f.only(&["action", "container_id", "name", "targets", "type", "exec_delay_secs"])?;
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
        t.only(&["app_id", "assets", "parameters", "app"]).map_err(|e| OutpostError::invalid(format!("{at}: {}", e.message)))?;
        let app_id = match target.get("app_id").or_else(|| target.get("app")) {
            Some(v) => input::id_or_name(v, &format!("{at}.app_id"))?,
            None => return Err(OutpostError::invalid(format!("'{at}.app_id' is required"))),
        };
        let assets = match t.array("assets").map_err(|e| OutpostError::invalid(format!("{at}: {}", e.message)))? {
            Some(items) => items
                .iter()
                .map(|v| input::id_or_name(v, &format!("{at}.assets")))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![],
        };
        let parameters = match t.array("parameters").map_err(|e| OutpostError::invalid(format!("{at}: {}", e.message)))? {
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
        creator,
    })
}

async fn run(State(broker): State<Arc<Broker>>, Extension(who): Extension<Principal>, body: Bytes) -> ApiResult<Json<Value>> {
    let request = parse_run(&body, Some(who.user_id))?;
    let id = broker.run_action(request).await?;
    broker.audit_action_run(&Actor::from(&who), id).await;
    Ok(Json(json!({"action_run_id": id, "message": "New action queued.", "success": true})))
}

async fn read(State(broker): State<Arc<Broker>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "action run")?;
    let run = broker.store.get_action_run(id).await?.ok_or_else(|| OutpostError::not_found(format!("action run {id} not found")))?;
    Ok(Json(render::action_run(&run)))
}

async fn cancel(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "action run")?;
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(&["cancel"])?;
    if f.bool("cancel")? != Some(true) {
        return Err(OutpostError::invalid("only {\"cancel\": true} can be posted to an action run").into());
    }
    let stopped = broker.cancel_action_run(id, &who.username).await?;
    broker.audit_cancel(&Actor::from(&who), id).await;
    Ok(Json(json!({
        "cancelled": true,
        "message": format!("action run {id} cancelled; {stopped} parameter sets stopped, finished results kept"),
    })))
}

async fn app_runs(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let id = input::id(&id, "action run")?;
    if broker.store.get_action_run(id).await?.is_none() {
        return Err(OutpostError::not_found(format!("action run {id} not found")).into());
    }
    let listing = broker.store.list_app_runs(Some(id), page.page()?).await?;
    Ok(Json(render::listing(&listing, render::app_run_summary)))
}

/// SOAR's `page` and `page_size` query parameters.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    page: Option<String>,
    page_size: Option<String>,
}

/// Largest `page_size` answered; `page_size=0` (everything) is capped to it too.
pub const MAX_PAGE_SIZE: u64 = 1000;

impl PageQuery {
    pub fn page(&self) -> Result<Page, OutpostError> {
        let number = |field: &str, value: &Option<String>, default: u64| match value.as_deref().map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| OutpostError::invalid(format!("'{field}' must be a non-negative integer, got '{v}'"))),
        };
        let page = number("page", &self.page, 0)?;
        let page_size = match number("page_size", &self.page_size, 10)? {
            0 => 0,
            n if n > MAX_PAGE_SIZE => {
                return Err(OutpostError::invalid(format!("'page_size' is at most {MAX_PAGE_SIZE}; use 0 for everything")));
            }
            n => n,
        };
        Ok(Page { page, page_size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        parse_run(body.as_bytes(), None).unwrap_err().message
    }

    #[test]
    fn parses_the_seed_example() {
        let body = r#"{"action": "whois domain", "container_id": 1234, "exec_delay_secs": 30, "name": "test my action delay",
            "targets": [{"app_id": 161, "assets": [2], "parameters": [{"domain": "splunk.com"}]}]}"#;
        let run = parse_run(body.as_bytes(), Some(1)).unwrap();
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
        assert_eq!(err(r#"{"action": "a", "container_id": "1", "targets": []}"#), "'container_id' must be an integer, got a string");
        assert_eq!(err(r#"{"action": "a", "container_id": 1}"#), "'targets' is required");
        assert_eq!(err(r#"{"action": "a", "container_id": 1, "targets": {}}"#), "'targets' must be a list, got an object");
        assert_eq!(err(r#"{"action": "a", "container_id": 1, "targets": [5]}"#), "'targets[0]' must be an object, got a number");
        assert_eq!(err(r#"{"action": "a", "container_id": 1, "targets": [{}]}"#), "'targets[0].app_id' is required");
        assert!(err(r#"{"action": "a", "container_id": 1, "targets": [{"app_id": 1, "parameters": [1]}]}"#)
            .contains("'targets[0].parameters[0]' must be an object"));
        assert!(err(r#"{"action": "a", "container_id": 1, "targets": [{"app_id": 1, "assets": [{}]}]}"#)
            .contains("'targets[0].assets' must hold ids or names"));
        assert!(err(r#"{"action": "a", "container_id": 1, "targets": [], "bogus": 1}"#).starts_with("unknown field 'bogus'"));
        assert_eq!(err(r#"{"action": "a", "container_id": 1, "targets": [], "exec_delay_secs": "soon"}"#), "'exec_delay_secs' must be an integer, got a string");
    }

    #[test]
    fn pages() {
        let q = |page: &str, size: &str| PageQuery { page: Some(page.into()), page_size: Some(size.into()) }.page();
        assert_eq!(q("2", "5").unwrap(), Page { page: 2, page_size: 5 });
        assert_eq!(q("0", "0").unwrap(), Page { page: 0, page_size: 0 });
        assert!(q("-1", "5").unwrap_err().message.contains("'page'"));
        assert!(q("0", "x").unwrap_err().message.contains("'page_size'"));
        assert!(q("0", "5000").unwrap_err().message.contains("at most"));
        assert_eq!(PageQuery::default().page().unwrap(), Page { page: 0, page_size: 10 });
    }
}
