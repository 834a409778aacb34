//! Audit records (seed 002), in the seed's JSON shape and as its CSV.

use outpost_proto::time::{csv_time, iso};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::audit_records::AuditRecord;

/// An audit record (seed 002). With `format=csv` the same records come as CSV with the
/// seed's columns.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AuditObjectId {
    /// The object's id.
    Id(i64),
    /// "".
    None(String),
}

impl From<&AuditRecord> for AuditRecordBody {
    fn from(r: &AuditRecord) -> Self {
        AuditRecordBody {
            audit_id: r.audit_id,
            source: r.source.clone(),
            changed_field: r.changed_field.clone(),
            ip: r.ip.clone(),
            new_value: r.new_value.clone(),
            note: r.note.clone(),
            object_id: r.object_id.map(AuditObjectId::Id).unwrap_or_else(|| AuditObjectId::None(String::new())),
            object_type: r.object_type.clone(),
            old_value: r.old_value.clone(),
            related_id: r.related_id,
            related_type: r.related_type.clone(),
            time: iso(r.time_ms),
            user: r.username.clone(),
            user_id: r.user_id,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let json = serde_json::to_value(AuditRecordBody::from(&record)).unwrap();
        let keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
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
        assert_eq!(json["OBJECT ID"], "");
        assert_eq!(json["NEW VALUE"], serde_json::Value::Null);
        let csv = records_csv(&[record]).unwrap();
        assert_eq!(
            csv,
            "AUDIT SOURCE,AUDIT ID,TIME,USER ID,USER,IP ADDRESS,OBJECT ID,OBJECT TYPE,RELATED OBJECT TYPE,RELATED OBJECT ID,NOTE,CHANGED FIELD,OLD VALUE,NEW VALUE\n\
             Audit,62,2017-07-06 03:06:04.086000+00:00,3,herman,10.10.0.240,,authorization,,,users_roles:view:Failed,,,\n"
        );
    }
}
