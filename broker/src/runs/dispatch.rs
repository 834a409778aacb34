//! Dispatch: turning a run-action request into a persisted action run.
//!
//! Everything is checked against the app manifests before anything is queued. The
//! action run, its app runs (one per target × asset) and its tasks (one per parameter
//! set) are written in one transaction; the outbox relay publishes the tasks.

use outpost_proto::OutpostError;
use outpost_proto::manifest::{ActionDef, Manifest, json_type, render_egress};
use outpost_proto::parameters::CONTEXT;
use outpost_proto::topology::DEFAULT_SEGMENT;
use outpost_proto::v1::{AppRef, Limits, ParameterContext, Task};
use serde_json::{Map, Value, json};

use super::settle::{self, Cancelled};
use crate::Broker;
use crate::access::audit::{Actor, AuditObject};
use crate::store::runs::{NewActionRun, NewAppRun, NewParameterSet};

/// Longest `exec_delay_secs` accepted: 30 days.
pub const MAX_EXEC_DELAY_SECS: i64 = 30 * 24 * 3600;
/// Most parameter sets one action run may hold.
pub const MAX_PARAMETER_SETS: usize = 100_000;

/// A request to run an action, as SOAR's `POST /rest/action_run` takes it.
#[derive(Debug, Clone, Default)]
pub struct RunAction {
    pub action: String,
    pub container_id: i64,
    /// Empty means SOAR's default, `user initiated <action> action`.
    pub name: String,
    pub action_type: Option<String>,
    pub exec_delay_secs: i64,
    pub targets: Vec<Target>,
}

/// One entry of `targets`.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Numeric app id or the app's GUID.
    pub app_id: String,
    /// Asset ids or names.
    pub assets: Vec<String>,
    /// Parameter sets; empty means one set with no parameters.
    pub parameters: Vec<Map<String, Value>>,
}

impl Broker {
    /// Validates and persists an action run as `who` (its creator), audited; answers its
    /// id.
    pub async fn run_action(&self, who: &Actor, request: RunAction) -> Result<i64, OutpostError> {
        let action = request.action.trim();
        if action.is_empty() {
            return Err(OutpostError::invalid("'action' is required"));
        }
        if !(0..=MAX_EXEC_DELAY_SECS).contains(&request.exec_delay_secs) {
            return Err(OutpostError::invalid(format!(
                "'exec_delay_secs' must be between 0 and {MAX_EXEC_DELAY_SECS}, got {}",
                request.exec_delay_secs
            )));
        }
        if request.targets.is_empty() {
            return Err(OutpostError::invalid("'targets' must hold at least one target"));
        }
        if !self.store.container_exists(request.container_id).await? {
            return Err(OutpostError::not_found(format!("container {} not found", request.container_id)));
        }
        let name = if request.name.trim().is_empty() {
            format!("user initiated {action} action")
        } else {
            request.name.trim().to_string()
        };

        let mut app_runs = vec![];
        let mut action_type = request.action_type.clone().filter(|t| !t.trim().is_empty());
        let mut total = 0usize;
        let mut checked_artifacts = std::collections::HashSet::new();
        for (t, target) in request.targets.iter().enumerate() {
            let at = format!("target {}", t + 1);
            if target.assets.is_empty() && target.parameters.is_empty() {
                return Err(OutpostError::invalid(format!("{at}: give assets, parameters or both")));
            }
            let app = self
                .store
                .find_app(&target.app_id)
                .await?
                .ok_or_else(|| OutpostError::not_found(format!("{at}: app '{}' not found", target.app_id)))?;
            let action_def = app.manifest.action(action).ok_or_else(|| {
                let known: Vec<&str> = app.manifest.actions.iter().map(|a| a.action.as_str()).collect();
                OutpostError::invalid(format!(
                    "{at}: app '{}' has no action '{action}' (it has: {})",
                    app.name,
                    known.join(", ")
                ))
            })?;
            action_type.get_or_insert_with(|| action_def.action_type.clone());

            let mut parameters = vec![];
            let given = if target.parameters.is_empty() { vec![Map::new()] } else { target.parameters.clone() };
            for (p, set) in given.iter().enumerate() {
                let mut checked = action_def
                    .apply_parameters(set)
                    .map_err(|e| OutpostError::invalid(format!("{at}, parameter set {}: {e}", p + 1)))?;
                let context = checked.remove(CONTEXT);
                let context = build_context(context)
                    .map_err(|e| OutpostError::invalid(format!("{at}, parameter set {}: {e}", p + 1)))?;
                let artifact_id = context.artifact_id;
                if artifact_id != 0
                    && checked_artifacts.insert(artifact_id)
                    && !self.store.artifact_in_container(artifact_id, request.container_id).await?
                {
                    return Err(OutpostError::not_found(format!(
                        "{at}, parameter set {}: artifact {artifact_id} not found in container {}",
                        p + 1,
                        request.container_id
                    )));
                }
                parameters.push(NewParameterSet { parameters: checked, context });
            }

            let assets = if target.assets.is_empty() {
                let of_app = self.store.assets_of_app(app.id).await?;
                match of_app.len() {
                    1 => of_app,
                    0 => {
                        return Err(OutpostError::invalid(format!(
                            "{at}: no assets given and app '{}' has no asset",
                            app.name
                        )));
                    }
                    n => {
                        return Err(OutpostError::invalid(format!(
                            "{at}: no assets given and app '{}' has {n} assets; name the ones to run on",
                            app.name
                        )));
                    }
                }
            } else {
                let mut found = vec![];
                for key in &target.assets {
                    let asset = self
                        .store
                        .find_asset(key)
                        .await?
                        .ok_or_else(|| OutpostError::not_found(format!("{at}: asset '{key}' not found")))?;
                    if asset.app_id != app.id {
                        let owner = self.store.get_app(asset.app_id).await?.map(|a| a.name).unwrap_or_default();
                        return Err(OutpostError::invalid(format!(
                            "{at}: asset '{}' belongs to app '{owner}', not '{}'",
                            asset.name, app.name
                        )));
                    }
                    found.push(asset);
                }
                found
            };

            for asset in assets {
                let segment = match asset.automation_broker_id {
                    Some(id) => {
                        self.store.get_segment(id).await?.map(|s| s.name).unwrap_or_else(|| DEFAULT_SEGMENT.into())
                    }
                    None => DEFAULT_SEGMENT.to_string(),
                };
                let task = Task {
                    action: action.to_string(),
                    identifier: action_def.identifier.clone(),
                    asset_id: asset.id,
                    asset_name: asset.name.clone(),
                    sealed_asset_config: self
                        .bus_key
                        .seal(Value::Object(asset.configuration.clone()).to_string().as_bytes()),
                    container_id: request.container_id,
                    app: Some(AppRef {
                        app_id: app.id,
                        appid: app.appid.clone(),
                        name: app.name.clone(),
                        version: app.app_version.clone(),
                        digest: app.digest.clone(),
                    }),
                    limits: Some(task_limits(asset.timeout_secs, action_def, &app.manifest)),
                    egress: render_egress(&app.manifest.outpost.egress, &asset.configuration),
                    action_run_name: name.clone(),
                    ..Default::default()
                };
                total += parameters.len();
                if total > MAX_PARAMETER_SETS {
                    return Err(OutpostError::invalid(format!(
                        "the run holds more than {MAX_PARAMETER_SETS} parameter sets; split it"
                    )));
                }
                app_runs.push(NewAppRun {
                    asset_id: asset.id,
                    app_id: app.id,
                    app_name: app.name.clone(),
                    app_version: app.app_version.clone(),
                    segment,
                    automation_broker_id: asset.automation_broker_id,
                    task,
                    parameters: parameters.clone(),
                });
            }
        }

        let targets = Value::Array(
            request
                .targets
                .iter()
                .map(|t| {
                    json!({
                        "app_id": t.app_id.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(t.app_id.clone())),
                        "assets": t.assets.iter().map(|a| a.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(a.clone()))).collect::<Vec<_>>(),
                        "parameters": t.parameters,
                    })
                })
                .collect(),
        );
        let run = NewActionRun {
            action: action.to_string(),
            name,
            action_type: action_type.unwrap_or_else(|| "generic".into()),
            container_id: request.container_id,
            creator: who.user_id,
            exec_delay_secs: request.exec_delay_secs,
            targets,
            app_runs,
        };
        let id = self.store.create_action_run(&run).await?;
        tracing::info!(action_run_id = id, action, parameter_sets = total, "action run queued");
        self.outbox_wakeup.notify_one();
        self.audit.record_action_run(who, id, &run.name, run.container_id).await;
        Ok(id)
    }

    /// Cancels a pending or running action run as `who`, audited; answers how many
    /// parameter sets stopped.
    pub async fn cancel_action_run(&self, who: &Actor, id: i64) -> Result<u64, OutpostError> {
        let reason = format!("cancelled by {}", who.username);
        match settle::cancel(&self.store, id, &reason).await? {
            None => Err(OutpostError::not_found(format!("action run {id} not found"))),
            Some((_, Cancelled::AlreadyFinished(status))) => Err(OutpostError::precondition(format!(
                "action run {id} has already finished ({status}); nothing to cancel"
            ))),
            Some((run, Cancelled::Done { stopped })) => {
                // Workers skip the run's queued tasks and interrupt running ones. The store
                // is already final, so a lost broadcast only costs wasted work: late results
                // are ignored.
                let control = outpost_proto::v1::Control {
                    command: Some(outpost_proto::v1::control::Command::Cancel(outpost_proto::v1::CancelActionRun {
                        action_run_id: id,
                        reason: reason.clone(),
                    })),
                };
                if let Err(e) = self.bus.publish_control(&control).await {
                    tracing::warn!(action_run_id = id, error = %e, "cancel broadcast failed; workers finish what they hold");
                }
                self.watch.publish_done(id);
                tracing::info!(action_run_id = id, stopped, by = %who.username, "action run cancelled");
                let object = AuditObject::ActionRun { id, name: run.name, container_id: run.container_id };
                self.audit.record_field(who, object, "cancelled", Some(""), Some(&reason), "cancelled").await;
                Ok(stopped)
            }
        }
    }
}

/// The limits a task asks its worker for. The deadline is the asset's `timeout_secs`
/// when set, else the action's, else the app's; memory is the app's `memory_mb`. 0 (not
/// set) means the worker's maximum, and the worker caps whatever is asked.
fn task_limits(asset_timeout_secs: Option<u64>, action: &ActionDef, manifest: &Manifest) -> Limits {
    let timeout_secs = asset_timeout_secs.or(action.timeout_secs()).or(manifest.outpost.timeout_secs).unwrap_or(0);
    Limits {
        memory_bytes: manifest.outpost.memory_mb.unwrap_or(0).saturating_mul(1024 * 1024),
        timeout_ms: timeout_secs.saturating_mul(1000),
        max_result_bytes: 0,
    }
}

/// SOAR's per-parameter-set `context`: its `guid` (a fresh one unless the caller gave
/// one), the `artifact_id` (0 when none) and `parent_action_run` (empty for a person's
/// run), keeping what the caller set.
fn build_context(given: Option<Value>) -> Result<ParameterContext, String> {
    let given = match given {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("'context' must be an object, got {}", json_type(&other))),
    };
    if let Some(unknown) = given.keys().find(|k| !["guid", "artifact_id", "parent_action_run"].contains(&k.as_str())) {
        return Err(format!("'context' has no field '{unknown}' (expected: guid, artifact_id, parent_action_run)"));
    }
    let guid = match given.get("guid") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(g)) if outpost_proto::manifest::is_guid(g) => g.to_lowercase(),
        Some(other) => return Err(format!("'context.guid' must be a GUID, got {other}")),
    };
    let artifact_id = match given.get("artifact_id") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 0) => n.as_i64().unwrap_or(0),
        Some(other) => return Err(format!("'context.artifact_id' must be a non-negative integer, got {other}")),
    };
    let parent = match given.get("parent_action_run") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) if items.iter().all(|i| i.as_i64().is_some()) => {
            items.iter().filter_map(Value::as_i64).collect()
        }
        Some(other) => return Err(format!("'context.parent_action_run' must be a list of ids, got {other}")),
    };
    Ok(ParameterContext { guid, artifact_id, parent_action_run: parent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_filled_and_checked() {
        let ctx = build_context(None).unwrap();
        assert_eq!(ctx.artifact_id, 0);
        assert!(ctx.parent_action_run.is_empty());
        assert!(outpost_proto::manifest::is_guid(&ctx.guid));
        let ctx = build_context(Some(json!({"artifact_id": 7, "parent_action_run": [3]}))).unwrap();
        assert_eq!(ctx.artifact_id, 7);
        assert_eq!(ctx.parent_action_run, [3]);
        assert!(build_context(Some(json!("x"))).unwrap_err().contains("must be an object"));
        assert!(build_context(Some(json!({"artifact_id": -1}))).unwrap_err().contains("non-negative"));
        assert!(build_context(Some(json!({"parent_action_run": ["a"]}))).unwrap_err().contains("list of ids"));
        let guid = "22070B58-353F-4BA7-94ED-B4A8228FE93F";
        assert_eq!(build_context(Some(json!({"guid": guid}))).unwrap().guid, guid.to_lowercase());
        assert!(build_context(Some(json!({"guid": "nope"}))).unwrap_err().contains("'context.guid' must be a GUID"));
        assert!(build_context(Some(json!({"server": "x"}))).unwrap_err().contains("'context' has no field 'server'"));
    }

    #[test]
    fn the_deadline_comes_from_the_asset_then_the_action_then_the_app() {
        let manifest = |app_timeout: Option<u64>, action_timeout: Option<u64>, memory_mb: Option<u64>| {
            let mut outpost = json!({});
            if let Some(secs) = app_timeout {
                outpost["timeout_secs"] = json!(secs);
            }
            if let Some(mb) = memory_mb {
                outpost["memory_mb"] = json!(mb);
            }
            let mut action = json!({"action": "echo", "identifier": "echo", "type": "generic"});
            if let Some(secs) = action_timeout {
                action["outpost"] = json!({"timeout_secs": secs});
            }
            let manifest = json!({"appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d", "name": "T",
                "app_version": "1.0.0", "actions": [action], "outpost": outpost});
            Manifest::parse(manifest.to_string().as_bytes()).unwrap()
        };
        let limits = |asset: Option<u64>, manifest: &Manifest| {
            let limits = task_limits(asset, manifest.action("echo").unwrap(), manifest);
            (limits.timeout_ms, limits.memory_bytes)
        };
        let every = manifest(Some(30), Some(20), Some(16));
        assert_eq!(limits(Some(5), &every), (5_000, 16 << 20), "the asset's deadline comes first");
        assert_eq!(limits(None, &every), (20_000, 16 << 20), "then the action's");
        assert_eq!(limits(None, &manifest(Some(30), None, None)), (30_000, 0), "then the app's");
        assert_eq!(limits(None, &manifest(None, None, None)), (0, 0), "none: the worker's maximum");
        assert_eq!(limits(Some(7), &manifest(None, None, None)), (7_000, 0));
        let absurd = manifest(None, None, Some(u64::MAX));
        assert_eq!(limits(Some(u64::MAX), &absurd), (u64::MAX, u64::MAX), "saturates; the worker caps it");
    }
}
