//! Creating, changing and deleting assets: one set of checks for REST and gRPC.
//!
//! - Names are trimmed, lowercased and unique, as SOAR keeps them; a number is not a name
//!   (assets are found by id or name).
//! - The configuration is checked against the app's `configuration` schema (required
//!   fields, `data_type`, `value_list`) and defaults are filled in.
//! - Secrets (`password` fields) are never shown; on update, a secret sent as `********`
//!   or left out keeps its stored value. The configuration given on update is merged key
//!   by key into the stored one; `null` removes a key.
//! - `automation_broker_id` binds the asset to an existing segment; `null` unbinds it.
//! - `timeout_secs` (an Outpost extension) sets the deadline of each parameter set run
//!   on the asset: a whole number of seconds from 1 to [`MAX_TASK_TIMEOUT_SECS`]; `null`
//!   clears it. It comes before the action's and the app's, and the worker caps it.
//! - An asset that app runs refer to is kept for their history: deleting it is refused.

use outpost_proto::OutpostError;
use outpost_proto::topology::MAX_TASK_TIMEOUT_SECS;
use serde_json::{Map, Value};

use crate::Broker;
use crate::access::audit::{self, Actor, AuditObject};
use crate::store::apps::App;
use crate::store::assets::{Asset, NewAsset};

/// What a secret field shows instead of its value, and what a client may send back to
/// keep it.
pub const MASK: &str = "********";

/// A configuration with the named secret fields masked.
pub fn masked(configuration: &Map<String, Value>, secrets: &[&str]) -> Value {
    Value::Object(
        configuration
            .iter()
            .map(|(k, v)| {
                let shown =
                    if secrets.contains(&k.as_str()) && !v.is_null() { Value::String(MASK.into()) } else { v.clone() };
                (k.clone(), shown)
            })
            .collect(),
    )
}

/// An asset's writable fields as a client gave them; `None`: not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetInput {
    /// Required on create.
    pub name: Option<String>,
    /// The app: numeric id or GUID. On create, this or `product_vendor` + `product_name`.
    pub app: Option<String>,
    /// SOAR's way to name the app, with `product_name`.
    pub product_vendor: Option<String>,
    /// SOAR's way to name the app, with `product_vendor`.
    pub product_name: Option<String>,
    /// Free text describing it.
    pub description: Option<String>,
    /// The configuration (create: all of it; update: the keys to change).
    pub configuration: Option<Map<String, Value>>,
    /// `Some(None)` unbinds the asset from its segment.
    pub automation_broker_id: Option<Option<i64>>,
    /// Free labels, for filtering and triage.
    pub tags: Option<Vec<String>>,
    /// The deadline per parameter set, in seconds, unchecked; `Some(None)` clears it.
    pub timeout_secs: Option<Option<i64>>,
}

/// Checks an asset's `timeout_secs`: a whole number of seconds from 1 to
/// [`MAX_TASK_TIMEOUT_SECS`], the most a worker allows too (`--max-timeout-secs`).
pub fn checked_timeout(secs: Option<i64>) -> Result<Option<u64>, OutpostError> {
    match secs {
        None => Ok(None),
        Some(secs) if (1..=i64::from(MAX_TASK_TIMEOUT_SECS)).contains(&secs) => Ok(u64::try_from(secs).ok()),
        Some(secs) => Err(OutpostError::invalid(format!(
            "'timeout_secs' must be a whole number of seconds from 1 to {MAX_TASK_TIMEOUT_SECS}, got {secs}"
        ))),
    }
}

/// Asset names as SOAR keeps them: trimmed and lowercase.
pub fn normalize_name(name: &str) -> Result<String, OutpostError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(OutpostError::invalid("'name' must be 1 to 128 printable characters"));
    }
    if name.parse::<i64>().is_ok() {
        return Err(OutpostError::invalid("'name' cannot be a number: assets are found by id or name"));
    }
    Ok(name)
}

impl Broker {
    /// Creates an asset.
    pub async fn create_asset(&self, who: &Actor, input: AssetInput) -> Result<Asset, OutpostError> {
        let name = normalize_name(input.name.as_deref().unwrap_or_default())
            .map_err(|e| if input.name.is_none() { OutpostError::invalid("'name' is required") } else { e })?;
        let app = self.asset_app(&input).await?.ok_or_else(|| {
            OutpostError::invalid("name the asset's app: 'app' (id or GUID), or 'product_vendor' and 'product_name'")
        })?;
        let given = input.configuration.unwrap_or_default();
        let secrets = app.manifest.secret_fields();
        if let Some(field) = given.keys().find(|k| secrets.contains(&k.as_str()) && given[*k] == MASK) {
            return Err(OutpostError::invalid(format!(
                "configuration field '{field}' holds the mask {MASK}; send the secret itself"
            )));
        }
        let configuration = app.manifest.apply_configuration(&given).map_err(OutpostError::invalid)?;
        let asset = NewAsset {
            name: name.clone(),
            app_id: app.id,
            description: input.description.unwrap_or_default(),
            configuration,
            automation_broker_id: self.checked_segment(input.automation_broker_id.flatten()).await?,
            tags: input.tags.unwrap_or_default(),
            timeout_secs: checked_timeout(input.timeout_secs.flatten())?,
        };
        match self.store.create_asset(&asset).await {
            Ok(asset) => {
                let fields = audit::asset_fields(&asset);
                self.audit.record_change(who, AuditObject::asset(&asset), None, Some(&fields)).await;
                Ok(asset)
            }
            Err(e) if e.is_unique_violation() => Err(name_taken(&name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the fields `input` gives; the others keep their values.
    pub async fn update_asset(&self, who: &Actor, id: i64, input: AssetInput) -> Result<Asset, OutpostError> {
        let current = self.asset(id).await?;
        let app = self.store.get_app(current.app_id).await?.ok_or_else(|| {
            OutpostError::internal(format!("asset '{}' refers to app {}, which is gone", current.name, current.app_id))
        })?;
        if let Some(named) = self.asset_app(&input).await?
            && named.id != app.id
        {
            return Err(OutpostError::invalid(format!(
                "an asset's app cannot change: asset '{}' belongs to app '{}', not '{}'",
                current.name, app.name, named.name
            )));
        }
        let name = match &input.name {
            Some(name) => normalize_name(name)?,
            None => current.name.clone(),
        };
        let mut configuration = current.configuration.clone();
        let secrets = app.manifest.secret_fields();
        for (key, value) in input.configuration.unwrap_or_default() {
            if secrets.contains(&key.as_str()) && value == MASK {
                continue;
            }
            if value.is_null() {
                configuration.remove(&key);
            } else {
                configuration.insert(key, value);
            }
        }
        let configuration = app.manifest.apply_configuration(&configuration).map_err(OutpostError::invalid)?;
        let automation_broker_id = match input.automation_broker_id {
            Some(segment) => self.checked_segment(segment).await?,
            None => current.automation_broker_id,
        };
        let timeout_secs = match input.timeout_secs {
            Some(secs) => checked_timeout(secs)?,
            None => current.timeout_secs,
        };
        let asset = NewAsset {
            name: name.clone(),
            app_id: app.id,
            description: input.description.unwrap_or_else(|| current.description.clone()),
            configuration,
            automation_broker_id,
            tags: input.tags.unwrap_or_else(|| current.tags.clone()),
            timeout_secs,
        };
        match self.store.update_asset(id, &asset).await {
            Ok(Some(asset)) => {
                let (old, new) = (audit::asset_fields(&current), audit::asset_fields(&asset));
                self.audit.record_change(who, AuditObject::asset(&asset), Some(&old), Some(&new)).await;
                Ok(asset)
            }
            Ok(None) => Err(asset_not_found(id)),
            Err(e) if e.is_unique_violation() => Err(name_taken(&name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an asset no app run refers to; answers what was deleted.
    pub async fn delete_asset(&self, who: &Actor, id: i64) -> Result<Asset, OutpostError> {
        let asset = self.asset(id).await?;
        if self.store.asset_in_use(id).await? {
            return Err(OutpostError::precondition(format!(
                "asset '{}' is kept: app runs refer to it and their history needs it (rename it to free the name)",
                asset.name
            )));
        }
        if !self.store.delete_asset(id).await? {
            return Err(asset_not_found(id));
        }
        tracing::info!(asset_id = id, name = %asset.name, "asset deleted");
        let old = audit::asset_fields(&asset);
        self.audit.record_change(who, AuditObject::asset(&asset), Some(&old), None).await;
        Ok(asset)
    }

    /// An asset by id, or a not-found error naming it.
    pub async fn asset(&self, id: i64) -> Result<Asset, OutpostError> {
        self.store.get_asset(id).await?.ok_or_else(|| asset_not_found(id))
    }

    /// The app an asset input names, if it names one.
    async fn asset_app(&self, input: &AssetInput) -> Result<Option<App>, OutpostError> {
        if let Some(key) = input.app.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            return match self.store.find_app(key).await? {
                Some(app) => Ok(Some(app)),
                None => Err(OutpostError::not_found(format!("app '{key}' not found"))),
            };
        }
        match (&input.product_vendor, &input.product_name) {
            (Some(vendor), Some(product)) => match self.store.find_app_by_product(vendor, product).await? {
                Some(app) => Ok(Some(app)),
                None => Err(OutpostError::not_found(format!(
                    "no app with product_vendor '{vendor}' and product_name '{product}'"
                ))),
            },
            (Some(_), None) => Err(OutpostError::invalid("'product_vendor' needs 'product_name' to name an app")),
            (None, Some(_)) => Err(OutpostError::invalid("'product_name' needs 'product_vendor' to name an app")),
            (None, None) => Ok(None),
        }
    }

    /// Checks that a segment id given as `automation_broker_id` exists.
    async fn checked_segment(&self, id: Option<i64>) -> Result<Option<i64>, OutpostError> {
        match id {
            None => Ok(None),
            Some(id) => match self.store.get_segment(id).await? {
                Some(_) => Ok(Some(id)),
                None => Err(OutpostError::not_found(format!("automation broker {id} not found"))),
            },
        }
    }
}

fn asset_not_found(id: i64) -> OutpostError {
    OutpostError::not_found(format!("asset {id} not found"))
}

fn name_taken(name: &str) -> OutpostError {
    OutpostError::conflict(format!("an asset named '{name}' exists already"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_name("  GeoIP Asset ").unwrap(), "geoip asset");
        assert!(normalize_name("").is_err());
        assert!(normalize_name("42").unwrap_err().message.contains("cannot be a number"));
        assert!(normalize_name("a\nb").is_err());
        assert!(normalize_name(&"x".repeat(129)).is_err());
    }

    #[test]
    fn an_asset_deadline_is_a_sane_number_of_seconds() {
        assert_eq!(checked_timeout(None).unwrap(), None);
        assert_eq!(checked_timeout(Some(1)).unwrap(), Some(1));
        let max = i64::from(MAX_TASK_TIMEOUT_SECS);
        assert_eq!(checked_timeout(Some(max)).unwrap(), Some(1799));
        for bad in [0, -5, max + 1, i64::MAX] {
            let error = checked_timeout(Some(bad)).unwrap_err();
            assert_eq!(
                error.message,
                format!("'timeout_secs' must be a whole number of seconds from 1 to 1799, got {bad}")
            );
        }
    }
}
