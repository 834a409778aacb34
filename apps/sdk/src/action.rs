//! [`Action`]: one parameter set of one action, as the host sent it.

use anyhow::Context as _;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::bindings::outpost::connector::types;

/// One parameter set of one action, with the asset and run it belongs to.
#[derive(Debug)]
pub struct Action {
    request: types::Request,
    /// The parameter object, checked once to be JSON so every accessor can rely on it.
    params: Box<RawValue>,
    context: Context,
}

/// Where a parameter set comes from: SOAR's `context` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Unique id of this parameter set's execution.
    pub guid: String,
    /// The artifact the parameters were taken from, 0 when none.
    pub artifact_id: i64,
    /// Ids of the action runs that led to this one (playbook chains), outermost first.
    pub parent_action_run: Vec<i64>,
}

impl Action {
    pub(crate) fn from_request(mut request: types::Request) -> crate::Result<Action> {
        let params = RawValue::from_string(std::mem::take(&mut request.parameter))
            .context("the host sent a parameter object that is not JSON")?;
        anyhow::ensure!(
            params.get().starts_with('{'),
            "the host sent parameters that are not a JSON object"
        );
        let context = Context {
            guid: std::mem::take(&mut request.context.guid),
            artifact_id: request.context.artifact_id,
            parent_action_run: std::mem::take(&mut request.context.parent_action_run),
        };
        Ok(Action {
            request,
            params,
            context,
        })
    }

    /// The action's name, e.g. `geolocate ip`.
    pub fn name(&self) -> &str {
        &self.request.action
    }

    /// The action's identifier from the manifest, e.g. `geolocate_ip`: what a connector
    /// dispatches on.
    pub fn identifier(&self) -> &str {
        &self.request.identifier
    }

    /// The parameters, deserialized into `T`.
    ///
    /// The host has already checked them against the manifest and applied defaults. The
    /// object also holds `context`; serde ignores it unless `T` denies unknown fields.
    pub fn params<T: DeserializeOwned>(&self) -> crate::Result<T> {
        serde_json::from_str(self.params.get()).context("invalid parameters")
    }

    /// The parameter object exactly as the host sent it, `context` included.
    pub fn raw_params(&self) -> &RawValue {
        &self.params
    }

    /// The asset configuration, deserialized into `T`. Secrets (`password` fields) are
    /// included: never log them.
    pub fn config<T: DeserializeOwned>(&self) -> crate::Result<T> {
        serde_json::from_str(&self.request.asset_config).context("invalid asset configuration")
    }

    /// The asset's id.
    pub fn asset_id(&self) -> i64 {
        self.request.asset_id
    }

    /// The asset's name.
    pub fn asset_name(&self) -> &str {
        &self.request.asset_name
    }

    /// The container the action runs against.
    pub fn container_id(&self) -> i64 {
        self.request.container_id
    }

    /// The action run this parameter set belongs to.
    pub fn action_run_id(&self) -> i64 {
        self.request.action_run_id
    }

    /// The app run (one per asset) this parameter set belongs to.
    pub fn app_run_id(&self) -> i64 {
        self.request.app_run_id
    }

    /// SOAR's `context` for this parameter set.
    pub fn context(&self) -> &Context {
        &self.context
    }
}
