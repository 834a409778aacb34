//! System information (seed 003): version, license, settings, connectivity tests and
//! widgets.

use std::time::Duration;

use outpost_tests::broker::TestBroker;
use outpost_tests::fake_worker::{connectivity, fake_worker};
use outpost_tests::rest::Auth;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::app_and_asset;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_info_license_connectivity_tests_and_widgets() {
    let h = TestBroker::start_with(|c| {
        c.base_url = "https://soar.example.com".into();
        c.time_zone = "Europe/Paris".into();
    })
    .await;
    fake_worker(h.bus.clone(), connectivity);
    let (_, nobody) = h.user("nobody", "nobody-password", &[]).await;
    let (_, automation) = h.user("auto", "automation-password", &["Automation"]).await;

    assert_eq!(h.ok("/rest/version", &nobody).await, json!({"version": outpost_proto::VERSION}));
    assert_eq!(
        h.ok("/rest/system_info", &nobody).await,
        json!({"base_url": "https://soar.example.com", "time_zone": "Europe/Paris"})
    );
    let changed = h.post("/rest/system_settings", &Auth::admin(), json!({"time_zone": "UTC"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(h.ok("/rest/system_info", &nobody).await["time_zone"], "UTC");
    assert_eq!(
        h.post("/rest/system_settings", &Auth::admin(), json!({"time_zone": "../x"})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.post("/rest/system_info", &Auth::admin(), json!({})).await.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "read-only, as the seed says"
    );

    let (app, asset) = app_and_asset(&h, "checker-one").await;
    let started = h.post(&format!("/rest/asset/{asset}/test"), &automation, json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.body["message"], "Testing asset connectivity for 'checker-one' using app 'Checker'");
    let system_container = started.body["container_id"].as_i64().unwrap();
    let second = h.post(&format!("/rest/asset/{asset}"), &Auth::admin(), json!({"test_connectivity": true})).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["container_id"], system_container, "tests share the system container");
    // The same route changes the asset otherwise; a test flag set to false is no field of
    // an asset.
    assert_eq!(
        h.post(&format!("/rest/asset/{asset}"), &Auth::admin(), json!({"test_connectivity": false})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.post("/rest/asset/99999/test", &Auth::admin(), json!({})).await.status, StatusCode::NOT_FOUND);

    let mut status = json!(null);
    for _ in 0..100 {
        status = h.ok("/rest/app_status", &nobody).await;
        if status["data"][0]["status"] == "success" && status["data"][0]["id"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((status["count"].as_u64(), status["num_pages"].as_u64()), (Some(1), Some(1)), "{status}");
    let entry = &status["data"][0];
    assert_eq!(
        (entry["app"].as_i64(), entry["asset"].as_i64(), entry["status"].as_str()),
        (Some(app), Some(asset), Some("success")),
        "{status}"
    );
    assert_eq!(
        entry["message"],
        "Testing asset connectivity for 'checker-one' using app 'Checker' 1 action succeeded. Connectivity test succeeded"
    );
    let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["app", "asset", "create_time", "id", "message", "status"]);
    let pretty = h.ok("/rest/app_status?pretty", &nobody).await;
    assert_eq!(
        (pretty["data"][0]["_pretty_app"].as_str(), pretty["data"][0]["_pretty_asset"].as_str()),
        (Some("Checker"), Some("checker-one"))
    );
    assert!(pretty["data"][0]["_pretty_create_time"].as_str().unwrap().contains("just now"));
    let (_, asset2) = app_and_asset(&h, "checker-two").await;
    h.post(&format!("/rest/asset/{asset2}/test"), &Auth::admin(), json!({})).await;
    let paged = h.ok("/rest/app_status?page=1&page_size=1", &nobody).await;
    assert_eq!(
        (paged["count"].as_u64(), paged["num_pages"].as_u64(), paged["data"][0]["asset"].as_i64()),
        (Some(2), Some(2), Some(asset2))
    );

    // The tests are action runs on the system container, audited as such; the broker
    // created the container, and that is audited too.
    let container_audit = h.ok(&format!("/rest/container/{system_container}/audit"), &Auth::admin()).await;
    let created: Vec<&Value> =
        container_audit.as_array().unwrap().iter().filter(|r| r["NOTE"] == "outpost system checks:created").collect();
    assert!(
        created.iter().any(|r| r["CHANGED FIELD"] == "label" && r["NEW VALUE"] == "outpost_system"),
        "{container_audit}"
    );
    assert!(created.iter().all(|r| r["USER ID"].is_null() && r["USER"] == "" && r["OBJECT TYPE"] == "container"));
    assert!(
        container_audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["AUDIT SOURCE"] == "Action Run" && r["NOTE"] == "test connectivity of asset 'checker-one'")
    );

    let license = h.ok("/rest/license", &nobody).await;
    assert_eq!(license["status"], "valid");
    assert_eq!(license["license_info"]["license_type"], "unlimited");
    for key in ["maximum_apps", "maximum_users", "maximum_assets", "maximum_actions_per_day", "maximum_containers"] {
        assert_eq!(license["license_info"][key], 0, "{key}");
    }
    assert_eq!(license["current_usage"]["recent_app_run_count"], 3);
    assert_eq!(license["current_usage"]["recent_playbook_run_count"], 0);
    assert!(license["license_info"]["issue_date"].as_i64().unwrap() > 0);

    let top = h.ok("/rest/widget_data/top_playbooks_actions", &nobody).await;
    assert_eq!(top["playbooks"], json!([]));
    assert_eq!(
        (top["actions"][0]["action_name"].as_str(), top["actions"][0]["total"].as_i64()),
        (Some("test connectivity"), Some(3)),
        "{top}"
    );
    assert!(top["actions"][0]["average_duration"].as_f64().is_some());
    assert!(
        h.ok("/rest/widget_data/top_playbooks_actions?action_filter=automated", &nobody).await["actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let old = h
        .ok(
            "/rest/widget_data/top_playbooks_actions?start_time=2017-01-01T00:00:00Z&end_time=2017-01-08T00:00:00Z",
            &nobody,
        )
        .await;
    assert!(old["actions"].as_array().unwrap().is_empty());
    let labelled = h.ok("/rest/widget_data/top_playbooks_actions?label=outpost_system", &nobody).await;
    assert_eq!(labelled["actions"][0]["total"], 3);
    let stats = h.ok("/rest/widget_data/playbooks_actions_stats", &nobody).await;
    assert_eq!(stats["total_actions"], 3);
    assert_eq!(stats["days"].as_array().unwrap().len(), 8, "7 days back, today included");
    assert_eq!(stats["days"].as_array().unwrap().last().unwrap()["actions"], 3);
    let all = h.ok("/rest/widget_data", &nobody).await;
    assert!(all.get("top_playbooks_actions").is_some() && all.get("playbooks_actions_stats").is_some());
    let unsupported = h.get("/rest/widget_data/container_stats", &nobody).await;
    assert_eq!(unsupported.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(unsupported.body["failed"], true);
    assert!(unsupported.body["message"].as_str().unwrap().contains("widget 'container_stats' is not supported"));
    assert_eq!(h.get("/rest/widget_data/nonsense", &nobody).await.status, StatusCode::NOT_FOUND);
    let half = h.get("/rest/widget_data/top_playbooks_actions?start_time=2017-01-01", &nobody).await;
    assert!(half.body["message"].as_str().unwrap().contains("together"));
}
