//! The transactional outbox: tasks due for publishing, and marking them sent.

use outpost_proto::time::now_ms;
use outpost_proto::v1::Task;
use prost::Message;

use super::OutboxTask;
use crate::store::args;
use crate::store::{Arg, Store, StoreError, StoreResult};

impl Store {
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
}
