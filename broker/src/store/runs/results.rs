//! The SQL steps of recording what workers report (results, progress, asset state, HTTP
//! exchanges) and of cancels, idempotently per `(app_run_id, parameter_index)`. The runs
//! domain ([`crate::runs::settle`]) decides which steps a batch takes.

use std::collections::BTreeSet;

use outpost_proto::time::now_ms;
use outpost_proto::v1::{ResultStatus, TaskResult};
use serde_json::Value;

use super::{RunsTx, data_list, status_from};
use crate::runs::assemble::Status;
use crate::store::args;
use crate::store::{StoreResult, Tx, parse_json};

/// An action run's status, name and container, as a cancel needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHead {
    /// Final runs cannot be cancelled.
    pub status: Status,
    /// For the audit record of the cancel.
    pub name: String,
    /// The audit record of the cancel is related to it.
    pub container_id: i64,
}

impl RunsTx {
    /// Records a result unless its parameter set has one already (a redelivered task, or
    /// a result after a cancel), with the asset state it saved and the HTTP it made.
    /// Answers whether it was recorded.
    pub async fn record_result(&mut self, result: &TaskResult) -> StoreResult<bool> {
        let status = match ResultStatus::try_from(result.status) {
            Ok(ResultStatus::Success) => Status::Success,
            _ => Status::Failed,
        };
        let summary = serde_json::from_str::<Value>(&result.summary_json)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        let recorded = self
            .tx
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
            return Ok(false);
        }
        if let Some(state) = &result.saved_state_json {
            save_state(&mut self.tx, result.app_run_id, state, result.state_version).await?;
        }
        if !result.http.is_empty() {
            append_extra_data(&mut self.tx, result).await?;
        }
        Ok(true)
    }

    /// The action run an app run belongs to, and the app run's status.
    pub async fn app_run_status(&mut self, app_run_id: i64) -> StoreResult<Option<(i64, Status)>> {
        let row = self
            .tx
            .fetch_optional("SELECT action_run_id, status FROM app_runs WHERE id = $1", args![app_run_id])
            .await?;
        row.map(|run| Ok((run.i64("action_run_id")?, status_from(&run.text("status")?)?))).transpose()
    }

    /// Keeps the latest progress message of a parameter set still without a result.
    pub async fn set_task_progress(&mut self, app_run_id: i64, parameter_index: u32, message: &str) -> StoreResult<()> {
        self.tx
            .execute(
                "UPDATE tasks SET progress = $1 WHERE app_run_id = $2 AND parameter_index = $3 AND status IS NULL",
                args![message, app_run_id, parameter_index],
            )
            .await?;
        Ok(())
    }

    /// Shows a progress message as a running action run's message.
    pub async fn set_run_progress(&mut self, action_run_id: i64, message: &str) -> StoreResult<()> {
        self.tx
            .execute(
                "UPDATE action_runs SET progress = $1, message = $1, update_ms = $2 WHERE id = $3 AND status = 'running'",
                args![message, now_ms(), action_run_id],
            )
            .await?;
        Ok(())
    }

    /// An action run's status, name and container.
    pub async fn run_head(&mut self, id: i64) -> StoreResult<Option<RunHead>> {
        let row = self
            .tx
            .fetch_optional("SELECT status, name, container_id FROM action_runs WHERE id = $1", args![id])
            .await?;
        row.map(|r| {
            Ok(RunHead {
                status: status_from(&r.text("status")?)?,
                name: r.text("name")?,
                container_id: r.i64("container_id")?,
            })
        })
        .transpose()
    }

    /// Stops an action run: notes why in `cancelled`, keeps its unsent tasks from ever
    /// being sent, and records every parameter set without a result as failed with
    /// `Cancelled: <reason>`. Answers how many parameter sets were stopped.
    pub async fn stop_unfinished(&mut self, id: i64, reason: &str) -> StoreResult<u64> {
        let now = now_ms();
        self.tx
            .execute("UPDATE action_runs SET cancelled = $1, update_ms = $2 WHERE id = $3", args![reason, now, id])
            .await?;
        self.tx
            .execute("UPDATE tasks SET skipped = TRUE WHERE action_run_id = $1 AND sent_ms IS NULL", args![id])
            .await?;
        let stopped = self
            .tx
            .execute(
                "UPDATE tasks SET status = 'failed', message = $1, data = '[]', summary = '{}', exception_occured = FALSE,
                 finished_ms = $2 WHERE action_run_id = $3 AND status IS NULL",
                args![format!("Cancelled: {reason}"), now, id],
            )
            .await?;
        Ok(stopped)
    }

    /// The ids of an action run's app runs.
    pub async fn app_run_ids(&mut self, action_run_id: i64) -> StoreResult<BTreeSet<i64>> {
        let rows = self.tx.fetch_all("SELECT id FROM app_runs WHERE action_run_id = $1", args![action_run_id]).await?;
        rows.iter().map(|r| Ok(r.i64("id")?)).collect()
    }
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
