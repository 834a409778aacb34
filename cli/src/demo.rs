//! `outpost up --demo`: one real action run through the public REST API, the way a SOAR
//! client would do it.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Three public addresses on three continents.
const DEMO_IPS: &[&str] = &["8.8.8.8", "1.1.1.1", "193.0.6.139"];

/// Runs the demo as a SOAR client authenticated by `ph-auth-token: <token>`.
pub async fn run(rest_url: &str, token: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let path = path.to_string();
        let mut request = http.request(method, format!("{rest_url}{path}")).header("ph-auth-token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.with_context(|| format!("calling {path}"))?;
            let status = response.status();
            let body: Value = response.json().await.with_context(|| format!("reading {path}"))?;
            if !status.is_success() {
                bail!("{path} answered {status}: {body}");
            }
            Ok::<Value, anyhow::Error>(body)
        }
    };

    let apps = call(reqwest::Method::GET, "/rest/app", None).await?;
    let geoip = apps["data"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["name"] == "GeoIP"))
        .context("the geoip app is not installed")?;
    let container = call(
        reqwest::Method::POST,
        "/rest/container",
        Some(json!({"name": "outpost demo", "label": "events", "description": "created by outpost up --demo"})),
    )
    .await?;
    let asset_name = format!("demo-geoip-{}", &uuid_suffix());
    let asset = call(
        reqwest::Method::POST,
        "/rest/asset",
        Some(json!({"name": asset_name, "app": geoip["appid"], "configuration": {}})),
    )
    .await?;
    let run = call(
        reqwest::Method::POST,
        "/rest/action_run",
        Some(json!({
            "action": "geolocate ip",
            "container_id": container["id"],
            "name": "outpost demo",
            "targets": [{
                "app_id": geoip["id"],
                "assets": [asset["id"]],
                "parameters": DEMO_IPS.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
            }],
        })),
    )
    .await?;
    let id = run["action_run_id"].as_i64().context("no action_run_id")?;
    println!("Demo: action run {id} queued (geolocate ip on {})", DEMO_IPS.join(", "));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let action_run = loop {
        let action_run = call(reqwest::Method::GET, &format!("/rest/action_run/{id}"), None).await?;
        if action_run["status"] == "success" || action_run["status"] == "failed" {
            break action_run;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("action run {id} did not finish within 120 s: {action_run}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("Demo: action run {id} is {}: {}", action_run["status"], action_run["message"]);
    let app_runs = call(reqwest::Method::GET, &format!("/rest/action_run/{id}/app_runs"), None).await?;
    let app_run_id = app_runs["data"][0]["id"].as_i64().context("no app run")?;
    let app_run = call(reqwest::Method::GET, &format!("/rest/app_run/{app_run_id}"), None).await?;
    println!("{}", serde_json::to_string_pretty(&app_run)?);
    Ok(())
}

fn uuid_suffix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{nanos:08x}")
}
