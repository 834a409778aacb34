//! Reading action runs, app runs and results.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    ACTION_RUN_COLUMNS, APP_RUN_COLUMNS, ActionResult, ActionRun, AppRun, RESULT_COLUMNS, action_run_from_row,
    app_run_from_row, result_from_row,
};
use crate::listing::{ListQuery, Value as FilterValue};
use crate::store::args;
use crate::store::collections::{ACTION_RESULTS, ACTION_RUNS, APP_RUNS};
use crate::store::{Listing, Page, Store, StoreResult};

impl Store {
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

    /// How many parameter sets of an action run have a result so far.
    pub async fn recorded_results(&self, action_run_id: i64) -> StoreResult<u64> {
        let row = self
            .db
            .fetch_one(
                "SELECT COUNT(*) AS n FROM tasks WHERE action_run_id = $1 AND status IS NOT NULL",
                args![action_run_id],
            )
            .await?;
        Ok(row.i64("n")?.max(0) as u64)
    }
}
