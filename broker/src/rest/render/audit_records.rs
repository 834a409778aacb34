//! Audit records (seed 002), in the seed's JSON shape.

use utoipa::ToSchema;

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
