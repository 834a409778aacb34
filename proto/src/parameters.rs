//! The parameter object a connector sees: one parameter set, defaults applied, with
//! SOAR's `context` added as its last key. The broker records it so (an app run's
//! message and `parameter` show it byte for byte); on the bus the context travels as a
//! typed field of the task ([`ParameterContext`]) and the worker adds it back here.

use serde_json::{Map, Value, json};

use crate::v1::ParameterContext;

/// The key the context sits under.
pub const CONTEXT: &str = "context";

/// The context as the connector sees it: `{"guid", "artifact_id", "parent_action_run"}`.
pub fn context_json(context: &ParameterContext) -> Value {
    json!({
        "guid": context.guid,
        "artifact_id": context.artifact_id,
        "parent_action_run": context.parent_action_run,
    })
}

/// A parameter set (without `context`) with its context added last.
pub fn with_context(mut parameters: Map<String, Value>, context: &ParameterContext) -> Map<String, Value> {
    parameters.insert(CONTEXT.into(), context_json(context));
    parameters
}

/// A task's `parameter_json` (without `context`) as the connector sees it: compact JSON,
/// `context` last. Errs when the text is not a JSON object.
pub fn connector_parameter(parameter_json: &str, context: &ParameterContext) -> Result<String, String> {
    match serde_json::from_str::<Value>(parameter_json) {
        Ok(Value::Object(parameters)) => Ok(Value::Object(with_context(parameters, context)).to_string()),
        Ok(other) => {
            Err(format!("the task's parameters are {}, not a JSON object", crate::manifest::json_type(&other)))
        }
        Err(e) => Err(format!("the task's parameters are not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connector_sees_its_parameters_with_the_context_last() {
        let context = ParameterContext { guid: "g".into(), artifact_id: 7, parent_action_run: vec![3, 4] };
        assert_eq!(
            connector_parameter(r#"{"ip":"8.8.8.8","n":1.5}"#, &context).unwrap(),
            r#"{"ip":"8.8.8.8","n":1.5,"context":{"guid":"g","artifact_id":7,"parent_action_run":[3,4]}}"#
        );
        assert_eq!(
            connector_parameter("{}", &ParameterContext::default()).unwrap(),
            r#"{"context":{"guid":"","artifact_id":0,"parent_action_run":[]}}"#
        );
        assert!(connector_parameter("[1]", &context).unwrap_err().contains("a list, not a JSON object"));
        assert!(connector_parameter("{", &context).unwrap_err().contains("not JSON"));
    }
}
