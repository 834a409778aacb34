//! Test connectivity: running an asset's `test` action through the normal dispatch.
//!
//! SOAR tests an asset without a container, but every Outpost action run belongs to one
//! (the store, the audit trail and the workers rely on it). Tests therefore run on one
//! **system container**, created on first use (label `outpost_system`, name
//! [`SYSTEM_CONTAINER_NAME`]) and remembered in the settings table; its runs are ordinary
//! action runs of type `test` that `/rest/app_status` reads back.

use outpost_proto::OutpostError;

use crate::Broker;
use crate::access::audit::{self, Actor, AuditObject};
use crate::runs::dispatch::{RunAction, Target};
use crate::store::containers::ContainerFields;

pub const SYSTEM_CONTAINER_NAME: &str = "outpost system checks";
pub const SYSTEM_CONTAINER_LABEL: &str = "outpost_system";
const SYSTEM_CONTAINER_SETTING: &str = "system_container_id";

/// A started connectivity test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestStarted {
    /// The run to poll, like any action run.
    pub action_run_id: i64,
    /// The system container the run belongs to.
    pub container_id: i64,
    /// `Testing asset connectivity for '<asset>' using app '<app>'`, as `/rest/app_status` shows.
    pub message: String,
}

impl Broker {
    /// The container test connectivity runs belong to, created on first use (audited as
    /// the broker's own change).
    pub async fn system_container(&self) -> Result<i64, OutpostError> {
        if let Some(id) = self.store.setting(SYSTEM_CONTAINER_SETTING).await?.and_then(|v| v.parse::<i64>().ok())
            && self.store.container_exists(id).await?
        {
            return Ok(id);
        }
        let container = self
            .store
            .create_container(&ContainerFields {
                name: SYSTEM_CONTAINER_NAME.into(),
                label: SYSTEM_CONTAINER_LABEL.into(),
                description: "holds asset connectivity tests; created by outpost".into(),
                status: "open".into(),
                severity: "low".into(),
                sensitivity: "white".into(),
                source_data_identifier: "outpost-system-checks".into(),
                data: serde_json::json!({}),
                custom_fields: serde_json::json!({}),
                ..Default::default()
            })
            .await?;
        self.store.set_setting(SYSTEM_CONTAINER_SETTING, &container.id.to_string()).await?;
        let fields = audit::container_fields(&container);
        self.audit.record_change(Actor::system(), AuditObject::container(&container), None, Some(&fields)).await;
        Ok(container.id)
    }

    /// Runs the `test` action of an asset's app on the asset, as `who`; audited as an
    /// action run.
    pub async fn test_connectivity(&self, who: &Actor, asset_id: i64) -> Result<TestStarted, OutpostError> {
        let asset = self
            .store
            .get_asset(asset_id)
            .await?
            .ok_or_else(|| OutpostError::not_found(format!("asset {asset_id} not found")))?;
        let app = self.store.get_app(asset.app_id).await?.ok_or_else(|| {
            OutpostError::not_found(format!(
                "asset '{}' belongs to app {}, which is not installed",
                asset.name, asset.app_id
            ))
        })?;
        let tests: Vec<_> = app.manifest.actions.iter().filter(|a| a.action_type == "test").collect();
        let action =
            tests.iter().find(|a| a.action == "test connectivity").or_else(|| tests.first()).ok_or_else(|| {
                OutpostError::invalid(format!(
                    "app '{}' has no test connectivity action (no action of type 'test')",
                    app.name
                ))
            })?;
        let container_id = self.system_container().await?;
        let name = format!("test connectivity of asset '{}'", asset.name);
        let action_run_id = self
            .run_action(
                who,
                RunAction {
                    action: action.action.clone(),
                    container_id,
                    name: name.clone(),
                    action_type: Some("test".into()),
                    exec_delay_secs: 0,
                    targets: vec![Target {
                        app_id: app.id.to_string(),
                        assets: vec![asset.id.to_string()],
                        parameters: vec![],
                    }],
                },
            )
            .await?;
        Ok(TestStarted {
            action_run_id,
            container_id,
            message: format!("Testing asset connectivity for '{}' using app '{}'", asset.name, app.name),
        })
    }
}
