//! One action run on this machine, without a broker or a bus: what `outpost app test`
//! does.
//!
//! It applies the manifest as the broker does before it queues a task (the action
//! looked up by name, parameters and asset configuration checked and defaulted, a
//! fresh `context`, the egress patterns filled in from the configuration, the deadline
//! and memory the app and asset ask for), then runs the parameter set in the same
//! [`Sandbox`] a worker uses, with the same limits, and hands back the outcome with
//! the progress messages it sent.

use std::time::Duration;

use outpost_proto::manifest::{ActionDef, Manifest, render_egress};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::sandbox::{Context, Invocation, Limits, Outcome, Sandbox, SandboxError};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct LocalRun {
    /// The action's name (`lookup ip`) or identifier (`lookup_ip`).
    pub action: String,
    /// One parameter set, as a client would send it.
    pub parameters: Map<String, Value>,
    /// The asset configuration, as a client would create the asset.
    pub configuration: Map<String, Value>,
    /// The asset's saved state, `{}` when none.
    pub state: Map<String, Value>,
    /// The asset's own deadline, which comes before the action's and the app's.
    pub asset_timeout_secs: Option<u64>,
}

/// What became of it.
#[derive(Clone, Debug)]
pub struct LocalOutcome {
    /// The action as the manifest defines it.
    pub action: ActionDef,
    /// The parameter object the connector received (defaults and `context` included).
    pub parameters: Value,
    /// The egress patterns the asset allowed, filled in.
    pub egress: Vec<String>,
    /// The result, logs counted, HTTP requests and state.
    pub outcome: Outcome,
    /// Every progress message, in order.
    pub progress: Vec<String>,
}

/// Why the run could not start (the broker would have refused it, or the component
/// cannot run at all). A run that starts always ends in an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("the app has no action '{action}' (it has: {known})")]
    UnknownAction { action: String, known: String },
    #[error("{0}")]
    Parameters(String),
    #[error("{0}")]
    Configuration(String),
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
}

/// Finds an action by its name, or else by its identifier.
pub fn find_action<'m>(manifest: &'m Manifest, action: &str) -> Result<&'m ActionDef, LocalError> {
    manifest.action(action).or_else(|| manifest.actions.iter().find(|a| a.identifier == action)).ok_or_else(|| {
        LocalError::UnknownAction {
            action: action.to_string(),
            known: manifest.actions.iter().map(|a| a.action.as_str()).collect::<Vec<_>>().join(", "),
        }
    })
}

/// The deadline of one parameter set: the asset's, else the action's, else the app's;
/// `None` leaves the worker's maximum. The broker's dispatch follows the same order.
pub fn deadline_secs(manifest: &Manifest, action: &ActionDef, asset_timeout_secs: Option<u64>) -> Option<u64> {
    asset_timeout_secs.or(action.timeout_secs()).or(manifest.outpost.timeout_secs)
}

/// Runs one parameter set of `run.action` of the app (`manifest` + `component`).
pub async fn run_action(
    sandbox: &Sandbox,
    manifest: &Manifest,
    component: &[u8],
    run: LocalRun,
) -> Result<LocalOutcome, LocalError> {
    let action = find_action(manifest, &run.action)?.clone();
    run_defined(sandbox, manifest, component, action, run).await
}

/// Runs one parameter set of `action`, which need not be one of the manifest's: a
/// probe (`outpost app validate`) calls an identifier no action has, to learn how the
/// connector answers an unknown one.
pub async fn run_defined(
    sandbox: &Sandbox,
    manifest: &Manifest,
    component: &[u8],
    action: ActionDef,
    run: LocalRun,
) -> Result<LocalOutcome, LocalError> {
    let mut parameters = action.apply_parameters(&run.parameters).map_err(LocalError::Parameters)?;
    let configuration = manifest.apply_configuration(&run.configuration).map_err(LocalError::Configuration)?;
    let guid = uuid::Uuid::new_v4().to_string();
    parameters.insert("context".into(), json!({"guid": guid, "artifact_id": 0, "parent_action_run": []}));
    let egress = render_egress(&manifest.outpost.egress, &configuration);
    let digest = crate::app_cache::sha256_hex(component);
    let app = sandbox.prepare(&digest, component).await?;

    let timeout = deadline_secs(manifest, &action, run.asset_timeout_secs).map_or(Duration::ZERO, Duration::from_secs);
    let memory_bytes = manifest.outpost.memory_mb.unwrap_or(0).saturating_mul(1 << 20);
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::channel::<String>(1024);
    let invocation = Invocation {
        action: action.action.clone(),
        identifier: action.identifier.clone(),
        parameter_json: Value::Object(parameters.clone()).to_string(),
        asset_config_json: Value::Object(configuration).to_string(),
        asset_id: 1,
        asset_name: "local".into(),
        container_id: 1,
        action_run_id: 1,
        app_run_id: 1,
        context: Context { guid, artifact_id: 0, parent_action_run: vec![] },
        limits: Limits { memory_bytes, timeout, max_result_bytes: 0 },
        egress: egress.clone(),
        state_json: Value::Object(run.state).to_string(),
        progress: Some(progress_tx),
        cancel: CancellationToken::new(),
        task_id: "local".into(),
    };
    let collect = async {
        let mut progress = vec![];
        while let Some(message) = progress_rx.recv().await {
            progress.push(message);
        }
        progress
    };
    let (outcome, progress) = futures::future::join(sandbox.run(&app, invocation), collect).await;
    Ok(LocalOutcome { action, parameters: Value::Object(parameters), egress, outcome, progress })
}
