//! `/rest/openapi.json` against the router, the permission table and real responses.

use std::collections::BTreeSet;

use outpost_broker::access::permissions::REST;
use outpost_broker::rest::openapi::route_table;
use outpost_broker::rest::{
    action_runs, apps, artifacts, assets, audit_reads, automation_proxy, containers, roles, system, users,
};
use outpost_proto::time::now_ms;
use outpost_proto::v1::Heartbeat;
use serde_json::{Value, json};

use outpost_tests::PASSWORD;
use outpost_tests::broker::TestBroker;
use outpost_tests::fake_worker::{fake_worker, qa};
use outpost_tests::rest::Rest;

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
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, v) in map {
            match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                (Some(property), _) => check(doc, property, v, &format!("{at}.{name}"))?,
                (None, Some(extra)) if extra.is_object() => check(doc, extra, v, &format!("{at}.{name}"))?,
                _ => {}
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

/// The property names of each form a documented request body takes (one, or the
/// branches of its `oneOf`).
fn request_forms(doc: &Value, path: &str, method: &str) -> Vec<BTreeSet<String>> {
    let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    let schema = resolve(doc, body);
    let branches = match schema.get("oneOf").and_then(Value::as_array) {
        Some(branches) => branches.iter().map(|b| resolve(doc, b)).filter(|b| b["type"] != "null").collect(),
        None => vec![schema],
    };
    branches
        .iter()
        .map(|b| {
            b["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} documents no body"))
                .keys()
                .cloned()
                .collect()
        })
        .collect()
}

/// The property names of a documented request body of one form.
fn request_fields(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    let mut forms = request_forms(doc, path, method);
    assert_eq!(forms.len(), 1, "{method} {path} takes several forms");
    forms.remove(0)
}

/// The names of a documented operation's query parameters.
fn query_parameters(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// The documented (method, path) pairs.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
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
        .collect()
}

/// A request (method, path and query, JSON body) to check the answer of.
type Call = (&'static str, String, Option<Value>);

/// Sends every call as the administrator and checks each answer against the document:
/// its status is documented, its content type is one the document lists for that status,
/// and a JSON body fits the schema. Answers the statuses seen.
async fn answers_fit_the_document(doc: &Value, rest: &Rest, calls: Vec<Call>) -> BTreeSet<u16> {
    let templates: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let template_of = |path: &str| -> String {
        let path = path.split('?').next().unwrap();
        let fits = |t: &&String| {
            let (a, b): (Vec<&str>, Vec<&str>) = (t.split('/').collect(), path.split('/').collect());
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || x.starts_with('{'))
        };
        // A literal segment beats a parameter.
        templates
            .iter()
            .filter(fits)
            .max_by_key(|t| t.split('/').filter(|x| !x.starts_with('{')).count())
            .unwrap_or_else(|| panic!("no documented path for {path}"))
            .clone()
    };
    let mut statuses = BTreeSet::new();
    for (method, path, body) in calls {
        let method_name: reqwest::Method = method.to_uppercase().parse().unwrap();
        let mut request = rest.request(method_name, &path).basic_auth("admin", Some(PASSWORD));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the broker answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().trim().to_string())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        statuses.insert(status);
        let template = template_of(&path);
        let documented = &doc["paths"][&template][method]["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which {template} does not document: {text}"
        );
        let schema = &documented["content"][&content_type]["schema"];
        assert!(schema.is_object(), "{method} {template} {status} documents no {content_type:?} body: {text}");
        if content_type == "application/json" {
            let answer: Value = serde_json::from_str(&text).unwrap();
            if let Err(e) = check(doc, schema, &answer, &format!("{method} {path} {status}")) {
                panic!("{e}\nbody: {answer}");
            }
        } else {
            assert_eq!(schema["type"], "string", "{method} {template} {status} {content_type}");
        }
    }
    statuses
}

fn set(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

#[tokio::test]
async fn the_document_matches_the_router_and_real_responses() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    let doc = rest.ok("/rest/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    assert!(doc["components"]["securitySchemes"]["basic"].is_object());
    assert!(doc["components"]["securitySchemes"]["ph-auth-token"].is_object());

    // Every documented operation is routed, and every routed one is documented.
    let documented = operations(&doc);
    let routed: BTreeSet<(String, String)> = route_table().into_iter().map(|(m, p)| (m.to_string(), p)).collect();
    assert_eq!(documented, routed, "the document and the router disagree");
    // Every route has a row in the permission table and every row is a route: nothing is
    // Administrator-only by omission, and no row names a route that is gone.
    let permitted: BTreeSet<(String, String)> =
        REST.iter().map(|rule| (rule.method.to_string(), rule.path.to_string())).collect();
    assert_eq!(permitted, documented, "the permission table and the document disagree");
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let operation = &doc["paths"][path][method.to_lowercase()];
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "{method} {path}: operationId {id} twice");
        let description = operation["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("Requires the") || description.contains("every signed-in user"),
            "{method} {path} does not say who may call it: {description}"
        );
        assert!(operation["responses"]["401"].is_object(), "{method} {path}");
    }
    for (method, path) in &documented {
        let concrete = path.replace("{id}", "1").replace("{token_id}", "1").replace("{name}", "top_playbooks_actions");
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
    assert_eq!(request_forms(&doc, "/rest/asset/{id}", "post"), [set(assets::FIELDS), set(&["test_connectivity"])]);
    assert_eq!(request_fields(&doc, "/rest/container", "post"), set(containers::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/artifact", "post"), set(artifacts::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/app", "post"), set(apps::INSTALL_FIELDS));
    assert_eq!(request_fields(&doc, "/rest/automation_proxy", "post"), set(automation_proxy::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/system_settings", "post"), set(system::SETTINGS_FIELDS));
    assert_eq!(request_fields(&doc, "/rest/ph_user", "post"), set(users::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/ph_user/{id}", "post"), set(users::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/ph_user/{id}/token", "post"), set(users::TOKEN_FIELDS));
    assert_eq!(request_fields(&doc, "/rest/role", "post"), set(roles::FIELDS));
    assert_eq!(request_fields(&doc, "/rest/role/{id}", "post"), set(roles::FIELDS));
    // Query parameters too, where the parser lists the ones it accepts.
    assert_eq!(
        query_parameters(&doc, "/rest/audit", "get"),
        set(&[audit_reads::COMMON, audit_reads::SELECTIONS].concat())
    );
    for path in [
        "/rest/ph_user/{id}/audit",
        "/rest/user/{id}/audit",
        "/rest/role/{id}/audit",
        "/rest/container/{id}/audit",
        "/rest/playbook/{id}/audit",
    ] {
        assert_eq!(query_parameters(&doc, path, "get"), set(audit_reads::COMMON), "{path}");
        let content = &doc["paths"][path]["get"]["responses"]["200"]["content"];
        assert!(content["application/json"].is_object() && content["text/csv"].is_object(), "{path}: {content}");
    }

    // The check has teeth: a missing required field or a wrong type fails it.
    let run_ref = json!({"$ref": "#/components/schemas/ActionRunBody"});
    assert!(check(&doc, &run_ref, &json!({"id": 1}), "run").unwrap_err().contains("lacks required 'action'"));
    let list_ref = json!({"$ref": "#/components/schemas/ListBody_AppRunBody"});
    let wrong = json!({"count": 1, "num_pages": 1, "data": [{"id": "seven"}]});
    assert!(check(&doc, &list_ref, &wrong, "list").is_err());

    // Real responses carry what the document promises.
    fake_worker(outpost.bus.clone(), qa);
    let qa_app = outpost.app_id("QA").await;
    let mut calls: Vec<Call> = vec![];
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

    let statuses = answers_fit_the_document(&doc, rest, calls).await;
    assert_eq!(statuses, BTreeSet::from([200, 400, 404, 409]), "successes and errors were both checked");
    outpost.stop().await;
}

#[tokio::test]
async fn the_system_user_role_and_audit_endpoints_answer_as_documented() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    let doc = rest.ok("/rest/openapi.json").await;
    fake_worker(outpost.bus.clone(), qa);

    // Maps are checked value by value: a service snapshot of the wrong shape fails.
    let health_ref = json!({"$ref": "#/components/schemas/HealthBody"});
    let mut wrong = rest.ok("/rest/health").await;
    wrong["services"]["broker_api"][0]["pid"] = json!("one");
    assert!(check(&doc, &health_ref, &wrong, "health").unwrap_err().contains("services.broker_api[0].pid"));

    // A worker in a segment of its own, so brokers and health show one.
    let edge = rest.created("/rest/automation_proxy", &json!({"name": "edge"})).await["id"].as_i64().unwrap();
    outpost.broker.registry.record(Heartbeat {
        node_guid: "node-edge".into(),
        segment: "edge".into(),
        version: "0.1.0".into(),
        concurrency: 2,
        hostname: "edge-host".into(),
        unix_ms: now_ms(),
        started_unix_ms: now_ms() - 1000,
        ..Default::default()
    });
    assert_eq!(rest.ok(&format!("/rest/automation_proxy/{edge}")).await["workers"][0]["node_guid"], "node-edge");
    assert_eq!(rest.ok("/rest/health").await["status"]["node-edge"], "running");

    let qa_app = outpost.app_id("QA").await;
    let asset = outpost.asset(json!({"name": "probe", "app": qa_app})).await;
    let container = outpost.container("audited").await;
    let user = rest.created("/rest/ph_user", &json!({"username": "doc", "password": "doc-password"})).await["id"]
        .as_i64()
        .unwrap();
    let token =
        rest.created(&format!("/rest/ph_user/{user}/token"), &json!({"label": "one"})).await["id"].as_i64().unwrap();
    let role = rest.created("/rest/role", &json!({"name": "Auditor", "permissions": ["audit:view"]})).await["id"]
        .as_i64()
        .unwrap();

    let mut calls: Vec<Call> = vec![];
    let get = |path: String| -> Call { ("get", path, None) };
    let post = |path: String, body: Value| -> Call { ("post", path, Some(body)) };
    let delete = |path: String| -> Call { ("delete", path, None) };
    // Automation brokers.
    calls.push(get("/rest/automation_proxy".into()));
    calls.push(get(format!("/rest/automation_proxy/{edge}")));
    calls.push(get("/rest/automation_proxy/999999".into()));
    calls.push(post("/rest/automation_proxy".into(), json!({"name": "edge"})));
    calls.push(post("/rest/automation_proxy".into(), json!({"name": "default"})));
    // System information, settings, connectivity tests, widgets.
    calls.push(get("/rest/system_info".into()));
    calls.push(get("/rest/system_settings".into()));
    calls.push(post("/rest/system_settings".into(), json!({"time_zone": "Europe/Paris"})));
    calls.push(post("/rest/system_settings".into(), json!({"time_zone": "../x"})));
    calls.push(get("/rest/license".into()));
    calls.push(get("/rest/health".into()));
    calls.push(post(format!("/rest/asset/{asset}/test"), json!({})));
    calls.push(post(format!("/rest/asset/{asset}"), json!({"test_connectivity": true})));
    calls.push(post("/rest/asset/999999/test".into(), json!({})));
    calls.push(get("/rest/app_status".into()));
    calls.push(get("/rest/app_status?pretty&page_size=5".into()));
    calls.push(get("/rest/widget_data".into()));
    calls.push(get("/rest/widget_data/top_playbooks_actions".into()));
    calls.push(get("/rest/widget_data/playbooks_actions_stats?label=x".into()));
    calls.push(get("/rest/widget_data/container_stats".into()));
    calls.push(get("/rest/widget_data/nonsense".into()));
    calls.push(get("/rest/widget_data?start_time=2017-01-01".into()));
    // Users and tokens.
    calls.push(get("/rest/ph_user".into()));
    calls.push(get(format!("/rest/ph_user/{user}")));
    calls.push(get("/rest/ph_user/999999".into()));
    calls.push(post(
        "/rest/ph_user".into(),
        json!({"username": "doc-2", "password": "doc-password", "roles": ["Observer"]}),
    ));
    calls.push(post("/rest/ph_user".into(), json!({"username": "doc", "password": "doc-password"})));
    calls.push(post(format!("/rest/ph_user/{user}"), json!({"first_name": "Doc", "roles": [role]})));
    calls.push(post(format!("/rest/ph_user/{user}/token"), json!({"label": "ci", "expires_in_days": 30})));
    calls.push(get(format!("/rest/ph_user/{user}/token")));
    calls.push(delete(format!("/rest/ph_user/{user}/token/{token}")));
    calls.push(delete(format!("/rest/ph_user/{user}/token/999999")));
    calls.push(delete(format!("/rest/ph_user/{user}/token")));
    // Roles.
    calls.push(get("/rest/role".into()));
    calls.push(get(format!("/rest/role/{role}")));
    calls.push(get("/rest/role/999999".into()));
    calls.push(post("/rest/role".into(), json!({"name": "Reader", "permissions": ["containers:view"]})));
    calls.push(post("/rest/role".into(), json!({"name": "Auditor"})));
    calls.push(post("/rest/role".into(), json!({"name": "Root", "permissions": ["root"]})));
    calls.push(post(format!("/rest/role/{role}"), json!({"description": "reads the audit trail"})));
    // Audit, json and csv, before the disabling below so they have records to show.
    calls.push(get("/rest/audit".into()));
    calls.push(get("/rest/audit?format=csv".into()));
    calls.push(get("/rest/audit?user=1&sort=asc&page=0&page_size=5".into()));
    calls.push(get("/rest/audit?usr=1".into()));
    calls.push(get("/rest/ph_user/1/audit".into()));
    calls.push(get(format!("/rest/user/{user}/audit?format=csv")));
    calls.push(get("/rest/ph_user/999999/audit".into()));
    calls.push(get(format!("/rest/role/{role}/audit")));
    calls.push(get(format!("/rest/container/{container}/audit?format=csv")));
    calls.push(get("/rest/playbook/1/audit".into()));
    calls.push(get("/rest/openapi.json".into()));
    // Disabling.
    calls.push(delete(format!("/rest/role/{role}")));
    calls.push(delete("/rest/role/1".into()));
    calls.push(delete(format!("/rest/ph_user/{user}")));
    calls.push(delete("/rest/ph_user/1".into()));

    let statuses = answers_fit_the_document(&doc, rest, calls).await;
    assert_eq!(statuses, BTreeSet::from([200, 400, 404, 409, 501]), "successes and errors were both checked");
    let records = rest.ok("/rest/audit").await;
    assert!(records.as_array().unwrap().len() > 10, "the audit checks saw records: {records}");

    // The middleware's own answers are documented too.
    let (status, body) = rest.anonymous().get("/rest/audit").await;
    assert_eq!(status, 401);
    check(
        &doc,
        &doc["paths"]["/rest/audit"]["get"]["responses"]["401"]["content"]["application/json"]["schema"],
        &body,
        "401",
    )
    .unwrap();
    let nobody =
        rest.created("/rest/ph_user", &json!({"username": "nobody", "password": "nobody-password"})).await["id"]
            .as_i64()
            .unwrap();
    let key =
        rest.created(&format!("/rest/ph_user/{nobody}/token"), &json!({})).await["key"].as_str().unwrap().to_string();
    let (status, body) = rest.with_token(&key).get("/rest/audit").await;
    assert_eq!(status, 403, "{body}");
    check(
        &doc,
        &doc["paths"]["/rest/audit"]["get"]["responses"]["403"]["content"]["application/json"]["schema"],
        &body,
        "403",
    )
    .unwrap();
    assert!(doc["paths"]["/rest/health"]["get"]["responses"]["403"].is_null(), "every signed-in user may read health");
    outpost.stop().await;
}
