//! Real SOAR app JSON from the public connector repositories (`fixtures/soar_apps/`,
//! where each came from in `SOURCES.md`) parses unmodified: every action type, `ingest`
//! included, every configuration `data_type`, and every key Outpost does not read kept.

use std::collections::BTreeSet;

use outpost_proto::manifest::{FIELD_TYPES, Manifest};
use serde_json::Value;

fn fixtures() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/soar_apps");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("the fixtures folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap()))
        .collect();
    found.sort();
    found
}

#[test]
fn every_fixture_parses_and_keeps_what_outpost_does_not_read() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 10, "at least ten fixtures, found {}", fixtures.len());
    let sources = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/soar_apps/SOURCES.md"),
    )
    .unwrap();
    let mut action_types = BTreeSet::new();
    let mut data_types = BTreeSet::new();
    for (name, text) in &fixtures {
        assert!(sources.contains(&format!("`{name}`")), "SOURCES.md says where {name} came from");
        let manifest = Manifest::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let original: Value = serde_json::from_str(text).unwrap();
        // Every key survives a round trip through the manifest, the unknown ones included.
        let round_trip = serde_json::to_value(&manifest).unwrap();
        for (key, value) in original.as_object().unwrap() {
            assert_eq!(&round_trip[key], value, "{name}: key '{key}' kept");
        }
        for action in &manifest.actions {
            action_types.insert(action.action_type.clone());
        }
        for field in manifest.configuration.values() {
            data_types.insert(field["data_type"].as_str().unwrap_or("string").to_string());
        }
    }
    assert!(action_types.contains("ingest"), "an `on poll` action among the fixtures: {action_types:?}");
    for seen in ["file", "ph", "password", "numeric", "boolean", "string"] {
        assert!(data_types.contains(seen), "data_type {seen} among the fixtures: {data_types:?}");
    }
    assert!(data_types.iter().all(|t| FIELD_TYPES.contains(&t.as_str())));
}

#[test]
fn an_on_poll_action_checks_its_parameters_like_any_other() {
    let (_, kafka) = fixtures().into_iter().find(|(name, _)| name == "kafka.json").expect("kafka.json");
    let manifest = Manifest::parse(kafka.as_bytes()).unwrap();
    let on_poll = manifest.action("on poll").unwrap();
    assert_eq!(on_poll.action_type, "ingest");
    let params = on_poll.apply_parameters(&serde_json::Map::new()).unwrap();
    assert_eq!(params["artifact_count"], 1, "its default");
    let config = serde_json::json!({"hosts": "k:9092", "topic": "t", "timeout": 100, "message_parser": "def parse_messages(t, m): return []"});
    let applied = manifest.apply_configuration(config.as_object().unwrap()).unwrap();
    assert_eq!(applied["read_from_beginning"], false);
    assert!(
        manifest.apply_configuration(&serde_json::Map::new()).unwrap_err().contains("missing required field 'hosts'")
    );
}
