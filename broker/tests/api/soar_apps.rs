//! Real SOAR app JSON, as published in the public connector repositories
//! (`proto/tests/fixtures/soar_apps/`, sources in its `SOURCES.md`), installs unmodified
//! through `POST /rest/app` with a component beside it, and reads back as installed:
//! `on poll` (type `ingest`) listed, every configuration `data_type`, unknown keys kept.

use base64::Engine;
use serde_json::{Value, json};

use outpost_tests::apps;
use outpost_tests::broker::TestBroker;
use outpost_tests::bundle::tgz;

/// Every fixture: (file name, its JSON text).
fn fixtures() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/fixtures/soar_apps");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("the fixtures folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn real_soar_app_json_installs_unmodified_and_reads_back_as_installed() {
    let outpost = TestBroker::start().await;
    let component = apps::handler_only();
    let fixtures = fixtures();
    assert!(fixtures.len() >= 10, "at least ten real app JSON fixtures, found {}", fixtures.len());
    let mut ingest_apps = 0;
    for (name, text) in &fixtures {
        let bundle = tgz(&[(name.as_str(), text.as_bytes()), ("connector.wasm", &component)]);
        let body = json!({"app": base64::engine::general_purpose::STANDARD.encode(bundle)});
        let (status, answer) = outpost.rest.post("/rest/app", &body).await;
        assert_eq!(status, 200, "{name} is refused: {answer}");
        let id = answer["id"].as_i64().expect("an id");

        let original: Value = serde_json::from_str(text).unwrap();
        let app = outpost.rest.ok(&format!("/rest/app/{id}")).await;
        assert_eq!(app["appid"], original["appid"], "{name}");
        assert_eq!(app["configuration"], original["configuration"], "{name}: configuration as published");
        let actions = app["actions"].as_array().unwrap();
        assert_eq!(actions.len(), original["actions"].as_array().unwrap().len(), "{name}: every action listed");
        for (shown, published) in actions.iter().zip(original["actions"].as_array().unwrap()) {
            for (key, value) in published.as_object().unwrap() {
                assert_eq!(&shown[key], value, "{name}: action '{}' key '{key}' kept", published["action"]);
            }
        }
        if actions.iter().any(|a| a["type"] == "ingest") {
            ingest_apps += 1;
        }
    }
    assert!(ingest_apps >= 2, "the fixtures hold apps with an `on poll` (ingest) action");
    let listed = outpost.rest.ok("/rest/app?page_size=0").await;
    assert!(listed["count"].as_i64().unwrap() >= fixtures.len() as i64);
    outpost.stop().await;
}
