//! `outpost app validate <bundle|DIR>`: the checks the broker makes at install, then
//! what it does not check but an author wants to know, each finding naming the field:
//!
//! - every action of the manifest is handled: the component is called once with an
//!   identifier no action has, to learn its "unknown action" answer, then once per
//!   action with placeholder parameters (no network: HTTP is answered from an empty
//!   tape); an action answered like the unknown one is not handled;
//! - parameter and configuration `data_type`s, `contains` (a list of names),
//!   `value_list`s, `primary` parameters;
//! - output `data_path`s: under `action_result.` or `summary.`, and
//!   `action_result.parameter.<name>` naming a parameter;
//! - egress: patterns naming configuration fields that do not exist, a component that
//!   imports `wasi:http` with no egress (every request would be denied), egress without
//!   any HTTP import;
//! - keys Outpost keeps but does not read, listed.
//!
//! Exits with an error when a finding is an error.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::bail;
use outpost_proto::manifest::{FIELD_TYPES, Manifest};
use outpost_worker::local::{self, LocalRun};
use outpost_worker::sandbox::tape::Tape;
use outpost_worker::sandbox::{Sandbox, SandboxConfig, Status};
use serde_json::{Map, Value, json};

use super::project::{self, Loaded};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A connector folder (built) or a bundle.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Skip calling the component (the handled-actions probe).
    #[arg(long)]
    pub no_probe: bool,
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Info,
}

/// One thing `validate` found, about one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// Where, as a path into the manifest: `actions[1].parameters.ip.data_type`.
    pub field: String,
    pub message: String,
}

fn finding(level: Level, field: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding { level, field: field.into(), message: message.into() }
}

/// The keys of the manifest's top level, of an action and of a field that Outpost
/// reads or that SOAR defines and Outpost accepts as they are.
const READ_TOP: &[&str] = &[
    "appid",
    "name",
    "description",
    "app_version",
    "product_vendor",
    "product_name",
    "publisher",
    "license",
    "configuration",
    "actions",
    "outpost",
    "type",
    "product_version_regex",
];

/// What the manifest alone says (no component needed).
pub fn lint(manifest: &Manifest, json: &Value, imports: &[String]) -> Vec<Finding> {
    let mut found = vec![];
    for (name, def) in &manifest.configuration {
        check_field(&mut found, &format!("configuration.{name}"), def);
    }
    for (i, action) in manifest.actions.iter().enumerate() {
        let at = format!("actions[{i}]");
        for (name, def) in &action.parameters {
            check_field(&mut found, &format!("{at}.parameters.{name}"), def);
        }
        for (j, output) in action.output.iter().enumerate() {
            let Some(path) = output.get("data_path").and_then(Value::as_str) else {
                found.push(finding(
                    Level::Error,
                    format!("{at}.output[{j}].data_path"),
                    "missing: every output names its data_path",
                ));
                continue;
            };
            let field = format!("{at}.output[{j}].data_path");
            if !(path.starts_with("action_result.") || path.starts_with("summary.")) {
                found.push(finding(
                    Level::Warning,
                    &field,
                    format!("'{path}' is not under action_result. or summary."),
                ));
            }
            if let Some(parameter) = path.strip_prefix("action_result.parameter.")
                && !action.parameters.contains_key(parameter)
                && parameter != "context"
                && !parameter.starts_with("context.")
            {
                found.push(finding(
                    Level::Warning,
                    &field,
                    format!("'{path}' names parameter '{parameter}', which action '{}' does not have", action.action),
                ));
            }
            if let Some(data_type) = output.get("data_type").and_then(Value::as_str)
                && !FIELD_TYPES.contains(&data_type)
            {
                found.push(finding(
                    Level::Warning,
                    format!("{at}.output[{j}].data_type"),
                    format!("unknown data_type '{data_type}'"),
                ));
            }
        }
        let unknown: Vec<&String> = action.extra.keys().collect();
        if !unknown.is_empty() {
            found.push(finding(
                Level::Info,
                &at,
                format!(
                    "kept, not read by Outpost: {}",
                    unknown.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for (i, pattern) in manifest.outpost.egress.iter().enumerate() {
        let mut rest = pattern.as_str();
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start..].find("}}").map(|e| e + start) else {
                found.push(finding(
                    Level::Error,
                    format!("outpost.egress[{i}]"),
                    format!("'{pattern}' opens '{{{{' without closing it"),
                ));
                break;
            };
            let field = rest[start + 2..end].trim();
            if !manifest.configuration.contains_key(field) {
                found.push(finding(
                    Level::Error,
                    format!("outpost.egress[{i}]"),
                    format!("'{pattern}' names configuration field '{field}', which does not exist: the asset can fill nothing in, so it allows nothing"),
                ));
            }
            rest = &rest[end + 2..];
        }
    }
    let imports_http = imports.iter().any(|i| i.starts_with("wasi:http/outgoing-handler"));
    if manifest.outpost.egress.is_empty() && imports_http {
        let suggestion = match manifest.configuration.keys().find(|k| k.contains("url") || k.contains("host")) {
            Some(field) => format!("add \"outpost\": {{\"egress\": [\"{{{{ {field} }}}}\"]}}"),
            None => "add \"outpost\": {\"egress\": [\"https://api.example.com\"]} with the hosts it calls".to_string(),
        };
        found.push(finding(
            Level::Warning,
            "outpost.egress",
            format!("empty, but the component makes HTTP requests (it imports wasi:http): every request will be denied; {suggestion}"),
        ));
    }
    if !manifest.outpost.egress.is_empty() && !imports_http && !imports.is_empty() {
        found.push(finding(
            Level::Info,
            "outpost.egress",
            "set, but the component makes no HTTP requests (it does not import wasi:http)",
        ));
    }
    if let Some(top) = json.as_object() {
        let unknown: Vec<&str> = top.keys().map(String::as_str).filter(|k| !READ_TOP.contains(k)).collect();
        if !unknown.is_empty() {
            found.push(finding(
                Level::Info,
                "(top level)",
                format!("kept, not read by Outpost: {}", unknown.join(", ")),
            ));
        }
    }
    found
}

fn check_field(found: &mut Vec<Finding>, at: &str, def: &Value) {
    if let Some(contains) = def.get("contains") {
        let ok = contains
            .as_array()
            .is_some_and(|list| list.iter().all(|c| c.as_str().is_some_and(|s| !s.trim().is_empty())));
        if !ok {
            found.push(finding(Level::Error, format!("{at}.contains"), "must be a list of names, e.g. [\"ip\"]"));
        }
    }
    if def.get("data_type").is_none() {
        found.push(finding(Level::Info, format!("{at}.data_type"), "absent: read as \"string\""));
    }
    if let Some(list) = def.get("value_list").and_then(Value::as_array)
        && list.is_empty()
        && def.get("value_list").is_some()
    {
        found.push(finding(Level::Info, format!("{at}.value_list"), "empty: any value is accepted"));
    }
}

/// A value a parameter or field of `def` accepts, for the probe.
fn placeholder(def: &Value) -> Value {
    if let Some(default) = def.get("default").filter(|d| !d.is_null() && d.as_str() != Some("")) {
        return default.clone();
    }
    if let Some(first) = def.get("value_list").and_then(Value::as_array).and_then(|l| l.first()) {
        return first.clone();
    }
    match def.get("data_type").and_then(Value::as_str).unwrap_or("string") {
        "numeric" => json!(1),
        "boolean" => json!(false),
        _ => {
            let contains: BTreeSet<&str> =
                def.get("contains").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            let pick = [
                ("ip", "8.8.8.8"),
                ("domain", "example.com"),
                ("url", "https://example.com/"),
                ("email", "user@example.com"),
                ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
                ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
                ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                ("hash", "d41d8cd98f00b204e9800998ecf8427e"),
            ];
            let value = pick.iter().find(|(kind, _)| contains.contains(kind)).map_or("probe", |(_, v)| v);
            json!(value)
        }
    }
}

fn placeholders(defs: &Map<String, Value>) -> Map<String, Value> {
    defs.iter()
        .filter(|(_, def)| def.get("data_type").and_then(Value::as_str) != Some("ph"))
        .map(|(name, def)| (name.clone(), placeholder(def)))
        .collect()
}

/// Calls every action once (and an identifier no action has), with no network.
async fn probe(manifest: &Manifest, component: &[u8]) -> anyhow::Result<Vec<Finding>> {
    let empty = std::env::temp_dir().join(format!("outpost-probe-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&empty, "{\"exchanges\": []}")?;
    let mut config = SandboxConfig { concurrency: 1, cache_dir: project::compile_cache(), ..SandboxConfig::default() };
    config.egress.tape = Some(Tape::replay(&empty, vec![])?);
    config.max_timeout = std::time::Duration::from_secs(20);
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::new(config)).await??;
    let configuration = placeholders(&manifest.configuration);
    let probe_id = format!("outpost_probe_{}", uuid::Uuid::new_v4().simple());
    let mut unknown = manifest.actions.first().cloned().ok_or_else(|| anyhow::anyhow!("the app has no actions"))?;
    unknown.identifier = probe_id.clone();
    unknown.parameters = Map::new();
    let run = |parameters| LocalRun { parameters, configuration: configuration.clone(), ..LocalRun::default() };
    let baseline = local::run_defined(&sandbox, manifest, component, unknown, run(Map::new())).await?.outcome;
    let _ = std::fs::remove_file(&empty);
    let mut found = vec![];
    if baseline.status == Status::Success {
        found.push(finding(
            Level::Warning,
            "actions",
            format!("the component answers an identifier no action has ('{probe_id}') with success: it cannot tell its actions apart, so the probe cannot either"),
        ));
        return Ok(found);
    }
    for (i, action) in manifest.actions.iter().enumerate() {
        let outcome =
            local::run_defined(&sandbox, manifest, component, action.clone(), run(placeholders(&action.parameters)))
                .await?
                .outcome;
        let like_unknown = outcome.status == Status::Failed
            && (outcome.message == baseline.message.replace(&probe_id, &action.identifier)
                || (!baseline.message.contains(&probe_id) && outcome.message == baseline.message));
        if like_unknown {
            found.push(finding(
                Level::Error,
                format!("actions[{i}].identifier"),
                format!(
                    "action '{}' ('{}') is not handled by the component: it answers \"{}\", as for an identifier no action has",
                    action.action, action.identifier, outcome.message
                ),
            ));
        }
    }
    Ok(found)
}

pub async fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let Loaded { manifest, manifest_json, component, source } = project::load(&args.path)?;
    // The broker's own checks at install, on the bundle this folder packs to.
    let name = manifest.name.clone();
    if args.path.is_dir() {
        let project = project::Project::open(&args.path)?;
        let bytes = super::pack::bundle(&project.name, &project.manifest_bytes()?, &component)?;
        outpost_broker::catalog::bundle::read(&bytes)
            .map_err(|e| anyhow::anyhow!("{source}: the broker would refuse it: {e}"))?;
    }
    let imports = component_imports(&component);
    let mut findings = lint(&manifest, &manifest_json, &imports);
    if !args.no_probe {
        findings.extend(probe(&manifest, &component).await?);
    }
    findings.sort_by_key(|f| f.level);
    for f in &findings {
        let level = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        };
        println!("{level:<8}{}: {}", f.field, f.message);
    }
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings.iter().filter(|f| f.level == Level::Warning).count();
    println!("{source}: {name} {}: {errors} error(s), {warnings} warning(s)", manifest.app_version);
    if errors > 0 {
        bail!("{source} has {errors} error(s)");
    }
    Ok(())
}

/// The interfaces a component imports (top level).
pub fn component_imports(bytes: &[u8]) -> Vec<String> {
    let mut imports = vec![];
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. }) => depth += 1,
            Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(wasmparser::Payload::ComponentImportSection(reader)) if depth == 0 => {
                imports.extend(reader.into_iter().filter_map(Result::ok).map(|i| i.name.name.to_string()));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    imports
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(value: Value) -> (Manifest, Value) {
        (Manifest::parse(value.to_string().as_bytes()).unwrap(), value)
    }

    #[test]
    fn each_finding_names_its_field() {
        let (m, json) = manifest(json!({
            "appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d", "name": "T", "app_version": "1.0.0", "logo": "t.svg",
            "configuration": {"base_url": {"data_type": "string"}},
            "actions": [{"action": "lookup", "identifier": "lookup", "type": "investigate", "render": {"type": "table"},
                "parameters": {"ip": {"data_type": "string", "contains": "ip"}},
                "output": [{"data_path": "action_result.parameter.domain", "data_type": "string"},
                           {"data_path": "data.*.x", "data_type": "string"}]}],
            "outpost": {"egress": ["{{ base_url }}", "{{ server }}"]}
        }));
        let found = lint(&m, &json, &["wasi:http/outgoing-handler@0.2.12".into()]);
        let at =
            |field: &str| found.iter().find(|f| f.field == field).unwrap_or_else(|| panic!("{field} in {found:?}"));
        assert_eq!(at("actions[0].parameters.ip.contains").level, Level::Error);
        assert!(at("actions[0].output[0].data_path").message.contains("names parameter 'domain'"));
        assert!(at("actions[0].output[1].data_path").message.contains("is not under action_result."));
        assert!(at("outpost.egress[1]").message.contains("configuration field 'server', which does not exist"));
        assert!(at("actions[0]").message.contains("render"));
        assert!(at("(top level)").message.contains("logo"));
        assert!(found.iter().all(|f| f.field != "outpost.egress[0]"));
    }

    #[test]
    fn http_without_egress_is_flagged_with_a_suggestion() {
        let (m, json) = manifest(json!({
            "appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d", "name": "T", "app_version": "1.0.0",
            "configuration": {"server_url": {"data_type": "string"}},
            "actions": [{"action": "a", "identifier": "a"}]
        }));
        let found = lint(&m, &json, &["wasi:http/outgoing-handler@0.2.12".into()]);
        let egress = found.iter().find(|f| f.field == "outpost.egress").unwrap();
        assert_eq!(egress.level, Level::Warning);
        assert!(
            egress
                .message
                .contains("every request will be denied; add \"outpost\": {\"egress\": [\"{{ server_url }}\"]}")
        );
    }

    #[test]
    fn placeholders_follow_defaults_lists_types_and_contains() {
        assert_eq!(placeholder(&json!({"default": 5})), json!(5));
        assert_eq!(placeholder(&json!({"value_list": ["a", "b"]})), json!("a"));
        assert_eq!(placeholder(&json!({"data_type": "numeric"})), json!(1));
        assert_eq!(placeholder(&json!({"contains": ["ip"]})), json!("8.8.8.8"));
        assert_eq!(placeholder(&json!({"contains": ["domain", "url"]})), json!("example.com"));
        assert_eq!(placeholder(&json!({})), json!("probe"));
    }
}
