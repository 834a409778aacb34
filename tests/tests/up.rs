//! `outpost up` as a real process, driven over HTTP with the seeds' requests and shapes.

use std::time::Duration;

use outpost_tests::apps;
use outpost_tests::process::{Outpost, wait_printed};
use outpost_tests::rest::{BlockingRest, assert_soar_error};
use serde_json::{Value, json};

#[test]
fn geolocate_three_addresses_end_to_end_with_seed_shapes() {
    let mut outpost = Outpost::up(&["--workers", "2"]);
    let rest = outpost.rest();

    let apps = rest.ok("/rest/app");
    assert!(apps["count"].as_u64().unwrap() >= 2, "{apps}");
    assert_eq!(apps["num_pages"], 1);
    let geoip = rest.app("GeoIP");

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

    // An address in no range is an answer, not an error; a malformed one is a clear failure.
    let answer = rest.created(
        "/rest/action_run",
        &json!({
            "action": "geolocate ip",
            "container_id": container_id,
            "targets": [{"app_id": geoip["id"], "assets": ["geoip-e2e"], "parameters": [{"ip": "10.1.2.3"}, {"ip": "not-an-ip"}]}],
        }),
    );
    let edge = rest.wait_action_run(answer["action_run_id"].as_i64().unwrap(), Duration::from_secs(60));
    let edge_runs = rest.ok(&format!("/rest/action_run/{}/app_runs", edge["id"]));
    let edge_run = rest.ok(&format!("/rest/app_run/{}", edge_runs["data"][0]["id"]));
    let private = &edge_run["result_data"][0];
    assert_eq!(private["status"], "success", "{private}");
    assert_eq!(private["message"], "No country found for 10.1.2.3");
    assert_eq!(private["data"], json!([]));
    let malformed = &edge_run["result_data"][1];
    assert_eq!(malformed["status"], "failed", "{malformed}");
    assert!(
        malformed["message"].as_str().unwrap().contains("'not-an-ip' is not a valid IPv4 or IPv6 address"),
        "{malformed}"
    );
    assert_eq!(edge_run["status"], "success", "one parameter set succeeded (SOAR's rule)");
    assert_eq!(edge_run["result_summary"]["total_objects_successful"], 1);

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
        &BlockingRest::new(&outpost.rest_url, "admin", "wrong").get("/rest/app"),
        401,
        "invalid user name or password",
    );

    // Bad input on every endpoint, each named.
    assert_soar_error(&rest.post_json_text("/rest/action_run", "{nope"), 400, "malformed JSON");
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
    assert_soar_error(&rest.get("/rest/container/abc"), 400, "'abc' is not a valid container id");
    assert_soar_error(&rest.get("/rest/app_run/abc"), 400, "'abc' is not a valid app run id");
    assert_soar_error(&rest.get("/rest/app_run/1.5/action_result"), 400, "'1.5' is not a valid app run id");
    assert_soar_error(&rest.get("/rest/action_run/abc/app_runs"), 400, "'abc' is not a valid action run id");
    let app_run_id = rest.ok(&format!("/rest/action_run/{}/app_runs", echoed["id"]))["data"][0]["id"].clone();
    assert_soar_error(
        &rest.get(&format!("/rest/app_run/{app_run_id}/action_result?page=-1")),
        400,
        "'page' must be a non-negative integer, got '-1'",
    );
    assert_soar_error(
        &rest.get(&format!("/rest/app_run/{app_run_id}/action_result?page_size=ten")),
        400,
        "'page_size' must be a non-negative integer",
    );
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

/// The README's first command: `outpost up --demo` without `OUTPOST_ADMIN_PASSWORD`, as
/// on a fresh machine, with a flag beating its env twin.
#[test]
fn up_demo_generates_the_admin_password_runs_geolocate_and_keeps_serving() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    // Port 0 everywhere (the process prints what it bound), except the REST env twin,
    // which names port 1: were it to beat the flag, the REST address would show it.
    let start = |log: &std::path::Path| {
        let out = std::fs::File::create(log).unwrap();
        Command::new(apps::outpost_bin())
            .args(["up", "--demo", "--workers", "1", "--rest-addr", "127.0.0.1:0"])
            .env_remove("OUTPOST_ADMIN_PASSWORD")
            .env("OUTPOST_REST_ADDR", "127.0.0.1:1")
            .env("OUTPOST_GRPC_ADDR", "127.0.0.1:0")
            .env("OUTPOST_DATA_DIR", dir.path())
            .env("OUTPOST_APPS_DIR", apps::dist())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("outpost starts")
    };
    let stop = |mut child: std::process::Child| {
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        assert!(child.wait().unwrap().success());
    };

    let log = dir.path().join("first.log");
    let mut child = start(&log);
    let out = wait_printed(&log, "Demo done; still serving.", &mut child, Duration::from_secs(120));
    let rest_url = out
        .split("REST: ")
        .nth(1)
        .and_then(|rest| rest.split("/rest").next())
        .unwrap_or_else(|| panic!("no REST address printed:\n{out}"))
        .to_string();
    assert!(
        rest_url.starts_with("http://127.0.0.1:") && !rest_url.ends_with(":1"),
        "the flag beats its env twin: {rest_url}"
    );

    // The generated password: printed once, kept readable by its owner only, and it works.
    let password_file = dir.path().join("admin-password");
    let password = std::fs::read_to_string(&password_file).unwrap();
    assert_eq!(std::fs::metadata(&password_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(out.contains(&format!("sign in as 'admin' with password {password} (shown once")), "{out}");
    let rest = BlockingRest::new(&rest_url, "admin", &password);

    // The finished app run, printed as JSON between the run's status line and the end.
    let start_at = out.find("Demo: action run").unwrap();
    let json_start = start_at + out[start_at..].find("\n{").unwrap() + 1;
    let json_end = out.find("Demo done").unwrap();
    let app_run: Value = serde_json::from_str(out[json_start..json_end].trim()).expect("the app run as JSON");
    assert_eq!(app_run["status"], "success", "{app_run}");
    let results = app_run["result_data"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{app_run}");
    for result in results {
        assert_eq!(result["status"], "success");
        for key in ["country_iso_code", "country_name", "continent_name"] {
            assert!(result["data"][0][key].is_string(), "{key} in {result}");
        }
        assert_eq!(result["message"], format!("Country: {}", result["summary"]["country"].as_str().unwrap()));
    }
    assert_eq!(app_run["result_summary"]["total_objects_successful"], 3);
    // Still serving after the demo, and the demo's own token is revoked.
    assert_eq!(rest.ok(&format!("/rest/app_run/{}", app_run["id"]))["id"], app_run["id"]);
    let tokens = rest.ok("/rest/ph_user/1/token");
    assert!(tokens["data"].as_array().unwrap().iter().all(|t| t["status"] == "revoked"), "{tokens}");
    stop(child);

    // A second start: the password is not shown again, and the demo runs again.
    let log = dir.path().join("second.log");
    let mut child = start(&log);
    let out = wait_printed(&log, "Demo done; still serving.", &mut child, Duration::from_secs(120));
    assert!(!out.contains(&password), "the generated password is shown once:\n{out}");
    stop(child);
}
