//! Action runs, app runs, the task outbox and the results.
//!
//! One row of `tasks` per parameter set is both the transactional outbox (`sent_ms`)
//! and, once a worker reports, the result. `(app_run_id, parameter_index)` is the
//! idempotency key: a result is recorded only while the row has none, so a redelivered
//! task never produces a second result.

//!
//! # Layout
//! This file holds the records and how rows become them; the work is in
//! `create`, `outbox`, `results`, `settle` and `reads`.

mod create;
mod outbox;
mod reads;
mod results;
mod settle;

use outpost_proto::v1::{ParameterContext, Task, TaskResult};
use serde_json::{Map, Value};

pub use results::RunHead;
pub use settle::{ActionRunToSettle, AppRunToSettle, RecordedParameter};

use super::{Row, Store, StoreError, StoreResult, Tx, parse_json};
use crate::runs::assemble::Status;

/// An action run as stored.
#[derive(Debug, Clone)]
pub struct ActionRun {
    pub id: i64,
    pub action: String,
    pub name: String,
    pub action_type: String,
    pub container_id: i64,
    pub status: Status,
    pub message: String,
    /// Non-empty once cancelled: who cancelled and why.
    pub cancelled: String,
    pub creator: Option<i64>,
    pub owner: Option<i64>,
    pub exec_delay_secs: i64,
    /// The targets as submitted.
    pub targets: Value,
    /// The latest progress message of any parameter set.
    pub progress: String,
    pub create_ms: i64,
    pub assign_ms: i64,
    pub start_ms: Option<i64>,
    pub close_ms: Option<i64>,
    pub update_ms: i64,
    pub due_ms: i64,
    pub version: i64,
}

/// An app run: one (target, asset) of an action run.
#[derive(Debug, Clone)]
pub struct AppRun {
    pub id: i64,
    pub action_run_id: i64,
    pub asset_id: i64,
    pub app_id: i64,
    pub app_name: String,
    pub app_version: String,
    pub action: String,
    pub container_id: i64,
    pub status: Status,
    pub message: String,
    pub exception_occured: bool,
    /// Parameter sets in this app run.
    pub total: i64,
    pub node_guid: Option<String>,
    pub automation_broker_id: Option<i64>,
    pub effective_user: Option<i64>,
    pub result_summary: Value,
    pub extra_data: Value,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub update_ms: i64,
    pub version: i64,
}

/// The recorded result of one parameter set.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    pub app_run_id: i64,
    pub parameter_index: i64,
    pub status: Status,
    pub message: String,
    pub data: Value,
    pub summary: Value,
    pub parameter: Value,
    pub exception_occured: bool,
    pub node_guid: Option<String>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

/// A validated action run, ready to persist.
#[derive(Debug, Clone)]
pub struct NewActionRun {
    pub action: String,
    pub name: String,
    pub action_type: String,
    pub container_id: i64,
    pub creator: Option<i64>,
    pub exec_delay_secs: i64,
    pub targets: Value,
    pub app_runs: Vec<NewAppRun>,
}

/// One (target, asset) of a new action run.
#[derive(Debug, Clone)]
pub struct NewAppRun {
    pub asset_id: i64,
    pub app_id: i64,
    pub app_name: String,
    pub app_version: String,
    pub segment: String,
    pub automation_broker_id: Option<i64>,
    /// Everything of the bus task but the ids, the parameters and the state, which the
    /// store fills in.
    pub task: Task,
    /// The parameter sets, in order.
    pub parameters: Vec<NewParameterSet>,
}

/// One parameter set of a new app run.
#[derive(Debug, Clone)]
pub struct NewParameterSet {
    /// The parameters, defaults applied, without `context`.
    pub parameters: Map<String, Value>,
    /// SOAR's `context` of the set: the task carries it typed; the recorded parameter
    /// object has it as its last key.
    pub context: ParameterContext,
}

/// A task due for publishing.
#[derive(Debug, Clone)]
pub struct OutboxTask {
    pub row_id: i64,
    pub segment: String,
    pub task: Task,
}

/// A write transaction over runs, offering the SQL steps of recording results,
/// progress and cancels and of settling runs (`results`, `settle`). The runs domain
/// ([`crate::runs::settle`]) decides which to take; dropped without [`RunsTx::commit`],
/// nothing is kept.
pub struct RunsTx {
    /// The transaction every step runs in.
    tx: Tx,
}

impl Store {
    /// Starts a write transaction over runs.
    pub async fn begin_runs(&self) -> StoreResult<RunsTx> {
        Ok(RunsTx { tx: self.db.begin().await? })
    }
}

impl RunsTx {
    /// Keeps every step taken.
    pub async fn commit(self) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }
}

const ACTION_RUN_COLUMNS: &str = "id, action, name, type, container_id, status, message, cancelled, creator, owner,
    exec_delay_secs, targets, progress, create_ms, assign_ms, start_ms, close_ms, update_ms, due_ms, version";

const APP_RUN_COLUMNS: &str =
    "id, action_run_id, asset_id, app_id, app_name, app_version, action, container_id, status,
    message, exception_occured, total, node_guid, automation_broker_id, effective_user, result_summary, extra_data,
    start_ms, end_ms, update_ms, version";

const RESULT_COLUMNS: &str =
    "app_run_id, parameter_index, status, message, data, summary, parameter, exception_occured,
    node_guid, started_ms, finished_ms";

fn status_from(text: &str) -> StoreResult<Status> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("unknown status '{text}'")))
}

fn action_run_from_row(row: &Row) -> StoreResult<ActionRun> {
    Ok(ActionRun {
        id: row.i64("id")?,
        action: row.text("action")?,
        name: row.text("name")?,
        action_type: row.text("type")?,
        container_id: row.i64("container_id")?,
        status: status_from(&row.text("status")?)?,
        message: row.text("message")?,
        cancelled: row.text("cancelled")?,
        creator: row.opt_i64("creator")?,
        owner: row.opt_i64("owner")?,
        exec_delay_secs: row.i64("exec_delay_secs")?,
        targets: parse_json(&row.text("targets")?)?,
        progress: row.text("progress")?,
        create_ms: row.i64("create_ms")?,
        assign_ms: row.i64("assign_ms")?,
        start_ms: row.opt_i64("start_ms")?,
        close_ms: row.opt_i64("close_ms")?,
        update_ms: row.i64("update_ms")?,
        due_ms: row.i64("due_ms")?,
        version: row.i64("version")?,
    })
}

fn app_run_from_row(row: &Row) -> StoreResult<AppRun> {
    Ok(AppRun {
        id: row.i64("id")?,
        action_run_id: row.i64("action_run_id")?,
        asset_id: row.i64("asset_id")?,
        app_id: row.i64("app_id")?,
        app_name: row.text("app_name")?,
        app_version: row.text("app_version")?,
        action: row.text("action")?,
        container_id: row.i64("container_id")?,
        status: status_from(&row.text("status")?)?,
        message: row.text("message")?,
        exception_occured: row.bool("exception_occured")?,
        total: row.i64("total")?,
        node_guid: row.opt_text("node_guid")?,
        automation_broker_id: row.opt_i64("automation_broker_id")?,
        effective_user: row.opt_i64("effective_user")?,
        result_summary: parse_json(&row.text("result_summary")?)?,
        extra_data: parse_json(&row.text("extra_data")?)?,
        start_ms: row.opt_i64("start_ms")?,
        end_ms: row.opt_i64("end_ms")?,
        update_ms: row.i64("update_ms")?,
        version: row.i64("version")?,
    })
}

fn result_from_row(row: &Row) -> StoreResult<ActionResult> {
    Ok(ActionResult {
        app_run_id: row.i64("app_run_id")?,
        parameter_index: row.i64("parameter_index")?,
        status: status_from(&row.opt_text("status")?.unwrap_or_default())?,
        message: row.opt_text("message")?.unwrap_or_default(),
        data: parse_json(&row.opt_text("data")?.unwrap_or_else(|| "[]".into()))?,
        summary: parse_json(&row.opt_text("summary")?.unwrap_or_else(|| "{}".into()))?,
        parameter: parse_json(&row.text("parameter")?)?,
        exception_occured: row.opt_bool("exception_occured")?.unwrap_or(false),
        node_guid: row.opt_text("node_guid")?,
        started_ms: row.opt_i64("started_ms")?,
        finished_ms: row.opt_i64("finished_ms")?,
    })
}

/// `data_json` entries of a result as one JSON list; entries that are not JSON are kept
/// as strings rather than dropped.
fn data_list(result: &TaskResult) -> Value {
    Value::Array(
        result.data_json.iter().map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.clone()))).collect(),
    )
}
