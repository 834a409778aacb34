//! Action runs (seeds 000 and 001): the run, and the answers to queueing and cancelling one.

use outpost_proto::time::{iso, iso_opt};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Names, Pretty};
use crate::store::collections::Named;
use crate::store::runs::ActionRun;

/// The answer to `POST /rest/action_run`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunQueued {
    /// The new action run's id.
    pub action_run_id: i64,
    /// Always "New action queued.".
    pub message: String,
    /// Always true.
    pub success: bool,
}

/// The answer to `POST /rest/action_run/<id> {"cancel": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelDone {
    /// Always true.
    pub cancelled: bool,
    /// What the cancel stopped.
    pub message: String,
}

/// An action run (seed 000: `GET /rest/action_run/<id>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionRunBody {
    /// The action that was run, e.g. "whois domain".
    pub action: String,
    /// When it was assigned (Outpost assigns at creation).
    #[schema(format = DateTime)]
    pub assign_time: String,
    /// Empty, or who cancelled it and why.
    pub cancelled: String,
    /// For internal use; always "".
    pub cb_fn: String,
    /// When it finished; null while pending or running.
    #[schema(required = true, format = DateTime)]
    pub close_time: Option<String>,
    /// For manual actions; always "".
    pub comment: String,
    /// The container it ran on.
    pub container: i64,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// The user who created it, null if automation did.
    #[schema(required = true)]
    pub creator: Option<i64>,
    /// When its tasks became due (creation plus `exec_delay_secs`).
    #[schema(format = DateTime)]
    pub due_time: String,
    /// The delay asked for before running.
    pub exec_delay_secs: i64,
    /// For internal use; always 0.
    pub exec_order: i64,
    /// For internal use; always "".
    pub handle: String,
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Progress, then the outcome: "3 actions succeeded", or the counts and which failed.
    pub message: String,
    /// Its name; default `user initiated <action> action`.
    pub name: String,
    /// The user who ran it.
    #[schema(required = true)]
    pub owner: Option<i64>,
    /// Always null: Outpost runs no playbooks.
    #[schema(required = true)]
    pub playbook: Option<i64>,
    /// Always null: Outpost runs no playbooks.
    #[schema(required = true)]
    pub playbook_run: Option<i64>,
    /// When the first parameter set started; null while pending.
    #[schema(required = true, format = DateTime)]
    pub start_time: Option<String>,
    /// `pending`, `running`, `success` or `failed`.
    #[schema(example = "success")]
    pub status: String,
    /// The targets as submitted.
    #[schema(value_type = Vec<Object>)]
    pub targets: Value,
    /// The action's type, e.g. "investigate".
    #[serde(rename = "type")]
    pub action_type: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
    /// Schema version.
    pub version: i64,
    /// `?pretty`: the container's name.
    #[serde(rename = "_pretty_container", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_container: Pretty,
    /// `?pretty`: the creator's user name.
    #[serde(rename = "_pretty_creator", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_creator: Pretty,
    /// `?pretty`: the owner's user name.
    #[serde(rename = "_pretty_owner", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_owner: Pretty,
}

/// The names an action run's `_pretty_*` fields need.
pub fn action_run_names(runs: &[ActionRun]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::Container, runs.iter().map(|r| r.container_id).collect()),
        (Named::User, runs.iter().flat_map(|r| [r.creator, r.owner]).flatten().collect()),
    ]
}

pub fn action_run(run: &ActionRun, names: &Names) -> ActionRunBody {
    ActionRunBody {
        action: run.action.clone(),
        assign_time: iso(run.assign_ms),
        cancelled: run.cancelled.clone(),
        cb_fn: String::new(),
        close_time: iso_opt(run.close_ms),
        comment: String::new(),
        container: run.container_id,
        create_time: iso(run.create_ms),
        creator: run.creator,
        due_time: iso(run.due_ms),
        exec_delay_secs: run.exec_delay_secs,
        exec_order: 0,
        handle: String::new(),
        id: run.id,
        message: run.message.clone(),
        name: run.name.clone(),
        owner: run.owner,
        playbook: None,
        playbook_run: None,
        start_time: iso_opt(run.start_ms),
        status: run.status.as_str().into(),
        targets: run.targets.clone(),
        action_type: run.action_type.clone(),
        update_time: iso(run.update_ms),
        version: run.version,
        pretty_container: names.pretty(Named::Container, Some(run.container_id)),
        pretty_creator: names.pretty(Named::User, run.creator),
        pretty_owner: names.pretty(Named::User, run.owner),
    }
}
