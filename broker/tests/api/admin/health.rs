//! `/rest/health`: green while workers heartbeat, red when one stops.

use std::time::Duration;

use outpost_bus::Bus;
use outpost_proto::time::now_ms;
use outpost_proto::v1::Heartbeat;
use outpost_tests::broker::TestBroker;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_red_when_a_worker_stops_heartbeating() {
    let h = TestBroker::start_with(|c| c.worker_stale_after = Duration::from_millis(800)).await;
    let (_, nobody) = h.user("nobody", "nobody-password", &[]).await;
    let beat = |guid: &str, draining: bool| Heartbeat {
        node_guid: guid.into(),
        segment: "default".into(),
        version: "0.1.0".into(),
        concurrency: 4,
        hostname: "host-a".into(),
        unix_ms: now_ms(),
        started_unix_ms: now_ms() - 1000,
        draining,
        ..Default::default()
    };
    let beating = CancellationToken::new();
    let (bus, stop) = (h.bus.clone(), beating.clone());
    let heartbeats = tokio::spawn(async move {
        while !stop.is_cancelled() {
            bus.publish_heartbeat(&beat("node-a", false)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = h.ok("/rest/health", &nobody).await;
    assert_eq!(
        health["status"],
        json!({"broker_api": "running", "store": "running", "bus": "running", "node-a": "running"}),
        "{health}"
    );
    assert_eq!(health["all_running"], true);
    let worker = &health["services"]["node-a"][0];
    assert_eq!(
        (worker["name"].as_str(), worker["segment"].as_str(), worker["concurrency"].as_u64()),
        (Some("node-a"), Some("default"), Some(4))
    );
    assert!(worker["last_heartbeat"].as_str().unwrap().ends_with('Z'));
    let api = &health["services"]["broker_api"][0];
    assert!(api["rs_kb"].as_u64().unwrap() > 0 && api["pid"].as_u64().unwrap() == u64::from(std::process::id()));
    assert_eq!(health["services"]["store"][0]["backend"], "sqlite");
    // Real readings, in the seed's shape.
    let labels = |key: &str| {
        health[key].as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(labels("memory_data"), ["Free", "Used", "Cached"]);
    assert_eq!(labels("swap_data"), ["Free", "Used"]);
    assert_eq!(labels("db_data"), ["Free", "Used"]);
    assert_eq!(labels("vault_data"), ["Free", "Used"]);
    assert!(health["memory_data"].as_array().unwrap().iter().map(|e| e["value"].as_u64().unwrap()).sum::<u64>() > 0);
    assert!(
        health["vault_data"][0]["value"].as_u64().unwrap() + health["vault_data"][1]["value"].as_u64().unwrap() > 0
    );
    let times: Vec<&str> =
        health["load_data"].as_array().unwrap().iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert_eq!(times, ["1 minute", "5 minutes", "15 minutes"]);
    assert!(health["load_data"][0]["load"].as_f64().is_some());
    assert!(health["last_snapshot_time"].as_str().unwrap().ends_with('Z'));

    beating.cancel();
    heartbeats.await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let health = h.ok("/rest/health", &nobody).await;
    assert_eq!(health["status"]["node-a"], "stopped", "{health}");
    assert_eq!(health["all_running"], false);
    assert_eq!(
        (health["status"]["store"].as_str(), health["status"]["bus"].as_str()),
        (Some("running"), Some("running"))
    );

    // A worker that drained and went quiet shut down cleanly: it leaves the picture.
    h.bus.publish_heartbeat(&beat("node-b", true)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.ok("/rest/health", &nobody).await["status"]["node-b"], "stopped");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(h.ok("/rest/health", &nobody).await["status"].get("node-b").is_none());
}
