//! Action runs, app runs, the task outbox and the results.
//!
//! One row of `tasks` per parameter set is both the transactional outbox (`sent_ms`)
//! and, once a worker reports, the result. `(app_run_id, parameter_index)` is the
//! idempotency key: a result is recorded only while the row has none, so a redelivered
//! task never produces a second result.

use std::collections::{BTreeMap, BTreeSet};

use outpost_proto::time::now_ms;
use outpost_proto::v1::{ResultStatus, Task, TaskResult};
use prost::Message;
use serde_json::Value;

use super::collections::{ACTION_RESULTS, ACTION_RUNS, APP_RUNS, ListQuery, Value as FilterValue};
use super::{Arg, Listing, Page, Row, Store, StoreError, StoreResult, Tx, parse_json};
use crate::args;
use crate::runs::assemble::{self, ParameterOutcome, Status};

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
    /// Everything of the bus task but the ids and the state, which the store fills in.
    pub task: Task,
    /// One JSON object per parameter set, defaults applied and context included.
    pub parameters: Vec<Value>,
}

/// A task due for publishing.
#[derive(Debug, Clone)]
pub struct OutboxTask {
    pub row_id: i64,
    pub segment: String,
    pub task: Task,
}

/// What changed in the store, for watchers.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Progress { action_run_id: i64, app_run_id: i64, parameter_index: u32, message: String },
    Started { action_run_id: i64 },
    AppRunDone { action_run_id: i64, app_run_id: i64 },
    ActionRunDone { action_run_id: i64 },
}

impl Change {
    pub fn action_run_id(&self) -> i64 {
        match self {
            Change::Progress { action_run_id, .. }
            | Change::Started { action_run_id }
            | Change::AppRunDone { action_run_id, .. }
            | Change::ActionRunDone { action_run_id } => *action_run_id,
        }
    }
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The run was pending or running and is now closed; this many parameter sets were
    /// stopped.
    Done { stopped: u64 },
    /// The run had finished already.
    AlreadyFinished(String),
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

impl Store {
    /// Persists an action run, its app runs and one outbox task per parameter set, in one
    /// transaction. Answers the action run's id.
    pub async fn create_action_run(&self, run: &NewActionRun) -> StoreResult<i64> {
        let now = now_ms();
        let due = now + run.exec_delay_secs.max(0) * 1000;
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_one(
                "INSERT INTO action_runs (action, name, type, container_id, status, message, creator, owner, exec_delay_secs,
                 targets, create_ms, assign_ms, update_ms, due_ms)
                 VALUES ($1, $2, $3, $4, 'pending', '', $5, $5, $6, $7, $8, $8, $8, $9) RETURNING id",
                args![
                    &run.action,
                    &run.name,
                    &run.action_type,
                    run.container_id,
                    run.creator,
                    run.exec_delay_secs,
                    run.targets.to_string(),
                    now,
                    due
                ],
            )
            .await?;
        let action_run_id = row.i64("id")?;
        for app_run in &run.app_runs {
            let row = tx
                .fetch_one(
                    "INSERT INTO app_runs (action_run_id, asset_id, app_id, app_name, app_version, action, container_id,
                     status, total, automation_broker_id, effective_user, update_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11) RETURNING id",
                    args![
                        action_run_id,
                        app_run.asset_id,
                        app_run.app_id,
                        &app_run.app_name,
                        &app_run.app_version,
                        &run.action,
                        run.container_id,
                        app_run.parameters.len() as i64,
                        app_run.automation_broker_id,
                        run.creator,
                        now
                    ],
                )
                .await?;
            let app_run_id = row.i64("id")?;
            for (index, parameter) in app_run.parameters.iter().enumerate() {
                let mut task = app_run.task.clone();
                task.action_run_id = action_run_id;
                task.app_run_id = app_run_id;
                task.parameter_index = index as u32;
                task.task_id = format!("{app_run_id}.{index}");
                task.parameter_json = parameter.to_string();
                task.segment = app_run.segment.clone();
                tx.execute(
                    "INSERT INTO tasks (app_run_id, action_run_id, parameter_index, segment, parameter, payload, due_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    args![
                        app_run_id,
                        action_run_id,
                        index as i64,
                        &app_run.segment,
                        parameter.to_string(),
                        task.encode_to_vec(),
                        due
                    ],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(action_run_id)
    }

    /// Unsent tasks whose time has come, oldest first, with the current asset state
    /// filled in.
    pub async fn due_tasks(&self, now: i64, limit: i64) -> StoreResult<Vec<OutboxTask>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT t.id, t.segment, t.payload, s.state, s.version
                 FROM tasks t
                 JOIN app_runs r ON r.id = t.app_run_id
                 LEFT JOIN asset_state s ON s.app_id = r.app_id AND s.asset_id = r.asset_id
                 WHERE t.sent_ms IS NULL AND t.skipped = FALSE AND t.due_ms <= $1
                 ORDER BY t.due_ms, t.id LIMIT $2",
                args![now, limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let mut task = Task::decode(row.bytes("payload")?.as_slice())
                    .map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))?;
                task.state = Some(outpost_proto::v1::AssetState {
                    json: row.opt_text("state")?.unwrap_or_else(|| "{}".into()),
                    version: row.opt_i64("version")?.unwrap_or(0),
                });
                Ok(OutboxTask { row_id: row.i64("id")?, segment: row.text("segment")?, task })
            })
            .collect()
    }

    /// When the next unsent task falls due, if any.
    pub async fn next_due(&self) -> StoreResult<Option<i64>> {
        let row = self
            .db
            .fetch_one("SELECT MIN(due_ms) AS due FROM tasks WHERE sent_ms IS NULL AND skipped = FALSE", args![])
            .await?;
        Ok(row.opt_i64("due")?)
    }

    /// Marks outbox rows as published.
    pub async fn mark_sent(&self, row_ids: &[i64]) -> StoreResult<()> {
        if row_ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        // One statement per chunk of ids, well below both backends' bind-parameter limits.
        for chunk in row_ids.chunks(500) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
            let mut args = args![now];
            args.extend(chunk.iter().map(|id| Arg::from(*id)));
            tx.execute(
                &format!("UPDATE tasks SET sent_ms = $1 WHERE sent_ms IS NULL AND id IN ({})", placeholders.join(", ")),
                args,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records progress of one parameter set; marks its app run and action run running.
    pub async fn record_progress(
        &self,
        app_run_id: i64,
        parameter_index: u32,
        message: &str,
        unix_ms: i64,
    ) -> StoreResult<Vec<Change>> {
        let mut tx = self.db.begin().await?;
        let Some(run) =
            tx.fetch_optional("SELECT action_run_id, status FROM app_runs WHERE id = $1", args![app_run_id]).await?
        else {
            return Ok(vec![]);
        };
        let action_run_id = run.i64("action_run_id")?;
        if status_from(&run.text("status")?)?.is_final() {
            return Ok(vec![]);
        }
        let mut changes = vec![];
        tx.execute(
            "UPDATE tasks SET progress = $1 WHERE app_run_id = $2 AND parameter_index = $3 AND status IS NULL",
            args![message, app_run_id, parameter_index],
        )
        .await?;
        if mark_running(&mut tx, action_run_id, app_run_id, unix_ms).await? {
            changes.push(Change::Started { action_run_id });
        }
        if !message.is_empty() {
            tx.execute(
                "UPDATE action_runs SET progress = $1, message = $1, update_ms = $2 WHERE id = $3 AND status = 'running'",
                args![message, now_ms(), action_run_id],
            )
            .await?;
            changes.push(Change::Progress { action_run_id, app_run_id, parameter_index, message: message.to_string() });
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// Records a batch of results in one transaction, closing every app run and action run
    /// they complete. Results for parameter sets that have one already are ignored.
    pub async fn ingest_results(&self, results: &[TaskResult]) -> StoreResult<Vec<Change>> {
        let mut tx = self.db.begin().await?;
        let mut touched: BTreeSet<i64> = BTreeSet::new();
        for result in results {
            let status = match ResultStatus::try_from(result.status) {
                Ok(ResultStatus::Success) => Status::Success,
                _ => Status::Failed,
            };
            let summary = serde_json::from_str::<Value>(&result.summary_json)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(Default::default()));
            let recorded = tx
                .execute(
                    "UPDATE tasks SET status = $1, message = $2, data = $3, summary = $4, exception_occured = $5,
                     node_guid = $6, started_ms = $7, finished_ms = $8
                     WHERE app_run_id = $9 AND parameter_index = $10 AND status IS NULL",
                    args![
                        status.as_str(),
                        &result.message,
                        data_list(result).to_string(),
                        summary.to_string(),
                        result.exception_occured,
                        &result.node_guid,
                        result.started_unix_ms,
                        result.finished_unix_ms,
                        result.app_run_id,
                        result.parameter_index
                    ],
                )
                .await?;
            if recorded == 0 {
                tracing::debug!(task_id = %result.task_id, "duplicate or unknown result ignored");
                continue;
            }
            touched.insert(result.app_run_id);
            if let Some(state) = &result.saved_state_json {
                save_state(&mut tx, result.app_run_id, state, result.state_version).await?;
            }
            if !result.http.is_empty() {
                append_extra_data(&mut tx, result).await?;
            }
        }
        let changes = settle_app_runs(&mut tx, &touched).await?;
        tx.commit().await?;
        Ok(changes)
    }

    /// Cancels a pending or running action run: every parameter set without a result is
    /// recorded as failed, unsent tasks are never sent, and the run closes as failed
    /// with a non-empty `cancelled`.
    pub async fn cancel_action_run(&self, id: i64, reason: &str) -> StoreResult<Option<Cancelled>> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let Some(row) = tx.fetch_optional("SELECT status FROM action_runs WHERE id = $1", args![id]).await? else {
            return Ok(None);
        };
        let status = status_from(&row.text("status")?)?;
        if status.is_final() {
            return Ok(Some(Cancelled::AlreadyFinished(status.as_str().to_string())));
        }
        tx.execute("UPDATE action_runs SET cancelled = $1, update_ms = $2 WHERE id = $3", args![reason, now, id])
            .await?;
        tx.execute("UPDATE tasks SET skipped = TRUE WHERE action_run_id = $1 AND sent_ms IS NULL", args![id]).await?;
        let stopped = tx
            .execute(
                "UPDATE tasks SET status = 'failed', message = $1, data = '[]', summary = '{}', exception_occured = FALSE,
                 finished_ms = $2 WHERE action_run_id = $3 AND status IS NULL",
                args![format!("Cancelled: {reason}"), now, id],
            )
            .await?;
        let app_runs: BTreeSet<i64> = tx
            .fetch_all("SELECT id FROM app_runs WHERE action_run_id = $1", args![id])
            .await?
            .iter()
            .map(|r| r.i64("id"))
            .collect::<Result<_, _>>()?;
        settle_app_runs(&mut tx, &app_runs).await?;
        tx.commit().await?;
        Ok(Some(Cancelled::Done { stopped }))
    }

    pub async fn get_action_run(&self, id: i64) -> StoreResult<Option<ActionRun>> {
        let row = self
            .db
            .fetch_optional(&format!("SELECT {ACTION_RUN_COLUMNS} FROM action_runs WHERE id = $1"), args![id])
            .await?;
        row.as_ref().map(action_run_from_row).transpose()
    }

    /// A page of action runs (see [`ListQuery`]).
    pub async fn list_action_runs(&self, query: &ListQuery) -> StoreResult<Listing<ActionRun>> {
        debug_assert!(std::ptr::eq(query.collection, &ACTION_RUNS));
        self.list(query, ACTION_RUN_COLUMNS, action_run_from_row).await
    }

    /// A page of app runs (see [`ListQuery`]).
    pub async fn list_app_runs(&self, query: &ListQuery) -> StoreResult<Listing<AppRun>> {
        debug_assert!(std::ptr::eq(query.collection, &APP_RUNS));
        self.list(query, APP_RUN_COLUMNS, app_run_from_row).await
    }

    /// App runs of one action run (or of all, with `None`), by id.
    pub async fn app_runs_of(&self, action_run_id: Option<i64>, page: Page) -> StoreResult<Listing<AppRun>> {
        let mut query = ListQuery::new(&APP_RUNS).with_page(page);
        if let Some(id) = action_run_id {
            query = query.with_eq("action_run", FilterValue::Int(id));
        }
        self.list_app_runs(&query).await
    }

    /// The ids of an action run's app runs that reached a final status.
    pub async fn finished_app_run_ids(&self, action_run_id: i64) -> StoreResult<BTreeSet<i64>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT id FROM app_runs WHERE action_run_id = $1 AND status IN ('success', 'failed')",
                args![action_run_id],
            )
            .await?;
        rows.iter().map(|row| Ok(row.i64("id")?)).collect()
    }

    pub async fn get_app_run(&self, id: i64) -> StoreResult<Option<AppRun>> {
        let row =
            self.db.fetch_optional(&format!("SELECT {APP_RUN_COLUMNS} FROM app_runs WHERE id = $1"), args![id]).await?;
        row.as_ref().map(app_run_from_row).transpose()
    }

    /// A page of recorded results (see [`ListQuery`]), by parameter index.
    pub async fn list_action_results(&self, query: &ListQuery) -> StoreResult<Listing<ActionResult>> {
        debug_assert!(std::ptr::eq(query.collection, &ACTION_RESULTS));
        self.list(query, RESULT_COLUMNS, result_from_row).await
    }

    /// Recorded results of an app run, by parameter index.
    pub async fn list_results(&self, app_run_id: i64, page: Page) -> StoreResult<Listing<ActionResult>> {
        let query = ListQuery::new(&ACTION_RESULTS).with_eq("app_run", FilterValue::Int(app_run_id)).with_page(page);
        self.list_action_results(&query).await
    }

    /// Every recorded result of an app run, by parameter index (`result_data`).
    pub async fn results_of(&self, app_run_id: i64) -> StoreResult<Vec<ActionResult>> {
        Ok(self.results_of_app_runs(&[app_run_id]).await?.remove(&app_run_id).unwrap_or_default())
    }

    /// Every recorded result of several app runs, by app run, each by parameter index
    /// (`include_expensive` on a page of app runs).
    pub async fn results_of_app_runs(&self, app_run_ids: &[i64]) -> StoreResult<BTreeMap<i64, Vec<ActionResult>>> {
        let mut by_app_run: BTreeMap<i64, Vec<ActionResult>> = app_run_ids.iter().map(|id| (*id, vec![])).collect();
        for chunk in app_run_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let rows = self
                .db
                .fetch_all(
                    &format!(
                        "SELECT {RESULT_COLUMNS} FROM tasks WHERE status IS NOT NULL AND app_run_id IN ({})
                         ORDER BY app_run_id, parameter_index",
                        placeholders.join(", ")
                    ),
                    chunk.iter().map(|id| (*id).into()).collect(),
                )
                .await?;
            for row in &rows {
                let result = result_from_row(row)?;
                by_app_run.entry(result.app_run_id).or_default().push(result);
            }
        }
        Ok(by_app_run)
    }

    /// Action runs that are not finished, for the scheduler's bookkeeping.
    pub async fn open_action_runs(&self) -> StoreResult<Vec<ActionRun>> {
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT {ACTION_RUN_COLUMNS} FROM action_runs WHERE status IN ('pending', 'running') ORDER BY id"
                ),
                args![],
            )
            .await?;
        rows.iter().map(action_run_from_row).collect()
    }

    /// Sets the message of a pending action run (e.g. why it waits); no-op otherwise.
    pub async fn set_pending_message(&self, id: i64, message: &str) -> StoreResult<()> {
        self.db
            .execute(
                "UPDATE action_runs SET message = $1 WHERE id = $2 AND status = 'pending' AND message <> $1",
                args![message, id],
            )
            .await?;
        Ok(())
    }

    /// The segment of each still-unfinished task of pending runs, for "waiting for a worker"
    /// messages.
    pub async fn pending_segments(&self) -> StoreResult<Vec<(i64, String)>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT DISTINCT t.action_run_id, t.segment FROM tasks t JOIN action_runs a ON a.id = t.action_run_id
                 WHERE a.status = 'pending' AND t.status IS NULL",
                args![],
            )
            .await?;
        rows.iter().map(|r| Ok((r.i64("action_run_id")?, r.text("segment")?))).collect()
    }
}

async fn mark_running(tx: &mut Tx, action_run_id: i64, app_run_id: i64, at_ms: i64) -> StoreResult<bool> {
    let now = now_ms();
    tx.execute(
        "UPDATE app_runs SET status = 'running', start_ms = COALESCE(start_ms, $1), update_ms = $2
         WHERE id = $3 AND status = 'pending'",
        args![at_ms, now, app_run_id],
    )
    .await?;
    let started = tx
        .execute(
            "UPDATE action_runs SET status = 'running', start_ms = COALESCE(start_ms, $1), update_ms = $2,
             message = CASE WHEN progress = '' THEN '' ELSE progress END
             WHERE id = $3 AND status = 'pending'",
            args![at_ms, now, action_run_id],
        )
        .await?;
    Ok(started > 0)
}

async fn save_state(tx: &mut Tx, app_run_id: i64, state: &str, started_from: i64) -> StoreResult<()> {
    let run = tx.fetch_one("SELECT app_id, asset_id FROM app_runs WHERE id = $1", args![app_run_id]).await?;
    let (app_id, asset_id) = (run.i64("app_id")?, run.i64("asset_id")?);
    let current = tx
        .fetch_optional("SELECT version FROM asset_state WHERE app_id = $1 AND asset_id = $2", args![app_id, asset_id])
        .await?
        .map(|r| r.i64("version"))
        .transpose()?
        .unwrap_or(0);
    if current > started_from {
        // Last writer wins; say so, because a concurrent writer's state is replaced.
        tracing::info!(app_id, asset_id, current, started_from, "asset state overwritten by a later writer");
    }
    tx.execute(
        "INSERT INTO asset_state (app_id, asset_id, state, version, updated_ms) VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (app_id, asset_id) DO UPDATE SET state = $3, version = asset_state.version + 1, updated_ms = $4",
        args![app_id, asset_id, state, now_ms()],
    )
    .await?;
    Ok(())
}

async fn append_extra_data(tx: &mut Tx, result: &TaskResult) -> StoreResult<()> {
    let row = tx.fetch_one("SELECT extra_data FROM app_runs WHERE id = $1", args![result.app_run_id]).await?;
    let mut extra = match parse_json(&row.text("extra_data")?)? {
        Value::Array(items) => items,
        _ => vec![],
    };
    for exchange in &result.http {
        extra.push(serde_json::json!({
            "type": "http",
            "parameter_index": result.parameter_index,
            "method": exchange.method,
            "url": exchange.url,
            "status": exchange.status,
            "bytes": exchange.bytes,
            "duration_ms": exchange.duration_ms,
            "denied": exchange.denied,
        }));
    }
    tx.execute(
        "UPDATE app_runs SET extra_data = $1 WHERE id = $2",
        args![Value::Array(extra).to_string(), result.app_run_id],
    )
    .await?;
    Ok(())
}

/// Brings app runs (and their action runs) up to date with the results recorded so far.
async fn settle_app_runs(tx: &mut Tx, app_run_ids: &BTreeSet<i64>) -> StoreResult<Vec<Change>> {
    let mut changes = vec![];
    let mut action_runs: BTreeSet<i64> = BTreeSet::new();
    for &app_run_id in app_run_ids {
        let Some(row) = tx
            .fetch_optional(
                "SELECT r.action_run_id, r.total, r.status, a.name AS asset_name, ar.name AS run_name
                 FROM app_runs r JOIN assets a ON a.id = r.asset_id JOIN action_runs ar ON ar.id = r.action_run_id
                 WHERE r.id = $1",
                args![app_run_id],
            )
            .await?
        else {
            continue;
        };
        let action_run_id = row.i64("action_run_id")?;
        action_runs.insert(action_run_id);
        if status_from(&row.text("status")?)?.is_final() {
            continue;
        }
        // Count first: the results themselves are read once, when the last one arrives,
        // not on every batch of a long run.
        let progress = tx
            .fetch_one(
                "SELECT COUNT(*) AS done, MIN(COALESCE(started_ms, finished_ms)) AS first_start
                 FROM tasks WHERE app_run_id = $1 AND status IS NOT NULL",
                args![app_run_id],
            )
            .await?;
        let first_start = progress.opt_i64("first_start")?.unwrap_or_else(now_ms);
        if mark_running(tx, action_run_id, app_run_id, first_start).await? {
            changes.push(Change::Started { action_run_id });
        }
        if progress.i64("done")? < row.i64("total")? {
            continue;
        }
        let results = tx
            .fetch_all(
                &format!("SELECT {RESULT_COLUMNS} FROM tasks WHERE app_run_id = $1 AND status IS NOT NULL ORDER BY parameter_index"),
                args![app_run_id],
            )
            .await?
            .iter()
            .map(result_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let outcomes: Vec<ParameterOutcome> = results
            .iter()
            .map(|r| ParameterOutcome {
                parameter: r.parameter.clone(),
                status: r.status,
                message: r.message.clone(),
                summary: r.summary.clone(),
                exception: r.exception_occured,
            })
            .collect();
        let done = assemble::app_run(&row.text("run_name")?, &row.text("asset_name")?, &outcomes);
        let node_guid = results
            .iter()
            .filter(|r| r.node_guid.is_some())
            .max_by_key(|r| r.finished_ms)
            .and_then(|r| r.node_guid.clone());
        let end = results.iter().filter_map(|r| r.finished_ms).max().unwrap_or_else(now_ms);
        tx.execute(
            "UPDATE app_runs SET status = $1, message = $2, result_summary = $3, exception_occured = $4,
             node_guid = COALESCE($5, node_guid), end_ms = $6, update_ms = $7 WHERE id = $8",
            args![
                done.status.as_str(),
                done.message,
                done.summary.to_string(),
                done.exception,
                node_guid,
                end,
                now_ms(),
                app_run_id
            ],
        )
        .await?;
        changes.push(Change::AppRunDone { action_run_id, app_run_id });
    }
    for action_run_id in action_runs {
        if let Some(change) = settle_action_run(tx, action_run_id).await? {
            changes.push(change);
        }
    }
    Ok(changes)
}

async fn settle_action_run(tx: &mut Tx, action_run_id: i64) -> StoreResult<Option<Change>> {
    let run = tx.fetch_one("SELECT status, cancelled FROM action_runs WHERE id = $1", args![action_run_id]).await?;
    if status_from(&run.text("status")?)?.is_final() {
        return Ok(None);
    }
    let app_runs = tx
        .fetch_all(
            "SELECT r.id, r.status, a.name AS asset_name FROM app_runs r JOIN assets a ON a.id = r.asset_id
             WHERE r.action_run_id = $1 ORDER BY r.id",
            args![action_run_id],
        )
        .await?;
    let mut per_app_run = BTreeMap::new();
    let mut statuses = vec![];
    for r in &app_runs {
        let status = status_from(&r.text("status")?)?;
        if !status.is_final() {
            return Ok(None);
        }
        statuses.push(status);
        per_app_run.insert(r.i64("id")?, r.text("asset_name")?);
    }
    let results = tx
        .fetch_all(
            "SELECT app_run_id, parameter_index, status, message FROM tasks WHERE action_run_id = $1 ORDER BY app_run_id, parameter_index",
            args![action_run_id],
        )
        .await?;
    let mut outcomes = vec![];
    for r in &results {
        let asset = per_app_run.get(&r.i64("app_run_id")?).cloned().unwrap_or_default();
        outcomes.push(assemble::ParameterRef {
            asset,
            index: r.i64("parameter_index")? as u32,
            status: status_from(&r.opt_text("status")?.unwrap_or_default())?,
            message: r.opt_text("message")?.unwrap_or_default(),
        });
    }
    let done = assemble::action_run(&run.text("cancelled")?, &statuses, &outcomes);
    let now = now_ms();
    tx.execute(
        "UPDATE action_runs SET status = $1, message = $2, close_ms = $3, update_ms = $3,
         start_ms = COALESCE(start_ms, $3) WHERE id = $4",
        args![done.status.as_str(), done.message, now, action_run_id],
    )
    .await?;
    Ok(Some(Change::ActionRunDone { action_run_id }))
}
