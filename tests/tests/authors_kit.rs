//! The connector authors' kit, as a new user meets it: the README's "Write a connector"
//! walk-through run command for command (Rust and Python) against a real `outpost up`,
//! the Python sample connector (`apps/urlscan`) tested offline from its tapes and run
//! through `outpost up`, and `--record`/`--replay` against a local server.
//!
//! Needs what the README's test command builds: the binary, `apps/dist/`, and
//! componentize-py in `apps/target/python/venv` (installed there by `apps/build.sh`).
//! Rust scaffolds build into `target/authors-kit/` and compiled components are cached
//! in `target/authors-kit-compiled/`, so a second run is quick.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use outpost_tests::process::Outpost;
use outpost_tests::{PASSWORD, apps};
use serde_json::{Value, json};

/// The README's walk-through: the lines of the `sh` block between its markers.
fn walk_through() -> String {
    let readme = std::fs::read_to_string(apps::workspace().join("README.md")).expect("README.md");
    let start = readme.find("<!-- walk-through: begin -->").expect("the walk-through's begin marker");
    let end = readme.find("<!-- walk-through: end -->").expect("the walk-through's end marker");
    let block = &readme[start..end];
    let body = block.split_once("```sh\n").expect("an sh block").1;
    body.rsplit_once("```").expect("the block's end").0.to_string()
}

/// Where componentize-py is (installed by `apps/build.sh`).
fn componentize_py_bin() -> PathBuf {
    let bin = apps::workspace().join("apps/target/python/venv/bin");
    assert!(
        bin.join("componentize-py").exists(),
        "{} has no componentize-py: run `bash apps/build.sh` (the README's test command does)",
        bin.display()
    );
    bin
}

/// PATH with the binary's folder and componentize-py first.
fn path_env() -> String {
    let outpost = apps::outpost_bin();
    let bin = outpost.parent().expect("the binary's folder");
    format!("{}:{}:{}", bin.display(), componentize_py_bin().display(), std::env::var("PATH").unwrap_or_default())
}

/// An `outpost` command with the kit's caches and quiet logs.
fn kit(cwd: &Path) -> Command {
    let mut command = Command::new(apps::outpost_bin());
    command
        .current_dir(cwd)
        .env("PATH", path_env())
        .env("OUTPOST_CACHE_DIR", apps::workspace().join("target/authors-kit-compiled"))
        .env("CARGO_TARGET_DIR", apps::workspace().join("target/authors-kit"))
        .env("OUTPOST_LOG", "warn");
    command
}

fn show(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A local stand-in for the services the connectors call: ipinfo-style lookups
/// (`/<ip>/json`) and urlscan's search. Answers its port; serves until the process ends.
fn local_service() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let app = axum::Router::new()
                .route(
                    "/{ip}/json",
                    axum::routing::get(|axum::extract::Path(ip): axum::extract::Path<String>| async move {
                        axum::Json(
                            json!({"ip": ip, "city": "Mountain View", "country": "US", "org": "AS15169 Google LLC"}),
                        )
                    }),
                )
                .route(
                    "/api/v1/search/",
                    axum::routing::get(|| async {
                        axum::Json(json!({"total": 1, "results": [{"task": {"time": "2024-05-02T09:14:07.112Z"},
                            "page": {"url": "https://example.com/", "domain": "example.com"}}]}))
                    }),
                );
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    port
}

/// The newest action run's final state.
fn newest_run(outpost: &Outpost) -> Value {
    let runs = outpost.rest().ok("/rest/action_run?sort=id&order=desc&page_size=1");
    let id = runs["data"][0]["id"].as_i64().expect("an action run");
    outpost.rest().wait_action_run(id, Duration::from_secs(300))
}

#[test]
fn the_readme_walk_through_scaffolds_builds_tests_validates_packs_installs_and_runs_in_rust_and_python() {
    let port = local_service();
    let outpost = Outpost::up(&["--egress-allow-cidr", "127.0.0.1/32", "--workers", "1"]);
    let script = walk_through();
    for lang in ["rust", "python"] {
        let dir = tempfile::tempdir().expect("a folder");
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", path_env())
            .env("OUTPOST_URL", &outpost.rest_url)
            .env("OUTPOST_PASSWORD", PASSWORD)
            .env("BASE_URL", format!("http://127.0.0.1:{port}"))
            .env("L", lang)
            .env("OUTPOST_CACHE_DIR", apps::workspace().join("target/authors-kit-compiled"))
            .env("CARGO_TARGET_DIR", apps::workspace().join("target/authors-kit"))
            .env("OUTPOST_LOG", "warn")
            .output()
            .expect("bash runs");
        let shown = show(&output);
        assert!(output.status.success(), "{lang}: the walk-through failed\n{shown}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("\"message\": \"IP 8.8.8.8: Mountain View, US\""), "{lang}: test --replay\n{shown}");
        assert!(stdout.contains("http: GET https://ipinfo.io:443/8.8.8.8/json -> 200"), "{lang}: {shown}");
        assert!(stdout.contains(&format!("hello-{lang} 1.0.0: 0 error(s), 0 warning(s)")), "{lang}: validate\n{shown}");
        assert!(stdout.contains(&format!("packed ./dist/hello-{lang}.tgz")), "{lang}: pack\n{shown}");

        let run = newest_run(&outpost);
        assert_eq!(run["status"], "success", "{lang}: the installed connector ran through outpost up: {run}");
        let app_runs = outpost.rest().ok(&format!("/rest/action_run/{}/app_runs", run["id"]));
        let app_run = outpost.rest().ok(&format!("/rest/app_run/{}", app_runs["data"][0]["id"]));
        assert_eq!(app_run["result_data"][0]["message"], "IP 8.8.8.8: Mountain View, US", "{lang}: {app_run}");
        assert_eq!(app_run["result_data"][0]["data"][0]["org"], "AS15169 Google LLC", "{lang}: {app_run}");
    }
}

#[test]
fn the_python_sample_runs_offline_from_its_tapes_and_a_request_not_on_tape_fails_showing_it() {
    let workspace = apps::workspace();
    let bundle = apps::dist().join("urlscan.tgz");
    let tapes = workspace.join("apps/urlscan/tests");
    let test = |action: &str, param: Value, tape: &str| {
        let output = kit(&workspace)
            .args(["app", "test"])
            .arg(&bundle)
            .args(["--action", action, "--param", &param.to_string(), "--json", "--replay"])
            .arg(tapes.join(tape))
            .output()
            .expect("outpost runs");
        let result: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output.status.success(), result, show(&output))
    };

    let (ok, hunt, shown) = test("hunt domain", json!({"domain": "example.com"}), "hunt_domain.json");
    assert!(ok, "{shown}");
    assert_eq!(hunt["status"], "success", "{shown}");
    assert_eq!(hunt["message"], "Total results: 1");
    assert_eq!(hunt["summary"]["latest_url"], "https://example.com/");
    assert_eq!(hunt["data"][0]["results"][0]["page"]["ip"], "93.184.215.14");

    let (ok, report, shown) =
        test("get report", json!({"id": "9b1a0c5e-3f7d-4a2b-8e61-0c2d4f6a8b10"}), "get_report.json");
    assert!(ok, "{shown}");
    assert_eq!(report["message"], "Report of https://example.com/: not malicious");

    let (ok, missing, _) = test("get report", json!({"id": "00000000-0000-4000-8000-000000000000"}), "get_report.json");
    assert!(!ok, "a failed action fails the command");
    assert_eq!(
        missing["message"],
        "no report for 00000000-0000-4000-8000-000000000000 (the scan may still be running)"
    );
    assert_eq!(missing["exception_occured"], false, "the connector's own failure, not the sandbox's");

    let (ok, off_tape, _) = test("hunt domain", json!({"domain": "other.example"}), "hunt_domain.json");
    assert!(!ok);
    let message = off_tape["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not in the replay file")
            && message.contains("GET https://urlscan.io/api/v1/search/?q=domain:other.example"),
        "the request is shown: {message}"
    );
    assert_eq!(off_tape["exception_occured"], true);
}

#[test]
fn replay_still_applies_the_egress_policy() {
    let dir = tempfile::tempdir().expect("a folder");
    let tape = dir.path().join("tape.json");
    let answer = json!({"status": 200, "body": "hello"});
    let exchanges = json!({"exchanges": [
        {"request": {"method": "GET", "url": "https://allowed.example/x"}, "response": answer},
        {"request": {"method": "GET", "url": "https://elsewhere.example/x"}, "response": answer}
    ]});
    std::fs::write(&tape, exchanges.to_string()).expect("the tape");
    let fetch = |url: &str| {
        let output = kit(dir.path())
            .args(["app", "test"])
            .arg(apps::dist().join("hostile.tgz"))
            .args(["--action", "fetch", "--json", "--config", r#"{"base_url": "https://allowed.example"}"#])
            .args(["--param", &json!({"url": url}).to_string(), "--replay"])
            .arg(&tape)
            .output()
            .expect("outpost runs");
        serde_json::from_slice::<Value>(&output.stdout).unwrap_or(Value::Null)
    };
    let allowed = fetch("https://allowed.example/x");
    assert_eq!(allowed["message"], "Fetched 5 bytes with status 200", "{allowed}");
    let elsewhere = fetch("https://elsewhere.example/x");
    assert!(
        elsewhere["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("request to https://elsewhere.example:443/x denied: host not allowed for this asset"),
        "on the tape, but not allowed by the asset: {elsewhere}"
    );
}

#[test]
fn record_keeps_the_exchanges_without_secrets_and_replay_answers_them_offline() {
    let port = local_service();
    let dir = tempfile::tempdir().expect("a folder");
    let tape = dir.path().join("recorded.json");
    let bundle = apps::dist().join("urlscan.tgz");
    let config = json!({"base_url": format!("http://127.0.0.1:{port}"), "api_key": "s3cret-key-123"}).to_string();
    let run = |mode: &str| {
        kit(dir.path())
            .args(["app", "test"])
            .arg(&bundle)
            .args(["--action", "hunt ip", "--param", r#"{"ip": "8.8.8.8"}"#, "--json", "--config", &config])
            .args(["--egress-allow-cidr", "127.0.0.1/32", mode])
            .arg(&tape)
            .output()
            .expect("outpost runs")
    };
    let recorded = run("--record");
    assert!(recorded.status.success(), "{}", show(&recorded));
    let text = std::fs::read_to_string(&tape).expect("the tape is written");
    assert!(!text.contains("s3cret-key-123"), "no secret in the tape: {text}");
    let file: Value = serde_json::from_str(&text).expect("the tape is JSON");
    assert_eq!(file["exchanges"][0]["request"]["url"], format!("http://127.0.0.1:{port}/api/v1/search/?q=ip:8.8.8.8"));
    assert_eq!(file["exchanges"][0]["response"]["json"]["total"], 1);

    let replayed = run("--replay");
    assert!(replayed.status.success(), "{}", show(&replayed));
    let result: Value = serde_json::from_slice(&replayed.stdout).expect("the result");
    assert_eq!(result["message"], "Total results: 1");
}

#[test]
fn the_python_sample_installs_and_runs_through_outpost_up() {
    let port = local_service();
    let outpost = Outpost::up(&["--egress-allow-cidr", "127.0.0.1/32", "--workers", "1"]);
    let installed = kit(&apps::workspace())
        .args(["app", "install", "--quiet"])
        .arg(apps::dist().join("urlscan.tgz"))
        .env("OUTPOST_URL", &outpost.rest_url)
        .env("OUTPOST_PASSWORD", PASSWORD)
        .output()
        .expect("outpost runs");
    assert!(installed.status.success(), "{}", show(&installed));
    let app: i64 = String::from_utf8_lossy(&installed.stdout).trim().parse().expect("the app id");
    let rest = outpost.rest();
    rest.created(
        "/rest/asset",
        &json!({"name": "urlscan", "app": app, "configuration": {"base_url": format!("http://127.0.0.1:{port}")}}),
    );
    let container = rest.created("/rest/container", &json!({"name": "urlscan try", "label": "incident"}))["id"].clone();
    let queued = rest.created(
        "/rest/action_run",
        &json!({"action": "hunt domain", "container_id": container,
                "targets": [{"app_id": app, "assets": ["urlscan"], "parameters": [{"domain": "example.com"}]}]}),
    );
    let run = rest.wait_action_run(queued["action_run_id"].as_i64().expect("a run"), Duration::from_secs(300));
    assert_eq!(run["status"], "success", "{run}");
    let app_runs = rest.ok(&format!("/rest/action_run/{}/app_runs", run["id"]));
    let app_run = rest.ok(&format!("/rest/app_run/{}", app_runs["data"][0]["id"]));
    assert_eq!(app_run["result_data"][0]["message"], "Total results: 1", "{app_run}");
    assert_eq!(app_run["result_summary"]["latest_url"], "https://example.com/", "{app_run}");
}

#[test]
fn the_rust_port_runs_offline_from_its_tapes_with_the_key_kept_out_of_them() {
    let workspace = apps::workspace();
    let tapes = workspace.join("apps/umbrella/tests");
    let test = |action: &str, param: Value, tape: &str| {
        let output = kit(&workspace)
            .args(["app", "test"])
            .arg(apps::dist().join("umbrella.tgz"))
            .args(["--action", action, "--param", &param.to_string(), "--json"])
            .args(["--config", r#"{"customer_key": "k3y"}"#, "--replay"])
            .arg(tapes.join(tape))
            .output()
            .expect("outpost runs");
        serde_json::from_slice::<Value>(&output.stdout).unwrap_or(Value::Null)
    };
    let listed = test("list blocked domains", json!({}), "list_blocked_domains.json");
    assert_eq!(listed["message"], "Total domains: 3", "both pages read: {listed}");
    assert_eq!(listed["data"][2]["name"], "phish.example");
    let blocked = test("block domain", json!({"domain": "bad.example"}), "block_unblock.json");
    assert_eq!(blocked["message"], "REST API returned success with id: a4070f26-4cfc-4a5f-9a17-532c093ca151");
    let unblocked = test("unblock domain", json!({"domain": "bad.example"}), "block_unblock.json");
    assert_eq!(unblocked["message"], "Domain successfully unblocked");
    let refused = test("test connectivity", json!({}), "block_unblock.json");
    assert_eq!(refused["message"], "the customer key was refused (401)");
    for tape in ["list_blocked_domains.json", "block_unblock.json"] {
        let text = std::fs::read_to_string(tapes.join(tape)).expect("the tape");
        assert!(text.contains("customerKey=********") && !text.contains("k3y"), "{tape} holds no key");
    }
}

#[test]
fn validate_names_an_action_the_component_does_not_handle() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(apps::workspace().join("apps/qa/qa.json")).expect("qa.json"))
            .expect("qa's manifest");
    manifest["actions"]
        .as_array_mut()
        .expect("actions")
        .push(json!({"action": "ghost", "identifier": "ghost", "type": "generic", "parameters": {}, "output": []}));
    manifest["outpost"]["egress"] = json!(["{{ server }}"]);
    std::fs::write(dir.path().join("qa.json"), manifest.to_string()).expect("the manifest");
    std::fs::copy(apps::dist().join("qa.wasm"), dir.path().join("qa.wasm")).expect("the component");
    let packed = Command::new("tar").args(["-czf", "qa.tgz", "qa.json", "qa.wasm"]).current_dir(dir.path()).status();
    assert!(packed.expect("tar runs").success());

    let output = kit(dir.path()).args(["app", "validate", "qa.tgz"]).output().expect("outpost runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "errors fail the command: {}", show(&output));
    assert!(
        stdout.contains(
            "actions[5].identifier: action 'ghost' ('ghost') is not handled by the component: it answers \
             \"unknown action 'ghost'\", as for an identifier no action has"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("outpost.egress[0]: '{{ server }}' names configuration field 'server', which does not exist"),
        "{stdout}"
    );
    for handled in ["echo", "sleep", "fail", "crash", "test_connectivity"] {
        assert!(!stdout.contains(&format!("('{handled}') is not handled")), "{handled} is handled: {stdout}");
    }
}
