//! Recording what workers report (results, progress, asset state, HTTP exchanges) and
//! cancels, idempotently per `(app_run_id, parameter_index)`.

use std::collections::BTreeSet;

use outpost_proto::time::now_ms;
use outpost_proto::v1::{ResultStatus, TaskResult};
use serde_json::Value;

use super::settle::{mark_running, settle_app_runs};
use super::{Cancelled, Change, data_list, status_from};
use crate::args;
use crate::runs::assemble::Status;
use crate::store::{Store, StoreResult, Tx, parse_json};

impl Store {
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
