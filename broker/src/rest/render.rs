//! The JSON shapes of SOAR's records, field for field as the seeds document them.
//!
//! Every response body is a typed struct deriving both `Serialize` (what is sent) and
//! `ToSchema` (what `/rest/openapi.json` documents), so the document cannot drift from
//! the responses. Fields always present are `required` in the schema, `null`able ones
//! included; `_pretty_*` fields appear only with `?pretty`.

use std::collections::HashMap;

use outpost_proto::time::{iso, iso_opt};
use serde::{Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;

use crate::access::permissions::builtin_permissions;
use crate::catalog::containers::content_hash;
use crate::store::apps::App;
use crate::store::artifacts::Artifact;
use crate::store::assets::Asset;
use crate::store::collections::Named;
use crate::store::containers::Container;
use crate::store::roles::Role;
use crate::store::runs::{ActionResult, ActionRun, AppRun};
use crate::store::users::{Token, User};
use crate::store::{Listing, Store, StoreResult};

pub use crate::catalog::assets::{MASK, masked};

/// SOAR's list envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListBody<T: ToSchema> {
    /// How many items match, on every page.
    pub count: u64,
    /// How many pages of `page_size` items that makes (1 for `page_size=0`, 0 when empty).
    pub num_pages: u64,
    /// The items of the requested page.
    pub data: Vec<T>,
}

impl<T: ToSchema> ListBody<T> {
    pub fn new<S>(listing: &Listing<S>, render: impl Fn(&S) -> T) -> Self {
        ListBody { count: listing.count, num_pages: listing.num_pages, data: listing.data.iter().map(render).collect() }
    }
}

/// A `_pretty_*` field: left out without `?pretty`; with it, the name of what the id
/// refers to, or null.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Pretty {
    #[default]
    Off,
    Name(Option<String>),
}

impl Pretty {
    pub fn is_off(&self) -> bool {
        *self == Pretty::Off
    }
}

impl Serialize for Pretty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Pretty::Off => serializer.serialize_none(),
            Pretty::Name(name) => name.serialize(serializer),
        }
    }
}

/// Names of the objects records refer to, fetched in one query per kind for a whole page.
#[derive(Debug, Default)]
pub struct Names {
    /// Whether `_pretty_*` fields are wanted.
    pub pretty: bool,
    /// id → name, per kind of object.
    names: HashMap<Named, HashMap<i64, String>>,
}

impl Names {
    /// Fetches the names of `ids` per kind when `pretty` is on; otherwise nothing.
    pub async fn fetch(
        store: &Store,
        pretty: bool,
        wanted: impl IntoIterator<Item = (Named, Vec<i64>)>,
    ) -> StoreResult<Names> {
        let mut names = Names { pretty, names: HashMap::new() };
        if !pretty {
            return Ok(names);
        }
        for (kind, ids) in wanted {
            let found = store.names(kind, ids).await?;
            names.names.entry(kind).or_default().extend(found);
        }
        Ok(names)
    }

    /// Like [`Names::fetch`], but fetches regardless of `pretty` (for fields that always
    /// show a name, such as a container's `owner`).
    pub async fn fetch_always(
        store: &Store,
        pretty: bool,
        wanted: impl IntoIterator<Item = (Named, Vec<i64>)>,
    ) -> StoreResult<Names> {
        let mut names = Names::fetch(store, true, wanted).await?;
        names.pretty = pretty;
        Ok(names)
    }

    /// The name of an object, if known.
    pub fn name(&self, kind: Named, id: Option<i64>) -> Option<String> {
        id.and_then(|id| self.names.get(&kind)?.get(&id).cloned())
    }

    /// The `_pretty_*` value for an id.
    pub fn pretty(&self, kind: Named, id: Option<i64>) -> Pretty {
        if self.pretty { Pretty::Name(self.name(kind, id)) } else { Pretty::Off }
    }
}

/// `{"failed": true, "message": ...}`: every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct Failure {
    /// Always true.
    pub failed: bool,
    /// What went wrong, naming the culprit.
    pub message: String,
}

/// `{"success": true, "id": N}`: a creation or update.
#[derive(Debug, Serialize, ToSchema)]
pub struct Saved {
    /// Always true.
    pub success: bool,
    /// The id of the object created or changed.
    pub id: i64,
}

impl Saved {
    pub fn new(id: i64) -> Self {
        Saved { success: true, id }
    }
}

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

/// The answer to `POST /rest/app`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppInstalled {
    /// Always true.
    pub success: bool,
    /// The app's numeric id (kept across upgrades).
    pub id: i64,
    /// Whether it was installed, upgraded or already there.
    pub message: String,
}

/// The answer to a `DELETE`: an asset deleted, a user or role disabled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Always true.
    pub success: bool,
    /// The id of the deleted object.
    pub id: i64,
    /// What was deleted.
    pub message: String,
}

/// The answer to creating an artifact its container holds already.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactExists {
    /// Always true.
    pub failed: bool,
    /// "artifact already exists".
    pub message: String,
    /// The artifact with that `source_data_identifier`.
    pub existing_artifact_id: i64,
}

/// `GET /rest/version`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionBody {
    /// The broker's version.
    pub version: String,
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

/// An app run: one (target, asset) of an action run (seed 000: `/rest/app_run/<id>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppRunBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// The action that was run.
    pub action: String,
    /// The action run it belongs to.
    pub action_run: i64,
    /// The asset it ran on.
    pub asset: i64,
    /// The app that ran it.
    pub app: i64,
    /// The app's name when the run was made.
    pub app_name: String,
    /// The app's version when the run was made.
    pub app_version: String,
    /// The container of the action run.
    pub container: i64,
    /// When its last parameter set finished; null until then.
    #[schema(required = true, format = DateTime)]
    pub end_time: Option<String>,
    /// Whether the sandbox, not the connector, decided an outcome (trap, timeout,
    /// memory cap, abandoned task). SOAR's spelling.
    pub exception_occured: bool,
    /// SOAR's per-parameter message: `'<run>' on asset '<asset>': 1 action succeeded. (1)For Parameter: ...`.
    pub message: String,
    /// Always null: Outpost runs no playbooks.
    #[schema(required = true)]
    pub playbook_run: Option<i64>,
    /// When its first parameter set started; null while pending.
    #[schema(required = true, format = DateTime)]
    pub start_time: Option<String>,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
    /// Schema version.
    pub version: i64,
    /// What the connector contacted (outgoing HTTP), one object per request.
    #[schema(value_type = Vec<Object>)]
    pub extra_data: Value,
    /// `total_objects`, `total_objects_successful` and the app's own summary keys.
    #[schema(value_type = Object)]
    pub result_summary: Value,
    /// The user the action ran as.
    #[schema(required = true)]
    pub effective_user: Option<i64>,
    /// The worker that ran it (its last parameter set); null until one reported.
    #[schema(required = true)]
    pub node_guid: Option<String>,
    /// The segment (automation broker) it ran in; null for the default.
    #[schema(required = true)]
    pub automation_broker: Option<i64>,
    /// Every parameter set's result: always on `/rest/app_run/<id>`, on lists with
    /// `?include_expensive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_data: Option<Vec<ActionResultBody>>,
    /// `?pretty`: the asset's name.
    #[serde(rename = "_pretty_asset", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_asset: Pretty,
    /// `?pretty`: the app's name.
    #[serde(rename = "_pretty_app", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_app: Pretty,
    /// `?pretty`: the container's name.
    #[serde(rename = "_pretty_container", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_container: Pretty,
    /// `?pretty`: the action run's name.
    #[serde(rename = "_pretty_action_run", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_action_run: Pretty,
    /// `?pretty`: the effective user's name.
    #[serde(rename = "_pretty_effective_user", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_effective_user: Pretty,
    /// `?pretty`: the automation broker's (segment's) name.
    #[serde(rename = "_pretty_automation_broker", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_automation_broker: Pretty,
}

/// The names an app run's `_pretty_*` fields need.
pub fn app_run_names(runs: &[AppRun]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::Asset, runs.iter().map(|r| r.asset_id).collect()),
        (Named::App, runs.iter().map(|r| r.app_id).collect()),
        (Named::Container, runs.iter().map(|r| r.container_id).collect()),
        (Named::ActionRun, runs.iter().map(|r| r.action_run_id).collect()),
        (Named::User, runs.iter().filter_map(|r| r.effective_user).collect()),
        (Named::Segment, runs.iter().filter_map(|r| r.automation_broker_id).collect()),
    ]
}

/// An app run; `results` is `Some` on the detail and with `include_expensive`.
pub fn app_run(run: &AppRun, results: Option<&[ActionResult]>, names: &Names) -> AppRunBody {
    AppRunBody {
        id: run.id,
        action: run.action.clone(),
        action_run: run.action_run_id,
        asset: run.asset_id,
        app: run.app_id,
        app_name: run.app_name.clone(),
        app_version: run.app_version.clone(),
        container: run.container_id,
        end_time: iso_opt(run.end_ms),
        exception_occured: run.exception_occured,
        message: run.message.clone(),
        playbook_run: None,
        start_time: iso_opt(run.start_ms),
        status: run.status.as_str().into(),
        version: run.version,
        extra_data: run.extra_data.clone(),
        result_summary: run.result_summary.clone(),
        effective_user: run.effective_user,
        node_guid: run.node_guid.clone(),
        automation_broker: run.automation_broker_id,
        result_data: results.map(|r| r.iter().map(action_result).collect()),
        pretty_asset: names.pretty(Named::Asset, Some(run.asset_id)),
        pretty_app: names.pretty(Named::App, Some(run.app_id)),
        pretty_container: names.pretty(Named::Container, Some(run.container_id)),
        pretty_action_run: names.pretty(Named::ActionRun, Some(run.action_run_id)),
        pretty_effective_user: names.pretty(Named::User, run.effective_user),
        pretty_automation_broker: names.pretty(Named::Segment, run.automation_broker_id),
    }
}

/// The result of one parameter set (seed 000: `/rest/app_run/<id>/action_result`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResultBody {
    /// The connector's data items.
    #[schema(value_type = Vec<Object>)]
    pub data: Value,
    /// `success` or `failed`.
    pub status: String,
    /// The connector's message.
    pub message: String,
    /// The connector's summary.
    #[schema(value_type = Object)]
    pub summary: Value,
    /// The parameter set, defaults applied, with its `context` (`guid`, `artifact_id`,
    /// `parent_action_run`).
    #[schema(value_type = Object)]
    pub parameter: Value,
}

pub fn action_result(result: &ActionResult) -> ActionResultBody {
    ActionResultBody {
        data: result.data.clone(),
        status: result.status.as_str().into(),
        message: result.message.clone(),
        summary: result.summary.clone(),
        parameter: result.parameter.clone(),
    }
}

/// A container in seed 004's shape; unset times are `""` as the seed shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Schema version; bumped by every update.
    pub version: i64,
    /// What kind of content it holds, e.g. "incident"; lowercase.
    pub label: String,
    /// The name people see and search for.
    pub name: String,
    /// The source's id for it, or a generated GUID.
    pub source_data_identifier: String,
    /// Free text describing it.
    pub description: String,
    /// `new`, `open` or `closed`.
    pub status: String,
    /// `red`, `amber`, `green` or `white`.
    pub sensitivity: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When related activity was first seen.
    pub start_time: String,
    /// When related activity was last seen; "" if unknown.
    pub end_time: String,
    /// When its SLA expires; "" if none.
    pub due_time: String,
    /// When it was closed; "" while not closed.
    pub close_time: String,
    /// The kill-chain phase the source reported, if any.
    pub kill_chain: String,
    /// The owner's user name (seed 004), null when unowned.
    #[schema(required = true)]
    pub owner: Option<String>,
    /// The owner's user id.
    #[schema(required = true)]
    pub owner_id: Option<i64>,
    /// A digest of `data`, for spotting duplicates.
    pub hash: String,
    /// Free labels, for filtering and triage.
    pub tags: Vec<String>,
    /// The asset it was ingested from; null if a person created it.
    #[schema(required = true)]
    pub asset: Option<i64>,
    /// The name of that asset, "" if none.
    pub asset_name: String,
    /// When an artifact was last added; "" if none was.
    pub artifact_update_time: String,
    /// When the container last changed, artifacts included.
    #[schema(format = DateTime)]
    pub container_update_time: String,
    /// The ingesting app's id as a string, "" if none.
    pub ingest_app_id: String,
    /// The raw container data from the source.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Site-defined fields.
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    /// How many artifacts it holds.
    pub artifact_count: i64,
    /// `?pretty`: the owner's user name.
    #[serde(rename = "_pretty_owner", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_owner: Pretty,
    /// `?pretty`: the asset's name.
    #[serde(rename = "_pretty_asset", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_asset: Pretty,
}

/// The names a container needs (always: `owner` and `asset_name` show names).
pub fn container_names(containers: &[Container]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::User, containers.iter().filter_map(|c| c.owner_id).collect()),
        (Named::Asset, containers.iter().filter_map(|c| c.asset_id).collect()),
    ]
}

pub fn container(c: &Container, names: &Names) -> ContainerBody {
    let time = |ms: Option<i64>| ms.map(iso).unwrap_or_default();
    ContainerBody {
        id: c.id,
        version: c.version,
        label: c.label.clone(),
        name: c.name.clone(),
        source_data_identifier: c.source_data_identifier.clone(),
        description: c.description.clone(),
        status: c.status.clone(),
        sensitivity: c.sensitivity.clone(),
        severity: c.severity.clone(),
        create_time: iso(c.create_ms),
        start_time: iso(c.start_ms),
        end_time: time(c.end_ms),
        due_time: time(c.due_ms),
        close_time: time(c.close_ms),
        kill_chain: c.kill_chain.clone(),
        owner: names.name(Named::User, c.owner_id),
        owner_id: c.owner_id,
        hash: content_hash(&c.data),
        tags: c.tags.clone(),
        asset: c.asset_id,
        asset_name: names.name(Named::Asset, c.asset_id).unwrap_or_default(),
        artifact_update_time: time(c.artifact_update_ms),
        container_update_time: iso(c.update_ms),
        ingest_app_id: c.ingest_app_id.map(|id| id.to_string()).unwrap_or_default(),
        data: c.data.clone(),
        custom_fields: c.custom_fields.clone(),
        artifact_count: c.artifact_count,
        pretty_owner: names.pretty(Named::User, c.owner_id),
        pretty_asset: names.pretty(Named::Asset, c.asset_id),
    }
}

/// An artifact: a CEF record inside a container.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// The container it belongs to.
    pub container: i64,
    /// The name people see and search for.
    pub name: String,
    /// What kind of record it is, e.g. "event"; lowercase.
    pub label: String,
    /// Free text describing it.
    pub description: String,
    /// The source's own type name.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// The source's id for it, or a generated GUID; unique within the container.
    pub source_data_identifier: String,
    /// The Common Event Format fields.
    #[schema(value_type = Object)]
    pub cef: Value,
    /// What each CEF field contains, e.g. `{"sourceAddress": ["ip"]}`.
    #[schema(value_type = Object)]
    pub cef_types: Value,
    /// The raw record.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Free labels, for filtering and triage.
    pub tags: Vec<String>,
    /// A digest of `cef`, for spotting duplicates.
    pub hash: String,
    /// The owner's user id.
    #[schema(required = true)]
    pub owner_id: Option<i64>,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
    /// When the activity it records began.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// When the activity it records ended; "" if unknown.
    pub end_time: String,
    /// Schema version.
    pub version: i64,
    /// `?pretty`: the container's name.
    #[serde(rename = "_pretty_container", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_container: Pretty,
    /// `?pretty`: the owner's user name.
    #[serde(rename = "_pretty_owner", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_owner: Pretty,
}

/// The names an artifact's `_pretty_*` fields need.
pub fn artifact_names(artifacts: &[Artifact]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::Container, artifacts.iter().map(|a| a.container_id).collect()),
        (Named::User, artifacts.iter().filter_map(|a| a.owner_id).collect()),
    ]
}

pub fn artifact(a: &Artifact, names: &Names) -> ArtifactBody {
    ArtifactBody {
        id: a.id,
        container: a.container_id,
        name: a.name.clone(),
        label: a.label.clone(),
        description: a.description.clone(),
        artifact_type: a.artifact_type.clone(),
        severity: a.severity.clone(),
        source_data_identifier: a.source_data_identifier.clone(),
        cef: a.cef.clone(),
        cef_types: a.cef_types.clone(),
        data: a.data.clone(),
        tags: a.tags.clone(),
        hash: content_hash(&a.cef),
        owner_id: a.owner_id,
        create_time: iso(a.create_ms),
        update_time: iso(a.update_ms),
        start_time: iso(a.start_ms),
        end_time: a.end_ms.map(iso).unwrap_or_default(),
        version: a.version,
        pretty_container: names.pretty(Named::Container, Some(a.container_id)),
        pretty_owner: names.pretty(Named::User, a.owner_id),
    }
}

/// An asset: a configured instance of an app. Fields of type `password` show as
/// `********`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Unique and lowercase.
    pub name: String,
    /// Free text describing it.
    pub description: String,
    /// The app it configures.
    pub app: i64,
    /// The app's name; null if the app is gone.
    #[schema(required = true)]
    pub app_name: Option<String>,
    /// The app's vendor: with product_name, SOAR's way to name an app.
    #[schema(required = true)]
    pub product_vendor: Option<String>,
    /// The app's product: with product_vendor, SOAR's way to name an app.
    #[schema(required = true)]
    pub product_name: Option<String>,
    /// The configuration, defaults applied, secrets masked.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// The segment its actions run in; null for the default segment.
    #[schema(required = true)]
    pub automation_broker_id: Option<i64>,
    /// Free labels, for filtering and triage.
    pub tags: Vec<String>,
    /// Outpost extension: the deadline of each parameter set run on this asset, in
    /// seconds (before the action's and the app's; capped by the worker); null when unset.
    #[schema(required = true)]
    pub timeout_secs: Option<u64>,
    /// SOAR's asset type; always "".
    #[serde(rename = "type")]
    pub asset_type: String,
    /// Schema version.
    pub version: i64,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
    /// `?pretty`: the app's name.
    #[serde(rename = "_pretty_app", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_app: Pretty,
    /// `?pretty`: the automation broker's (segment's) name.
    #[serde(rename = "_pretty_automation_broker", skip_serializing_if = "Pretty::is_off")]
    #[schema(value_type = Option<String>)]
    pub pretty_automation_broker: Pretty,
}

/// The names an asset's `_pretty_*` fields need.
pub fn asset_names(assets: &[Asset]) -> Vec<(Named, Vec<i64>)> {
    vec![
        (Named::App, assets.iter().map(|a| a.app_id).collect()),
        (Named::Segment, assets.iter().filter_map(|a| a.automation_broker_id).collect()),
    ]
}

/// An asset with every `password` field masked.
pub fn asset(asset: &Asset, app: Option<&App>, names: &Names) -> AssetBody {
    let secrets: Vec<&str> = app.map(|a| a.manifest.secret_fields()).unwrap_or_default();
    AssetBody {
        id: asset.id,
        name: asset.name.clone(),
        description: asset.description.clone(),
        app: asset.app_id,
        app_name: app.map(|a| a.name.clone()),
        product_vendor: app.map(|a| a.manifest.product_vendor.clone()),
        product_name: app.map(|a| a.manifest.product_name.clone()),
        configuration: masked(&asset.configuration, &secrets),
        automation_broker_id: asset.automation_broker_id,
        tags: asset.tags.clone(),
        timeout_secs: asset.timeout_secs,
        asset_type: String::new(),
        version: 1,
        create_time: iso(asset.created_ms),
        update_time: iso(asset.updated_ms),
        pretty_app: names.pretty(Named::App, Some(asset.app_id)),
        pretty_automation_broker: names.pretty(Named::Segment, asset.automation_broker_id),
    }
}

/// An installed app: its SOAR manifest's fields plus what Outpost keeps.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppBody {
    /// The numeric id, kept across upgrades.
    pub id: i64,
    /// The app's GUID from its manifest.
    pub appid: String,
    /// The name people see and search for.
    pub name: String,
    /// The installed version.
    pub app_version: String,
    /// Free text describing it.
    pub description: String,
    /// The app's vendor: with product_name, SOAR's way to name an app.
    pub product_vendor: String,
    /// The app's product: with product_vendor, SOAR's way to name an app.
    pub product_name: String,
    /// Who published the app.
    pub publisher: String,
    /// The app's license.
    pub license: String,
    /// The asset configuration fields, as the manifest declares them.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// The actions, as the manifest declares them.
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    /// Every other version ever installed, each once, in the order they were replaced:
    /// the last one is the version this one replaced.
    pub known_versions: Vec<String>,
    /// sha256 of the component that runs.
    pub digest: String,
    /// The manifest's sandbox settings (`egress`, `memory_mb`, `timeout_secs`).
    #[schema(value_type = Object)]
    pub outpost: Value,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
}

pub fn app(app: &App) -> AppBody {
    let m = &app.manifest;
    AppBody {
        id: app.id,
        appid: app.appid.clone(),
        name: app.name.clone(),
        app_version: app.app_version.clone(),
        description: m.description.clone(),
        product_vendor: m.product_vendor.clone(),
        product_name: m.product_name.clone(),
        publisher: m.publisher.clone(),
        license: m.license.clone(),
        configuration: Value::Object(m.configuration.clone()),
        actions: serde_json::to_value(&m.actions).unwrap_or_default(),
        known_versions: app.known_versions.clone(),
        digest: app.digest.clone(),
        outpost: serde_json::to_value(&m.outpost).unwrap_or_default(),
        create_time: iso(app.created_ms),
        update_time: iso(app.updated_ms),
    }
}

/// An automation broker (SOAR's `automation_proxy`): an Outpost segment and the workers
/// serving it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationProxyBody {
    /// Its numeric id, as assets' `automation_broker_id` names it; null for the default
    /// segment, which serves assets bound to no automation broker.
    #[schema(required = true)]
    pub id: Option<i64>,
    /// The segment name workers join with `--segment`.
    pub name: String,
    /// Always "ACTION_BROKER".
    #[serde(rename = "type")]
    pub proxy_type: String,
    /// The newest version among its live workers; null when none is live.
    #[schema(required = true)]
    pub version: Option<String>,
    /// `active` while a worker is live, else `inactive`.
    pub last_seen_status: String,
    /// When a worker last reported; null if none ever did.
    #[schema(required = true, format = DateTime)]
    pub last_seen_time: Option<String>,
    /// When it was created; null for the default segment.
    #[schema(required = true, format = DateTime)]
    pub create_time: Option<String>,
    /// How many of its workers are live.
    pub worker_count: u64,
    /// Its alive workers (heartbeats fresh), draining ones included.
    pub workers: Vec<WorkerBody>,
}

/// A worker, as its last heartbeat showed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerBody {
    /// The worker's unique id.
    pub node_guid: String,
    /// The machine it runs on.
    pub hostname: String,
    /// Its Outpost version.
    pub version: String,
    /// How many tasks it runs at once.
    pub concurrency: u32,
    /// How many tasks it was running.
    pub in_flight: u32,
    /// Tasks finished since it started.
    pub completed: u64,
    /// Whether it is shutting down and takes no more tasks.
    pub draining: bool,
    /// SOAR's field: `active`, as every worker listed has fresh heartbeats (a silent
    /// one leaves the list).
    pub status: String,
    /// When the broker last heard from it.
    #[schema(format = DateTime)]
    pub last_seen: String,
    /// When it started.
    #[schema(format = DateTime)]
    pub started: String,
}

/// `GET /rest/system_info` and `GET /rest/system_settings` (seed 003).
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemInfoBody {
    /// The base URL clients reach this instance at; "" when not configured.
    pub base_url: String,
    /// The instance's IANA time zone, e.g. "UTC".
    pub time_zone: String,
}

/// The answer to `POST /rest/system_settings`: the settings now in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsChanged {
    /// Always true.
    pub success: bool,
    /// The base URL now in force.
    pub base_url: String,
    /// The time zone now in force.
    pub time_zone: String,
}

/// `GET /rest/license` (seed 003). Outpost is unlicensed: every limit is 0, which SOAR
/// reads as unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseBody {
    /// Always "valid".
    pub status: String,
    /// The license's terms.
    pub license_info: LicenseInfo,
    /// What is in use.
    pub current_usage: LicenseUsage,
}

/// The terms of the license; 0 means unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseInfo {
    /// Always false.
    pub case_management: bool,
    /// When this instance was installed (its first user), Unix milliseconds.
    #[schema(required = true)]
    pub issue_date: Option<i64>,
    /// Always 0: unlimited.
    pub maximum_apps: i64,
    /// Always null: no expiry.
    #[schema(required = true)]
    pub expiration_date: Option<i64>,
    /// Always 0: unlimited.
    pub maximum_users: i64,
    /// Always "".
    pub contact_information: String,
    /// Always "".
    pub company_name: String,
    /// Always 0: unlimited.
    pub maximum_assets: i64,
    /// Always "".
    pub license_number: String,
    /// Always "unlimited".
    pub license_type: String,
    /// Always 0: unlimited.
    pub maximum_actions_per_day: i64,
    /// Always 0: unlimited.
    pub maximum_containers: i64,
}

/// Usage counters; "recent" is the last 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseUsage {
    /// Always 0: Outpost runs no playbooks.
    pub recent_playbook_run_count: i64,
    /// App runs created in the last 24 hours.
    pub recent_app_run_count: i64,
    /// Always 0: Outpost has no debug runs.
    pub recent_debug_run_count: i64,
    /// Action runs created in the last 24 hours.
    pub recent_action_run_count: i64,
    /// Apps installed.
    pub apps: i64,
    /// Assets configured.
    pub assets: i64,
    /// Users, disabled ones included.
    pub users: i64,
    /// Containers.
    pub containers: i64,
}

// Documents the body `crate::workers::health::health` builds (outside `rest`); the OpenAPI test
// checks real answers against it. The shapes below down to `ServiceSnapshot` likewise.
/// `GET /rest/health` (seed 003): real readings of the machine and of Outpost's services.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct HealthBody {
    /// Whether every service in `status` is running.
    all_running: bool,
    /// Free and used MB of the store's partition (SQLite), or the database's size
    /// (PostgreSQL: `Free` is null).
    db_data: Vec<LabelValue>,
    /// When these readings were taken.
    #[schema(format = DateTime)]
    last_snapshot_time: String,
    /// 1, 5 and 15 minute load averages; empty if unreadable.
    load_data: Vec<LoadReading>,
    /// Free, used and cached memory, MB; empty if unreadable.
    memory_data: Vec<LabelValue>,
    /// One snapshot per service: `broker_api`, `store`, `bus`, and every worker by
    /// `node_guid`.
    services: HashMap<String, Vec<ServiceSnapshot>>,
    /// `running` or `stopped`, per service.
    status: HashMap<String, String>,
    /// Free and used swap, MB; empty if unreadable.
    swap_data: Vec<LabelValue>,
    /// Free and used MB of the data dir's partition.
    vault_data: Vec<LabelValue>,
}

/// `{"label": "Free", "value": 95413}`: megabytes.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LabelValue {
    /// `Free`, `Used` or `Cached`.
    label: String,
    /// Megabytes; null when it cannot be read.
    #[schema(required = true)]
    value: Option<u64>,
}

/// A load average.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LoadReading {
    /// The average, two decimals.
    load: f64,
    /// "1 minute", "5 minutes" or "15 minutes".
    time: String,
}

/// A service's snapshot. Process figures are null for services outside this process;
/// the store, the bus and workers add the fields below them.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ServiceSnapshot {
    /// Internal id of the snapshot.
    id: u64,
    /// The service's name (a worker's `node_guid`).
    name: String,
    /// Always 1.
    num_instances: u64,
    /// Its process id; 0 outside this process.
    pid: u32,
    /// KB of resident memory.
    #[schema(required = true)]
    rs_kb: Option<u64>,
    /// System CPU time, clock ticks.
    #[schema(required = true)]
    stime: Option<u64>,
    /// When the snapshot was taken (a worker's: its last heartbeat).
    #[schema(format = DateTime)]
    time: String,
    /// User CPU time, clock ticks.
    #[schema(required = true)]
    utime: Option<u64>,
    /// KB of virtual memory.
    #[schema(required = true)]
    vm_kb: Option<u64>,
    /// The store: `sqlite` or `postgres`.
    backend: Option<String>,
    /// The store: how long a ping took, ms.
    ping_ms: Option<f64>,
    /// The bus: whether the broker is connected to it.
    connected: Option<bool>,
    /// A worker: when its last heartbeat arrived.
    #[schema(format = DateTime)]
    last_heartbeat: Option<String>,
    /// A worker: the segment it serves.
    segment: Option<String>,
    /// A worker: the machine it runs on.
    hostname: Option<String>,
    /// A worker: its version.
    version: Option<String>,
    /// A worker: how many tasks it runs at once.
    concurrency: Option<u32>,
    /// A worker: how many tasks it was running.
    in_flight: Option<u32>,
    /// A worker: tasks finished since it started.
    completed: Option<u64>,
    /// A worker: whether it is shutting down.
    draining: Option<bool>,
    /// A worker: when it started.
    #[schema(format = DateTime)]
    started: Option<String>,
}

/// A connectivity test of an asset (`/rest/app_status`, seed 003).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppStatusBody {
    /// `?pretty`: the app's name.
    #[serde(rename = "_pretty_app", skip_serializing_if = "Option::is_none")]
    pub pretty_app: Option<String>,
    /// `?pretty`: the asset's name.
    #[serde(rename = "_pretty_asset", skip_serializing_if = "Option::is_none")]
    pub pretty_asset: Option<String>,
    /// `?pretty`: how long ago the test was requested, e.g. "13 minutes ago".
    #[serde(rename = "_pretty_create_time", skip_serializing_if = "Option::is_none")]
    pub pretty_create_time: Option<String>,
    /// `?pretty`: the app's icon; always "".
    #[serde(rename = "_pretty_icon", skip_serializing_if = "Option::is_none")]
    pub pretty_icon: Option<String>,
    /// The app tested.
    pub app: i64,
    /// The asset tested.
    pub asset: i64,
    /// When the test was requested.
    #[schema(format = DateTime)]
    pub create_time: String,
    /// The test's app run.
    pub id: i64,
    /// `Testing asset connectivity for '<asset>' using app '<app>'`, then the outcome.
    pub message: String,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
}

/// `GET /rest/app_status`: SOAR's list, in the seed's key order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppStatusList {
    /// How many tests there are, on every page.
    pub count: u64,
    /// The tests of the requested page, by asset unless sorted otherwise.
    pub data: Vec<AppStatusBody>,
    /// How many pages of `page_size` tests that makes.
    pub num_pages: u64,
}

/// The answer to a started connectivity test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestStartedBody {
    /// Always true.
    pub success: bool,
    /// The test's action run, to poll like any other.
    pub action_run_id: i64,
    /// The system container test runs belong to.
    pub container_id: i64,
    /// `Testing asset connectivity for '<asset>' using app '<app>'`.
    pub message: String,
}

/// The widget `top_playbooks_actions`: the most run actions of the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopPlaybooksActions {
    /// Up to 10 actions, most run first.
    pub actions: Vec<ActionUse>,
    /// Always empty: Outpost runs no playbooks.
    #[schema(value_type = Vec<Object>)]
    pub playbooks: Vec<Value>,
}

/// How often an action ran.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionUse {
    /// The action, e.g. "url reputation".
    pub action_name: String,
    /// Mean seconds from start to close, one decimal; null when none finished.
    #[schema(required = true)]
    pub average_duration: Option<f64>,
    /// How many runs of it the window holds.
    pub total: i64,
}

/// The widget `playbooks_actions_stats`: action runs per day of the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybooksActionsStats {
    /// The window's start.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// The window's end.
    #[schema(format = DateTime)]
    pub end_time: String,
    /// Always 0: Outpost runs no playbooks.
    pub total_playbooks: u64,
    /// Action runs in the window.
    pub total_actions: u64,
    /// One entry per UTC day of the window.
    pub days: Vec<DayCount>,
}

/// Runs of one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    #[schema(format = Date)]
    pub date: String,
    /// Always 0: Outpost runs no playbooks.
    pub playbooks: u64,
    /// Action runs created that day.
    pub actions: u64,
}

/// One widget, by the name in the path.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WidgetBody {
    /// `top_playbooks_actions`.
    TopPlaybooksActions(TopPlaybooksActions),
    /// `playbooks_actions_stats`.
    PlaybooksActionsStats(PlaybooksActionsStats),
}

/// `GET /rest/widget_data`: every widget Outpost computes, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetDataBody {
    /// See `/rest/widget_data/top_playbooks_actions`.
    pub top_playbooks_actions: TopPlaybooksActions,
    /// See `/rest/widget_data/playbooks_actions_stats`.
    pub playbooks_actions_stats: PlaybooksActionsStats,
}

/// A user (`/rest/ph_user`); never the password.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Unique; the Basic sign-in name.
    pub username: String,
    /// Contact address.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `normal`, or `automation` (signs in with tokens only).
    #[serde(rename = "type")]
    pub user_type: String,
    /// False once disabled: it then signs in with nothing.
    pub is_active: bool,
    /// The ids of the roles it holds.
    pub roles: Vec<i64>,
    /// `?pretty`: the names of the roles it holds, in the order of `roles`.
    #[serde(rename = "_pretty_roles", skip_serializing_if = "Option::is_none")]
    pub pretty_roles: Option<Vec<String>>,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
}

/// A user; `pretty_roles` is for the caller to fill with `?pretty`.
pub fn user(u: &User, role_ids: &[i64]) -> UserBody {
    UserBody {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        user_type: u.user_type.clone(),
        is_active: u.is_active,
        roles: role_ids.to_vec(),
        pretty_roles: None,
        create_time: iso(u.created_ms),
        update_time: iso(u.updated_ms),
    }
}

/// A `ph-auth-token` token; never the token itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    /// Its numeric id, for revoking it.
    pub id: i64,
    /// The user it acts as.
    pub user: i64,
    /// `?pretty`: the user's name.
    #[serde(rename = "_pretty_user", skip_serializing_if = "Option::is_none")]
    pub pretty_user: Option<String>,
    /// What it is for.
    pub label: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// When it was issued.
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it stops working; null: never.
    #[schema(required = true, format = DateTime)]
    pub expires_on: Option<String>,
    /// When it was revoked; null while not.
    #[schema(required = true, format = DateTime)]
    pub revoked_time: Option<String>,
}

/// A token as shown at `now` (Unix ms), which decides `expired`; `pretty_user` is for
/// the caller to fill with `?pretty`.
pub fn token(t: &Token, now: i64) -> TokenBody {
    let status = match (t.revoked_ms, t.expires_ms) {
        (Some(_), _) => "revoked",
        (None, Some(e)) if e <= now => "expired",
        _ => "active",
    };
    TokenBody {
        id: t.id,
        user: t.user_id,
        pretty_user: None,
        label: t.label.clone(),
        status: status.into(),
        create_time: iso(t.created_ms),
        expires_on: iso_opt(t.expires_ms),
        revoked_time: iso_opt(t.revoked_ms),
    }
}

/// The answer to `POST /rest/ph_user/<id>/token`: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenIssued {
    /// Always true.
    pub success: bool,
    /// The token's id, for revoking it.
    pub id: i64,
    /// The token, for the `ph-auth-token` header.
    pub key: String,
    /// When it stops working; null: never.
    #[schema(required = true, format = DateTime)]
    pub expires_on: Option<String>,
    /// Says the key is not shown again.
    pub message: String,
}

/// The answer to revoking tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensRevoked {
    /// Always true.
    pub success: bool,
    /// How many live tokens were revoked.
    pub revoked: u64,
}

/// A role (`/rest/role`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Unique; what messages show.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Permission names such as `containers:view`; a built-in role shows its fixed ones.
    pub permissions: Vec<String>,
    /// Administrator, Automation and Observer are built in: fixed name and permissions.
    pub builtin: bool,
    /// False once disabled: it then grants nothing.
    pub is_active: bool,
    /// The ids of its members.
    pub users: Vec<i64>,
    /// `?pretty`: the user names of its members, in the order of `users`.
    #[serde(rename = "_pretty_users", skip_serializing_if = "Option::is_none")]
    pub pretty_users: Option<Vec<String>>,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
}

/// A role; `pretty_users` is for the caller to fill with `?pretty`.
pub fn role(r: &Role, member_ids: &[i64]) -> RoleBody {
    let permissions: Vec<String> = if r.builtin {
        builtin_permissions(&r.name).unwrap_or_default().iter().map(|p| p.name().to_string()).collect()
    } else {
        r.permissions.clone()
    };
    RoleBody {
        id: r.id,
        name: r.name.clone(),
        description: r.description.clone(),
        permissions,
        builtin: r.builtin,
        is_active: r.is_active,
        users: member_ids.to_vec(),
        pretty_users: None,
        create_time: iso(r.created_ms),
        update_time: iso(r.updated_ms),
    }
}

// Documents the record `crate::access::audit::record_json` builds (outside `rest`); the OpenAPI
// test checks real answers against it.
/// An audit record (seed 002). With `format=csv` the same records come as CSV with the
/// seed's columns.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AuditRecordBody {
    /// Unique together with `AUDIT SOURCE`.
    #[serde(rename = "AUDIT ID")]
    audit_id: i64,
    /// `Audit`, `Action Run`, ...
    #[serde(rename = "AUDIT SOURCE")]
    source: String,
    /// The field a change changed; "" otherwise.
    #[serde(rename = "CHANGED FIELD")]
    changed_field: String,
    /// The caller's address; "" for what automation did.
    #[serde(rename = "IP ADDRESS")]
    ip: String,
    /// The value after a change.
    #[serde(rename = "NEW VALUE")]
    #[schema(required = true)]
    new_value: Option<String>,
    /// What happened, e.g. `GET:/rest/ph_user/1/audit` or `login:Success`.
    #[serde(rename = "NOTE")]
    note: String,
    /// The object's id, or "" when the event has none.
    #[serde(rename = "OBJECT ID")]
    object_id: AuditObjectId,
    /// `ph_user`, `role`, `container`, `action`, `authentication`, ...
    #[serde(rename = "OBJECT TYPE")]
    object_type: String,
    /// The value before a change.
    #[serde(rename = "OLD VALUE")]
    #[schema(required = true)]
    old_value: Option<String>,
    /// The related object's id, e.g. an action run's container.
    #[serde(rename = "RELATED OBJECT ID")]
    #[schema(required = true)]
    related_id: Option<i64>,
    /// The related object's type.
    #[serde(rename = "RELATED OBJECT TYPE")]
    #[schema(required = true)]
    related_type: Option<String>,
    /// When it happened (UTC).
    #[serde(rename = "TIME")]
    #[schema(format = DateTime)]
    time: String,
    /// Who did it.
    #[serde(rename = "USER")]
    user: String,
    /// Their id; null for what no user did.
    #[serde(rename = "USER ID")]
    #[schema(required = true)]
    user_id: Option<i64>,
}

/// An audit record's `OBJECT ID`: an id, or "" when the event concerns no object.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum AuditObjectId {
    /// The object's id.
    Id(i64),
    /// "".
    None(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked() {
        let config = json!({"base_url": "https://x", "apikey": "s3cret", "unset": null});
        let shown = masked(config.as_object().unwrap(), &["apikey", "unset"]);
        assert_eq!(shown, json!({"base_url": "https://x", "apikey": MASK, "unset": null}));
    }

    #[test]
    fn pretty_fields_show_only_when_asked() {
        #[derive(Serialize)]
        struct Shape {
            /// The field under test.
            #[serde(rename = "_pretty_x", skip_serializing_if = "Pretty::is_off")]
            x: Pretty,
        }
        assert_eq!(serde_json::to_value(Shape { x: Pretty::Off }).unwrap(), json!({}));
        assert_eq!(serde_json::to_value(Shape { x: Pretty::Name(None) }).unwrap(), json!({"_pretty_x": null}));
        assert_eq!(
            serde_json::to_value(Shape { x: Pretty::Name(Some("a".into())) }).unwrap(),
            json!({"_pretty_x": "a"})
        );
    }
}
