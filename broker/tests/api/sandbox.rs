//! The broker's part of the sandbox: the limits a task carries (the asset's deadline
//! first, then the action's, then the app's; the manifest's memory), the asset's
//! `timeout_secs` over REST and gRPC, `known_versions` across upgrades and downgrades,
//! and bundles refused through `POST /rest/app` with a precise message.

use std::time::Duration;

use outpost_proto::v1::registry_service_client::RegistryServiceClient;
use outpost_proto::v1::{self as pb, Task};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use outpost_tests::apps;
use outpost_tests::broker::TestBroker;
use outpost_tests::bundle::{self, LOOKUP_APPID, lookup_manifest, tgz};
use outpost_tests::fake_worker::take_tasks;
use outpost_tests::grpc::{self, Credentials};
use outpost_tests::rest::assert_soar_error;

/// The "Lookup" test app with deadlines and memory: 30 s and 16 MiB for the app, 20 s
/// for its `lookup` action; `test connectivity` sets none of its own.
fn limited_bundle() -> String {
    let mut manifest = lookup_manifest("1.0.0");
    manifest["outpost"] = json!({"timeout_secs": 30, "memory_mb": 16});
    manifest["actions"][1]["outpost"] = json!({"timeout_secs": 20});
    let bundle = tgz(&[("lookup.json", manifest.to_string().as_bytes()), ("lookup.wasm", &apps::component("qa"))]);
    bundle::encode(&bundle)
}

/// Runs `action` on `asset` and answers the one task it queued.
async fn task_of(
    outpost: &TestBroker,
    tasks: &mut UnboundedReceiver<Task>,
    app: &str,
    asset: &str,
    action: &str,
) -> Task {
    let container = outpost.container(&format!("{asset} {action}")).await;
    let parameters = if action == "lookup" { json!([{"value": "x"}]) } else { json!([]) };
    outpost
        .rest
        .created(
            "/rest/action_run",
            &json!({"action": action, "container_id": container,
                    "targets": [{"app_id": app, "assets": [asset], "parameters": parameters}]}),
        )
        .await;
    tokio::time::timeout(Duration::from_secs(10), tasks.recv()).await.expect("a task in time").expect("a task")
}

#[tokio::test]
async fn a_task_carries_the_asset_then_action_then_app_deadline_and_the_manifest_memory() {
    let outpost = TestBroker::start().await;
    let mut tasks = take_tasks(outpost.bus.clone()).await;
    outpost.rest.created("/rest/app", &json!({"app": limited_bundle()})).await;
    let config = json!({"base_url": "https://lookup.example"});
    outpost.asset(json!({"name": "hasty", "app": LOOKUP_APPID, "configuration": config, "timeout_secs": 5})).await;
    outpost.asset(json!({"name": "patient", "app": LOOKUP_APPID, "configuration": config})).await;
    let qa = outpost.app_id("QA").await.to_string();
    outpost.asset(json!({"name": "qa", "app": qa, "timeout_secs": 7})).await;
    outpost.asset(json!({"name": "qa plain", "app": qa})).await;

    let limits = |task: Task| {
        let limits = task.limits.expect("every task carries limits");
        (limits.timeout_ms, limits.memory_bytes)
    };
    let sixteen_mib = 16 * 1024 * 1024;
    assert_eq!(
        limits(task_of(&outpost, &mut tasks, LOOKUP_APPID, "hasty", "lookup").await),
        (5_000, sixteen_mib),
        "the asset's deadline comes before the action's"
    );
    assert_eq!(
        limits(task_of(&outpost, &mut tasks, LOOKUP_APPID, "patient", "lookup").await),
        (20_000, sixteen_mib),
        "then the action's"
    );
    assert_eq!(
        limits(task_of(&outpost, &mut tasks, LOOKUP_APPID, "patient", "test connectivity").await),
        (30_000, sixteen_mib),
        "then the app's"
    );
    assert_eq!(limits(task_of(&outpost, &mut tasks, &qa, "qa", "echo").await), (7_000, 0), "an asset alone");
    assert_eq!(
        limits(task_of(&outpost, &mut tasks, &qa, "qa plain", "echo").await),
        (0, 0),
        "nothing set: the worker's maxima"
    );
    outpost.stop().await;
}

#[tokio::test]
async fn an_asset_deadline_is_checked_stored_shown_and_cleared_over_rest() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    let qa = outpost.app_id("QA").await;
    let create = |timeout: Value| async move {
        rest.post("/rest/asset", &json!({"name": "qa", "app": qa, "timeout_secs": timeout})).await
    };
    for bad in [json!(0), json!(-3), json!(1800)] {
        assert_soar_error(
            &create(bad.clone()).await,
            400,
            &format!("'timeout_secs' must be a whole number of seconds from 1 to 1799, got {bad}"),
        );
    }
    assert_soar_error(&create(json!(2.5)).await, 400, "'timeout_secs' must be an integer, got 2.5");
    assert_soar_error(&create(json!("60")).await, 400, "'timeout_secs' must be an integer, got a string");

    let id = create(json!(60)).await.1["id"].as_i64().expect("created");
    assert_eq!(rest.ok(&format!("/rest/asset/{id}")).await["timeout_secs"], 60);
    assert_eq!(rest.ok("/rest/asset").await["data"][0]["timeout_secs"], 60);
    rest.created(&format!("/rest/asset/{id}"), &json!({"description": "kept"})).await;
    assert_eq!(rest.ok(&format!("/rest/asset/{id}")).await["timeout_secs"], 60, "other changes keep it");
    assert_soar_error(
        &rest.post(&format!("/rest/asset/{id}"), &json!({"timeout_secs": 0})).await,
        400,
        "'timeout_secs' must be a whole number of seconds from 1 to 1799, got 0",
    );
    rest.created(&format!("/rest/asset/{id}"), &json!({"timeout_secs": 1799})).await;
    assert_eq!(rest.ok(&format!("/rest/asset/{id}")).await["timeout_secs"], 1799);
    rest.created(&format!("/rest/asset/{id}"), &json!({"timeout_secs": null})).await;
    let cleared = rest.ok(&format!("/rest/asset/{id}")).await;
    assert_eq!(cleared["timeout_secs"], Value::Null, "null clears it: {cleared}");
    assert!(cleared.as_object().unwrap().contains_key("timeout_secs"), "unset is shown as null");
    outpost.stop().await;
}

#[tokio::test]
async fn an_asset_deadline_is_set_and_cleared_over_grpc() {
    let outpost = TestBroker::start().await;
    let mut registry =
        RegistryServiceClient::with_interceptor(grpc::channel(&outpost.grpc_url).await, Credentials(grpc::admin()));
    let qa = outpost.app_id("QA").await;
    let input = |timeout_secs: Option<i64>| pb::AssetInput {
        name: Some("qa".into()),
        app: Some(qa.to_string()),
        timeout_secs,
        ..Default::default()
    };
    let refused =
        registry.create_asset(pb::CreateAssetRequest { asset: Some(input(Some(0))) }).await.expect_err("0 is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(refused.message(), "'timeout_secs' must be a whole number of seconds from 1 to 1799, got 0");
    let asset =
        registry.create_asset(pb::CreateAssetRequest { asset: Some(input(Some(45))) }).await.unwrap().into_inner();
    assert_eq!(asset.timeout_secs, Some(45));
    assert_eq!(outpost.rest.ok(&format!("/rest/asset/{}", asset.id)).await["timeout_secs"], 45);
    let changed = registry
        .update_asset(pb::UpdateAssetRequest {
            id: asset.id,
            asset: Some(pb::AssetInput { timeout_secs: Some(90), ..Default::default() }),
            clear: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.timeout_secs, Some(90));
    let cleared = registry
        .update_asset(pb::UpdateAssetRequest { id: asset.id, asset: None, clear: vec!["timeout_secs".into()] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.timeout_secs, None);
    assert_eq!(outpost.broker.store.get_asset(asset.id).await.unwrap().unwrap().timeout_secs, None);
    outpost.stop().await;
}

#[tokio::test]
async fn known_versions_hold_every_other_version_after_upgrades_reinstalls_and_downgrades() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    let bundle = |version: &str, component: &[u8]| {
        let manifest = lookup_manifest(version).to_string();
        let bundle = tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", component)]);
        json!({"app": bundle::encode(&bundle)})
    };
    let qa = apps::component("qa");
    let known = |id: i64| async move {
        let app = rest.ok(&format!("/rest/app/{id}")).await;
        (app["app_version"].as_str().unwrap().to_string(), app["known_versions"].clone())
    };
    let id = rest.created("/rest/app", &bundle("1.0.0", &qa)).await["id"].as_i64().unwrap();
    assert_eq!(known(id).await, ("1.0.0".into(), json!([])));
    rest.created("/rest/app", &bundle("2.0.0", &qa)).await;
    assert_eq!(known(id).await, ("2.0.0".into(), json!(["1.0.0"])), "upgrade");
    // The same version again with another component (a rebuild): no other version.
    let rebuilt = apps::handler_only();
    let reinstalled = rest.created("/rest/app", &bundle("2.0.0", &rebuilt)).await;
    assert_eq!(reinstalled["message"], "app 'Lookup' upgraded to 2.0.0", "{reinstalled}");
    assert_eq!(known(id).await, ("2.0.0".into(), json!(["1.0.0"])), "re-install of the same version");
    let downgraded = rest.created("/rest/app", &bundle("1.0.0", &qa)).await;
    assert_eq!(downgraded["id"], id);
    assert_eq!(known(id).await, ("1.0.0".into(), json!(["2.0.0"])), "downgrade: the current version is not known");
    rest.created("/rest/app", &bundle("3.0.0", &qa)).await;
    assert_eq!(
        known(id).await,
        ("3.0.0".into(), json!(["2.0.0", "1.0.0"])),
        "each once, in the order replaced: the last is the one 3.0.0 replaced"
    );
    outpost.stop().await;
}

#[tokio::test]
async fn bundles_refused_through_rest_say_precisely_why() {
    let outpost = TestBroker::start().await;
    let rest = &outpost.rest;
    let b64 = bundle::encode;
    let install = |bundle: Vec<u8>| async move { rest.post("/rest/app", &json!({"app": b64(&bundle)})).await };
    let manifest = lookup_manifest("1.0.0").to_string();
    let manifest = manifest.as_bytes();

    let foreign = apps::foreign_import();
    assert_soar_error(
        &install(tgz(&[("lookup.json", manifest), ("lookup.wasm", &foreign)])).await,
        400,
        "invalid app bundle: the component imports 'evil:fs/files@1.0.0', which is outside the outpost:connector world",
    );

    let oversized = vec![0x1f; outpost_broker::catalog::bundle::MAX_BUNDLE_BYTES + 1];
    assert_soar_error(
        &install(oversized).await,
        413,
        "invalid app bundle: the bundle is 67108865 bytes, more than the 64 MiB allowed",
    );

    // 2 x 90 MiB of zeros: a few hundred KiB compressed, over the 160 MiB unpacked cap.
    let zeros = vec![0u8; 90 << 20];
    assert_soar_error(
        &install(tgz(&[("lookup.json", manifest), ("a.bin", &zeros), ("b.bin", &zeros)])).await,
        400,
        "invalid app bundle: the bundle holds more than 160 MiB unpacked",
    );
    assert_eq!(rest.ok("/rest/app?_filter_name=\"Lookup\"").await["count"], 0, "nothing was installed");
    outpost.stop().await;
}
