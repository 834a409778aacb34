//! The operator CLI (`outpost run`, `runs`, `app-runs`, `workers`, `apps`, `assets`,
//! `cancel`, `completions`) as an operator types it, against a real `outpost up`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use outpost_tests::process::Outpost;
use outpost_tests::{PASSWORD, apps};
use serde_json::{Value, json};

/// What one CLI invocation printed, and how it exited.
struct Output {
    /// The exit code (None when killed by a signal).
    code: Option<i32>,
    /// Tables and JSON go here.
    stdout: String,
    /// Errors and progress go here.
    stderr: String,
}

impl Output {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts a non-zero exit whose error says `needle`.
    #[track_caller]
    fn assert_fails_with(&self, needle: &str) {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(self.stderr.contains(needle), "stderr should say {needle:?}:\n{}", self.stderr);
    }
}

/// Runs `outpost <args>` as a client of `outpost` (its addresses and the admin's
/// password in the environment, as an operator would set them), plus `env`.
fn outpost_cli(outpost: &Outpost, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(apps::outpost_bin());
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for name in ["OUTPOST_TOKEN", "OUTPOST_TOKEN_FILE", "OUTPOST_PASSWORD_FILE", "OUTPOST_USER"] {
        command.env_remove(name);
    }
    command
        .env("OUTPOST_URL", &outpost.grpc_url)
        .env("OUTPOST_REST_URL", &outpost.rest_url)
        .env("OUTPOST_PASSWORD", PASSWORD);
    for (name, value) in env {
        command.env(name, value);
    }
    run(command)
}

/// Runs a command to its end (at most 120 s), reading both streams meanwhile.
fn run(mut command: Command) -> Output {
    let mut child = command.spawn().expect("outpost starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not finish within 120 s: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { code: status.code(), stdout: out.join().expect("stdout"), stderr: err.join().expect("stderr") }
}

/// An `outpost up` with a geoip asset and a qa asset.
fn up_with_assets() -> Outpost {
    let outpost = Outpost::up(&["--workers", "1"]);
    let rest = outpost.rest();
    let apps = rest.ok("/rest/app");
    let app_id = |name: &str| {
        apps["data"].as_array().unwrap().iter().find(|a| a["name"] == name).expect("installed")["id"].clone()
    };
    rest.created("/rest/asset", &json!({"name": "geoip", "app": app_id("GeoIP"), "configuration": {}}));
    rest.created("/rest/asset", &json!({"name": "qa", "app": app_id("QA")}));
    outpost
}

#[test]
fn run_follows_an_action_run_live_and_prints_its_results() {
    let outpost = up_with_assets();
    let out = outpost_cli(
        &outpost,
        &[
            "run",
            "--action",
            "geolocate ip",
            "--asset",
            "geoip",
            "--param",
            r#"{"ip": "8.8.8.8"}"#,
            "--param",
            r#"{"ip": "1.1.1.1"}"#,
        ],
        &[],
    );
    out.assert_ok();
    // Not a terminal: progress comes as lines, ending with every set done.
    assert!(out.stderr.contains("2/2 parameter sets done, success"), "{}", out.stderr);
    assert!(out.stdout.contains("Country: United States"), "{}", out.stdout);
    assert!(out.stdout.contains(r#"{"ip":"8.8.8.8"}"#), "parameters are shown without context:\n{}", out.stdout);
    assert!(
        out.stdout.contains("'user initiated geolocate ip action': success, 2 actions succeeded"),
        "{}",
        out.stdout
    );

    // Without --container the run went to the CLI's own container, created once.
    let rest = outpost.rest();
    let containers = rest.ok("/rest/container?_filter_name=\"outpost cli\"");
    assert_eq!(containers["count"], 1, "{containers}");

    // --json for scripts: the action run and its app runs with every result; by asset id
    // and app name this time, in a named container, into the same one as before.
    let container = rest.created("/rest/container", &json!({"name": "case 7"}))["id"].as_i64().unwrap();
    let asset_id = rest.ok("/rest/asset?_filter_name=\"geoip\"")["data"][0]["id"].to_string();
    let out = outpost_cli(
        &outpost,
        &[
            "run",
            "--json",
            "--action",
            "geolocate ip",
            "--asset",
            &asset_id,
            "--app",
            "geoip",
            "--container",
            "case 7",
            "--name",
            "from the cli",
            "--param",
            r#"{"ip": "1.1.1.1"}"#,
        ],
        &[],
    );
    out.assert_ok();
    let answer = out.json();
    assert_eq!(answer["action_run"]["status"], "success", "{answer}");
    assert_eq!(answer["action_run"]["name"], "from the cli");
    assert_eq!(answer["action_run"]["container"], container);
    let results = answer["app_runs"][0]["result_data"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["parameter"]["ip"], "1.1.1.1");
    assert_eq!(answer["app_runs"][0]["asset_name"], "geoip");
    assert_eq!(rest.ok("/rest/container?_filter_name=\"outpost cli\"")["count"], 1);

    // --detach answers the id at once.
    let out = outpost_cli(
        &outpost,
        &[
            "run",
            "--detach",
            "--json",
            "--action",
            "geolocate ip",
            "--asset",
            "geoip",
            "--param",
            r#"{"ip":"9.9.9.9"}"#,
        ],
        &[],
    );
    out.assert_ok();
    let id = out.json()["action_run_id"].as_i64().unwrap();
    assert_eq!(rest.wait_action_run(id, Duration::from_secs(60))["status"], "success");
}

#[test]
fn a_failed_run_exits_non_zero_with_its_message_and_results() {
    let outpost = up_with_assets();
    let out = outpost_cli(
        &outpost,
        &["run", "--action", "fail", "--asset", "qa", "--param", r#"{"message": "the firewall said no"}"#],
        &[],
    );
    out.assert_fails_with("failed");
    assert!(out.stdout.contains("the firewall said no"), "the results table is printed:\n{}", out.stdout);
    assert!(out.stderr.contains("1/1 parameter sets done, failed"), "{}", out.stderr);
}

#[test]
fn bad_input_gets_a_clear_message_and_a_non_zero_exit() {
    let outpost = up_with_assets();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["run", "--action", "geolocate ip"];
        args.extend_from_slice(extra);
        outpost_cli(&outpost, &args, env)
    };
    run(&["--asset", "geoip", "--param", r#"{"ip": 8.8.8.8}"#], &[]).assert_fails_with("--param #1 is not valid JSON");
    run(&["--asset", "geoip", "--param", "{}", "--param", r#"["8.8.8.8"]"#], &[])
        .assert_fails_with("--param #2 is not a JSON object (got an array)");
    run(&["--asset", "nowhere"], &[]).assert_fails_with("no asset 'nowhere' (assets: geoip, qa)");
    run(&["--asset", "geoip", "--app", "nope"], &[]).assert_fails_with("no app 'nope' (installed: ");
    run(&["--asset", "qa", "--param", "{}"], &[]).assert_fails_with("has no action 'geolocate ip'");
    run(&["--asset", "geoip", "--container", "no such case"], &[])
        .assert_fails_with("no container named 'no such case'");
    run(&["--asset", "geoip", "--container", "4242"], &[]).assert_fails_with("container 4242 not found");

    // Credentials: wrong, missing, and a broker that is not there.
    run(&["--asset", "geoip"], &[("OUTPOST_PASSWORD", "wrong")])
        .assert_fails_with("the broker refused the credentials");
    outpost_cli(&outpost, &["runs"], &[("OUTPOST_PASSWORD", "")])
        .assert_fails_with("no credentials: set OUTPOST_TOKEN");
    outpost_cli(&outpost, &["apps"], &[("OUTPOST_URL", "http://127.0.0.1:9")])
        .assert_fails_with("cannot reach the broker at http://127.0.0.1:9");
    outpost_cli(&outpost, &["workers"], &[("OUTPOST_REST_URL", "http://127.0.0.1:9")])
        .assert_fails_with("cannot reach the broker's REST API at http://127.0.0.1:9");
    outpost_cli(&outpost, &["workers"], &[("OUTPOST_PASSWORD", "wrong")])
        .assert_fails_with("the broker refused the credentials");
    outpost_cli(&outpost, &["app-runs", "999"], &[]).assert_fails_with("action run 999 not found");
    // clap's own usage errors exit 2.
    let usage = outpost_cli(&outpost, &["run", "--action", "x"], &[]);
    assert_eq!(usage.code, Some(2), "{}", usage.stderr);
    assert!(usage.stderr.contains("--asset"), "{}", usage.stderr);
    // A password on the command line is not even a flag.
    let argv = outpost_cli(&outpost, &["runs", "--password", "x"], &[]);
    assert_eq!(argv.code, Some(2), "{}", argv.stderr);
}

#[test]
fn listings_print_tables_and_json_and_cancel_stops_a_run() {
    let outpost = up_with_assets();
    let rest = outpost.rest();

    // A token works as well as the password.
    let admin = rest.ok("/rest/ph_user?_filter_username=\"admin\"")["data"][0]["id"].clone();
    let token = rest.created(&format!("/rest/ph_user/{admin}/token"), &json!({"label": "cli"}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let as_token = [("OUTPOST_PASSWORD", ""), ("OUTPOST_TOKEN", token.as_str())];
    let apps = outpost_cli(&outpost, &["apps"], &as_token);
    apps.assert_ok();
    for needle in ["GeoIP", "geolocate ip", "QA", "c91bc9ea-abee-4c79-becd-d0200e784c5f"] {
        assert!(apps.stdout.contains(needle), "apps should show {needle:?}:\n{}", apps.stdout);
    }
    let apps = outpost_cli(&outpost, &["apps", "--json"], &[]).json();
    let geoip = apps["data"].as_array().unwrap().iter().find(|a| a["name"] == "GeoIP").expect("geoip listed");
    assert!(geoip["actions"].as_array().unwrap().contains(&json!("geolocate ip")), "{geoip}");

    let assets = outpost_cli(&outpost, &["assets"], &[]);
    assets.assert_ok();
    assert!(assets.stdout.contains("geoip") && assets.stdout.contains("default"), "{}", assets.stdout);
    assert_eq!(outpost_cli(&outpost, &["assets", "--json"], &[]).json()["count"], 2);

    // The one local worker of `up`, in segment default.
    let workers = outpost_cli(&outpost, &["workers", "--json"], &[]).json();
    let default = workers["data"].as_array().unwrap().iter().find(|s| s["name"] == "default").cloned().unwrap();
    assert_eq!(default["worker_count"], 1, "{workers}");
    let guid = default["workers"][0]["node_guid"].as_str().unwrap().to_string();
    let table = outpost_cli(&outpost, &["workers"], &[]);
    table.assert_ok();
    assert!(table.stdout.contains(&guid) && table.stdout.contains("/4 busy"), "{}", table.stdout);

    // A long run, cancelled while it goes.
    let started = outpost_cli(
        &outpost,
        &["run", "--detach", "--json", "--action", "sleep", "--asset", "qa", "--param", r#"{"seconds": 30}"#],
        &[],
    );
    let id = started.assert_ok().json()["action_run_id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rest.ok(&format!("/rest/action_run/{id}"))["status"] != "running" {
        assert!(Instant::now() < deadline, "the sleep never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let cancelled = outpost_cli(&outpost, &["cancel", &id.to_string()], &[]);
    cancelled.assert_ok();
    assert!(cancelled.stdout.to_lowercase().contains("cancel"), "{}", cancelled.stdout);
    assert_eq!(rest.ok(&format!("/rest/action_run/{id}"))["status"], "failed");
    outpost_cli(&outpost, &["cancel", &id.to_string()], &[])
        .assert_fails_with("has already finished (failed); nothing to cancel");

    // runs: newest first, filtered by status; app-runs of one run.
    let runs = outpost_cli(&outpost, &["runs", "--json", "--status", "failed"], &[]).json();
    assert_eq!(runs["data"][0]["id"], id, "{runs}");
    assert!(runs["data"].as_array().unwrap().iter().all(|r| r["status"] == "failed"));
    let table = outpost_cli(&outpost, &["runs"], &[]);
    table.assert_ok();
    assert!(table.stdout.contains("sleep") && table.stdout.contains("newest first"), "{}", table.stdout);
    let app_runs = outpost_cli(&outpost, &["app-runs", &id.to_string()], &[]);
    app_runs.assert_ok();
    assert!(app_runs.stdout.contains("qa") && app_runs.stdout.contains("failed"), "{}", app_runs.stdout);
    let app_runs = outpost_cli(&outpost, &["app-runs", &id.to_string(), "--json"], &[]).json();
    assert_eq!(app_runs["data"][0]["asset_name"], "qa");
    assert!(app_runs["data"][0]["result_data"][0]["message"].as_str().unwrap().contains("ancel"), "{app_runs}");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for (shell, flag) in [("bash", "--asset"), ("zsh", "--asset"), ("fish", "-l asset")] {
        let mut command = Command::new(apps::outpost_bin());
        command.args(["completions", shell]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run(command);
        out.assert_ok();
        for word in ["app-runs", "workers", "cancel", flag] {
            assert!(out.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    let mut command = Command::new(apps::outpost_bin());
    command.args(["completions", "tcsh"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run(command);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("possible values: bash"), "{}", out.stderr);
}
