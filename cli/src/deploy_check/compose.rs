//! `deploy/compose/docker-compose.yml`: every Outpost service's `command` and
//! `environment` parse as `outpost` would take them; published ports are the ports it
//! listens on; the hosts its URLs name are services on a network it shares; files it
//! reads are on its volumes; secrets come from the environment of `docker compose`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Start, image, yaml_documents};

const COMPOSE: &str = "deploy/compose/docker-compose.yml";

fn services() -> serde_json::Map<String, Value> {
    let documents = yaml_documents(COMPOSE);
    assert_eq!(documents.len(), 1, "{COMPOSE}: one document");
    documents[0]["services"].as_object().expect("services").clone()
}

/// `${VAR}`, `${VAR:?message}` and `${VAR:-default}` replaced by a placeholder, as
/// `docker compose` would fill them from its environment.
fn interpolated(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').map(|e| at + e).unwrap_or(rest.len() - 1);
        out.push_str("placeholder");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_outpost(service: &Value) -> bool {
    service["build"]["dockerfile"] == "deploy/Dockerfile"
}

fn start(name: &str, service: &Value) -> Start {
    let args: Vec<String> = service["command"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: give the subcommand as `command: [...]`"))
        .iter()
        .map(|a| a.as_str().expect("command words are strings").to_string())
        .collect();
    let env: BTreeMap<String, String> = service["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: environment as a mapping"))
        .iter()
        .map(|(k, v)| (k.clone(), interpolated(v.as_str().unwrap_or_else(|| panic!("{name}: {k} must be quoted")))))
        .collect();
    Start { origin: format!("{COMPOSE} service {name}"), args, env, image_env: image().env }
}

fn networks(service: &Value) -> Vec<String> {
    service["networks"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_string)).collect()
}

/// The host and port of a URL (`scheme://user:pass@host:port/...`).
fn host_port(url: &str) -> (String, Option<u16>) {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = after_scheme.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().ok()),
        None => (host_port.to_string(), None),
    }
}

#[test]
fn every_outpost_service_parses_and_publishes_the_ports_it_listens_on() {
    let services = services();
    let outposts: Vec<(&String, &Value)> = services.iter().filter(|(_, s)| is_outpost(s)).collect();
    assert!(outposts.len() >= 2, "a broker and workers");
    for (name, service) in outposts {
        let start = start(name, service);
        start.parse().unwrap_or_else(|e| panic!("{e}"));
        let listens: Vec<u16> = start.listens().unwrap().iter().map(|a| a.port()).collect();
        for published in service["ports"].as_array().into_iter().flatten() {
            let text = published.as_str().expect("ports as \"host:container\"");
            let container: u16 = text.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
            assert!(listens.contains(&container), "{name}: publishes {container}, but outpost listens on {listens:?}");
            assert!(
                start.listens().unwrap().iter().all(|a| a.ip().is_unspecified()),
                "{name}: a published port needs a 0.0.0.0 listener"
            );
        }
        // Secrets come from `docker compose`'s environment, never written here.
        for (key, value) in service["environment"].as_object().into_iter().flatten() {
            let value = value.as_str().unwrap_or_default();
            if key.contains("PASSWORD") || value.contains('@') {
                assert!(value.contains("${"), "{name}: {key} holds a secret: take it from the environment");
            }
        }
    }
}

#[test]
fn urls_name_services_on_a_shared_network_and_files_are_on_volumes() {
    let services = services();
    for (name, service) in services.iter().filter(|(_, s)| is_outpost(s)) {
        let start = start(name, service);
        let mine = networks(service);
        for key in ["OUTPOST_AMQP_URL", "OUTPOST_DATABASE_URL", "OUTPOST_BROKER_GRPC"] {
            let Some(url) = start.env.get(key) else { continue };
            let (host, port) = host_port(url);
            let target = services.get(&host).unwrap_or_else(|| panic!("{name}: {key} names {host}, no service"));
            assert!(
                networks(target).iter().any(|n| mine.contains(n)),
                "{name}: {key} names {host}, which shares no network with it"
            );
            if key == "OUTPOST_BROKER_GRPC" {
                let grpc = self::start(&host, target).grpc_port().unwrap();
                assert_eq!(port, grpc, "{name}: {url} is not the broker's gRPC port");
            }
        }
        let mounts: Vec<String> = service["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str()?.split(':').nth(1).map(str::to_string))
            .collect();
        if let Some(key) = start.env.get("OUTPOST_BUS_KEY_FILE") {
            assert!(mounts.iter().any(|m| key.starts_with(m.as_str())), "{name}: {key} is on no volume");
        }
        if start.subcommand() == "broker" {
            let data = start.setting("OUTPOST_DATA_DIR").expect("a data dir");
            assert!(mounts.contains(&data), "{name}: the broker's data dir {data} must be a volume");
        }
        for needed in service["depends_on"].as_array().into_iter().flatten() {
            assert!(services.contains_key(needed.as_str().unwrap_or_default()), "{name}: depends on {needed}");
        }
        for (needed, _) in service["depends_on"].as_object().into_iter().flatten() {
            assert!(services.contains_key(needed), "{name}: depends on {needed}");
        }
    }
    // Images other than ours are pinned to a release line, not `latest`.
    for (name, service) in services.iter().filter(|(_, s)| !is_outpost(s)) {
        let image = service["image"].as_str().unwrap_or_else(|| panic!("{name}: an image"));
        assert!(image.contains(':') && !image.ends_with(":latest"), "{name}: pin {image} to a version");
    }
}

#[test]
fn compose_interpolation_and_urls_read_as_docker_compose_does() {
    assert_eq!(interpolated("postgres://o:${P}@db/o"), "postgres://o:placeholder@db/o");
    assert_eq!(interpolated("${A:?set A}"), "placeholder");
    assert_eq!(host_port("amqp://u:p@rabbitmq:5672/%2f"), ("rabbitmq".into(), Some(5672)));
    assert_eq!(host_port("postgres://u:p@postgres/outpost"), ("postgres".into(), None));
}
