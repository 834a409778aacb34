//! The audit trail (seed 002): who did what, to which object, from where, and when.
//!
//! Handlers call [`Audit`] through `broker.audit` with one line; the store appends.
//! Wiring a new mutating endpoint is:
//!
//! ```ignore
//! broker.audit.record_change(&who, AuditObject::asset(&after), Some(&audit::asset_fields(&before)), Some(&audit::asset_fields(&after))).await;
//! ```
//!
//! where `who` is the handler's `Extension<Principal>`, `old` is `None` on create and
//! `new` is `None` on delete. It writes one record per changed field with `CHANGED FIELD`,
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
//! retention ([`run_retention`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use outpost_proto::time::now_ms;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::Broker;
use crate::access::auth::Principal;
use crate::rest::render::MASK;
use crate::store::Store;
use crate::store::apps::{App, Installed};
use crate::store::assets::Asset;
use crate::store::audit_records::{AuditRecord, SOURCE_ACTION_RUN, SOURCE_AUDIT};
use crate::store::containers::Container;
use crate::store::roles::Role;
use crate::store::users::User;
use outpost_proto::time::{csv_time, iso};

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

impl Broker {
    /// Records an action run just queued (source `Action Run`): reads back its name and
    /// container, so REST, gRPC and connectivity tests record it alike.
    pub async fn audit_action_run(&self, who: &Actor, action_run_id: i64) {
        match self.store.get_action_run(action_run_id).await {
            Ok(Some(run)) => self.audit.record_action_run(who, run.id, &run.name, run.container_id).await,
            Ok(None) => tracing::error!(action_run_id, "action run vanished before it was audited"),
            Err(e) => tracing::error!(action_run_id, error = %e, "action run not audited"),
        }
    }

    /// Records a cancel: the run's `cancelled` field, related to its container.
    pub async fn audit_cancel(&self, who: &Actor, action_run_id: i64) {
        match self.store.get_action_run(action_run_id).await {
            Ok(Some(run)) => {
                let object =
                    AuditObject::ActionRun { id: run.id, name: run.name.clone(), container_id: run.container_id };
                self.audit.record_field(who, object, "cancelled", Some(""), Some(&run.cancelled), "cancelled").await;
            }
            Ok(None) => tracing::error!(action_run_id, "action run vanished before its cancel was audited"),
            Err(e) => tracing::error!(action_run_id, error = %e, "cancel not audited"),
        }
    }

    /// Records an app install or upgrade (an unchanged re-install records nothing).
    pub async fn audit_app_install(&self, who: &Actor, app: &App, installed: Installed) {
        match installed {
            Installed::Created => {
                self.audit.record_change(who, AuditObject::app(app), None, Some(&app_fields(app))).await
            }
            Installed::Upgraded => {
                let previous = app.known_versions.last().map(String::as_str);
                self.audit
                    .record_field(
                        who,
                        AuditObject::app(app),
                        "app_version",
                        previous,
                        Some(&app.app_version),
                        "upgraded",
                    )
                    .await;
            }
            Installed::Unchanged => {}
        }
    }
}

/// Leaf names whose values are always masked, whatever the object.
const ALWAYS_SECRET: &[&str] =
    &["password", "password_hash", "token", "token_hash", "key", "secret", "api_key", "apikey"];
/// Fields that change on every write and say nothing about what changed.
const IGNORED: &[&str] = &[
    "id",
    "version",
    "update_time",
    "updated_ms",
    "create_time",
    "created_ms",
    "container_update_time",
    "hash",
    "artifact_update_time",
];

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

/// Objects flattened to dotted leaf names, in the order given.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
            for (k, v) in map {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&name, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// A value as the seed shows it: strings bare, others as compact JSON, null as none.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn is_secret(field: &str, secrets: &[String]) -> bool {
    let leaf = field.rsplit('.').next().unwrap_or(field).to_lowercase();
    ALWAYS_SECRET.contains(&leaf.as_str())
        || secrets.iter().any(|s| s == field || s.strip_suffix('*').is_some_and(|prefix| field.starts_with(prefix)))
}

fn shown(field: &str, value: &Value, secrets: &[String]) -> Option<String> {
    if is_secret(field, secrets) { text(value).map(|_| MASK.to_string()) } else { text(value) }
}

/// The records of one change (see [`Audit::record_change`]).
pub fn change_records(
    who: &Actor,
    object: &AuditObject,
    old: Option<&Value>,
    new: Option<&Value>,
    secrets: &[String],
) -> Vec<AuditRecord> {
    let name = object.name().to_string();
    let verb = match (old, new) {
        (None, Some(_)) => "created",
        (Some(_), None) => "deleted",
        _ => "updated",
    };
    if new.is_none() {
        return vec![base(who, object, format!("{name}:{verb}"))];
    }
    let mut before = vec![];
    let mut after = vec![];
    flatten("", old.unwrap_or(&Value::Null), &mut before);
    flatten("", new.unwrap_or(&Value::Null), &mut after);
    before.retain(|(k, _)| !k.is_empty());
    after.retain(|(k, _)| !k.is_empty());
    let ignored = |field: &str| IGNORED.contains(&field.split('.').next().unwrap_or(field));
    let mut fields: Vec<&str> = after.iter().map(|(k, _)| k.as_str()).collect();
    fields.extend(before.iter().map(|(k, _)| k.as_str()).filter(|k| !after.iter().any(|(a, _)| a == k)));
    let lookup = |list: &[(String, Value)], field: &str| {
        list.iter().find(|(k, _)| k == field).map(|(_, v)| v.clone()).unwrap_or(Value::Null)
    };
    let mut records = vec![];
    for field in fields {
        if ignored(field) {
            continue;
        }
        let (was, now) = (lookup(&before, field), lookup(&after, field));
        let changed = if old.is_none() { !is_empty(&now) } else { was != now };
        if !changed {
            continue;
        }
        let mut record = base(who, object, format!("{name}:{verb}"));
        record.changed_field = field.to_string();
        record.old_value = if old.is_none() { None } else { shown(field, &was, secrets) };
        record.new_value = shown(field, &now, secrets);
        records.push(record);
    }
    records
}

/// An asset as audit compares it: configuration unmasked (the audit masks it).
pub fn asset_fields(a: &Asset) -> Value {
    json!({
        "name": a.name,
        "app": a.app_id,
        "description": a.description,
        "configuration": a.configuration,
        "automation_broker_id": a.automation_broker_id,
        "timeout_secs": a.timeout_secs,
        "tags": a.tags,
    })
}

/// A container as audit compares it: its writable fields.
pub fn container_fields(c: &Container) -> Value {
    let time = |ms: Option<i64>| ms.map(iso).unwrap_or_default();
    json!({
        "name": c.name,
        "label": c.label,
        "description": c.description,
        "status": c.status,
        "severity": c.severity,
        "sensitivity": c.sensitivity,
        "source_data_identifier": c.source_data_identifier,
        "owner_id": c.owner_id,
        "tags": c.tags,
        "data": c.data,
        "kill_chain": c.kill_chain,
        "asset_id": c.asset_id,
        "ingest_app_id": c.ingest_app_id,
        "custom_fields": c.custom_fields,
        "due_time": time(c.due_ms),
        "start_time": iso(c.start_ms),
        "end_time": time(c.end_ms),
    })
}

/// A user as audit compares it (never the password).
pub fn user_fields(u: &User, role_ids: &[i64]) -> Value {
    json!({
        "username": u.username,
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "type": u.user_type,
        "is_active": u.is_active,
        "roles": role_ids,
    })
}

/// A role as audit compares it.
pub fn role_fields(r: &Role, member_ids: &[i64]) -> Value {
    json!({
        "name": r.name,
        "description": r.description,
        "permissions": r.permissions,
        "is_active": r.is_active,
        "users": member_ids,
    })
}

/// An app as audit compares it.
pub fn app_fields(a: &App) -> Value {
    json!({"name": a.name, "appid": a.appid, "app_version": a.app_version, "digest": a.digest})
}

/// The seed's CSV column order.
pub const CSV_COLUMNS: &[&str] = &[
    "AUDIT SOURCE",
    "AUDIT ID",
    "TIME",
    "USER ID",
    "USER",
    "IP ADDRESS",
    "OBJECT ID",
    "OBJECT TYPE",
    "RELATED OBJECT TYPE",
    "RELATED OBJECT ID",
    "NOTE",
    "CHANGED FIELD",
    "OLD VALUE",
    "NEW VALUE",
];

/// A record as the seed's JSON shows it, keys in the seed's order.
pub fn record_json(r: &AuditRecord) -> Value {
    let mut m = Map::new();
    let opt = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    m.insert("AUDIT ID".into(), json!(r.audit_id));
    m.insert("AUDIT SOURCE".into(), json!(r.source));
    m.insert("CHANGED FIELD".into(), json!(r.changed_field));
    m.insert("IP ADDRESS".into(), json!(r.ip));
    m.insert("NEW VALUE".into(), opt(&r.new_value));
    m.insert("NOTE".into(), json!(r.note));
    m.insert("OBJECT ID".into(), r.object_id.map(Value::from).unwrap_or_else(|| json!("")));
    m.insert("OBJECT TYPE".into(), json!(r.object_type));
    m.insert("OLD VALUE".into(), opt(&r.old_value));
    m.insert("RELATED OBJECT ID".into(), r.related_id.map(Value::from).unwrap_or(Value::Null));
    m.insert("RELATED OBJECT TYPE".into(), opt(&r.related_type));
    m.insert("TIME".into(), json!(iso(r.time_ms)));
    m.insert("USER".into(), json!(r.username));
    m.insert("USER ID".into(), r.user_id.map(Value::from).unwrap_or(Value::Null));
    Value::Object(m)
}

/// Records as the seed's CSV: a header row, then one row per record.
pub fn records_csv(records: &[AuditRecord]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(vec![]);
    out.write_record(CSV_COLUMNS)?;
    for r in records {
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        out.write_record([
            r.source.clone(),
            r.audit_id.to_string(),
            csv_time(r.time_ms),
            id(r.user_id),
            r.username.clone(),
            r.ip.clone(),
            id(r.object_id),
            r.object_type.clone(),
            r.related_type.clone().unwrap_or_default(),
            id(r.related_id),
            r.note.clone(),
            r.changed_field.clone(),
            r.old_value.clone().unwrap_or_default(),
            r.new_value.clone().unwrap_or_default(),
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Deletes records older than `audit_retention_days` (0 keeps everything), at start and
/// hourly; each purge is itself an administration record.
pub async fn run_retention(broker: Arc<Broker>, shutdown: CancellationToken) {
    run_retention_every(broker, shutdown, RETENTION_EVERY).await;
}

/// [`run_retention`], purging every `every` instead of hourly (tests run it fast).
pub async fn run_retention_every(broker: Arc<Broker>, shutdown: CancellationToken, every: Duration) {
    let days = broker.config.audit_retention_days;
    if days == 0 {
        return;
    }
    loop {
        let before = now_ms() - i64::from(days) * 24 * 3600 * 1000;
        match broker.store.purge_audit(before).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(purged = n, days, "audit retention");
                let note = format!("retention:purged {n} records older than {days} days");
                broker.audit.record_administration(Actor::system(), AuditObject::Audit, &note).await;
            }
            Err(e) => tracing::warn!(error = %e, "audit retention failed; retrying later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Actor {
        Actor { user_id: Some(1), username: "admin".into(), ip: "10.0.0.1".into() }
    }

    #[test]
    fn updates_record_each_changed_field_with_secrets_masked() {
        let object = AuditObject::Asset { id: 4, name: "geo".into() };
        let old = json!({"name": "geo", "configuration": {"url": "https://a", "apikey": "old-secret", "pw": "x"}, "tags": []});
        let new = json!({"name": "geo", "configuration": {"url": "https://b", "apikey": "new-secret", "pw": "y"}, "tags": ["t"]});
        let records = change_records(&who(), &object, Some(&old), Some(&new), &["configuration.pw".into()]);
        let fields: Vec<_> = records
            .iter()
            .map(|r| (r.changed_field.as_str(), r.old_value.as_deref(), r.new_value.as_deref()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("configuration.url", Some("https://a"), Some("https://b")),
                ("configuration.apikey", Some(MASK), Some(MASK)),
                ("configuration.pw", Some(MASK), Some(MASK)),
                ("tags", Some("[]"), Some("[\"t\"]")),
            ]
        );
        assert!(
            records
                .iter()
                .all(|r| r.note == "geo:updated" && r.object_type == "asset" && r.category == "administration")
        );
        let rendered = serde_json::to_string(&records.iter().map(record_json).collect::<Vec<_>>()).unwrap();
        assert!(!rendered.contains("secret"), "{rendered}");
    }

    #[test]
    fn creates_list_set_fields_and_deletes_one_record() {
        let object = AuditObject::Container { id: 9, name: "c".into() };
        let new = json!({"name": "c", "description": "", "severity": "high", "owner_id": null, "version": 1});
        let records = change_records(&who(), &object, None, Some(&new), &[]);
        let fields: Vec<_> =
            records.iter().map(|r| (r.changed_field.as_str(), r.old_value.clone(), r.new_value.clone())).collect();
        assert_eq!(fields, vec![("name", None, Some("c".into())), ("severity", None, Some("high".into()))]);
        let deleted = change_records(&who(), &object, Some(&new), None, &[]);
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].note, "c:deleted");
        assert!(change_records(&who(), &object, Some(&new), Some(&new), &[]).is_empty(), "no change, no record");
    }

    #[test]
    fn a_whole_configuration_can_be_masked() {
        let object = AuditObject::Asset { id: 4, name: "geo".into() };
        let new = json!({"configuration": {"anything": "s3cret"}});
        let records = change_records(&who(), &object, None, Some(&new), &["configuration.*".into()]);
        assert_eq!(records[0].new_value.as_deref(), Some(MASK));
    }

    #[test]
    fn json_and_csv_follow_the_seed() {
        let record = AuditRecord {
            source: "Audit".into(),
            audit_id: 62,
            time_ms: 1_499_310_364_086,
            user_id: Some(3),
            username: "herman".into(),
            ip: "10.10.0.240".into(),
            category: "authentication".into(),
            object_type: "authorization".into(),
            object_id: None,
            related_type: None,
            related_id: None,
            note: "users_roles:view:Failed".into(),
            changed_field: String::new(),
            old_value: None,
            new_value: None,
        };
        let keys: Vec<String> = record_json(&record).as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "AUDIT ID",
                "AUDIT SOURCE",
                "CHANGED FIELD",
                "IP ADDRESS",
                "NEW VALUE",
                "NOTE",
                "OBJECT ID",
                "OBJECT TYPE",
                "OLD VALUE",
                "RELATED OBJECT ID",
                "RELATED OBJECT TYPE",
                "TIME",
                "USER",
                "USER ID"
            ]
        );
        assert_eq!(record_json(&record)["OBJECT ID"], "");
        assert_eq!(record_json(&record)["NEW VALUE"], Value::Null);
        let csv = records_csv(&[record]).unwrap();
        assert_eq!(
            csv,
            "AUDIT SOURCE,AUDIT ID,TIME,USER ID,USER,IP ADDRESS,OBJECT ID,OBJECT TYPE,RELATED OBJECT TYPE,RELATED OBJECT ID,NOTE,CHANGED FIELD,OLD VALUE,NEW VALUE\n\
             Audit,62,2017-07-06 03:06:04.086000+00:00,3,herman,10.10.0.240,,authorization,,,users_roles:view:Failed,,,\n"
        );
    }
}
