//! `deploy/k8s/*.yaml`: every container's `args` and `env` parse as `outpost` would
//! take them; declared ports are the ports it listens on, Services and probes point at
//! them; the KEDA scaler watches the queue its workers consume; the Secrets it reads
//! are the ones its header tells how to create; the pods run as the image's user.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Start, image, read, yaml_documents};

const MANIFEST: &str = "deploy/k8s/outpost.yaml";

fn documents() -> Vec<Value> {
    yaml_documents(MANIFEST)
}

fn named<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

fn name(document: &Value) -> String {
    document["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

/// A container's start, secrets as placeholders.
fn start(deployment: &str, container: &Value) -> Start {
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{deployment}: give the subcommand in `args` (the image's entrypoint is outpost)"))
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_string())
        .collect();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let key = var["name"].as_str().expect("env name").to_string();
        let value = match (&var["value"], &var["valueFrom"]) {
            (Value::String(v), _) => v.clone(),
            (Value::Null, Value::Object(_)) => format!("placeholder-of-{key}"),
            (other, _) => panic!("{deployment}: env {key} must be a string, got {other}"),
        };
        env.insert(key, value);
    }
    Start { origin: format!("{MANIFEST} deployment {deployment}"), args, env, image_env: image().env }
}

/// Each Deployment's outpost container with its start.
fn outposts(documents: &[Value]) -> Vec<(String, &Value, &Value, Start)> {
    named(documents, "Deployment")
        .into_iter()
        .flat_map(|d| {
            let deployment = name(d);
            let pod = &d["spec"]["template"];
            pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |c| (deployment.clone(), pod, c, start(&name(d), c)))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_container_start_parses_and_listens_where_it_says() {
    let documents = documents();
    let outposts = outposts(&documents);
    assert!(outposts.len() >= 2, "a broker and a worker");
    for (deployment, pod, container, start) in &outposts {
        start.parse().unwrap_or_else(|e| panic!("{e}"));
        let listens: Vec<u16> = start.listens().unwrap().iter().map(|a| a.port()).collect();
        let declared: Vec<u64> = container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["containerPort"].as_u64().expect("containerPort"))
            .collect();
        let mut expected: Vec<u64> = listens.iter().map(|p| u64::from(*p)).collect();
        expected.sort();
        let mut sorted = declared.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "{deployment}: containerPorts are the ports outpost listens on");
        if let Some(grpc) = container["readinessProbe"]["grpc"]["port"].as_u64() {
            assert_eq!(Some(grpc), start.grpc_port().unwrap().map(u64::from), "{deployment}: the grpc probe's port");
        }
        assert!(
            container["readinessProbe"]["httpGet"].is_null() && container["livenessProbe"]["httpGet"].is_null(),
            "{deployment}: REST needs credentials; probe the gRPC health service"
        );
        // Runs as the image's user, whose group may read the mounted volumes.
        let uid = image().uid;
        let security = &pod["spec"]["securityContext"];
        assert_eq!(security["runAsUser"].as_u64(), Some(u64::from(uid)), "{deployment}: runAsUser");
        assert_eq!(security["fsGroup"].as_u64(), Some(u64::from(uid)), "{deployment}: fsGroup");
        // Paths it reads or writes are on volumes, or in the image's own data dir.
        let mounts: Vec<&str> = container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["mountPath"].as_str())
            .collect();
        if let Some(key) = start.env.get("OUTPOST_BUS_KEY_FILE") {
            assert!(mounts.iter().any(|m| key.starts_with(m)), "{deployment}: {key} is on no volume");
        }
        if start.subcommand() == "broker" {
            let data = start.setting("OUTPOST_DATA_DIR").expect("a data dir");
            assert!(mounts.contains(&data.as_str()), "{deployment}: the broker's data dir {data} must be a volume");
        }
        let image_name = container["image"].as_str().unwrap_or_default();
        assert!(
            read("deploy/README.md").contains(&format!("-t {image_name} ")),
            "{deployment}: how is {image_name} built?"
        );
    }
}

#[test]
fn services_workers_and_the_scaler_point_at_real_ports_and_queues() {
    let documents = documents();
    let outposts = outposts(&documents);
    for service in named(&documents, "Service") {
        let selector = service["spec"]["selector"].as_object().expect("a selector");
        let (deployment, _, container, _) = outposts
            .iter()
            .find(|(_, pod, _, _)| selector.iter().all(|(k, v)| &pod["metadata"]["labels"][k] == v))
            .unwrap_or_else(|| panic!("service {} selects no outpost pod", name(service)));
        for port in service["spec"]["ports"].as_array().into_iter().flatten() {
            let target = if port["targetPort"].is_null() { &port["port"] } else { &port["targetPort"] };
            let found = container["ports"].as_array().into_iter().flatten().any(|p| match target {
                Value::String(n) => p["name"] == *n,
                number => p["containerPort"] == *number,
            });
            assert!(found, "service {}: port {target} is no port of {deployment}", name(service));
        }
    }

    // Workers reach the broker through its Service, on the broker's gRPC port.
    let broker = outposts.iter().find(|(_, _, _, s)| s.subcommand() == "broker").expect("a broker");
    let grpc = broker.3.grpc_port().unwrap().expect("grpc");
    for (deployment, _, _, start) in outposts.iter().filter(|(_, _, _, s)| s.subcommand() == "worker") {
        let url = start.setting("OUTPOST_BROKER_GRPC").expect("broker address");
        let service = named(&documents, "Service").into_iter().find(|s| url.contains(&format!("//{}:", name(s))));
        let service = service.unwrap_or_else(|| panic!("{deployment}: {url} is no Service of the manifest"));
        let ports: Vec<&Value> = service["spec"]["ports"].as_array().into_iter().flatten().collect();
        let port = ports.iter().find(|p| url.ends_with(&format!(":{}", p["port"])));
        assert!(port.is_some(), "{deployment}: {url} is no port of service {}", name(service));
        assert!(ports.iter().any(|p| p["targetPort"] == "grpc" || p["port"] == grpc), "the grpc port is served");
    }

    // Each scaler watches the task queue of the segment its Deployment serves.
    let authentications: Vec<String> = named(&documents, "TriggerAuthentication").into_iter().map(name).collect();
    let scalers = named(&documents, "ScaledObject");
    assert!(!scalers.is_empty(), "workers are autoscaled");
    for scaler in scalers {
        let target = scaler["spec"]["scaleTargetRef"]["name"].as_str().unwrap_or_default();
        let (_, _, _, start) = outposts
            .iter()
            .find(|(d, _, _, _)| d == target)
            .unwrap_or_else(|| panic!("scaler {} targets no Deployment {target}", name(scaler)));
        assert_eq!(start.subcommand(), "worker", "scaler {} scales workers", name(scaler));
        let prefix = start.setting("OUTPOST_AMQP_PREFIX").expect("a prefix");
        let segment = start.setting("OUTPOST_SEGMENT").expect("a segment");
        let queue = outpost_proto::topology::Topology::with_prefix(prefix).task_queue(&segment);
        for trigger in scaler["spec"]["triggers"].as_array().into_iter().flatten() {
            assert_eq!(trigger["metadata"]["queueName"], queue.as_str(), "scaler {}: the queue", name(scaler));
            let auth = trigger["authenticationRef"]["name"].as_str().unwrap_or_default();
            assert!(
                authentications.iter().any(|a| a == auth),
                "scaler {}: no TriggerAuthentication {auth}",
                name(scaler)
            );
        }
    }
}

#[test]
fn every_secret_read_is_one_the_header_says_how_to_create() {
    let text = read(MANIFEST);
    let header: String = text.lines().take_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let documents = documents();
    let mut references: Vec<(String, String)> = vec![];
    for (_, pod, container, _) in outposts(&documents) {
        for var in container["env"].as_array().into_iter().flatten() {
            let secret = &var["valueFrom"]["secretKeyRef"];
            if !secret.is_null() {
                references.push((secret["name"].as_str().unwrap().into(), secret["key"].as_str().unwrap().into()));
            }
        }
        for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            if let Some(secret) = volume["secret"]["secretName"].as_str() {
                references.push((secret.into(), String::new()));
            }
        }
    }
    for auth in named(&documents, "TriggerAuthentication") {
        for target in auth["spec"]["secretTargetRef"].as_array().into_iter().flatten() {
            references.push((target["name"].as_str().unwrap().into(), target["key"].as_str().unwrap().into()));
        }
    }
    assert!(!references.is_empty());
    for (secret, key) in references {
        let created = header.lines().any(|l| l.contains(&format!("create secret generic {secret}")));
        assert!(created, "{MANIFEST}: the header does not say how to create the Secret {secret}");
        if !key.is_empty() {
            assert!(header.contains(&format!("--from-literal={key}=")), "{MANIFEST}: how is {secret}/{key} set?");
        }
    }
}
