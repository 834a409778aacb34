//! Recording what workers report, and settling runs with it: the runs domain decides
//! when an app run or an action run is done and asks [`super::assemble`] what it shows;
//! the store only offers the SQL steps ([`crate::store::runs::RunsTx`]), all in one
//! transaction per batch.
//!
//! - A result is recorded only while its parameter set has none, so a redelivered task
//!   or a late result after a cancel changes nothing.
//! - An app run starts with its first result or progress message, and is done when every
//!   parameter set has a result; an action run is done when every app run is.
//! - A cancel records every parameter set still without a result as failed and settles
//!   the run at once; finished results are kept.

use std::collections::{BTreeMap, BTreeSet};

use outpost_proto::time::now_ms;
use outpost_proto::v1::TaskResult;

use super::assemble::{self, ParameterOutcome, ParameterRef};
use super::watch::Change;
use crate::store::runs::{RunHead, RunsTx};
use crate::store::{Store, StoreResult};

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The run was pending or running and is now closed; this many parameter sets were
    /// stopped.
    Done { stopped: u64 },
    /// The run had finished already (its status).
    AlreadyFinished(String),
}

/// Records a batch of results in one transaction and settles every app run and action
/// run they complete. Results for parameter sets that have one already are ignored.
pub async fn record_results(store: &Store, results: &[TaskResult]) -> StoreResult<Vec<Change>> {
    let mut tx = store.begin_runs().await?;
    let mut touched = BTreeSet::new();
    for result in results {
        if tx.record_result(result).await? {
            touched.insert(result.app_run_id);
        }
    }
    let changes = settle(&mut tx, &touched).await?;
    tx.commit().await?;
    Ok(changes)
}

/// Records a progress message of one parameter set; its app run and action run are
/// running from then on. Progress of a finished app run is ignored.
pub async fn record_progress(
    store: &Store,
    app_run_id: i64,
    parameter_index: u32,
    message: &str,
    unix_ms: i64,
) -> StoreResult<Vec<Change>> {
    let mut tx = store.begin_runs().await?;
    let Some((action_run_id, status)) = tx.app_run_status(app_run_id).await? else { return Ok(vec![]) };
    if status.is_final() {
        return Ok(vec![]);
    }
    let mut changes = vec![];
    tx.set_task_progress(app_run_id, parameter_index, message).await?;
    if tx.mark_running(action_run_id, app_run_id, unix_ms).await? {
        changes.push(Change::Started { action_run_id });
    }
    if !message.is_empty() {
        tx.set_run_progress(action_run_id, message).await?;
        changes.push(Change::Progress { action_run_id, app_run_id, parameter_index, message: message.to_string() });
    }
    tx.commit().await?;
    Ok(changes)
}

/// Cancels a pending or running action run: every parameter set without a result is
/// recorded as failed, unsent tasks are never sent, and the run closes as failed with a
/// non-empty `cancelled`. Answers what it did with the run's name and container (for
/// the cancel's audit record); `None` when there is no such run.
pub async fn cancel(store: &Store, id: i64, reason: &str) -> StoreResult<Option<(RunHead, Cancelled)>> {
    let mut tx = store.begin_runs().await?;
    let Some(head) = tx.run_head(id).await? else { return Ok(None) };
    if head.status.is_final() {
        let status = head.status.as_str().to_string();
        return Ok(Some((head, Cancelled::AlreadyFinished(status))));
    }
    let stopped = tx.stop_unfinished(id, reason).await?;
    let app_runs = tx.app_run_ids(id).await?;
    settle(&mut tx, &app_runs).await?;
    tx.commit().await?;
    Ok(Some((head, Cancelled::Done { stopped })))
}

/// Brings app runs (and their action runs) up to date with the results recorded so far.
async fn settle(tx: &mut RunsTx, app_run_ids: &BTreeSet<i64>) -> StoreResult<Vec<Change>> {
    let mut changes = vec![];
    let mut action_runs = BTreeSet::new();
    for &app_run_id in app_run_ids {
        let Some(run) = tx.app_run_to_settle(app_run_id).await? else { continue };
        let action_run_id = run.action_run_id;
        action_runs.insert(action_run_id);
        if run.status.is_final() {
            continue;
        }
        let (recorded, first_start) = tx.recorded_count(app_run_id).await?;
        if tx.mark_running(action_run_id, app_run_id, first_start.unwrap_or_else(now_ms)).await? {
            changes.push(Change::Started { action_run_id });
        }
        if recorded < run.total {
            continue;
        }
        let results = tx.recorded_results(app_run_id).await?;
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
        let done = assemble::app_run(&run.run_name, &run.asset_name, &outcomes);
        // The node that finished last is the one SOAR shows.
        let node_guid = results
            .iter()
            .filter(|r| r.node_guid.is_some())
            .max_by_key(|r| r.finished_ms)
            .and_then(|r| r.node_guid.clone());
        let end = results.iter().filter_map(|r| r.finished_ms).max().unwrap_or_else(now_ms);
        tx.close_app_run(app_run_id, &done, node_guid, end).await?;
        changes.push(Change::AppRunDone { action_run_id, app_run_id });
    }
    for action_run_id in action_runs {
        if settle_action_run(tx, action_run_id).await? {
            changes.push(Change::ActionRunDone { action_run_id });
        }
    }
    Ok(changes)
}

/// Closes an action run once every app run is done; answers whether it did.
async fn settle_action_run(tx: &mut RunsTx, action_run_id: i64) -> StoreResult<bool> {
    let Some(run) = tx.action_run_to_settle(action_run_id).await? else { return Ok(false) };
    if run.app_runs.iter().any(|(_, status, _)| !status.is_final()) {
        return Ok(false);
    }
    let statuses: Vec<_> = run.app_runs.iter().map(|(_, status, _)| *status).collect();
    let assets: BTreeMap<i64, String> = run.app_runs.into_iter().map(|(id, _, asset)| (id, asset)).collect();
    let outcomes: Vec<ParameterRef> = tx
        .recorded_parameters(action_run_id)
        .await?
        .into_iter()
        .map(|p| ParameterRef {
            asset: assets.get(&p.app_run_id).cloned().unwrap_or_default(),
            index: p.index,
            status: p.status,
            message: p.message,
        })
        .collect();
    let done = assemble::action_run(&run.cancelled, &statuses, &outcomes);
    tx.close_action_run(action_run_id, &done).await?;
    Ok(true)
}
