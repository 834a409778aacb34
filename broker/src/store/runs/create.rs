//! Persisting a new action run: the run, its app runs and one outbox task per
//! parameter set, in one transaction.

use outpost_proto::parameters::with_context;
use outpost_proto::time::now_ms;
use prost::Message;
use serde_json::Value;

use super::NewActionRun;
use crate::store::args;
use crate::store::{Store, StoreResult};

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
            for (index, set) in app_run.parameters.iter().enumerate() {
                let mut task = app_run.task.clone();
                task.action_run_id = action_run_id;
                task.app_run_id = app_run_id;
                task.parameter_index = index as u32;
                task.task_id = format!("{app_run_id}.{index}");
                task.parameter_json = Value::Object(set.parameters.clone()).to_string();
                task.context = Some(set.context.clone());
                task.segment = app_run.segment.clone();
                // The record keeps the parameter object as the connector sees it.
                let parameter = Value::Object(with_context(set.parameters.clone(), &set.context));
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
}
