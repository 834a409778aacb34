//! What seed 003's system endpoints read: runtime settings, the latest connectivity test
//! per asset, usage counters and action statistics.

use outpost_proto::time::now_ms;

use super::{Dialect, Listing, Store, StoreResult};
use crate::listing::ListQuery;
use crate::store::args;

/// The latest `test connectivity` run of one asset (`/rest/app_status`).
#[derive(Debug, Clone, PartialEq)]
pub struct AppStatus {
    /// The app run's id: one per test.
    pub id: i64,
    /// `app` in `/rest/app_status`.
    pub app_id: i64,
    /// `_pretty_app` and the message.
    pub app_name: String,
    /// `asset` in `/rest/app_status`.
    pub asset_id: i64,
    /// `_pretty_asset` and the message.
    pub asset_name: String,
    /// The test's action run, for details.
    pub action_run_id: i64,
    /// When the test was requested.
    pub create_ms: i64,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
    /// The connector's own message for the test, `""` until it reported.
    pub result_message: String,
}

/// One action's figures for `top_playbooks_actions`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionStat {
    /// `action_name`.
    pub action: String,
    /// How many runs of the action in the window.
    pub total: i64,
    /// Mean seconds from start to close over the finished runs; `None` when none finished.
    pub average_duration_secs: Option<f64>,
}

/// Filters of the action widgets.
#[derive(Debug, Clone, Default)]
pub struct ActionRunFilter {
    /// Inclusive.
    pub start_ms: i64,
    /// Exclusive.
    pub end_ms: i64,
    /// Only runs on containers with this label.
    pub label: Option<String>,
    /// Only runs created by this user.
    pub user_id: Option<i64>,
}

impl ActionRunFilter {
    fn sql(&self) -> (String, Vec<super::Arg>) {
        let mut sql = "r.create_ms >= $1 AND r.create_ms < $2".to_string();
        let mut values = args![self.start_ms, self.end_ms];
        if let Some(label) = &self.label {
            values.push(label.to_lowercase().into());
            sql.push_str(&format!(
                " AND r.container_id IN (SELECT id FROM containers WHERE label = ${})",
                values.len()
            ));
        }
        if let Some(user) = self.user_id {
            values.push(user.into());
            sql.push_str(&format!(" AND r.creator = ${}", values.len()));
        }
        (sql, values)
    }
}

impl Store {
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        let row = self.db.fetch_optional("SELECT value FROM settings WHERE name = $1", args![name]).await?;
        Ok(row.map(|r| r.text("value")).transpose()?)
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        self.db
            .execute(
                "INSERT INTO settings (name, value, updated_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                args![name, value, now_ms()],
            )
            .await?;
        Ok(())
    }

    /// The latest connectivity test of each asset, filtered and sorted
    /// ([`super::collections::APP_STATUSES`]; by asset id unless told otherwise).
    pub async fn app_statuses(&self, query: &ListQuery) -> StoreResult<Listing<AppStatus>> {
        let columns = "id, app_id, app_name, asset_id, asset_name, action_run_id, create_ms, status, result_message";
        self.list(query, columns, |row| {
            Ok(AppStatus {
                id: row.i64("id")?,
                app_id: row.i64("app_id")?,
                app_name: row.text("app_name")?,
                asset_id: row.i64("asset_id")?,
                asset_name: row.text("asset_name")?,
                action_run_id: row.i64("action_run_id")?,
                create_ms: row.i64("create_ms")?,
                status: row.text("status")?,
                result_message: row.text("result_message")?,
            })
        })
        .await
    }

    /// How many rows a table holds (`users`, `assets`, `apps`, `containers`).
    pub async fn count_rows(&self, table: &str) -> StoreResult<i64> {
        let table = match table {
            "users" | "assets" | "apps" | "containers" | "roles" => table,
            other => return Err(super::StoreError::Corrupt(format!("no counter for table '{other}'"))),
        };
        Ok(self.db.fetch_one(&format!("SELECT COUNT(*) AS n FROM {table}"), args![]).await?.i64("n")?)
    }

    /// Action runs and app runs created since `since_ms`.
    pub async fn runs_since(&self, since_ms: i64) -> StoreResult<(i64, i64)> {
        let actions =
            self.db.fetch_one("SELECT COUNT(*) AS n FROM action_runs WHERE create_ms >= $1", args![since_ms]).await?;
        let apps = self
            .db
            .fetch_one(
                "SELECT COUNT(*) AS n FROM app_runs ar JOIN action_runs r ON r.id = ar.action_run_id WHERE r.create_ms >= $1",
                args![since_ms],
            )
            .await?;
        Ok((actions.i64("n")?, apps.i64("n")?))
    }

    /// The first user's creation time: when this broker was set up.
    pub async fn installed_ms(&self) -> StoreResult<Option<i64>> {
        let row = self.db.fetch_one("SELECT MIN(created_ms) AS t FROM users", args![]).await?;
        Ok(row.opt_i64("t")?)
    }

    /// Per action: how many runs and their mean duration, most run first.
    pub async fn action_stats(&self, filter: &ActionRunFilter, limit: i64) -> StoreResult<Vec<ActionStat>> {
        let (condition, mut values) = filter.sql();
        values.push(limit.into());
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT r.action, COUNT(*) AS total,
                     CAST(SUM(CASE WHEN r.close_ms IS NOT NULL AND r.start_ms IS NOT NULL THEN r.close_ms - r.start_ms ELSE 0 END)
                         AS BIGINT) AS duration_ms,
                     CAST(SUM(CASE WHEN r.close_ms IS NOT NULL AND r.start_ms IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS finished
                     FROM action_runs r WHERE {condition} GROUP BY r.action ORDER BY total DESC, r.action LIMIT ${}",
                    values.len()
                ),
                values,
            )
            .await?;
        rows.iter()
            .map(|row| {
                let finished = row.opt_i64("finished")?.unwrap_or(0);
                let duration = row.opt_i64("duration_ms")?.unwrap_or(0);
                Ok(ActionStat {
                    action: row.text("action")?,
                    total: row.i64("total")?,
                    average_duration_secs: (finished > 0).then(|| duration as f64 / finished as f64 / 1000.0),
                })
            })
            .collect()
    }

    /// The creation times of the action runs a filter selects, oldest first.
    pub async fn action_run_times(&self, filter: &ActionRunFilter) -> StoreResult<Vec<i64>> {
        let (condition, values) = filter.sql();
        let rows = self
            .db
            .fetch_all(&format!("SELECT r.create_ms FROM action_runs r WHERE {condition} ORDER BY r.create_ms"), values)
            .await?;
        Ok(rows.iter().map(|r| r.i64("create_ms")).collect::<Result<Vec<_>, _>>()?)
    }

    /// The size of the store in bytes, when the backend can tell.
    pub async fn store_bytes(&self) -> StoreResult<Option<i64>> {
        let sql = match self.db.dialect() {
            Dialect::Postgres => "SELECT pg_database_size(current_database()) AS n",
            Dialect::Sqlite => "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
        };
        Ok(self.db.fetch_optional(sql, args![]).await?.map(|r| r.i64("n")).transpose()?)
    }
}
