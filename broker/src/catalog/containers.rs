//! Creating and changing containers (seed 004's schema): one set of checks for REST and
//! gRPC. The front doors read their input into a [`ContainerInput`]; this module applies
//! defaults, checks values and references, and writes.

use outpost_proto::OutpostError;
use serde_json::{Value, json};

use crate::Broker;
use crate::access::audit::{self, Actor, AuditObject};
use crate::store::containers::{Container, ContainerFields};

/// The statuses a container may have.
pub const STATUSES: &[&str] = &["new", "open", "closed"];
/// The severities of containers and artifacts.
pub const SEVERITIES: &[&str] = &["low", "medium", "high"];
/// The sensitivities (traffic light protocol) of a container.
pub const SENSITIVITIES: &[&str] = &["red", "amber", "green", "white"];

/// A container's writable fields as a client gave them. `None`: not given (defaulted on
/// create, kept on update). `Some(None)` on a nullable field: cleared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerInput {
    /// Required on create.
    pub name: Option<String>,
    /// Lowercased; default "events".
    pub label: Option<String>,
    /// Free text describing it.
    pub description: Option<String>,
    /// One of [`STATUSES`]; default "new".
    pub status: Option<String>,
    /// One of [`SEVERITIES`]; default "medium".
    pub severity: Option<String>,
    /// One of [`SENSITIVITIES`]; default "amber".
    pub sensitivity: Option<String>,
    /// Default: a fresh GUID.
    pub source_data_identifier: Option<String>,
    /// Must name an existing user.
    pub owner_id: Option<Option<i64>>,
    /// Free labels, for filtering and triage.
    pub tags: Option<Vec<String>>,
    /// Must be a JSON object.
    pub data: Option<Value>,
    /// The kill-chain phase the source reported, if any.
    pub kill_chain: Option<String>,
    /// Must name an existing asset.
    pub asset_id: Option<Option<i64>>,
    /// Must name an installed app.
    pub ingest_app_id: Option<Option<i64>>,
    /// Must be a JSON object.
    pub custom_fields: Option<Value>,
    /// Unix ms.
    pub due_ms: Option<Option<i64>>,
    /// Unix ms; default: now. Cannot be cleared.
    pub start_ms: Option<i64>,
    /// Unix ms.
    pub end_ms: Option<Option<i64>>,
}

/// A digest of JSON content (keys sorted): a container's or artifact's `hash`, which
/// ingestion uses to spot duplicates.
pub fn content_hash(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(crate::runs::assemble::sorted_json(value).as_bytes());
    hex::encode(&digest[..16])
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, OutpostError> {
    let value = value.trim().to_lowercase();
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(OutpostError::invalid(format!("'{field}' must be one of {}, got '{value}'", allowed.join(", "))))
    }
}

fn object(field: &str, value: Option<Value>, current: Option<&Value>) -> Result<Value, OutpostError> {
    match value {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(other) => Err(OutpostError::invalid(format!(
            "'{field}' must be an object, got {}",
            outpost_proto::manifest::json_type(&other)
        ))),
        None => Ok(current.cloned().unwrap_or_else(|| json!({}))),
    }
}

impl ContainerInput {
    /// Applies defaults (create, `base` = None) or keeps `base`'s values (update), and
    /// checks every value.
    pub fn resolve(self, base: Option<&Container>) -> Result<ContainerFields, OutpostError> {
        let name = match (self.name.map(|n| n.trim().to_string()), base) {
            (Some(n), _) if !n.is_empty() => n,
            (None, Some(b)) => b.name.clone(),
            _ => return Err(OutpostError::invalid("'name' is required")),
        };
        let text = |given: Option<String>, current: Option<&String>, default: &str| {
            given.or_else(|| current.cloned()).unwrap_or_else(|| default.to_string())
        };
        let label = text(
            self.label.map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty()),
            base.map(|b| &b.label),
            "events",
        );
        let status = text(self.status, base.map(|b| &b.status), "new");
        let severity = text(self.severity, base.map(|b| &b.severity), "medium");
        let sensitivity = text(self.sensitivity, base.map(|b| &b.sensitivity), "amber");
        let source_data_identifier = self
            .source_data_identifier
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| base.map(|b| b.source_data_identifier.clone()))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if let (Some(start), Some(Some(end))) =
            (self.start_ms.or(base.map(|b| b.start_ms)), self.end_ms.or(base.map(|b| b.end_ms)))
            && end < start
        {
            return Err(OutpostError::invalid("'end_time' is before 'start_time'"));
        }
        Ok(ContainerFields {
            name,
            label,
            description: text(self.description, base.map(|b| &b.description), ""),
            status: one_of("status", &status, STATUSES)?,
            severity: one_of("severity", &severity, SEVERITIES)?,
            sensitivity: one_of("sensitivity", &sensitivity, SENSITIVITIES)?,
            source_data_identifier,
            owner_id: self.owner_id.unwrap_or(base.and_then(|b| b.owner_id)),
            tags: self.tags.or_else(|| base.map(|b| b.tags.clone())).unwrap_or_default(),
            data: object("data", self.data, base.map(|b| &b.data))?,
            kill_chain: text(self.kill_chain, base.map(|b| &b.kill_chain), ""),
            asset_id: self.asset_id.unwrap_or(base.and_then(|b| b.asset_id)),
            ingest_app_id: self.ingest_app_id.unwrap_or(base.and_then(|b| b.ingest_app_id)),
            custom_fields: object("custom_fields", self.custom_fields, base.map(|b| &b.custom_fields))?,
            due_ms: self.due_ms.unwrap_or(base.and_then(|b| b.due_ms)),
            start_ms: self.start_ms.or(base.map(|b| b.start_ms)),
            end_ms: self.end_ms.unwrap_or(base.and_then(|b| b.end_ms)),
        })
    }
}

impl Broker {
    /// Creates a container.
    pub async fn create_container(&self, who: &Actor, input: ContainerInput) -> Result<Container, OutpostError> {
        let fields = input.resolve(None)?;
        self.check_container_references(&fields).await?;
        let container = self.store.create_container(&fields).await?;
        let new = audit::container_fields(&container);
        self.audit.record_change(who, AuditObject::container(&container), None, Some(&new)).await;
        Ok(container)
    }

    /// Changes the fields `input` gives; the others keep their values. Closing sets
    /// `close_time`, reopening clears it.
    pub async fn update_container(
        &self,
        who: &Actor,
        id: i64,
        input: ContainerInput,
    ) -> Result<Container, OutpostError> {
        let current = self.container(id).await?;
        let fields = input.resolve(Some(&current))?;
        self.check_container_references(&fields).await?;
        let container = self.store.update_container(id, &fields).await?.ok_or_else(|| container_not_found(id))?;
        let (old, new) = (audit::container_fields(&current), audit::container_fields(&container));
        self.audit.record_change(who, AuditObject::container(&container), Some(&old), Some(&new)).await;
        Ok(container)
    }

    /// A container by id, or a not-found error naming it.
    pub async fn container(&self, id: i64) -> Result<Container, OutpostError> {
        self.store.get_container(id).await?.ok_or_else(|| container_not_found(id))
    }

    async fn check_container_references(&self, fields: &ContainerFields) -> Result<(), OutpostError> {
        if let Some(id) = fields.owner_id
            && self.store.get_user(id).await?.is_none()
        {
            return Err(OutpostError::not_found(format!("owner (user) {id} not found")));
        }
        if let Some(id) = fields.asset_id
            && self.store.get_asset(id).await?.is_none()
        {
            return Err(OutpostError::not_found(format!("asset {id} not found")));
        }
        if let Some(id) = fields.ingest_app_id
            && self.store.get_app(id).await?.is_none()
        {
            return Err(OutpostError::not_found(format!("ingest app {id} not found")));
        }
        Ok(())
    }
}

fn container_not_found(id: i64) -> OutpostError {
    OutpostError::not_found(format!("container {id} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(input: ContainerInput) -> Result<ContainerFields, String> {
        input.resolve(None).map_err(|e| e.message)
    }

    #[test]
    fn defaults_and_checks() {
        let c = resolve(ContainerInput {
            name: Some("my_test_incident".into()),
            label: Some("Incident".into()),
            tags: Some(vec!["a".into()]),
            due_ms: Some(outpost_proto::time::parse_iso("2016-01-16T19:18:00Z")),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.label, "incident");
        assert_eq!((c.status.as_str(), c.severity.as_str(), c.sensitivity.as_str()), ("new", "medium", "amber"));
        assert_eq!(c.due_ms, Some(1_452_971_880_000));
        assert!(outpost_proto::manifest::is_guid(&c.source_data_identifier));
        assert_eq!(resolve(ContainerInput::default()).unwrap_err(), "'name' is required");
        let named = || ContainerInput { name: Some("x".into()), ..Default::default() };
        assert!(
            resolve(ContainerInput { status: Some("done".into()), ..named() })
                .unwrap_err()
                .contains("'status' must be one of new, open, closed")
        );
        assert!(
            resolve(ContainerInput { sensitivity: Some("pink".into()), ..named() })
                .unwrap_err()
                .contains("'sensitivity'")
        );
        assert!(
            resolve(ContainerInput { data: Some(json!([])), ..named() })
                .unwrap_err()
                .contains("'data' must be an object")
        );
        assert!(
            resolve(ContainerInput { start_ms: Some(10), end_ms: Some(Some(5)), ..named() })
                .unwrap_err()
                .contains("before")
        );
        assert_eq!(outpost_proto::time::parse_iso("2016-01-16 07:18:46.631897+00"), Some(1_452_928_726_631));
    }

    #[test]
    fn updates_keep_what_is_not_given() {
        let base = ContainerInput {
            name: Some("x".into()),
            owner_id: Some(Some(1)),
            due_ms: Some(Some(5)),
            tags: Some(vec!["t".into()]),
            ..Default::default()
        }
        .resolve(None)
        .unwrap();
        let current = Container {
            id: 1,
            name: base.name,
            label: base.label,
            description: base.description,
            status: base.status,
            severity: base.severity,
            sensitivity: base.sensitivity,
            source_data_identifier: base.source_data_identifier,
            owner_id: base.owner_id,
            tags: base.tags,
            data: base.data,
            kill_chain: base.kill_chain,
            asset_id: None,
            ingest_app_id: None,
            custom_fields: base.custom_fields,
            create_ms: 0,
            start_ms: 0,
            end_ms: None,
            due_ms: base.due_ms,
            close_ms: None,
            update_ms: 0,
            artifact_update_ms: None,
            artifact_count: 0,
            version: 1,
        };
        let updated = ContainerInput { status: Some("Closed".into()), due_ms: Some(None), ..Default::default() }
            .resolve(Some(&current))
            .unwrap();
        assert_eq!(updated.name, "x");
        assert_eq!(updated.status, "closed");
        assert_eq!(updated.owner_id, Some(1));
        assert_eq!(updated.tags, vec!["t"]);
        assert_eq!(updated.due_ms, None, "null clears");
        assert_eq!(updated.source_data_identifier, current.source_data_identifier);
    }
}
