//! The audit trail (seed 002): who did what, to which object, from where, and when.
//!
//! Every domain operation audits itself through `self.audit` ([`Audit`]) with one line,
//! as `who` (the [`Actor`] the front door passed in); the store appends. Wiring a new
//! operation is:
//!
//! ```ignore
//! self.audit.record_change(who, AuditObject::asset(&after), Some(&asset_fields(&before)), Some(&asset_fields(&after))).await;
//! ```
//!
//! where `old` is `None` on create and `new` is `None` on delete. It writes one record per changed field with `CHANGED FIELD`,
//! `OLD VALUE` and `NEW VALUE`; nested objects are compared field by field
//! (`configuration.apikey`). Secret values are masked: an asset's configuration fields
//! of type `password` (from its app's manifest) and any field named like a password or
//! token. Pass values **unmasked** (e.g. [`asset_fields`]) so a changed secret is still
//! noticed; only the mask is written. Audit writes never fail the request: a store error
//! is logged.
//!
//! Records of source `Audit` have their own ids; each action run leaves one record of
//! source `Action Run` whose AUDIT ID is the action run's id. `(AUDIT SOURCE, AUDIT ID)`
//! is unique. Records are never changed through the API and are deleted only by
//! retention ([`retention::run_retention`]).
//!
//! # Layout
//! This file holds who and what a record names, and the writer ([`Audit`]);
//! `diff` turns a change into one record per field, secrets masked; `retention`
//! deletes old records.

mod diff;
pub mod retention;

use std::net::IpAddr;

use outpost_proto::time::now_ms;
use serde_json::Value;

pub use diff::{app_fields, asset_fields, change_records, container_fields, role_fields, user_fields};

use crate::access::auth::Principal;
use crate::store::Store;
use crate::store::apps::App;
use crate::store::assets::Asset;
use crate::store::audit_records::{AuditRecord, SOURCE_ACTION_RUN, SOURCE_AUDIT};
use crate::store::containers::Container;
use crate::store::roles::Role;
use crate::store::users::User;

/// Who an audit record names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// `None` for the broker itself and for sign-ins naming no known user.
    pub user_id: Option<i64>,
    /// `""` when `user_id` is `None`.
    pub username: String,
    /// The caller's address, `""` when not over the network.
    pub ip: String,
}

impl Actor {
    /// The broker itself (retention, start-up).
    pub fn system() -> Actor {
        Actor::default()
    }

    /// Someone not (yet) known, calling from `ip`.
    pub fn anonymous(ip: Option<IpAddr>) -> Actor {
        Actor { ip: ip.map(|ip| ip.to_string()).unwrap_or_default(), ..Actor::default() }
    }
}

impl From<&Principal> for Actor {
    fn from(who: &Principal) -> Actor {
        Actor {
            user_id: Some(who.user_id),
            username: who.username.clone(),
            ip: who.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        }
    }
}

impl From<&Actor> for Actor {
    fn from(actor: &Actor) -> Actor {
        actor.clone()
    }
}

/// The object an audit record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditObject {
    User {
        id: i64,
        name: String,
    },
    Role {
        id: i64,
        name: String,
    },
    Container {
        id: i64,
        name: String,
    },
    Asset {
        id: i64,
        name: String,
    },
    App {
        id: i64,
        name: String,
    },
    /// An action run, related to its container (cancel).
    ActionRun {
        id: i64,
        name: String,
        container_id: i64,
    },
    /// Runtime settings (`/rest/system_settings`).
    Settings,
    /// The audit trail itself (reads of `/rest/audit`).
    Audit,
}

impl AuditObject {
    pub fn user(u: &User) -> Self {
        AuditObject::User { id: u.id, name: u.username.clone() }
    }
    pub fn role(r: &Role) -> Self {
        AuditObject::Role { id: r.id, name: r.name.clone() }
    }
    pub fn container(c: &Container) -> Self {
        AuditObject::Container { id: c.id, name: c.name.clone() }
    }
    pub fn asset(a: &Asset) -> Self {
        AuditObject::Asset { id: a.id, name: a.name.clone() }
    }
    pub fn app(a: &App) -> Self {
        AuditObject::App { id: a.id, name: a.name.clone() }
    }

    /// The seed's selection the object belongs to.
    fn category(&self) -> &'static str {
        match self {
            AuditObject::User { .. } => "ph_user",
            AuditObject::Role { .. } => "role",
            AuditObject::Container { .. } | AuditObject::ActionRun { .. } => "container",
            AuditObject::Asset { .. } | AuditObject::App { .. } | AuditObject::Settings | AuditObject::Audit => {
                "administration"
            }
        }
    }

    fn object_type(&self) -> &'static str {
        match self {
            AuditObject::User { .. } => "ph_user",
            AuditObject::Role { .. } => "role",
            AuditObject::Container { .. } => "container",
            AuditObject::Asset { .. } => "asset",
            AuditObject::App { .. } => "app",
            AuditObject::ActionRun { .. } => "action_run",
            AuditObject::Settings => "system_settings",
            AuditObject::Audit => "audit",
        }
    }

    fn object_id(&self) -> Option<i64> {
        match self {
            AuditObject::User { id, .. }
            | AuditObject::Role { id, .. }
            | AuditObject::Container { id, .. }
            | AuditObject::Asset { id, .. }
            | AuditObject::App { id, .. }
            | AuditObject::ActionRun { id, .. } => Some(*id),
            AuditObject::Settings | AuditObject::Audit => None,
        }
    }

    fn related(&self) -> (Option<String>, Option<i64>) {
        match self {
            AuditObject::ActionRun { container_id, .. } => (Some("container".into()), Some(*container_id)),
            _ => (None, None),
        }
    }

    fn name(&self) -> &str {
        match self {
            AuditObject::User { name, .. }
            | AuditObject::Role { name, .. }
            | AuditObject::Container { name, .. }
            | AuditObject::Asset { name, .. }
            | AuditObject::App { name, .. }
            | AuditObject::ActionRun { name, .. } => name,
            AuditObject::Settings => "system settings",
            AuditObject::Audit => "audit",
        }
    }
}

/// Writes audit records; cheap to clone.
#[derive(Clone, Debug)]
pub struct Audit {
    /// Where records are appended, and app manifests read for masking.
    store: Store,
}

fn base(who: &Actor, object: &AuditObject, note: String) -> AuditRecord {
    let (related_type, related_id) = object.related();
    AuditRecord {
        source: SOURCE_AUDIT.into(),
        audit_id: 0,
        time_ms: now_ms(),
        user_id: who.user_id,
        username: who.username.clone(),
        ip: who.ip.clone(),
        category: object.category().into(),
        object_type: object.object_type().into(),
        object_id: object.object_id(),
        related_type,
        related_id,
        note,
        changed_field: String::new(),
        old_value: None,
        new_value: None,
    }
}

impl Audit {
    pub fn new(store: Store) -> Audit {
        Audit { store }
    }

    async fn append(&self, records: Vec<AuditRecord>) {
        if let Err(e) = self.store.append_audit(&records).await {
            tracing::error!(error = %e, records = records.len(), "audit records not written");
        }
    }

    /// Records a create (`old` = `None`), an update or a delete (`new` = `None`): one
    /// record per changed field, secrets masked. An update that changes nothing leaves
    /// no record.
    pub async fn record_change(
        &self,
        who: impl Into<Actor>,
        object: AuditObject,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let who = who.into();
        let secrets = self.secrets_of(&object, old.or(new)).await;
        let records = change_records(&who, &object, old, new, &secrets);
        self.append(records).await;
    }

    /// Records one named change, values already safe to show (e.g. `password`,
    /// `********`, `********`).
    pub async fn record_field(
        &self,
        who: impl Into<Actor>,
        object: AuditObject,
        field: &str,
        old: Option<&str>,
        new: Option<&str>,
        note: &str,
    ) {
        let who = who.into();
        let mut record = base(&who, &object, format!("{}:{note}", object.name()));
        record.changed_field = field.into();
        record.old_value = old.map(str::to_string);
        record.new_value = new.map(str::to_string);
        self.append(vec![record]).await;
    }

    /// Records a read of an audited object: `note` is `GET:<path and query>`.
    pub async fn record_read(&self, who: impl Into<Actor>, object: AuditObject, note: &str) {
        self.append(vec![base(&who.into(), &object, note.into())]).await;
    }

    /// Records an action run (source `Action Run`, AUDIT ID = the run's id), related to
    /// its container, noted with the run's name as the seed shows.
    pub async fn record_action_run(&self, who: impl Into<Actor>, action_run_id: i64, name: &str, container_id: i64) {
        let who = who.into();
        let record = AuditRecord {
            source: SOURCE_ACTION_RUN.into(),
            audit_id: action_run_id,
            time_ms: now_ms(),
            user_id: who.user_id,
            username: who.username,
            ip: who.ip,
            category: "container".into(),
            object_type: "action".into(),
            object_id: None,
            related_type: Some("container".into()),
            related_id: Some(container_id),
            note: name.into(),
            changed_field: String::new(),
            old_value: Some(String::new()),
            new_value: Some(String::new()),
        };
        self.append(vec![record]).await;
    }

    /// Records a sign-in event: `note` is SOAR's `login:Success`, `login:Failed`, ...
    pub async fn record_authentication(&self, who: impl Into<Actor>, note: &str) {
        let who = who.into();
        let mut record = base(&who, &AuditObject::Audit, note.into());
        record.category = "authentication".into();
        record.object_type = "authentication".into();
        self.append(vec![record]).await;
    }

    /// Records a refusal: SOAR's `<permission>:Failed` (`containers:view:Failed`).
    pub async fn record_denied(&self, who: impl Into<Actor>, permission: &str) {
        let who = who.into();
        let mut record = base(&who, &AuditObject::Audit, format!("{permission}:Failed"));
        record.category = "authentication".into();
        record.object_type = "authorization".into();
        self.append(vec![record]).await;
    }

    /// Records an administration event without a changed field (e.g. a retention purge).
    pub async fn record_administration(&self, who: impl Into<Actor>, object: AuditObject, note: &str) {
        let who = who.into();
        let mut record = base(&who, &object, note.into());
        record.category = "administration".into();
        self.append(vec![record]).await;
    }

    /// The dotted field names to mask for an object: an asset's `password` fields.
    async fn secrets_of(&self, object: &AuditObject, value: Option<&Value>) -> Vec<String> {
        let AuditObject::Asset { .. } = object else { return vec![] };
        let Some(app_id) = value.and_then(|v| v.get("app")).and_then(Value::as_i64) else { return vec![] };
        match self.store.get_app(app_id).await {
            Ok(Some(app)) => app.manifest.secret_fields().into_iter().map(|f| format!("configuration.{f}")).collect(),
            Ok(None) => vec![],
            Err(e) => {
                // Without the manifest, mask the whole configuration rather than risk a leak.
                tracing::warn!(error = %e, "cannot read the asset's app; masking its whole configuration");
                vec!["configuration.*".into()]
            }
        }
    }
}
