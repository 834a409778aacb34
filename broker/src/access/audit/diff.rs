//! Field diffs: a change to an object becomes one audit record per changed field, with
//! secrets masked; and each object as the audit compares it.

use outpost_proto::time::iso;
use serde_json::{Value, json};

use super::{Actor, AuditObject, base};
use crate::catalog::assets::MASK;
use crate::store::apps::App;
use crate::store::assets::Asset;
use crate::store::audit_records::AuditRecord;
use crate::store::containers::Container;
use crate::store::roles::Role;
use crate::store::users::User;

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

/// The records of one change (see [`super::Audit::record_change`]).
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
        let written = format!("{records:?}");
        assert!(!written.contains("secret"), "{written}");
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
}
