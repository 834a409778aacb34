//! `/rest/openapi.json` against the router and against real responses.

use std::collections::BTreeSet;

use outpost_broker::rest::openapi::route_table;
use outpost_broker::rest::{action_runs, apps, artifacts, assets, containers};
use serde_json::{Value, json};

use super::harness::{Outpost, fake_worker, qa};

/// Follows a `$ref` into `components`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name =
                reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("odd $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "dangling $ref {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks a value against a schema: types (nullable included), required properties,
/// nested objects and list items.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    for (key, all) in [("oneOf", false), ("anyOf", false), ("allOf", true)] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let results: Vec<Result<(), String>> = branches.iter().map(|b| check(doc, b, value, at)).collect();
            let ok = if all { results.iter().all(Result::is_ok) } else { results.iter().any(Result::is_ok) };
            if !ok {
                return Err(format!("{at}: no {key} branch fits {value}: {results:?}"));
            }
        }
    }
    let actual = json_type(value);
    let allowed: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let fits = allowed.is_empty() || allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
    if !fits {
        return Err(format!("{at}: expected {allowed:?}, got {actual} ({value})"));
    }
    if let Value::Object(map) = value {
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !map.contains_key(name) {
                return Err(format!("{at}: lacks required '{name}'"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if let Some(v) = map.get(name) {
                    check(doc, property, v, &format!("{at}.{name}"))?;
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, item_schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Every `$ref` anywhere in the document.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The property names of a documented request body.
fn request_fields(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    let schema = resolve(doc, body);
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} documents no body"))
        .keys()
        .cloned()
        .collect()
}

fn set(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

#[tokio::test]
async fn the_document_matches_the_router_and_real_responses() {
    let outpost = Outpost::start().await;
    let rest = &outpost.rest;
    let doc = rest.ok("/rest/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    assert!(doc["components"]["securitySchemes"]["basic"].is_object());
    assert!(doc["components"]["securitySchemes"]["ph-auth-token"].is_object());

    // Every documented operation is routed, and every routed one is documented.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| k.as_str() != "parameters")
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = route_table().into_iter().map(|(m, p)| (m.to_string(), p)).collect();
    assert_eq!(documented, routed, "the document and the router disagree");
    for (method, path) in &documented {
        let concrete = path.replace("{id}", "1");
        let (status, body) = rest.send(rest.request(method.parse().unwrap(), &concrete).json(&json!({}))).await;
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(
            !body["message"].as_str().unwrap_or_default().starts_with("no endpoint"),
            "{method} {path} is not routed: {body}"
        );
    }
    let mut all = vec![];
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for reference in &all {
        resolve(&doc, &json!({"$ref": reference}));
    }

    // Request bodies document exactly the fields the parsers accept.
    assert_eq!(request_fields(&doc, "/rest/action_run", "post"), set(action_runs::RUN_FIELDS));
    let target_ref = json!({"$ref": "#/components/schemas/TargetRequest"});
    let target = resolve(&doc, &target_ref);
    assert_eq!(
        target["properties"].as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>(),
        set(action_runs::TARGET_FIELDS)
    );
    assert_eq!(request_fields(&doc, "/rest/asset", "post"), set(assets::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/asset/{id}", "post"), set(assets::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/container", "post"), set(containers::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/artifact", "post"), set(artifacts::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/app", "post"), set(apps::INSTALL_FIELDS));

    // The check has teeth: a missing required field or a wrong type fails it.
    let run_ref = json!({"$ref": "#/components/schemas/ActionRunBody"});
    assert!(check(&doc, &run_ref, &json!({"id": 1}), "run").unwrap_err().contains("lacks required 'action'"));
    let list_ref = json!({"$ref": "#/components/schemas/ListBody_AppRunBody"});
    let wrong = json!({"count": 1, "num_pages": 1, "data": [{"id": "seven"}]});
    assert!(check(&doc, &list_ref, &wrong, "list").is_err());

    // Real responses carry what the document promises.
    fake_worker(outpost.bus.clone(), qa);
    let qa_app = outpost.app_id("QA").await;
    let mut calls: Vec<(&str, String, Option<Value>)> = vec![];
    let container = outpost.container("documented").await;
    outpost.asset(json!({"name": "qa", "app": qa_app})).await;
    calls.push(("post", "/rest/container".into(), Some(json!({"name": "more"}))));
    calls.push(("post", "/rest/asset".into(), Some(json!({"name": "qa-2", "app": qa_app}))));
    let run = rest
        .created("/rest/action_run", &json!({"action": "echo", "container_id": container, "targets": [{"app_id": qa_app, "assets": ["qa"], "parameters": [{"value": "v"}]}]}))
        .await["action_run_id"]
        .as_i64()
        .unwrap();
    outpost.wait_action_run(run).await;
    let app_run = rest.ok(&format!("/rest/action_run/{run}/app_runs")).await["data"][0]["id"].as_i64().unwrap();
    let asset = rest.ok("/rest/asset").await["data"][0]["id"].as_i64().unwrap();
    let artifact = rest.created("/rest/artifact", &json!({"container_id": container, "cef": {"a": 1}})).await["id"]
        .as_i64()
        .unwrap();
    let pending = rest
        .created("/rest/action_run", &json!({"action": "echo", "container_id": container, "exec_delay_secs": 600, "targets": [{"app_id": qa_app, "assets": ["qa"]}]}))
        .await["action_run_id"]
        .as_i64()
        .unwrap();
    for path in [
        "/rest/version".to_string(),
        "/rest/action_run?pretty".into(),
        format!("/rest/action_run/{run}"),
        format!("/rest/action_run/{pending}?pretty"),
        format!("/rest/action_run/{run}/app_runs?include_expensive&pretty"),
        "/rest/app_run".into(),
        format!("/rest/app_run/{app_run}?pretty"),
        format!("/rest/app_run/{app_run}/action_result"),
        "/rest/app".into(),
        format!("/rest/app/{qa_app}"),
        "/rest/asset?pretty".into(),
        format!("/rest/asset/{asset}"),
        "/rest/container?pretty".into(),
        format!("/rest/container/{container}"),
        format!("/rest/container/{container}/artifacts"),
        "/rest/artifact?pretty".into(),
        format!("/rest/artifact/{artifact}"),
        "/rest/action_run/999999".into(),
        "/rest/asset?_filter_colour=1".into(),
    ] {
        calls.push(("get", path, None));
    }
    calls.push(("post", format!("/rest/container/{container}"), Some(json!({"status": "open"}))));
    calls.push(("post", format!("/rest/asset/{asset}"), Some(json!({"description": "documented"}))));
    calls.push((
        "post",
        "/rest/action_run".into(),
        Some(json!({"action": "echo", "container_id": container, "targets": [{"app_id": qa_app, "assets": ["qa"]}]})),
    ));
    calls.push(("post", format!("/rest/action_run/{pending}"), Some(json!({"cancel": true}))));
    calls.push((
        "post",
        "/rest/artifact".into(),
        Some(json!({"container_id": container, "source_data_identifier": "dup"})),
    ));
    calls.push((
        "post",
        "/rest/artifact".into(),
        Some(json!({"container_id": container, "source_data_identifier": "dup"})),
    ));
    calls.push(("post", "/rest/app".into(), Some(json!({"app": "!"}))));
    calls.push(("delete", "/rest/asset/424242".into(), None));

    let templates: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let template_of = |path: &str| -> String {
        let path = path.split('?').next().unwrap();
        templates
            .iter()
            .find(|t| {
                let (a, b): (Vec<&str>, Vec<&str>) = (t.split('/').collect(), path.split('/').collect());
                a.len() == b.len()
                    && a.iter().zip(&b).all(|(x, y)| x == y || (x.starts_with('{') && y.parse::<i64>().is_ok()))
            })
            .unwrap_or_else(|| panic!("no documented path for {path}"))
            .clone()
    };
    let mut statuses = BTreeSet::new();
    for (method, path, body) in calls {
        let mut request = rest.request(method.to_uppercase().parse().unwrap(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let (status, answer) = rest.send(request).await;
        statuses.insert(status);
        let template = template_of(&path);
        let response = &doc["paths"][&template][method]["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which {template} does not document: {answer}"
        );
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {template} {status} documents no body");
        if let Err(e) = check(&doc, schema, &answer, &format!("{method} {path} {status}")) {
            panic!("{e}\nbody: {answer}");
        }
    }
    assert_eq!(statuses, BTreeSet::from([200, 400, 404, 409]), "successes and errors were both checked");
    outpost.stop().await;
}
