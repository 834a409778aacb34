//! `outpost up` as a real process, driven over HTTP with the seeds' requests and shapes.

use std::time::Duration;

use outpost_tests::{Outpost, assert_soar_error};
use serde_json::{Value, json};

fn geoip_app(rest: &outpost_tests::Rest) -> Value {
    let apps = rest.ok("/rest/app");
    apps["data"].as_array().unwrap().iter().find(|a| a["name"] == "GeoIP").cloned().expect("geoip installed by up")
}

#[test]
fn geolocate_three_addresses_end_to_end_with_seed_shapes() {
    let mut outpost = Outpost::up(&["--workers", "2"]);
    let rest = outpost.rest();

    let apps = rest.ok("/rest/app");
    assert!(apps["count"].as_u64().unwrap() >= 2, "{apps}");
    assert_eq!(apps["num_pages"], 1);
    let geoip = geoip_app(&rest);

    let container = rest.created("/rest/container", &json!({"name": "e2e", "label": "events"}));
    assert_eq!(container["success"], true);
    let container_id = container["id"].as_i64().unwrap();
    let asset = rest.created("/rest/asset", &json!({"name": "GeoIP-E2E", "app": geoip["id"], "configuration": {}}));
    let asset_id = asset["id"].as_i64().unwrap();
    assert_eq!(rest.ok(&format!("/rest/asset/{asset_id}"))["name"], "geoip-e2e", "asset names are lowercased");

    // Seed 000's request, ids substituted, asset by name.
    let answer = rest.created(
        "/rest/action_run",
        &json!({
            "action": "geolocate ip",
            "container_id": container_id,
            "name": "geolocate three",
            "targets": [{
                "app_id": geoip["appid"],
                "assets": ["geoip-e2e"],
                "parameters": [{"ip": "8.8.8.8"}, {"ip": "1.1.1.1"}, {"ip": "193.0.6.139"}]
            }],
            "type": "investigate"
        }),
    );
    assert_eq!(answer["message"], "New action queued.");
    assert_eq!(answer["success"], true);
    let id = answer["action_run_id"].as_i64().unwrap();

    let run = rest.wait_action_run(id, Duration::from_secs(60));
    for field in [
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
    ] {
        assert!(run.get(field).is_some(), "action run lacks '{field}': {run}");
    }
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["message"], "3 actions succeeded");
    assert_eq!(run["cancelled"], "");
    assert_eq!(run["container"], container_id);
    assert_eq!(run["type"], "investigate");
    assert!(run["close_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(run["targets"][0]["parameters"].as_array().unwrap().len(), 3);

    let app_runs = rest.ok(&format!("/rest/action_run/{id}/app_runs"));
    assert_eq!(app_runs["count"], 1);
    assert_eq!(app_runs["num_pages"], 1);
    let listed = &app_runs["data"][0];
    for field in [
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
    ] {
        assert!(listed.get(field).is_some(), "app run listing lacks '{field}': {listed}");
    }

    let app_run = rest.ok(&format!("/rest/app_run/{}", listed["id"]));
    for field in ["extra_data", "result_summary", "result_data", "effective_user", "node_guid", "automation_broker"] {
        assert!(app_run.get(field).is_some(), "app run lacks '{field}': {app_run}");
    }
    assert_eq!(app_run["status"], "success");
    assert_eq!(app_run["exception_occured"], false);
    assert_eq!(app_run["asset"], asset_id);
    assert_eq!(app_run["app_name"], "GeoIP");
    assert!(uuid::Uuid::parse_str(app_run["node_guid"].as_str().unwrap()).is_ok(), "{app_run}");
    assert_eq!(app_run["result_summary"]["total_objects"], 3);
    assert_eq!(app_run["result_summary"]["total_objects_successful"], 3);
    let results = app_run["result_data"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let google = &results[0];
    assert_eq!(google["status"], "success");
    assert_eq!(google["data"][0]["country_iso_code"], "US", "{google}");
    assert_eq!(google["data"][0]["country_name"], "United States");
    assert_eq!(google["data"][0]["continent_name"], "North America");
    assert_eq!(google["summary"]["country"], "United States");
    assert_eq!(google["message"], "Country: United States");
    assert_eq!(google["parameter"]["ip"], "8.8.8.8");
    let context = &google["parameter"]["context"];
    assert!(uuid::Uuid::parse_str(context["guid"].as_str().unwrap()).is_ok());
    assert_eq!(context["artifact_id"], 0);
    assert_eq!(context["parent_action_run"], json!([]));
    let message = app_run["message"].as_str().unwrap();
    assert!(
        message.starts_with("'geolocate three' on asset 'geoip-e2e': 3 actions succeeded. (1)For Parameter: {\"context\":{\"artifact_id\":0,\"guid\":\""),
        "{message}"
    );
    assert!(message.contains("\"ip\":\"8.8.8.8\"} Message: \"Country: United States\""), "{message}");

    let page = rest.ok(&format!("/rest/app_run/{}/action_result?page=1&page_size=2", listed["id"]));
    assert_eq!(page["count"], 3);
    assert_eq!(page["num_pages"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["parameter"]["ip"], "193.0.6.139");

    // The store survives a restart of `up`.
    let data_dir = outpost.data_dir.clone();
    let status = outpost.stop();
    assert!(status.success(), "outpost exited with {status}");
    let again = Outpost::spawn(&["up"], data_dir, None, &[]);
    let rest = again.rest();
    assert_eq!(rest.ok(&format!("/rest/action_run/{id}"))["message"], "3 actions succeeded");
    assert_eq!(rest.ok(&format!("/rest/container/{container_id}"))["name"], "e2e");
}

#[test]
fn failures_traps_and_bad_input_get_clear_answers() {
    let outpost = Outpost::up(&["--workers", "1"]);
    let rest = outpost.rest();
    let apps = rest.ok("/rest/app");
    let qa = apps["data"].as_array().unwrap().iter().find(|a| a["name"] == "QA").cloned().expect("qa installed");
    let container_id = rest.created("/rest/container", &json!({"name": "bad input"}))["id"].as_i64().unwrap();
    rest.created("/rest/asset", &json!({"name": "qa", "app": qa["id"]}));

    // A failing parameter set and a trapping one: the worker survives both.
    let run = |action: &str, parameters: Value| {
        let answer = rest.created(
            "/rest/action_run",
            &json!({"action": action, "container_id": container_id, "targets": [{"app_id": qa["id"], "assets": ["qa"], "parameters": parameters}]}),
        );
        rest.wait_action_run(answer["action_run_id"].as_i64().unwrap(), Duration::from_secs(60))
    };
    let failed = run("fail", json!([{"message": "told to fail"}]));
    assert_eq!(failed["status"], "failed");
    assert!(failed["message"].as_str().unwrap().contains("told to fail"), "{failed}");
    assert_eq!(failed["name"], "user initiated fail action");
    let crashed = run("crash", json!([{}]));
    assert_eq!(crashed["status"], "failed");
    let app_runs = rest.ok(&format!("/rest/action_run/{}/app_runs", crashed["id"]));
    assert_eq!(app_runs["data"][0]["exception_occured"], true, "{app_runs}");
    let echoed = run("echo", json!([{"value": "still alive"}]));
    assert_eq!(echoed["status"], "success", "the worker carries on after a trap");

    // Authentication.
    assert_soar_error(&rest.anonymous().get("/rest/app"), 401, "authentication required");
    assert_soar_error(
        &outpost_tests::Rest::new(&outpost.rest_url, "admin", "wrong").get("/rest/app"),
        401,
        "invalid user name or password",
    );

    // Bad input on every endpoint, each named.
    assert_soar_error(&rest.post_raw("/rest/action_run", "{nope"), 400, "malformed JSON");
    assert_soar_error(
        &rest.post("/rest/action_run", &json!({"action": "echo", "container_id": "x", "targets": []})),
        400,
        "'container_id' must be an integer",
    );
    let target = |t: Value| json!({"action": "echo", "container_id": container_id, "targets": [t]});
    assert_soar_error(
        &rest.post(
            "/rest/action_run",
            &json!({"action": "echo", "container_id": 999999, "targets": [{"app_id": qa["id"], "assets": ["qa"]}]}),
        ),
        404,
        "container 999999 not found",
    );
    assert_soar_error(
        &rest.post("/rest/action_run", &target(json!({"app_id": 424242, "assets": ["qa"]}))),
        404,
        "app '424242' not found",
    );
    assert_soar_error(
        &rest.post("/rest/action_run", &target(json!({"app_id": qa["id"], "assets": ["nope"]}))),
        404,
        "asset 'nope' not found",
    );
    assert_soar_error(
        &rest.post("/rest/action_run", &target(json!({"app_id": qa["id"]}))),
        400,
        "give assets, parameters or both",
    );
    assert_soar_error(
        &rest.post("/rest/action_run", &json!({"action": "explode", "container_id": container_id, "targets": [{"app_id": qa["id"], "assets": ["qa"]}]})),
        400,
        "has no action 'explode'",
    );
    assert_soar_error(
        &rest.post(
            "/rest/action_run",
            &target(json!({"app_id": qa["id"], "assets": ["qa"], "parameters": [{"number": "five"}]})),
        ),
        400,
        "field 'number' must be a number",
    );
    assert_soar_error(&rest.post("/rest/container", &json!({"label": "x"})), 400, "'name' is required");
    assert_soar_error(
        &rest.post("/rest/container", &json!({"name": "x", "status": "done"})),
        400,
        "'status' must be one of",
    );
    assert_soar_error(&rest.post("/rest/asset", &json!({"name": "qa", "app": qa["id"]})), 409, "exists already");
    assert_soar_error(
        &rest.post("/rest/asset", &json!({"name": "x", "app": qa["id"], "configuration": {"bogus": 1}})),
        400,
        "no field 'bogus'",
    );
    assert_soar_error(&rest.post("/rest/asset", &json!({"name": "y"})), 400, "name the asset's app");
    assert_soar_error(&rest.get("/rest/action_run/abc"), 400, "not a valid action run id");
    assert_soar_error(&rest.get("/rest/action_run/987654"), 404, "action run 987654 not found");
    assert_soar_error(&rest.get("/rest/app_run/987654"), 404, "app run 987654 not found");
    assert_soar_error(&rest.get("/rest/app_run/987654/action_result"), 404, "app run 987654 not found");
    assert_soar_error(&rest.get("/rest/container/987654"), 404, "container 987654 not found");
    assert_soar_error(&rest.get("/rest/no_such_thing"), 404, "no endpoint GET /rest/no_such_thing");
    assert_soar_error(
        &rest.post(&format!("/rest/action_run/{}", echoed["id"]), &json!({"cancel": true})),
        400,
        "already finished",
    );
    assert_soar_error(
        &rest.post(&format!("/rest/action_run/{}", echoed["id"]), &json!({"cancel": "yes"})),
        400,
        "'cancel' must be true or false",
    );
}
