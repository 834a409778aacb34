//! Every REST endpoint: the seeds' example requests verbatim (ids substituted), every
//! validation error, and the listing conventions on every collection.

use outpost_broker::catalog::bundle::MAX_BUNDLE_BYTES;
use outpost_proto::ErrorCode;
use serde_json::{Value, json};

use outpost_tests::apps;
use outpost_tests::broker::TestBroker;
use outpost_tests::bundle::{self, LOOKUP_APPID, lookup_bundle, lookup_manifest, tgz};
use outpost_tests::fake_worker::{NODE_GUID, Outcome, fake_worker, parameter, qa, take_tasks};
use outpost_tests::rest::{assert_soar_error, basic};

/// Every field seed 000 lists for an action run.
const ACTION_RUN_FIELDS: &[&str] = &[
    "action",
    "assign_time",
    "cancelled",
    "cb_fn",
    "close_time",
    "comment",
    "container",
    "create_time",
    "creator",
    "due_time",
    "exec_delay_secs",
    "exec_order",
    "handle",
    "id",
    "message",
    "name",
    "owner",
    "playbook",
    "playbook_run",
    "start_time",
    "status",
    "targets",
    "type",
    "update_time",
    "version",
];
/// Every field seed 000 lists for an app run in `/rest/action_run/<id>/app_runs`.
const APP_RUN_LIST_FIELDS: &[&str] = &[
    "id",
    "action",
    "action_run",
    "asset",
    "app",
    "app_name",
    "app_version",
    "container",
    "end_time",
    "exception_occured",
    "message",
    "playbook_run",
    "start_time",
    "status",
    "version",
];
/// What `/rest/app_run/<id>` adds.
const APP_RUN_DETAIL_FIELDS: &[&str] =
    &["extra_data", "result_summary", "result_data", "effective_user", "node_guid", "automation_broker"];
/// Every field of seed 004's container schema.
const CONTAINER_FIELDS: &[&str] = &[
    "id",
    "version",
    "label",
    "name",
    "source_data_identifier",
    "description",
    "status",
    "sensitivity",
    "severity",
    "create_time",
    "start_time",
    "end_time",
    "due_time",
    "close_time",
    "kill_chain",
    "owner",
    "hash",
    "tags",
    "asset_name",
    "artifact_update_time",
    "container_update_time",
    "ingest_app_id",
    "data",
    "artifact_count",
];

#[track_caller]
fn has_fields(value: &Value, fields: &[&str]) {
    for field in fields {
        assert!(value.get(*field).is_some(), "lacks '{field}': {value}");
    }
}

/// A whois-ish answer.
fn whois(task: &outpost_proto::v1::Task) -> Outcome {
    let parameter = parameter(task);
    match task.action.as_str() {
        "whois domain" => {
            let domain = parameter["domain"].as_str().unwrap_or_default().to_string();
            Outcome::success(
                &format!("Domain: {domain}"),
                vec![json!({"domain": domain, "registrar": "Example"})],
                json!({"domains": 1}),
            )
        }
        "file reputation" => {
            let hash = parameter["hash"].as_str().unwrap_or_default().to_string();
            Outcome::success(
                &format!("Hash {hash}: 0 positives"),
                vec![json!({"hash": hash, "positives": 0})],
                json!({"positives": 0}),
            )
        }
        _ => qa(task),
    }
}

#[tokio::test]
async fn seed_run_action_examples_work_verbatim() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    fake_worker(outpost.bus.clone(), whois);
    let whois_app = outpost.app_id("WHOIS RDAP").await;
    let reputation_app = outpost.app_id("Reputation").await;
    let container = outpost.container("seed").await;
    let whois_asset = outpost.asset(json!({"name": "whois", "app": whois_app})).await;
    outpost
        .asset(json!({"name": "my_reversinglabs_asset", "product_vendor": "VirusTotal", "product_name": "virustotal",
                      "configuration": {"apikey": "s3cret"}}))
        .await;

    // Seed 000, first example, as curl -d sends it (form content type); ids substituted.
    let body = format!(
        r#"{{
"action": "whois domain",
"container_id": {container},
"exec_delay_secs": 30,
"name": "test my action delay",
"targets": [
{{"app_id": {whois_app}, "assets": [{whois_asset}], "parameters": [{{"domain": "splunk.com"}}]}}
]
}}"#
    );
    let (status, answer) = rest.post_raw("/rest/action_run", &body).await;
    assert_eq!(status, 200, "{answer}");
    let delayed = answer["action_run_id"].as_i64().unwrap();
    assert_eq!(answer, json!({"action_run_id": delayed, "message": "New action queued.", "success": true}));
    let run = rest.ok(&format!("/rest/action_run/{delayed}")).await;
    has_fields(&run, ACTION_RUN_FIELDS);
    assert_eq!(run["status"], "pending", "held for exec_delay_secs: {run}");
    assert_eq!(run["exec_delay_secs"], 30);
    assert_eq!((run["close_time"].clone(), run["start_time"].clone()), (Value::Null, Value::Null));
    assert_eq!((run["playbook"].clone(), run["playbook_run"].clone()), (Value::Null, Value::Null));
    assert_eq!(
        (run["cb_fn"].as_str(), run["handle"].as_str(), run["exec_order"].as_i64()),
        (Some(""), Some(""), Some(0))
    );
    let created = chrono::DateTime::parse_from_rfc3339(run["create_time"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(run["due_time"].as_str().unwrap()).unwrap();
    assert_eq!((due - created).num_seconds(), 30, "due_time is when the delay ends");
    assert_eq!(
        run["targets"],
        json!([{"app_id": whois_app, "assets": [whois_asset], "parameters": [{"domain": "splunk.com"}]}])
    );
    assert_eq!(run["creator"], run["owner"]);
    assert!(run["creator"].is_i64());

    // Seed 000's cancel, with its success body; then its error body.
    let cancelled = rest.created(&format!("/rest/action_run/{delayed}"), &json!({"cancel": true})).await;
    assert_eq!(cancelled["cancelled"], true);
    assert!(cancelled["message"].as_str().unwrap().contains("1 parameter sets stopped"), "{cancelled}");
    let run = rest.ok(&format!("/rest/action_run/{delayed}")).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["cancelled"], "cancelled by admin");
    assert!(run["close_time"].is_string());
    assert_soar_error(
        &rest.post(&format!("/rest/action_run/{delayed}"), &json!({"cancel": true})).await,
        400,
        "already finished",
    );

    // Seed 000, second example: three hashes on an asset named, "type": "investigative".
    let answer = rest
        .created(
            "/rest/action_run",
            &json!({
                "action": "file reputation",
                "container_id": container,
                "name": "my action",
                "targets": [{
                    "assets": ["my_reversinglabs_asset"],
                    "parameters": [{"hash": "<hash 1>"}, {"hash": "<hash 2>"}, {"hash": "<hash 3>"}],
                    "app_id": reputation_app
                }],
                "type": "investigative"
            }),
        )
        .await;
    let id = answer["action_run_id"].as_i64().unwrap();
    let run = outpost.wait_action_run(id).await;
    has_fields(&run, ACTION_RUN_FIELDS);
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["message"], "3 actions succeeded");
    assert_eq!(run["type"], "investigative");
    assert_eq!(run["name"], "my action");
    assert!(run["start_time"].is_string() && run["close_time"].is_string());

    // Seed 000's GET /rest/action_run/<id>/app_runs.
    let app_runs = rest.ok(&format!("/rest/action_run/{id}/app_runs")).await;
    assert_eq!((app_runs["count"].as_u64(), app_runs["num_pages"].as_u64()), (Some(1), Some(1)));
    let listed = &app_runs["data"][0];
    has_fields(listed, APP_RUN_LIST_FIELDS);
    assert!(listed.get("result_data").is_none(), "result_data only with include_expensive");
    assert_eq!((listed["action"].as_str(), listed["app_name"].as_str()), (Some("file reputation"), Some("Reputation")));
    assert_eq!(listed["action_run"], id);

    // Seed 000's GET /rest/app_run/<id>: every field, meaningful.
    let app_run = rest.ok(&format!("/rest/app_run/{}", listed["id"])).await;
    has_fields(&app_run, APP_RUN_LIST_FIELDS);
    has_fields(&app_run, APP_RUN_DETAIL_FIELDS);
    assert_eq!(app_run["node_guid"], NODE_GUID);
    assert_eq!(app_run["automation_broker"], Value::Null);
    assert_eq!(app_run["effective_user"], run["creator"]);
    assert_eq!(app_run["exception_occured"], false);
    assert_eq!(app_run["extra_data"], json!([]));
    assert_eq!(app_run["result_summary"], json!({"total_objects": 3, "total_objects_successful": 3, "positives": 0}));
    assert_eq!(app_run["result_data"].as_array().unwrap().len(), 3);
    let first = &app_run["result_data"][0];
    assert_eq!(first["parameter"]["hash"], "<hash 1>");
    assert_eq!(first["parameter"]["context"]["artifact_id"], 0);
    assert_eq!(first["parameter"]["context"]["parent_action_run"], json!([]));
    assert!(uuid::Uuid::parse_str(first["parameter"]["context"]["guid"].as_str().unwrap()).is_ok());
    assert!(
        app_run["message"].as_str().unwrap().starts_with(
            "'my action' on asset 'my_reversinglabs_asset': 3 actions succeeded. (1)For Parameter: {\"context\":{\"artifact_id\":0,"
        ),
        "{app_run}"
    );

    // Seed 000's GET /rest/app_run/<id>/action_result?page=0&page_size=5, and a later page.
    let results = rest.ok(&format!("/rest/app_run/{}/action_result?page=0&page_size=5", listed["id"])).await;
    assert_eq!((results["count"].as_u64(), results["num_pages"].as_u64()), (Some(3), Some(1)));
    for field in ["data", "status", "message", "summary", "parameter"] {
        assert!(results["data"][0].get(field).is_some(), "action_result lacks {field}");
    }
    assert_eq!(results["data"][0]["data"], json!([{"hash": "<hash 1>", "positives": 0}]));
    let second = rest.ok(&format!("/rest/app_run/{}/action_result?page=1&page_size=2", listed["id"])).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"][0]["parameter"]["hash"], "<hash 3>");
    let failed_only = rest.ok(&format!("/rest/app_run/{}/action_result?_filter_status=\"failed\"", listed["id"])).await;
    assert_eq!(failed_only["count"], 0);

    // `/rest/app_run` with the filters SOAR clients use; app ids by GUID work too.
    let by_run = rest.ok(&format!("/rest/app_run?_filter_action_run={id}&include_expensive")).await;
    assert_eq!(by_run["count"], 1);
    assert_eq!(by_run["data"][0]["result_data"].as_array().unwrap().len(), 3);
    let failed = rest.ok("/rest/app_run?_filter_status=\"failed\"").await;
    assert_eq!(failed["count"], 1, "the cancelled run's app run: {failed}");
    let guid = outpost.appid("WHOIS RDAP").await;
    let by_guid = rest
        .created(
            "/rest/action_run",
            &json!({"action": "whois domain", "container_id": container,
                    "targets": [{"app_id": guid, "assets": ["WHOIS"], "parameters": [{"domain": "example.com"}]}]}),
        )
        .await;
    let run = outpost.wait_action_run(by_guid["action_run_id"].as_i64().unwrap()).await;
    assert_eq!(run["name"], "user initiated whois domain action");
    assert_eq!(run["type"], "investigate", "the manifest's type when none is given");
    outpost.stop().await;
}

#[tokio::test]
async fn run_action_validation_names_the_culprit() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    assert_eq!(rest.created("/rest/app", &json!({"app": lookup_bundle("1.0.0")})).await["success"], true);
    let lookup = outpost.app_id("Lookup").await;
    let qa = outpost.app_id("QA").await;
    let container = outpost.container("validation").await;
    let other_container = outpost.container("other").await;
    outpost.asset(json!({"name": "lookup", "app": lookup, "configuration": {"base_url": "https://x"}})).await;
    outpost.asset(json!({"name": "qa", "app": qa})).await;
    let artifact =
        rest.created("/rest/artifact", &json!({"container_id": other_container, "cef": {"a": 1}})).await["id"]
            .as_i64()
            .unwrap();

    let run = |targets: Value| json!({"action": "lookup", "container_id": container, "targets": targets});
    let post = |body: Value| async move { rest.post("/rest/action_run", &body).await };

    assert_soar_error(&rest.post_raw("/rest/action_run", "{\"action\": ").await, 400, "malformed JSON");
    assert_soar_error(&rest.post_raw("/rest/action_run", "").await, 400, "the request body is empty");
    assert_soar_error(&rest.post_raw("/rest/action_run", "[]").await, 400, "must be a JSON object, got a list");
    assert_soar_error(
        &post(json!({"action": "lookup", "container_id": "1", "targets": []})).await,
        400,
        "'container_id' must be an integer, got a string",
    );
    assert_soar_error(
        &post(json!({"action": ["lookup"], "container_id": 1, "targets": []})).await,
        400,
        "'action' must be a string, got a list",
    );
    assert_soar_error(
        &post(json!({"action": "lookup", "container_id": container, "targets": [], "exec_delay_secs": 1.5})).await,
        400,
        "'exec_delay_secs' must be an integer, got 1.5",
    );
    assert_soar_error(
        &post(json!({"action": "lookup", "container_id": container, "targets": [], "exec_delay_secs": -1})).await,
        400,
        "'exec_delay_secs' must be between 0 and",
    );
    assert_soar_error(
        &post(json!({"action": "lookup", "container_id": container, "targets": []})).await,
        400,
        "'targets' must hold at least one target",
    );
    assert_soar_error(&post(json!({"action": "lookup", "container_id": container, "targets": [{"app_id": lookup, "parameters": {"value": "x"}}]})).await, 400, "'parameters' must be a list, got an object");
    assert_soar_error(
        &post(
            json!({"action": "lookup", "container_id": 999_999, "targets": [{"app_id": lookup, "assets": ["lookup"]}]}),
        )
        .await,
        404,
        "container 999999 not found",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": 424_242, "assets": ["lookup"]}]))).await,
        404,
        "target 1: app '424242' not found",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": "00000000-0000-4000-8000-000000000000", "assets": ["lookup"]}]))).await,
        404,
        "app '00000000-0000-4000-8000-000000000000' not found",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["nope"], "parameters": [{"value": "x"}]}]))).await,
        404,
        "target 1: asset 'nope' not found",
    );
    assert_soar_error(&post(json!({"action": "explode", "container_id": container, "targets": [{"app_id": lookup, "assets": ["lookup"]}]})).await, 400, "app 'Lookup' has no action 'explode' (it has: test connectivity, lookup)");
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["qa"], "parameters": [{"value": "x"}]}]))).await,
        400,
        "asset 'qa' belongs to app 'QA', not 'Lookup'",
    );
    assert_soar_error(&post(run(json!([{"app_id": lookup}]))).await, 400, "target 1: give assets, parameters or both");
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": [], "parameters": []}]))).await,
        400,
        "give assets, parameters or both",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{}]}]))).await,
        400,
        "parameter set 1: action 'lookup': missing required field 'value'",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x"}, {"value": 7}]}])))
            .await,
        400,
        "parameter set 2: action 'lookup': field 'value' must be a string (data_type string), got a number",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x", "number": "5"}]}])))
            .await,
        400,
        "field 'number' must be a number (data_type numeric), got a string",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x", "blob": "slow"}]}])))
            .await,
        400,
        "field 'blob' is \"slow\", not one of \"fast\", \"full\"",
    );
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x", "colour": 1}]}])))
            .await,
        400,
        "has no field 'colour' (expected: value, number, blob)",
    );
    assert_soar_error(&post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x", "context": {"artifact_id": artifact}}]}]))).await, 404, &format!("artifact {artifact} not found in container {container}"));
    assert_soar_error(&post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x", "context": {"artifact_id": -2}}]}]))).await, 400, "'context.artifact_id' must be a non-negative integer");
    assert_soar_error(
        &post(run(json!([{"app_id": lookup, "assets": ["lookup"], "parameters": [{"value": "x"}], "priority": 1}])))
            .await,
        400,
        "targets[0]: unknown field 'priority'",
    );

    // A valid run: defaults applied, the context kept and completed, one guid per set.
    let own_artifact = rest
        .created("/rest/artifact", &json!({"container_id": container, "cef": {"sourceAddress": "1.2.3.4"}}))
        .await["id"]
        .as_i64()
        .unwrap();
    let mut tasks = take_tasks(outpost.bus.clone()).await;
    rest.created(
        "/rest/action_run",
        &run(json!([{"app_id": LOOKUP_APPID, "parameters": [{"value": "a", "context": {"artifact_id": own_artifact, "parent_action_run": [7]}}, {"value": "b", "blob": "full"}]}])),
    )
    .await;
    let (first, second) = (tasks.recv().await.unwrap(), tasks.recv().await.unwrap());
    let (first, second) = (parameter(&first), parameter(&second));
    assert_eq!(
        (first["value"].as_str(), first["number"].as_i64(), first["blob"].as_str()),
        (Some("a"), Some(5), Some("fast"))
    );
    assert_eq!(first["context"]["artifact_id"], own_artifact);
    assert_eq!(first["context"]["parent_action_run"], json!([7]));
    assert_eq!(second["blob"], "full");
    assert_ne!(first["context"]["guid"], second["context"]["guid"]);
    outpost.stop().await;
}

#[tokio::test]
async fn listing_conventions_hold_on_every_collection() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    fake_worker(outpost.bus.clone(), qa);
    let qa_app = outpost.app_id("QA").await;
    outpost.asset(json!({"name": "qa", "app": qa_app})).await;
    let mut containers = vec![];
    for i in 0..12 {
        containers.push(outpost.container(&format!("case {i:02}")).await);
    }
    let mut runs = vec![];
    for (i, (action, parameters)) in
        [("echo", json!({"value": "v"})), ("fail", json!({"message": "no"})), ("echo", json!({"index": 2}))]
            .iter()
            .enumerate()
    {
        let answer = rest
            .created(
                "/rest/action_run",
                &json!({"action": action, "container_id": containers[i], "targets": [{"app_id": qa_app, "assets": ["qa"], "parameters": [parameters]}]}),
            )
            .await;
        runs.push(answer["action_run_id"].as_i64().unwrap());
    }
    assert_soar_error(&rest.post("/rest/action_run", &json!({"action": "echo", "container_id": containers[0], "targets": [{"app_id": qa_app, "assets": ["qa"], "parameters": [{"message": "no"}]}]})).await, 400, "has no field 'message'");
    for id in &runs {
        outpost.wait_action_run(*id).await;
    }
    rest.created("/rest/artifact", &json!({"container_id": containers[0], "name": "a"})).await;

    // The envelope and paging on every collection, nested ones included.
    for path in [
        "/rest/action_run".to_string(),
        "/rest/app_run".into(),
        "/rest/app".into(),
        "/rest/asset".into(),
        "/rest/container".into(),
        "/rest/artifact".into(),
        format!("/rest/action_run/{}/app_runs", runs[0]),
        format!("/rest/container/{}/artifacts", containers[0]),
    ] {
        let page = rest.ok(&path).await;
        let count = page["count"].as_u64().unwrap_or_else(|| panic!("{path}: {page}"));
        assert_eq!(page["num_pages"].as_u64().unwrap(), count.div_ceil(10), "{path}");
        assert_eq!(page["data"].as_array().unwrap().len() as u64, count.min(10), "{path}");
        let all = rest.ok(&format!("{path}?page_size=0")).await;
        assert_eq!(
            (all["data"].as_array().unwrap().len() as u64, all["num_pages"].as_u64().unwrap()),
            (count, u64::from(count > 0)),
            "{path}"
        );
        let beyond = rest.ok(&format!("{path}?page=50&page_size=3")).await;
        assert_eq!(
            (beyond["count"].as_u64(), beyond["data"].as_array().map(Vec::len)),
            (Some(count), Some(0)),
            "{path}"
        );
        assert_soar_error(
            &rest.get(&format!("{path}?page=-1")).await,
            400,
            "'page' must be a non-negative integer, got '-1'",
        );
        assert_soar_error(
            &rest.get(&format!("{path}?page_size=many")).await,
            400,
            "'page_size' must be a non-negative integer, got 'many'",
        );
        assert_soar_error(&rest.get(&format!("{path}?page_size=1001")).await, 400, "'page_size' is at most 1000");
        assert_soar_error(&rest.get(&format!("{path}?_filter_colour=1")).await, 400, "(filterable: ");
        assert_soar_error(&rest.get(&format!("{path}?sort=colour")).await, 400, "(sortable: ");
        assert_soar_error(&rest.get(&format!("{path}?order=up")).await, 400, "'order' must be asc or desc, got 'up'");
        let max = rest.ok(&format!("{path}?page_size=1000&sort=id&order=desc")).await;
        assert_eq!(max["data"].as_array().unwrap().len() as u64, count, "{path}");
    }

    // Paging a collection of 12: default 10, pages never overlap, sorting by name.
    let first = rest.ok("/rest/container?page_size=5&sort=name&order=desc").await;
    assert_eq!((first["count"].as_u64(), first["num_pages"].as_u64()), (Some(12), Some(3)));
    assert_eq!(first["data"][0]["name"], "case 11");
    let last = rest.ok("/rest/container?page=2&page_size=5&sort=name&order=desc").await;
    let names: Vec<&str> = last["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["case 01", "case 00"]);
    assert_eq!(rest.ok("/rest/container").await["data"].as_array().unwrap().len(), 10);

    // Filters: quoted strings, numbers, booleans, null and each lookup.
    let count = |path: String| async move { rest.ok(&path).await["count"].as_u64().unwrap() };
    assert_eq!(count("/rest/action_run?_filter_action=\"echo\"".into()).await, 2);
    assert_eq!(count("/rest/action_run?_filter_action='fail'&_filter_status=\"failed\"".into()).await, 1);
    assert_eq!(count(format!("/rest/action_run?_filter_id={}", runs[1])).await, 1);
    assert_eq!(count(format!("/rest/action_run?_filter_id__in=[{},{}]", runs[0], runs[2])).await, 2);
    assert_eq!(count(format!("/rest/action_run?_filter_id__in={},{}", runs[0], runs[1])).await, 2);
    assert_eq!(count("/rest/action_run?_filter_status__in=[\"success\",\"failed\"]".into()).await, 3);
    assert_eq!(count("/rest/action_run?_filter_name__icontains=\"ECHO\"".into()).await, 2);
    assert_eq!(count(format!("/rest/action_run?_filter_id__gt={}", runs[0])).await, 2);
    assert_eq!(count(format!("/rest/action_run?_filter_id__gte={}", runs[0])).await, 3);
    assert_eq!(count(format!("/rest/action_run?_filter_id__lt={}", runs[2])).await, 2);
    assert_eq!(count(format!("/rest/action_run?_filter_id__lte={}", runs[0])).await, 1);
    assert_eq!(count("/rest/action_run?_filter_close_time__isnull=false".into()).await, 3);
    assert_eq!(count("/rest/action_run?_filter_start_time__isnull=true".into()).await, 0);
    assert_eq!(count("/rest/action_run?_filter_create_time__gt=\"2020-01-01T00:00:00Z\"".into()).await, 3);
    assert_eq!(count("/rest/app_run?_filter_exception_occured=false".into()).await, 3);
    assert_eq!(count("/rest/app_run?_filter_automation_broker=null".into()).await, 3);
    assert_eq!(count(format!("/rest/app_run?_filter_container={}", containers[1])).await, 1);
    assert_eq!(count("/rest/container?_filter_name__icontains=%22CASE%201%22".into()).await, 2);
    assert_eq!(count("/rest/container?_filter_artifact_count__gte=1".into()).await, 1);
    assert_eq!(count("/rest/app?_filter_name=\"QA\"".into()).await, 1);
    assert_eq!(count("/rest/asset?_filter_name__in=('qa',)".into()).await, 1);
    assert_soar_error(
        &rest.get("/rest/action_run?_filter_id=\"seven\"").await,
        400,
        "'_filter_id': expected an integer, got \"seven\"",
    );
    assert_soar_error(&rest.get("/rest/action_run?_filter_name__like=x").await, 400, "unknown lookup '__like'");
    assert_soar_error(
        &rest.get("/rest/action_run?_filter_colour=1").await,
        400,
        "cannot filter action runs on 'colour' (filterable: id, action, name, type, container, status,",
    );
    // Hostile values are values: nothing matches and nothing breaks.
    for hostile in ["%22x%27%20OR%20%271%27=%271%22", "%22%27;%20DROP%20TABLE%20action_runs;--%22", "1%20OR%201=1"] {
        let (status, body) = rest.get(&format!("/rest/action_run?_filter_name={hostile}")).await;
        assert_eq!((status, body["count"].as_u64()), (200, Some(0)), "{hostile}: {body}");
    }
    let (status, body) = rest.get("/rest/action_run?_filter_id=1%20OR%201=1").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(count("/rest/action_run".into()).await, 3, "the table is intact");

    // `pretty` names what ids refer to; without it, no _pretty_ field at all.
    let pretty = rest.ok(&format!("/rest/app_run?pretty&_filter_action_run={}", runs[0])).await;
    let app_run = &pretty["data"][0];
    assert_eq!(app_run["_pretty_asset"], "qa");
    assert_eq!(app_run["_pretty_app"], "QA");
    assert_eq!(app_run["_pretty_container"], "case 00");
    assert_eq!(app_run["_pretty_action_run"], "user initiated echo action");
    assert_eq!(app_run["_pretty_effective_user"], "admin");
    assert_eq!(app_run["_pretty_automation_broker"], Value::Null);
    let plain = rest.ok("/rest/app_run").await;
    assert!(
        plain["data"].as_array().unwrap().iter().all(|r| r
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("_pretty_")))
    );
    let run = rest.ok(&format!("/rest/action_run/{}?pretty", runs[0])).await;
    assert_eq!(
        (run["_pretty_container"].as_str(), run["_pretty_creator"].as_str(), run["_pretty_owner"].as_str()),
        (Some("case 00"), Some("admin"), Some("admin"))
    );
    let asset = &rest.ok("/rest/asset?pretty=true").await["data"][0];
    assert_eq!(asset["_pretty_app"], "QA");
    let artifact = &rest.ok("/rest/artifact?pretty").await["data"][0];
    assert_eq!(artifact["_pretty_container"], "case 00");
    assert!(rest.ok("/rest/asset?pretty=false").await["data"][0].get("_pretty_app").is_none());

    // include_expensive adds result_data to lists.
    let expensive = rest.ok(&format!("/rest/action_run/{}/app_runs?include_expensive", runs[0])).await;
    assert_eq!(expensive["data"][0]["result_data"][0]["message"], "echoed");
    outpost.stop().await;
}

#[tokio::test]
async fn assets_are_validated_and_secrets_never_shown() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    rest.created("/rest/app", &json!({"app": lookup_bundle("1.0.0")})).await;
    let lookup = outpost.app_id("Lookup").await;
    let qa = outpost.app_id("QA").await;

    let id = outpost.asset(json!({"name": "  Lookup ONE ", "app": LOOKUP_APPID, "configuration": {"base_url": "https://x", "token": "s3cret"}, "tags": ["t"]})).await;
    let asset = rest.ok(&format!("/rest/asset/{id}")).await;
    assert_eq!(asset["name"], "lookup one", "names are trimmed and lowercased");
    assert_eq!(
        asset["configuration"],
        json!({"base_url": "https://x", "token": "********", "retries": 3}),
        "defaults filled, secret masked"
    );
    assert_eq!((asset["app"].as_i64(), asset["app_name"].as_str()), (Some(lookup), Some("Lookup")));
    let stored = || async { outpost.broker.store.get_asset(id).await.unwrap().unwrap().configuration };
    assert_eq!(stored().await["token"], "s3cret");

    // Updating: the mask and leaving the secret out both keep it; a new one replaces it.
    rest.created(&format!("/rest/asset/{id}"), &json!({"configuration": {"token": "********", "retries": 5}})).await;
    assert_eq!((stored().await["token"].as_str(), stored().await["retries"].as_i64()), (Some("s3cret"), Some(5)));
    rest.created(&format!("/rest/asset/{id}"), &json!({"description": "d"})).await;
    assert_eq!(stored().await["token"], "s3cret");
    rest.created(&format!("/rest/asset/{id}"), &json!({"configuration": {"token": "n3w"}})).await;
    assert_eq!(stored().await["token"], "n3w");
    rest.created(&format!("/rest/asset/{id}"), &json!({"configuration": {"token": null, "retries": null}})).await;
    assert_eq!(
        Value::Object(stored().await),
        json!({"base_url": "https://x", "retries": 3}),
        "null removes; defaults return"
    );
    let after = rest.ok(&format!("/rest/asset/{id}")).await;
    assert_eq!((after["description"].as_str(), after["tags"].clone()), (Some("d"), json!(["t"])));

    // Segments: must exist; null unbinds.
    assert_soar_error(
        &rest.post(&format!("/rest/asset/{id}"), &json!({"automation_broker_id": 77})).await,
        404,
        "automation broker 77 not found",
    );
    let segment = outpost.broker.store.create_segment("dmz").await.unwrap();
    rest.created(&format!("/rest/asset/{id}"), &json!({"automation_broker_id": segment.id})).await;
    assert_eq!(rest.ok(&format!("/rest/asset/{id}?pretty")).await["_pretty_automation_broker"], "dmz");
    rest.created(&format!("/rest/asset/{id}"), &json!({"automation_broker_id": null})).await;
    assert_eq!(rest.ok(&format!("/rest/asset/{id}")).await["automation_broker_id"], Value::Null);

    // Every refusal names the culprit.
    let create = |body: Value| async move { rest.post("/rest/asset", &body).await };
    assert_soar_error(
        &create(json!({"name": "LOOKUP one", "app": lookup, "configuration": {"base_url": "y"}})).await,
        409,
        "an asset named 'lookup one' exists already",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": lookup})).await,
        400,
        "configuration: missing required field 'base_url'",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": lookup, "configuration": {"base_url": 5}})).await,
        400,
        "field 'base_url' must be a string (data_type string), got a number",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": lookup, "configuration": {"base_url": "y", "retries": "3"}})).await,
        400,
        "field 'retries' must be a number",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": lookup, "configuration": {"base_url": "y", "proxy": "z"}})).await,
        400,
        "configuration has no field 'proxy' (expected: base_url, token, retries)",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": lookup, "configuration": {"base_url": "y", "token": "********"}})).await,
        400,
        "holds the mask",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": lookup, "configuration": "base_url=y"})).await,
        400,
        "'configuration' must be an object, got a string",
    );
    assert_soar_error(&create(json!({"app": lookup})).await, 400, "'name' is required");
    assert_soar_error(&create(json!({"name": "123", "app": qa})).await, 400, "'name' cannot be a number");
    assert_soar_error(&create(json!({"name": "x"})).await, 400, "name the asset's app");
    assert_soar_error(&create(json!({"name": "x", "app": 999})).await, 404, "app '999' not found");
    assert_soar_error(
        &create(json!({"name": "x", "product_vendor": "Nobody", "product_name": "Nothing"})).await,
        404,
        "no app with product_vendor 'Nobody'",
    );
    assert_soar_error(
        &create(json!({"name": "x", "product_vendor": "Outpost"})).await,
        400,
        "'product_vendor' needs 'product_name'",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": qa, "tags": [1]})).await,
        400,
        "'tags[0]' must be a string, got a number",
    );
    assert_soar_error(
        &create(json!({"name": "x", "app": qa, "automation_broker_id": "dmz"})).await,
        400,
        "'automation_broker_id' must be an integer id",
    );
    assert_soar_error(&create(json!({"name": "x", "app": qa, "colour": 1})).await, 400, "unknown field 'colour'");
    assert_soar_error(
        &rest.post(&format!("/rest/asset/{id}"), &json!({"app": qa})).await,
        400,
        "an asset's app cannot change: asset 'lookup one' belongs to app 'Lookup', not 'QA'",
    );
    assert_soar_error(&rest.post("/rest/asset/999", &json!({"description": "x"})).await, 404, "asset 999 not found");

    // Renaming frees the name; deleting works until app runs refer to the asset.
    let qa_asset = outpost.asset(json!({"name": "qa", "app": qa, "type": "information"})).await;
    rest.created(&format!("/rest/asset/{qa_asset}"), &json!({"name": "QA-2"})).await;
    assert_soar_error(&rest.post(&format!("/rest/asset/{id}"), &json!({"name": "qa-2"})).await, 409, "exists already");
    let container = outpost.container("c").await;
    rest.created(
        "/rest/action_run",
        &json!({"action": "echo", "container_id": container, "targets": [{"app_id": qa, "assets": ["qa-2"]}]}),
    )
    .await;
    assert_soar_error(
        &rest.delete(&format!("/rest/asset/{qa_asset}")).await,
        400,
        "asset 'qa-2' is kept: app runs refer to it",
    );
    let deleted = rest.delete(&format!("/rest/asset/{id}")).await;
    assert_eq!(deleted, (200, json!({"success": true, "id": id, "message": "asset 'lookup one' deleted"})));
    assert_soar_error(&rest.get(&format!("/rest/asset/{id}")).await, 404, &format!("asset {id} not found"));
    assert_soar_error(&rest.delete(&format!("/rest/asset/{id}")).await, 404, "not found");
    outpost.stop().await;
}

#[tokio::test]
async fn containers_follow_seed_004_and_count_artifacts() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    // Seed 004's example, its writable fields as given.
    let id = rest
        .created(
            "/rest/container",
            &json!({
                "label": "incident",
                "name": "my_test_incident",
                "source_data_identifier": "64c2a9a4-d6ef-4da8-ad6f-982d785f14b2",
                "description": "this is my test incident",
                "status": "open",
                "sensitivity": "amber",
                "severity": "medium",
                "due_time": "2016-01-16 19:18:00+00",
                "end_time": "",
                "kill_chain": "",
                "tags": [""],
                "data": {}
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let container = rest.ok(&format!("/rest/container/{id}")).await;
    has_fields(&container, CONTAINER_FIELDS);
    assert_eq!(container["due_time"], "2016-01-16T19:18:00.000000Z");
    assert_eq!((container["end_time"].as_str(), container["close_time"].as_str()), (Some(""), Some("")));
    assert_eq!((container["artifact_count"].as_i64(), container["artifact_update_time"].as_str()), (Some(0), Some("")));
    assert_eq!(container["source_data_identifier"], "64c2a9a4-d6ef-4da8-ad6f-982d785f14b2");
    assert_eq!(container["owner"], Value::Null);

    // Updates change what is given; closing sets close_time, reopening clears it.
    rest.created(&format!("/rest/container/{id}"), &json!({"status": "closed", "owner_id": 1, "severity": "High"}))
        .await;
    let closed = rest.ok(&format!("/rest/container/{id}?pretty")).await;
    assert_eq!((closed["status"].as_str(), closed["severity"].as_str()), (Some("closed"), Some("high")));
    assert!(closed["close_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!((closed["owner"].as_str(), closed["_pretty_owner"].as_str()), (Some("admin"), Some("admin")));
    assert_eq!(closed["version"], 2);
    assert_eq!(closed["name"], "my_test_incident", "fields left out keep their values");
    rest.created(&format!("/rest/container/{id}"), &json!({"status": "open", "due_time": null, "owner_id": null}))
        .await;
    let reopened = rest.ok(&format!("/rest/container/{id}")).await;
    assert_eq!((reopened["close_time"].as_str(), reopened["due_time"].as_str()), (Some(""), Some("")));
    assert_eq!(reopened["owner_id"], Value::Null);

    let update = |body: Value| async move { rest.post(&format!("/rest/container/{id}"), &body).await };
    assert_soar_error(
        &update(json!({"status": "done"})).await,
        400,
        "'status' must be one of new, open, closed, got 'done'",
    );
    assert_soar_error(
        &update(json!({"sensitivity": "pink"})).await,
        400,
        "'sensitivity' must be one of red, amber, green, white",
    );
    assert_soar_error(&update(json!({"owner_id": 99})).await, 404, "owner (user) 99 not found");
    assert_soar_error(&update(json!({"asset_id": 99})).await, 404, "asset 99 not found");
    assert_soar_error(
        &update(json!({"due_time": "soon"})).await,
        400,
        "'due_time' must be an ISO 8601 date-time, got 'soon'",
    );
    assert_soar_error(&update(json!({"name": ""})).await, 400, "'name' is required");
    assert_soar_error(&update(json!({"data": []})).await, 400, "'data' must be an object, got a list");
    assert_soar_error(
        &rest.post("/rest/container/987654", &json!({"name": "x"})).await,
        404,
        "container 987654 not found",
    );
    assert_soar_error(&rest.post("/rest/container", &json!({"label": "x"})).await, 400, "'name' is required");

    // Artifacts: counted in their container; one per source_data_identifier.
    let artifact = rest
        .created(
            "/rest/artifact",
            &json!({"container_id": id, "name": "Source IP", "label": "Event", "cef": {"sourceAddress": "1.2.3.4"},
                    "cef_types": {"sourceAddress": ["ip"]}, "severity": "low", "source_data_identifier": "evt-1"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let counted = rest.ok(&format!("/rest/container/{id}")).await;
    assert_eq!(counted["artifact_count"], 1);
    assert!(counted["artifact_update_time"].as_str().unwrap().ends_with('Z'));
    let read = rest.ok(&format!("/rest/artifact/{artifact}")).await;
    assert_eq!(
        (read["container"].as_i64(), read["label"].as_str(), read["cef"]["sourceAddress"].as_str()),
        (Some(id), Some("event"), Some("1.2.3.4"))
    );
    let duplicate = rest.post("/rest/artifact", &json!({"container_id": id, "source_data_identifier": "evt-1"})).await;
    assert_eq!(
        duplicate,
        (409, json!({"failed": true, "message": "artifact already exists", "existing_artifact_id": artifact}))
    );
    assert_soar_error(&rest.post("/rest/artifact", &json!({"cef": {}})).await, 400, "'container_id' is required");
    assert_soar_error(
        &rest.post("/rest/artifact", &json!({"container_id": 424242})).await,
        404,
        "container 424242 not found",
    );
    assert_soar_error(
        &rest.post("/rest/artifact", &json!({"container_id": id, "cef": "sourceAddress=1"})).await,
        400,
        "'cef' must be an object, got a string",
    );
    assert_soar_error(&rest.get("/rest/artifact/424242").await, 404, "artifact 424242 not found");
    assert_eq!(rest.ok(&format!("/rest/container/{id}/artifacts")).await["count"], 1);
    assert_eq!(rest.ok(&format!("/rest/artifact?_filter_container={id}&_filter_severity=\"low\"")).await["count"], 1);
    assert_soar_error(&rest.get("/rest/container/424242/artifacts").await, 404, "container 424242 not found");
    assert_eq!(rest.ok("/rest/container?_filter_status=\"open\"&_filter_label=\"incident\"").await["count"], 1);
    outpost.stop().await;
}

#[tokio::test]
async fn apps_install_upgrade_and_refuse_bad_bundles() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    let installed = rest.created("/rest/app", &json!({"app": lookup_bundle("1.0.0")})).await;
    assert_eq!(installed["message"], "app 'Lookup' 1.0.0 installed");
    let id = installed["id"].as_i64().unwrap();
    assert_eq!(
        rest.created("/rest/app", &json!({"app": lookup_bundle("1.0.0")})).await["message"],
        "app 'Lookup' 1.0.0 was installed already"
    );
    let upgraded = rest.created("/rest/app", &json!({"app": lookup_bundle("1.1.0")})).await;
    assert_eq!(
        (upgraded["id"].as_i64(), upgraded["message"].as_str()),
        (Some(id), Some("app 'Lookup' upgraded to 1.1.0"))
    );
    rest.created("/rest/app", &json!({"app": lookup_bundle("1.2.0")})).await;
    let app = rest.ok(&format!("/rest/app/{id}")).await;
    assert_eq!(app["known_versions"], json!(["1.0.0", "1.1.0"]));
    assert_eq!((app["app_version"].as_str(), app["appid"].as_str()), (Some("1.2.0"), Some(LOOKUP_APPID)));
    assert_eq!(app["product_vendor"], "Outpost Tests");
    assert_eq!(app["actions"][1]["action"], "lookup");
    assert_eq!(rest.ok("/rest/app?_filter_product_name=\"Lookup\"").await["data"][0]["id"], id);

    let b64 = bundle::encode;
    let install = |bundle: String| async move { rest.post("/rest/app", &json!({"app": bundle})).await };
    let manifest = lookup_manifest("2.0.0").to_string();
    let component = apps::component("qa");
    assert_soar_error(&install("not base64!".into()).await, 400, "'app' must be a base64-encoded bundle");
    assert_soar_error(&install(b64(b"plain text")).await, 400, "invalid app bundle: not a gzip-compressed tar archive");
    assert_soar_error(
        &install(b64(&tgz(&[("../lookup.json", manifest.as_bytes()), ("lookup.wasm", &component)]))).await,
        400,
        "entry '../lookup.json' escapes the bundle",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("/etc/lookup.json", manifest.as_bytes())]))).await,
        400,
        "escapes the bundle",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.wasm", &component)]))).await,
        400,
        "no manifest (<app>.json) at the bundle's root",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", b"{\"appid\": \"x\"}"), ("lookup.wasm", &component)]))).await,
        400,
        "lookup.json: invalid manifest",
    );
    let bad_type = manifest.replace("\"investigate\"", "\"explode\"");
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", bad_type.as_bytes()), ("lookup.wasm", &component)]))).await,
        400,
        "has type 'explode', expected one of",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", manifest.as_bytes())]))).await,
        400,
        "no component (.wasm) at the bundle's root",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", b"\0asm\x01\0\0\0")]))).await,
        400,
        "is a core module, not a component",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", b"MZ\x90\0")]))).await,
        400,
        "the .wasm file is not WebAssembly",
    );
    let mut truncated = component.clone();
    truncated.truncate(component.len() / 2);
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", &truncated)]))).await,
        400,
        "invalid component",
    );
    assert_soar_error(
        &install(b64(&tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", b"\0asm\x0d\0\x01\0")]))).await,
        400,
        "does not export outpost:connector/handler@0.1.0",
    );
    assert_soar_error(&rest.post("/rest/app", &json!({})).await, 400, "'app' is required");
    assert_soar_error(&rest.post("/rest/app", &json!({"app": 5})).await, 400, "'app' must be a string, got a number");
    assert_soar_error(&rest.get("/rest/app/0").await, 400, "'0' is not a valid app id");
    assert_soar_error(&rest.get("/rest/app/777").await, 404, "app 777 not found");
    // Oversized bundles: refused before any unpacking, with 413's code.
    let oversized = outpost
        .broker
        .install_app(&outpost_broker::access::audit::Actor::system(), &vec![0x1f; MAX_BUNDLE_BYTES + 1])
        .await
        .unwrap_err();
    assert_eq!(oversized.code, ErrorCode::PayloadTooLarge);
    assert!(oversized.message.contains("67108865 bytes, more than the 64 MiB allowed"), "{}", oversized.message);
    outpost.stop().await;
}

#[tokio::test]
async fn errors_keep_soar_shape_everywhere() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    assert_soar_error(&rest.anonymous().get("/rest/action_run").await, 401, "authentication required");
    assert_soar_error(&rest.anonymous().get("/rest/openapi.json").await, 401, "authentication required");
    assert_soar_error(
        &rest.with_token("forged").get("/rest/app").await,
        401,
        "invalid, expired or revoked ph-auth-token",
    );
    let token = outpost_broker::access::auth::new_token();
    outpost
        .broker
        .store
        .add_token_expiring(1, &outpost_broker::access::auth::token_hash(&token), "tests", None)
        .await
        .unwrap();
    assert_eq!(rest.with_token(&token).get("/rest/app").await.0, 200);
    assert_soar_error(&rest.get("/rest/no_such_thing").await, 404, "no endpoint GET /rest/no_such_thing");
    assert_soar_error(
        &rest.send(rest.request(reqwest::Method::PUT, "/rest/action_run")).await,
        405,
        "PUT is not allowed on /rest/action_run",
    );
    assert_soar_error(&rest.get("/rest/action_run/abc").await, 400, "'abc' is not a valid action run id");
    assert_soar_error(&rest.get("/rest/action_run/987654").await, 404, "action run 987654 not found");
    assert_soar_error(&rest.get("/rest/action_run/987654/app_runs").await, 404, "action run 987654 not found");
    assert_soar_error(
        &rest.post("/rest/action_run/987654", &json!({"cancel": true})).await,
        404,
        "action run 987654 not found",
    );
    assert_soar_error(
        &rest.post("/rest/action_run/1", &json!({"cancel": false})).await,
        400,
        "only {\"cancel\": true}",
    );
    assert_soar_error(
        &rest.post("/rest/action_run/1", &json!({"cancel": "yes"})).await,
        400,
        "'cancel' must be true or false",
    );
    assert_soar_error(&rest.get("/rest/app_run/987654").await, 404, "app run 987654 not found");
    assert_soar_error(&rest.get("/rest/app_run/987654/action_result").await, 404, "app run 987654 not found");
    assert_soar_error(&rest.get("/rest/container/987654").await, 404, "container 987654 not found");
    assert_soar_error(
        &rest.get("/rest/action_run?page=%ZZ").await,
        400,
        "'page' must be a non-negative integer, got '%ZZ'",
    );

    // A body larger than the limit is refused in SOAR's shape, before it is read.
    let limit = outpost_broker::rest::MAX_BODY_BYTES;
    let request = axum::http::Request::post("/rest/app")
        .header("authorization", basic("admin", outpost_tests::PASSWORD))
        .body(axum::body::Body::from(vec![b' '; limit + 1]))
        .unwrap();
    let response =
        tower::ServiceExt::oneshot(outpost_broker::rest::router(outpost.broker.clone()), request).await.unwrap();
    assert_eq!(response.status(), 413);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["failed"], true);
    assert!(body["message"].as_str().unwrap().contains("the request body is larger than"), "{body}");
    outpost.stop().await;
}
