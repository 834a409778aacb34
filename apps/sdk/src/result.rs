//! [`ActionResult`]: SOAR's result of one parameter set, built up by the handler.

use anyhow::Context as _;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::bindings::outpost::connector::types;

/// How a parameter set ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

/// The result of one parameter set: status, message, data items and summary, as SOAR's
/// `ActionResult` has them.
#[derive(Debug, Default)]
pub struct ActionResult {
    /// `None` until the handler sets it; a handler that returns `Ok` without setting
    /// it succeeded.
    status: Option<Status>,
    message: String,
    /// Each item already serialized: the WIT carries data items as JSON text.
    data: Vec<String>,
    summary: Map<String, Value>,
}

impl ActionResult {
    /// An empty result: no status yet, no data, empty summary.
    pub fn new() -> ActionResult {
        ActionResult::default()
    }

    /// SOAR's `add_data`: appends one data item, which must serialize to a JSON object.
    pub fn add_data(&mut self, item: impl Serialize) -> crate::Result<()> {
        let json = serde_json::to_string(&item).context("cannot serialize a data item")?;
        anyhow::ensure!(json.starts_with('{'), "a data item must be a JSON object");
        self.data.push(json);
        Ok(())
    }

    /// SOAR's `update_summary`: merges the keys of `summary`, which must serialize to a
    /// JSON object, into the result's summary.
    pub fn update_summary(&mut self, summary: impl Serialize) -> crate::Result<()> {
        let value = serde_json::to_value(summary).context("cannot serialize the summary")?;
        let Value::Object(keys) = value else {
            anyhow::bail!("the summary must be a JSON object");
        };
        self.summary.extend(keys);
        Ok(())
    }

    /// SOAR's `set_status`, with the one-line message clients see, e.g. `Country: India`.
    pub fn set_status(&mut self, status: Status, message: impl Into<String>) {
        self.status = Some(status);
        self.message = message.into();
    }

    /// The status set so far, `None` when the handler has not set one.
    pub fn status(&self) -> Option<Status> {
        self.status
    }

    /// The message set so far.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The data items added so far, as JSON text.
    pub fn data(&self) -> &[String] {
        &self.data
    }

    /// The summary so far.
    pub fn summary(&self) -> &Map<String, Value> {
        &self.summary
    }

    pub(crate) fn into_wit(self) -> types::ActionResult {
        types::ActionResult {
            status: match self.status.unwrap_or(Status::Success) {
                Status::Success => types::Status::Success,
                Status::Failed => types::Status::Failed,
            },
            message: self.message,
            data: self.data,
            summary: Value::Object(self.summary).to_string(),
        }
    }
}
