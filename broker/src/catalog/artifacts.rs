//! Creating artifacts: one set of checks for REST and gRPC. An artifact is a CEF record
//! inside a container; an action run's `context.artifact_id` may refer to one.

use outpost_proto::OutpostError;
use outpost_proto::manifest::json_type;
use serde_json::{Value, json};

use crate::Broker;
use crate::access::audit::{Actor, AuditObject};
use crate::catalog::containers::SEVERITIES;
use crate::store::artifacts::{Created, NewArtifact};

/// An artifact's fields as a client gave them; `None`: not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArtifactInput {
    /// Required: the container it goes into.
    pub container_id: Option<i64>,
    /// Default "artifact".
    pub name: Option<String>,
    /// Lowercased; default "event".
    pub label: Option<String>,
    /// Free text describing it.
    pub description: Option<String>,
    /// The source's own type name for it.
    pub artifact_type: Option<String>,
    /// One of [`SEVERITIES`]; default "medium".
    pub severity: Option<String>,
    /// Default: a fresh GUID. A second artifact with the same one in a container is refused.
    pub source_data_identifier: Option<String>,
    /// A JSON object.
    pub cef: Option<Value>,
    /// A JSON object of lists of strings.
    pub cef_types: Option<Value>,
    /// A JSON object.
    pub data: Option<Value>,
    /// Free labels, for filtering and triage.
    pub tags: Option<Vec<String>>,
    /// Must name an existing user.
    pub owner_id: Option<i64>,
    /// Unix ms; default: now.
    pub start_ms: Option<i64>,
    /// Unix ms.
    pub end_ms: Option<i64>,
}

fn object(field: &str, value: Option<Value>) -> Result<Value, OutpostError> {
    match value {
        None => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(other) => Err(OutpostError::invalid(format!("'{field}' must be an object, got {}", json_type(&other)))),
    }
}

impl ArtifactInput {
    /// Applies defaults and checks every value (references are checked by the broker).
    pub fn resolve(self) -> Result<NewArtifact, OutpostError> {
        let container_id = self.container_id.ok_or_else(|| OutpostError::invalid("'container_id' is required"))?;
        let severity = self.severity.unwrap_or_else(|| "medium".into()).trim().to_lowercase();
        if !SEVERITIES.contains(&severity.as_str()) {
            return Err(OutpostError::invalid(format!(
                "'severity' must be one of {}, got '{severity}'",
                SEVERITIES.join(", ")
            )));
        }
        let cef_types = object("cef_types", self.cef_types)?;
        for (key, types) in cef_types.as_object().into_iter().flatten() {
            if !types.as_array().is_some_and(|list| list.iter().all(Value::is_string)) {
                return Err(OutpostError::invalid(format!("'cef_types.{key}' must be a list of strings")));
            }
        }
        if let (Some(start), Some(end)) = (self.start_ms, self.end_ms)
            && end < start
        {
            return Err(OutpostError::invalid("'end_time' is before 'start_time'"));
        }
        let nonempty = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(NewArtifact {
            container_id,
            name: nonempty(self.name).unwrap_or_else(|| "artifact".into()),
            label: nonempty(self.label).map(|l| l.to_lowercase()).unwrap_or_else(|| "event".into()),
            description: self.description.unwrap_or_default(),
            artifact_type: self.artifact_type.unwrap_or_default(),
            severity,
            source_data_identifier: nonempty(self.source_data_identifier)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            cef: object("cef", self.cef)?,
            cef_types,
            data: object("data", self.data)?,
            tags: self.tags.unwrap_or_default(),
            owner_id: self.owner_id,
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        })
    }
}

impl Broker {
    /// Creates an artifact and counts it in its container. An artifact the container
    /// holds already (same `source_data_identifier`) answers [`Created::Existing`].
    pub async fn create_artifact(&self, who: &Actor, input: ArtifactInput) -> Result<Created, OutpostError> {
        let artifact = input.resolve()?;
        let container = self.container(artifact.container_id).await?;
        if let Some(id) = artifact.owner_id
            && self.store.get_user(id).await?.is_none()
        {
            return Err(OutpostError::not_found(format!("owner (user) {id} not found")));
        }
        match self.store.create_artifact(&artifact).await {
            Ok(created) => {
                if let Created::New(new) = &created {
                    let added = format!("{} ({})", new.id, new.name);
                    self.audit
                        .record_field(
                            who,
                            AuditObject::container(&container),
                            "artifact",
                            None,
                            Some(&added),
                            "artifact added",
                        )
                        .await;
                }
                Ok(created)
            }
            // Two clients raced to add the same artifact: answer the winner's.
            Err(e) if e.is_unique_violation() => match self.store.create_artifact(&artifact).await? {
                Created::Existing(id) => Ok(Created::Existing(id)),
                Created::New(a) => Ok(Created::New(a)),
            },
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checks() {
        let a = ArtifactInput {
            container_id: Some(1),
            cef: Some(json!({"sourceAddress": "1.2.3.4"})),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!((a.name.as_str(), a.label.as_str(), a.severity.as_str()), ("artifact", "event", "medium"));
        assert!(outpost_proto::manifest::is_guid(&a.source_data_identifier));
        let err = |input: ArtifactInput| input.resolve().unwrap_err().message;
        assert_eq!(err(ArtifactInput::default()), "'container_id' is required");
        let base = || ArtifactInput { container_id: Some(1), ..Default::default() };
        assert!(err(ArtifactInput { cef: Some(json!([1])), ..base() }).contains("'cef' must be an object, got a list"));
        assert!(err(ArtifactInput { severity: Some("dire".into()), ..base() }).contains("'severity' must be one of"));
        assert!(
            err(ArtifactInput { cef_types: Some(json!({"ip": "ip"})), ..base() })
                .contains("'cef_types.ip' must be a list")
        );
    }
}
