//! Bringing app runs and action runs up to date with the results recorded so far.

use std::collections::{BTreeMap, BTreeSet};

use outpost_proto::time::now_ms;

use super::{Change, RESULT_COLUMNS, result_from_row, status_from};
use crate::args;
use crate::runs::assemble::{self, ParameterOutcome};
use crate::store::{StoreResult, Tx};

pub(super) async fn mark_running(tx: &mut Tx, action_run_id: i64, app_run_id: i64, at_ms: i64) -> StoreResult<bool> {
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

/// Brings app runs (and their action runs) up to date with the results recorded so far.
pub(super) async fn settle_app_runs(tx: &mut Tx, app_run_ids: &BTreeSet<i64>) -> StoreResult<Vec<Change>> {
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
