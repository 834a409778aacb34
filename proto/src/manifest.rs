//! The app manifest: SOAR's app JSON (`<app>.json`), plus Outpost's sandbox settings.
//!
//! Existing SOAR app metadata carries over unchanged: `appid`, `name`, `app_version`,
//! `product_vendor`, `product_name`, `configuration` (the asset fields) and `actions`
//! (each with `parameters` and `output`). Outpost reads one extra, optional object:
//!
//! ```json
//! "outpost": {
//!   "component": "whois.wasm",
//!   "egress": ["{{ base_url }}"],
//!   "memory_mb": 64,
//!   "timeout_secs": 30
//! }
//! ```
//!
//! `egress` lists the outgoing HTTP a connector may make, as `scheme://host[:port]`
//! patterns in the style of Spin's `allowed_outbound_hosts`; `{{ field }}` is replaced by
//! the asset's configuration value of that field. Nothing is allowed by default.
//! An action may carry its own `"outpost": {"timeout_secs": N}`.
//!
//! This module also applies the manifest to input: it checks an action's parameter sets
//! and an asset's configuration (required fields, `data_type`, `value_list`, defaults).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

/// A parsed, validated app manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The app's GUID; stable across versions.
    pub appid: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub app_version: String,
    #[serde(default)]
    pub product_vendor: String,
    #[serde(default)]
    pub product_name: String,
    #[serde(default)]
    pub publisher: String,
    #[serde(default)]
    pub license: String,
    /// Asset configuration fields, in the manifest's order.
    #[serde(default)]
    pub configuration: Map<String, Value>,
    pub actions: Vec<ActionDef>,
    /// Outpost's sandbox settings.
    #[serde(default)]
    pub outpost: OutpostSettings,
    /// Everything else in the manifest, kept so `GET /rest/app` can show it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `outpost` object of a manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutpostSettings {
    /// File name of the component inside the bundle; defaults to `<package>.wasm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Allowed outgoing HTTP, as templated `scheme://host[:port]` patterns.
    #[serde(default)]
    pub egress: Vec<String>,
    /// Memory cap per parameter set, in MiB; capped by the worker's own limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Deadline per parameter set, in seconds; capped by the worker's own limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// One action of an app.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionDef {
    /// The name clients use, e.g. "geolocate ip".
    pub action: String,
    /// The name the connector dispatches on, e.g. "geolocate_ip".
    pub identifier: String,
    #[serde(default)]
    pub description: String,
    /// `investigate`, `contain`, `correct`, `generic` or `test`.
    #[serde(rename = "type", default = "default_action_type")]
    pub action_type: String,
    #[serde(default)]
    pub read_only: bool,
    /// Parameter definitions, in the manifest's order.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub output: Vec<Value>,
    /// Outpost's settings for this action; left out when it sets none, so an action
    /// reads back as published.
    #[serde(default, skip_serializing_if = "ActionSettings::is_empty")]
    pub outpost: ActionSettings,
    /// Everything else in the action (`render`, `versions`, `undo`, `lock`, ...), kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_action_type() -> String {
    "generic".into()
}

/// The `outpost` object of an action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionSettings {
    /// The action's own deadline per parameter set, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

impl ActionSettings {
    /// True when the action sets nothing of Outpost's own.
    pub fn is_empty(&self) -> bool {
        self.timeout_secs.is_none()
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid manifest: {0}")]
pub struct ManifestError(pub String);

/// The action types SOAR knows. `ingest` is `on poll`'s: accepted and listed (running
/// it for ingestion is not implemented yet).
pub const ACTION_TYPES: &[&str] = &["investigate", "contain", "correct", "generic", "test", "ingest"];

/// The `data_type`s a field may have, as SOAR's app JSON uses them: `ph` is a
/// placeholder (a spacer in SOAR's asset form, no value), `file` a file uploaded with
/// the asset (its contents as text), `timezone` an IANA zone name such as
/// `Europe/Paris`. Values of `password`, `file` and `timezone` fields are strings.
pub const FIELD_TYPES: &[&str] = &["string", "password", "numeric", "boolean", "ph", "file", "timezone"];

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError(format!(
                "manifest is {} bytes, more than the {MAX_MANIFEST_BYTES} allowed",
                bytes.len()
            )));
        }
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| ManifestError(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let err = |m: String| Err(ManifestError(m));
        if !is_guid(&self.appid) {
            return err(format!("appid '{}' is not a GUID", self.appid));
        }
        if self.name.trim().is_empty() {
            return err("name is empty".into());
        }
        if self.app_version.trim().is_empty() {
            return err("app_version is empty".into());
        }
        if self.actions.is_empty() {
            return err("the app has no actions".into());
        }
        check_fields("configuration", &self.configuration)?;
        let mut seen = std::collections::HashSet::new();
        for action in &self.actions {
            if action.action.trim().is_empty() || action.identifier.trim().is_empty() {
                return err("an action has an empty 'action' or 'identifier'".into());
            }
            if !seen.insert(action.action.as_str()) {
                return err(format!("action '{}' is defined twice", action.action));
            }
            if !ACTION_TYPES.contains(&action.action_type.as_str()) {
                return err(format!(
                    "action '{}' has type '{}', expected one of {}",
                    action.action,
                    action.action_type,
                    ACTION_TYPES.join(", ")
                ));
            }
            check_fields(&format!("action '{}' parameters", action.action), &action.parameters)?;
        }
        for pattern in &self.outpost.egress {
            if pattern.trim().is_empty() {
                return err("outpost.egress holds an empty pattern".into());
            }
        }
        if let Some(component) = &self.outpost.component
            && (component.contains('/') || component.contains('\\') || !component.ends_with(".wasm"))
        {
            return err(format!("outpost.component '{component}' must be a plain file name ending in .wasm"));
        }
        Ok(())
    }

    /// Finds an action by its name.
    pub fn action(&self, name: &str) -> Option<&ActionDef> {
        self.actions.iter().find(|a| a.action == name)
    }

    /// The names of the configuration fields of type `password`.
    pub fn secret_fields(&self) -> Vec<&str> {
        self.configuration
            .iter()
            .filter(|(_, def)| def.get("data_type").and_then(Value::as_str) == Some("password"))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Checks an asset configuration and fills in defaults.
    ///
    /// Fields the manifest does not declare are refused, so a typo never silently drops a
    /// setting.
    pub fn apply_configuration(&self, config: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        apply_fields("configuration", &self.configuration, config)
    }
}

impl ActionDef {
    /// Checks one parameter set against this action's parameter definitions and fills in
    /// defaults. `context` is reserved and passed through untouched.
    pub fn apply_parameters(&self, params: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        let mut given = params.clone();
        let context = given.remove("context");
        let mut out = apply_fields(&format!("action '{}'", self.action), &self.parameters, &given)?;
        if let Some(context) = context {
            out.insert("context".into(), context);
        }
        Ok(out)
    }

    /// The action's own deadline, if it sets one.
    pub fn timeout_secs(&self) -> Option<u64> {
        self.outpost.timeout_secs
    }
}

/// Fills the `{{ field }}` references of egress patterns with an asset's configuration
/// values. A pattern naming a field the asset leaves empty is dropped: an unset
/// `base_url` allows nothing rather than everything.
pub fn render_egress(patterns: &[String], config: &Map<String, Value>) -> Vec<String> {
    patterns
        .iter()
        .filter_map(|pattern| {
            let mut out = String::new();
            let mut rest = pattern.as_str();
            while let Some(start) = rest.find("{{") {
                let end = rest[start..].find("}}")? + start;
                let field = rest[start + 2..end].trim();
                let value = match config.get(field)? {
                    Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                out.push_str(&rest[..start]);
                out.push_str(&value);
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
            Some(out)
        })
        .collect()
}

fn check_fields(what: &str, fields: &Map<String, Value>) -> Result<(), ManifestError> {
    for (name, field) in fields {
        let Some(def) = field.as_object() else {
            return Err(ManifestError(format!("{what}: field '{name}' is not an object")));
        };
        let data_type = def.get("data_type").and_then(Value::as_str).unwrap_or("string");
        if !FIELD_TYPES.contains(&data_type) {
            return Err(ManifestError(format!(
                "{what}: field '{name}' has data_type '{data_type}', expected one of {}",
                FIELD_TYPES.join(", ")
            )));
        }
        if let Some(list) = def.get("value_list")
            && !list.is_array()
        {
            return Err(ManifestError(format!("{what}: field '{name}' has a value_list that is not a list")));
        }
        if let Some(default) = def.get("default")
            && !default.is_null()
            && !default.as_str().is_some_and(str::is_empty)
            && let Err(e) = check_value(name, data_type, field, &coerce_default(data_type, default))
        {
            return Err(ManifestError(format!("{what}: default of {e}")));
        }
    }
    Ok(())
}

fn apply_fields(
    what: &str,
    defs: &Map<String, Value>,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    if let Some(unknown) = given.keys().find(|k| !defs.contains_key(*k)) {
        let expected: Vec<&str> = defs.keys().map(String::as_str).collect();
        return Err(if expected.is_empty() {
            format!("{what} takes no field '{unknown}'")
        } else {
            format!("{what} has no field '{unknown}' (expected: {})", expected.join(", "))
        });
    }
    let mut out = Map::new();
    for (name, def) in defs {
        let data_type = def.get("data_type").and_then(Value::as_str).unwrap_or("string");
        let required = def.get("required").and_then(Value::as_bool).unwrap_or(false);
        // A blank string does not fill a required field, as SOAR's own checks have it.
        let blank = |v: &Value| required && v.as_str().is_some_and(|s| s.trim().is_empty());
        let value = match given.get(name) {
            Some(v) if !v.is_null() && !blank(v) => Some(v.clone()),
            _ => def
                .get("default")
                .filter(|d| !d.is_null() && !d.as_str().is_some_and(str::is_empty))
                .map(|d| coerce_default(data_type, d)),
        };
        match value {
            Some(value) => {
                check_value(name, data_type, def, &value).map_err(|e| format!("{what}: {e}"))?;
                out.insert(name.clone(), value);
            }
            None if required => return Err(format!("{what}: missing required field '{name}'")),
            None => {}
        }
    }
    Ok(out)
}

/// A default as its field's type reads it: real app JSON writes numbers and booleans
/// as strings at times (`"default": "10"`, `"default": "true"`).
fn coerce_default(data_type: &str, default: &Value) -> Value {
    let Some(text) = default.as_str().map(str::trim) else { return default.clone() };
    match data_type {
        "numeric" => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number))
            .unwrap_or_else(|| default.clone()),
        "boolean" => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => default.clone(),
        },
        _ => default.clone(),
    }
}

fn check_value(name: &str, data_type: &str, def: &Value, value: &Value) -> Result<(), String> {
    let ok = match data_type {
        "numeric" => value.is_number(),
        "boolean" => value.is_boolean(),
        "ph" => true,
        _ => value.is_string(),
    };
    if !ok {
        return Err(format!(
            "field '{name}' must be {} (data_type {data_type}), got {}",
            type_word(data_type),
            json_type(value)
        ));
    }
    if data_type == "string" && value.as_str().is_some_and(|s| s.len() > 64 * 1024) {
        return Err(format!("field '{name}' is longer than 65536 bytes"));
    }
    if let Some(list) = def.get("value_list").and_then(Value::as_array)
        && !list.is_empty()
        && !list.contains(value)
    {
        let choices: Vec<String> = list.iter().map(Value::to_string).collect();
        return Err(format!("field '{name}' is {value}, not one of {}", choices.join(", ")));
    }
    Ok(())
}

fn type_word(data_type: &str) -> &'static str {
    match data_type {
        "numeric" => "a number",
        "boolean" => "true or false",
        _ => "a string",
    }
}

/// The JSON type of a value, as an error message names it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// True for a GUID such as `b3a7a5e0-4c3a-4d2e-9d1f-6a8f0c1e2d3b`.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d",
            "name": "GeoIP",
            "app_version": "1.0.0",
            "product_vendor": "Outpost",
            "product_name": "GeoIP",
            "configuration": {
                "base_url": {"data_type": "string", "required": true, "order": 0},
                "apikey": {"data_type": "password", "required": false, "order": 1},
                "verify": {"data_type": "boolean", "default": true, "order": 2}
            },
            "actions": [
                {"action": "test connectivity", "identifier": "test_connectivity", "type": "test", "parameters": {}},
                {"action": "geolocate ip", "identifier": "geolocate_ip", "type": "investigate", "read_only": true,
                 "parameters": {
                    "ip": {"data_type": "string", "required": true, "primary": true, "contains": ["ip"]},
                    "limit": {"data_type": "numeric", "default": 5},
                    "mode": {"data_type": "string", "value_list": ["fast", "full"], "default": "fast"}
                 },
                 "output": [{"data_path": "action_result.data.*.country_name", "data_type": "string"}]}
            ],
            "outpost": {"egress": ["{{ base_url }}"], "timeout_secs": 30},
            "logo": "geoip.svg"
        })
    }

    fn parse(v: &Value) -> Result<Manifest, ManifestError> {
        Manifest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn parses_a_soar_manifest_and_keeps_unknown_keys() {
        let m = parse(&sample()).unwrap();
        assert_eq!(m.actions.len(), 2);
        assert_eq!(m.action("geolocate ip").unwrap().identifier, "geolocate_ip");
        assert_eq!(m.extra["logo"], "geoip.svg");
        assert_eq!(m.secret_fields(), vec!["apikey"]);
        assert_eq!(m.outpost.timeout_secs, Some(30));
    }

    #[test]
    fn refuses_broken_manifests_with_the_reason() {
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|m| m["appid"] = json!("not-a-guid")), "is not a GUID"),
            (Box::new(|m| m["actions"] = json!([])), "no actions"),
            (Box::new(|m| m["actions"][1]["type"] = json!("explode")), "expected one of"),
            (Box::new(|m| m["actions"][1]["action"] = json!("test connectivity")), "defined twice"),
            (Box::new(|m| m["configuration"]["x"] = json!({"data_type": "blob"})), "data_type 'blob'"),
            (Box::new(|m| m["outpost"]["component"] = json!("../evil.wasm")), "plain file name"),
            (Box::new(|m| m["outpost"]["nonsense"] = json!(1)), "unknown field"),
            (
                Box::new(|m| {
                    m.as_object_mut().unwrap().remove("name");
                }),
                "missing field `name`",
            ),
        ];
        for (mutate, expected) in cases {
            let mut m = sample();
            mutate(&mut m);
            let err = parse(&m).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        assert!(Manifest::parse(b"{not json").is_err());
        assert!(Manifest::parse(&vec![b' '; MAX_MANIFEST_BYTES + 1]).unwrap_err().0.contains("more than"));
    }

    #[test]
    fn parameters_get_defaults_and_checks() {
        let m = parse(&sample()).unwrap();
        let action = m.action("geolocate ip").unwrap();
        let ok = action.apply_parameters(json!({"ip": "1.2.3.4"}).as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(ok), json!({"ip": "1.2.3.4", "limit": 5, "mode": "fast"}));

        let with_context = action
            .apply_parameters(json!({"ip": "1.2.3.4", "context": {"artifact_id": 3}}).as_object().unwrap())
            .unwrap();
        assert_eq!(with_context["context"], json!({"artifact_id": 3}));

        let err = |v: Value| action.apply_parameters(v.as_object().unwrap()).unwrap_err();
        assert!(err(json!({})).contains("missing required field 'ip'"));
        assert!(err(json!({"ip": "  "})).contains("missing required field 'ip'"));
        assert!(err(json!({"ip": 5})).contains("field 'ip' must be a string"));
        assert!(err(json!({"ip": "x", "limit": "5"})).contains("field 'limit' must be a number"));
        assert!(err(json!({"ip": "x", "mode": "slow"})).contains("not one of \"fast\", \"full\""));
        assert!(err(json!({"ip": "x", "ipp": "y"})).contains("has no field 'ipp'"));
    }

    #[test]
    fn configuration_is_checked_and_defaulted() {
        let m = parse(&sample()).unwrap();
        let cfg = m.apply_configuration(json!({"base_url": "https://x"}).as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(cfg), json!({"base_url": "https://x", "verify": true}));
        assert!(m.apply_configuration(&Map::new()).unwrap_err().contains("missing required field 'base_url'"));
        assert!(
            m.apply_configuration(json!({"base_url": "x", "verify": "yes"}).as_object().unwrap())
                .unwrap_err()
                .contains("true or false")
        );
    }

    #[test]
    fn egress_templates_take_asset_values() {
        let config = json!({"base_url": "https://rdap.example.org:8443/", "port": 8080, "empty": ""});
        let config = config.as_object().unwrap();
        let patterns: Vec<String> = [
            "{{ base_url }}",
            "http://h:{{port}}",
            "{{ empty }}",
            "{{ missing }}",
            "https://fixed.example",
            "{{ broken",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            render_egress(&patterns, config),
            vec!["https://rdap.example.org:8443/", "http://h:8080", "https://fixed.example"]
        );
    }

    #[test]
    fn soar_action_types_and_field_types_are_accepted() {
        let mut m = sample();
        m["actions"].as_array_mut().unwrap().push(json!({
            "action": "on poll", "identifier": "on_poll", "type": "ingest",
            "parameters": {"start_time": {"data_type": "numeric"}, "container_count": {"data_type": "numeric", "default": "10"}}
        }));
        m["configuration"]["zone"] = json!({"data_type": "timezone", "default": "UTC"});
        m["configuration"]["parser"] = json!({"data_type": "file"});
        m["configuration"]["spacer"] = json!({"data_type": "ph"});
        m["configuration"]["limit"] = json!({"data_type": "numeric", "default": "25"});
        m["configuration"]["flag"] = json!({"data_type": "boolean", "default": "True"});
        let m = parse(&m).unwrap();
        assert_eq!(m.action("on poll").unwrap().action_type, "ingest");
        let config = m
            .apply_configuration(
                json!({"base_url": "https://x", "zone": "Europe/Paris", "parser": "def f(): pass"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(config["zone"], "Europe/Paris");
        assert_eq!(config["limit"], 25, "a numeric default written as a string is a number");
        assert_eq!(config["flag"], true);
        assert!(
            m.apply_configuration(json!({"base_url": "x", "zone": 5}).as_object().unwrap())
                .unwrap_err()
                .contains("field 'zone' must be a string (data_type timezone)")
        );
        let on_poll = m.action("on poll").unwrap().apply_parameters(&Map::new()).unwrap();
        assert_eq!(on_poll["container_count"], 10);
        let mut bad = sample();
        bad["configuration"]["limit"] = json!({"data_type": "numeric", "default": "ten"});
        assert!(parse(&bad).unwrap_err().to_string().contains("default of field 'limit' must be a number"));
    }

    #[test]
    fn guids() {
        assert!(is_guid("6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d"));
        assert!(!is_guid("6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1"));
        assert!(!is_guid("6e2c3d0a8f1b4c5e9a7d2b4f6e8a0c1d"));
    }
}
