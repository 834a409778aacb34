//! The SQL steps of settling: reading what an app run or action run has recorded so
//! far, and closing it with what [`crate::runs::assemble`] made of it. The runs domain
//! ([`crate::runs::settle`]) decides when.

use outpost_proto::time::now_ms;

use super::{ActionResult, RESULT_COLUMNS, RunsTx, result_from_row, status_from};
use crate::runs::assemble::{ActionRunDone, AppRunDone, Status};
use crate::store::StoreResult;
use crate::store::args;

/// An app run as settling needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRunToSettle {
    /// Settling an app run may close its action run.
    pub action_run_id: i64,
    /// Parameter sets the app run holds: it is done once as many are recorded.
    pub total: i64,
    /// A final app run is left alone.
    pub status: Status,
    /// Its asset's name, for the message.
    pub asset_name: String,
    /// Its action run's name, for the message.
    pub run_name: String,
}

/// An unfinished action run's app runs, as settling needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRunToSettle {
    /// Non-empty once cancelled: who cancelled and why.
    pub cancelled: String,
    /// Every app run by id: its status and its asset's name.
    pub app_runs: Vec<(i64, Status, String)>,
}

/// One parameter set's recorded status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedParameter {
    /// The app run it belongs to.
    pub app_run_id: i64,
    /// 0-based within its app run.
    pub index: u32,
    /// As recorded.
    pub status: Status,
    /// The result's message.
    pub message: String,
}

impl RunsTx {
    /// Marks an app run and its action run running (if pending), from `at_ms`. Answers
    /// whether the action run started just now.
    pub async fn mark_running(&mut self, action_run_id: i64, app_run_id: i64, at_ms: i64) -> StoreResult<bool> {
        let now = now_ms();
        self.tx
            .execute(
                "UPDATE app_runs SET status = 'running', start_ms = COALESCE(start_ms, $1), update_ms = $2
                 WHERE id = $3 AND status = 'pending'",
                args![at_ms, now, app_run_id],
            )
            .await?;
        let started = self
            .tx
            .execute(
                "UPDATE action_runs SET status = 'running', start_ms = COALESCE(start_ms, $1), update_ms = $2,
                 message = CASE WHEN progress = '' THEN '' ELSE progress END
                 WHERE id = $3 AND status = 'pending'",
                args![at_ms, now, action_run_id],
            )
            .await?;
        Ok(started > 0)
    }

    /// An app run with its asset's and action run's names; `None` when it is unknown.
    pub async fn app_run_to_settle(&mut self, app_run_id: i64) -> StoreResult<Option<AppRunToSettle>> {
        let row = self
            .tx
            .fetch_optional(
                "SELECT r.action_run_id, r.total, r.status, a.name AS asset_name, ar.name AS run_name
                 FROM app_runs r JOIN assets a ON a.id = r.asset_id JOIN action_runs ar ON ar.id = r.action_run_id
                 WHERE r.id = $1",
                args![app_run_id],
            )
            .await?;
        row.map(|row| {
            Ok(AppRunToSettle {
                action_run_id: row.i64("action_run_id")?,
                total: row.i64("total")?,
                status: status_from(&row.text("status")?)?,
                asset_name: row.text("asset_name")?,
                run_name: row.text("run_name")?,
            })
        })
        .transpose()
    }

    /// How many parameter sets of an app run have a result, and when the first started.
    /// Counting first means the results themselves are read once, when the last one
    /// arrives, not on every batch of a long run.
    pub async fn recorded_count(&mut self, app_run_id: i64) -> StoreResult<(i64, Option<i64>)> {
        let progress = self
            .tx
            .fetch_one(
                "SELECT COUNT(*) AS done, MIN(COALESCE(started_ms, finished_ms)) AS first_start
                 FROM tasks WHERE app_run_id = $1 AND status IS NOT NULL",
                args![app_run_id],
            )
            .await?;
        Ok((progress.i64("done")?, progress.opt_i64("first_start")?))
    }

    /// Every recorded result of an app run, by parameter index.
    pub async fn recorded_results(&mut self, app_run_id: i64) -> StoreResult<Vec<ActionResult>> {
        self.tx
            .fetch_all(
                &format!("SELECT {RESULT_COLUMNS} FROM tasks WHERE app_run_id = $1 AND status IS NOT NULL ORDER BY parameter_index"),
                args![app_run_id],
            )
            .await?
            .iter()
            .map(result_from_row)
            .collect()
    }

    /// Closes an app run as assembled.
    pub async fn close_app_run(
        &mut self,
        app_run_id: i64,
        done: &AppRunDone,
        node_guid: Option<String>,
        end_ms: i64,
    ) -> StoreResult<()> {
        self.tx
            .execute(
                "UPDATE app_runs SET status = $1, message = $2, result_summary = $3, exception_occured = $4,
                 node_guid = COALESCE($5, node_guid), end_ms = $6, update_ms = $7 WHERE id = $8",
                args![
                    done.status.as_str(),
                    done.message.clone(),
                    done.summary.to_string(),
                    done.exception,
                    node_guid,
                    end_ms,
                    now_ms(),
                    app_run_id
                ],
            )
            .await?;
        Ok(())
    }

    /// An action run that is not final yet, with its app runs; `None` once it is final.
    pub async fn action_run_to_settle(&mut self, action_run_id: i64) -> StoreResult<Option<ActionRunToSettle>> {
        let run =
            self.tx.fetch_one("SELECT status, cancelled FROM action_runs WHERE id = $1", args![action_run_id]).await?;
        if status_from(&run.text("status")?)?.is_final() {
            return Ok(None);
        }
        let rows = self
            .tx
            .fetch_all(
                "SELECT r.id, r.status, a.name AS asset_name FROM app_runs r JOIN assets a ON a.id = r.asset_id
                 WHERE r.action_run_id = $1 ORDER BY r.id",
                args![action_run_id],
            )
            .await?;
        let app_runs = rows
            .iter()
            .map(|r| Ok((r.i64("id")?, status_from(&r.text("status")?)?, r.text("asset_name")?)))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(ActionRunToSettle { cancelled: run.text("cancelled")?, app_runs }))
    }

    /// Every parameter set of an action run with its recorded status and message, by app
    /// run and index.
    pub async fn recorded_parameters(&mut self, action_run_id: i64) -> StoreResult<Vec<RecordedParameter>> {
        let rows = self
            .tx
            .fetch_all(
                "SELECT app_run_id, parameter_index, status, message FROM tasks WHERE action_run_id = $1 ORDER BY app_run_id, parameter_index",
                args![action_run_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RecordedParameter {
                    app_run_id: r.i64("app_run_id")?,
                    index: r.i64("parameter_index")? as u32,
                    status: status_from(&r.opt_text("status")?.unwrap_or_default())?,
                    message: r.opt_text("message")?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Closes an action run as assembled.
    pub async fn close_action_run(&mut self, action_run_id: i64, done: &ActionRunDone) -> StoreResult<()> {
        self.tx
            .execute(
                "UPDATE action_runs SET status = $1, message = $2, close_ms = $3, update_ms = $3,
                 start_ms = COALESCE(start_ms, $3) WHERE id = $4",
                args![done.status.as_str(), done.message.clone(), now_ms(), action_run_id],
            )
            .await?;
        Ok(())
    }
}
