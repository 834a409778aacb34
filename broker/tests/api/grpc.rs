//! The gRPC API: `WatchActionRun` from pending to success, and `RegistryService` with the
//! same checks and messages as REST.

use std::time::Duration;

use futures::StreamExt;
use outpost_bus::Bus;
use outpost_proto::v1::action_run_event::Change;
use outpost_proto::v1::action_service_client::ActionServiceClient;
use outpost_proto::v1::registry_service_client::RegistryServiceClient;
use outpost_proto::v1::{self as pb, Target};
use serde_json::{Value, json};
use tonic::Code;

use outpost_tests::broker::TestBroker;
use outpost_tests::bundle::lookup_bundle;
use outpost_tests::fake_worker::{Outcome, parameter, progress_event, result_event, take_tasks};
use outpost_tests::grpc::{self, Credentials, Intercepted};

/// The next event of a watch, within ten seconds.
async fn next(stream: &mut tonic::Streaming<pb::ActionRunEvent>) -> Option<Result<pb::ActionRunEvent, tonic::Status>> {
    tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an event in time")
}

async fn actions(outpost: &TestBroker) -> ActionServiceClient<Intercepted> {
    ActionServiceClient::with_interceptor(grpc::channel(&outpost.grpc_url).await, Credentials(grpc::admin()))
}

async fn registry(outpost: &TestBroker) -> RegistryServiceClient<Intercepted> {
    RegistryServiceClient::with_interceptor(grpc::channel(&outpost.grpc_url).await, Credentials(grpc::admin()))
}

#[tokio::test]
async fn watch_action_run_streams_a_three_parameter_run_from_pending_to_success() {
    let outpost = TestBroker::start().await;
    let mut tasks = take_tasks(outpost.bus.clone()).await;
    let qa = outpost.app_id("QA").await;
    let container = outpost.container("watched").await;
    outpost.asset(json!({"name": "qa", "app": qa})).await;
    let mut client = actions(&outpost).await;
    let id = client
        .run_action(pb::RunActionRequest {
            action: "echo".into(),
            container_id: container,
            name: "watched run".into(),
            targets: vec![Target {
                app_id: qa.to_string(),
                assets: vec!["qa".into()],
                parameters_json: (1..=3).map(|i| json!({"index": i}).to_string()).collect(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .action_run_id;

    let mut stream = client.watch_action_run(pb::WatchActionRunRequest { id }).await.unwrap().into_inner();
    let snapshot = next(&mut stream).await.unwrap().unwrap();
    assert_eq!(snapshot.change, Some(Change::Snapshot(true)), "the current state comes first");
    assert_eq!(snapshot.action_run.as_ref().unwrap().status, "pending");

    // Play the worker: progress on the first parameter set, then each result in turn.
    let mut held = vec![];
    for _ in 0..3 {
        held.push(tokio::time::timeout(Duration::from_secs(10), tasks.recv()).await.unwrap().unwrap());
    }
    held.sort_by_key(|t| t.parameter_index);
    outpost.bus.publish_event(&progress_event(&held[0], "looking at 1")).await.unwrap();
    let mut events = vec![snapshot];
    loop {
        let event = next(&mut stream).await.unwrap().unwrap();
        let progressed = matches!(&event.change, Some(Change::Progress(p)) if p.message == "looking at 1");
        events.push(event);
        if progressed {
            break;
        }
    }
    for task in &held {
        let echoed = parameter(task);
        outpost
            .bus
            .publish_event(&result_event(task, &Outcome::success("echoed", vec![echoed], json!({}))))
            .await
            .unwrap();
    }
    while let Some(event) = next(&mut stream).await {
        events.push(event.unwrap());
    }

    let statuses: Vec<&str> = events.iter().map(|e| e.action_run.as_ref().unwrap().status.as_str()).collect();
    let rank = |s: &str| {
        ["pending", "running", "success"].iter().position(|x| *x == s).unwrap_or_else(|| panic!("status {s}"))
    };
    assert!(statuses.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "statuses only move forward: {statuses:?}");
    assert!(statuses.contains(&"running"), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), "success", "the stream ends at the final state: {statuses:?}");
    assert_eq!(events.last().unwrap().change, Some(Change::Status(true)), "its closing is the last event");
    let done = events.iter().find_map(|e| match &e.change {
        Some(Change::AppRunDone(app_run)) => Some(app_run.clone()),
        _ => None,
    });
    let done = done.expect("the app run finishing is an event");
    assert_eq!((done.status.as_str(), done.result_data.len()), ("success", 3));
    assert!(done.message.starts_with("'watched run' on asset 'qa': 3 actions succeeded."), "{}", done.message);
    let last = events.last().unwrap().action_run.as_ref().unwrap();
    assert_eq!(last.message, "3 actions succeeded");
    assert!(last.close_time.is_some());
    assert!(last.assign_time.is_some(), "{last:?}");

    // A finished run: its snapshot, then the end.
    let mut again = client.watch_action_run(pb::WatchActionRunRequest { id }).await.unwrap().into_inner();
    assert_eq!(next(&mut again).await.unwrap().unwrap().action_run.unwrap().status, "success");
    assert!(next(&mut again).await.is_none());

    // The listing RPCs speak REST's language.
    let runs = client
        .list_action_runs(pb::ListActionRunsRequest {
            query: Some(pb::ListQuery {
                filters: [("name__icontains".to_string(), "\"WATCHED\"".to_string())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((runs.count, runs.data[0].id), (1, id));
    let app_runs = client
        .list_app_runs(pb::ListAppRunsRequest { action_run_id: id, include_expensive: true, query: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app_runs.data[0].result_data.len(), 3);
    let results = client
        .list_action_results(pb::ListActionResultsRequest {
            app_run_id: app_runs.data[0].id,
            query: Some(pb::ListQuery { page: 1, page_size: Some(2), ..Default::default() }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((results.count, results.num_pages, results.data.len()), (3, 2, 1));
    let bad = client
        .list_action_runs(pb::ListActionRunsRequest {
            query: Some(pb::ListQuery {
                filters: [("colour".to_string(), "1".to_string())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("cannot filter action runs on 'colour'"), "{}", bad.message());
    outpost.stop().await;
}

/// Every event of a watch until the stream ends.
async fn drain(stream: &mut tonic::Streaming<pb::ActionRunEvent>) -> Vec<pb::ActionRunEvent> {
    let mut events = vec![];
    while let Some(event) = next(stream).await {
        events.push(event.unwrap());
    }
    events
}

fn finished_app_runs(events: &[pb::ActionRunEvent]) -> Vec<i64> {
    let mut ids: Vec<i64> = events
        .iter()
        .filter_map(|e| match &e.change {
            Some(Change::AppRunDone(app_run)) => Some(app_run.id),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn watch_action_run_sends_every_app_run_finishing_even_when_they_close_together() {
    let outpost = TestBroker::start().await;
    let mut tasks = take_tasks(outpost.bus.clone()).await;
    let qa = outpost.app_id("QA").await;
    let container = outpost.container("two assets").await;
    for name in ["qa-one", "qa-two", "qa-three"] {
        outpost.asset(json!({"name": name, "app": qa})).await;
    }
    let mut client = actions(&outpost).await;
    let run = |assets: &[&str]| pb::RunActionRequest {
        action: "echo".into(),
        container_id: container,
        targets: vec![Target {
            app_id: qa.to_string(),
            assets: assets.iter().map(|a| a.to_string()).collect(),
            parameters_json: vec![json!({"index": 1}).to_string()],
        }],
        ..Default::default()
    };
    let id = client.run_action(run(&["qa-one", "qa-two", "qa-three"])).await.unwrap().into_inner().action_run_id;
    let mut stream = client.watch_action_run(pb::WatchActionRunRequest { id }).await.unwrap().into_inner();
    assert_eq!(next(&mut stream).await.unwrap().unwrap().change, Some(Change::Snapshot(true)));

    // Three results published back to back land in one ingestion batch: the store closes
    // the three app runs and the action run in one transaction.
    let mut held = vec![];
    for _ in 0..3 {
        held.push(tokio::time::timeout(Duration::from_secs(10), tasks.recv()).await.unwrap().unwrap());
    }
    for task in &held {
        let outcome = Outcome::success("echoed", vec![parameter(task)], json!({}));
        outpost.bus.publish_event(&result_event(task, &outcome)).await.unwrap();
    }
    let events = drain(&mut stream).await;
    let app_runs = outpost.rest.ok(&format!("/rest/action_run/{id}/app_runs")).await;
    let mut expected: Vec<i64> =
        app_runs["data"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
    expected.sort();
    assert_eq!(finished_app_runs(&events), expected, "each app run's finish is sent once: {events:?}");
    assert_eq!(events.last().unwrap().action_run.as_ref().unwrap().status, "success");

    // A cancel closes every app run at once, with nothing from a worker.
    let id = client.run_action(run(&["qa-one", "qa-two"])).await.unwrap().into_inner().action_run_id;
    let mut stream = client.watch_action_run(pb::WatchActionRunRequest { id }).await.unwrap().into_inner();
    assert_eq!(next(&mut stream).await.unwrap().unwrap().change, Some(Change::Snapshot(true)));
    client.cancel_action_run(pb::CancelActionRunRequest { id }).await.unwrap();
    let events = drain(&mut stream).await;
    assert_eq!(finished_app_runs(&events).len(), 2, "{events:?}");
    let last = events.last().unwrap().action_run.as_ref().unwrap();
    assert_eq!(last.status, "failed");
    assert!(!last.cancelled.is_empty(), "{last:?}");
    outpost.stop().await;
}

#[tokio::test]
async fn registry_service_shares_the_rest_checks() {
    let outpost = TestBroker::start().await;
    let mut registry = registry(&outpost).await;

    // Apps.
    use base64::Engine;
    let bundle = base64::engine::general_purpose::STANDARD.decode(lookup_bundle("1.0.0")).unwrap();
    let installed = registry.install_app(pb::InstallAppRequest { bundle: bundle.clone() }).await.unwrap().into_inner();
    assert_eq!((installed.outcome.as_str(), installed.app.as_ref().unwrap().name.as_str()), ("created", "Lookup"));
    let lookup = installed.app.unwrap().id;
    let bad = registry.install_app(pb::InstallAppRequest { bundle: b"nope".to_vec() }).await.unwrap_err();
    assert_eq!(
        (bad.code(), bad.message()),
        (Code::InvalidArgument, "invalid app bundle: not a gzip-compressed tar archive")
    );
    let apps = registry
        .list_apps(pb::ListAppsRequest { query: Some(pb::ListQuery { sort: "name".into(), ..Default::default() }) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        apps.data.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["Lookup", "QA", "Reputation", "WHOIS RDAP"]
    );
    let app = registry.get_app(pb::GetAppRequest { id: lookup }).await.unwrap().into_inner();
    assert_eq!(serde_json::from_str::<Value>(&app.manifest_json).unwrap()["actions"][1]["action"], "lookup");
    assert_eq!(registry.get_app(pb::GetAppRequest { id: 999 }).await.unwrap_err().code(), Code::NotFound);

    // Assets: the REST messages, secrets masked.
    let input = |name: &str, configuration: Value| pb::AssetInput {
        name: Some(name.into()),
        app: Some(lookup.to_string()),
        configuration_json: Some(configuration.to_string()),
        ..Default::default()
    };
    let asset = registry
        .create_asset(pb::CreateAssetRequest {
            asset: Some(input("Lookup", json!({"base_url": "https://x", "token": "s3cret"}))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asset.name, "lookup");
    assert_eq!(serde_json::from_str::<Value>(&asset.configuration_json).unwrap()["token"], "********");
    let missing =
        registry.create_asset(pb::CreateAssetRequest { asset: Some(input("x", json!({}))) }).await.unwrap_err();
    assert_eq!(
        (missing.code(), missing.message()),
        (Code::InvalidArgument, "configuration: missing required field 'base_url'")
    );
    let taken = registry
        .create_asset(pb::CreateAssetRequest { asset: Some(input("LOOKUP", json!({"base_url": "y"}))) })
        .await
        .unwrap_err();
    assert_eq!((taken.code(), taken.message()), (Code::AlreadyExists, "an asset named 'lookup' exists already"));
    let not_json = registry
        .create_asset(pb::CreateAssetRequest {
            asset: Some(pb::AssetInput { configuration_json: Some("[]".into()), ..input("y", json!({})) }),
        })
        .await
        .unwrap_err();
    assert!(
        not_json.message().contains("'configuration_json' must be a JSON object, got a list"),
        "{}",
        not_json.message()
    );
    let segment = outpost.broker.store.create_segment("dmz").await.unwrap();
    let updated = registry
        .update_asset(pb::UpdateAssetRequest {
            id: asset.id,
            asset: Some(pb::AssetInput {
                configuration_json: Some(json!({"token": "********", "retries": 9}).to_string()),
                automation_broker_id: Some(segment.id),
                tags: Some(pb::Strings { values: vec!["x".into()] }),
                ..Default::default()
            }),
            clear: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((updated.automation_broker_id, updated.tags.clone()), (Some(segment.id), vec!["x".to_string()]));
    assert_eq!(outpost.broker.store.get_asset(asset.id).await.unwrap().unwrap().configuration["token"], "s3cret");
    let unbound = registry
        .update_asset(pb::UpdateAssetRequest { id: asset.id, asset: None, clear: vec!["automation_broker_id".into()] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((unbound.automation_broker_id, unbound.tags), (None, vec!["x".to_string()]));
    let listed = registry
        .list_assets(pb::ListAssetsRequest {
            query: Some(pb::ListQuery {
                filters: [("name".to_string(), "\"lookup\"".to_string())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((listed.count, listed.data[0].id), (1, asset.id));

    // Containers and artifacts.
    let container = registry
        .create_container(pb::CreateContainerRequest {
            container: Some(pb::ContainerInput {
                name: Some("grpc incident".into()),
                label: Some("Incident".into()),
                owner_id: Some(1),
                due_time: Some(prost_types::Timestamp { seconds: 1_452_971_880, nanos: 0 }),
                tags: Some(pb::Strings { values: vec!["a".into()] }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (container.label.as_str(), container.owner.as_str(), container.status.as_str()),
        ("incident", "admin", "new")
    );
    assert_eq!(container.due_time.as_ref().unwrap().seconds, 1_452_971_880);
    let closed = registry
        .update_container(pb::UpdateContainerRequest {
            id: container.id,
            container: Some(pb::ContainerInput { status: Some("closed".into()), ..Default::default() }),
            clear: vec!["due_time".into(), "owner_id".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(closed.close_time.is_some() && closed.due_time.is_none() && closed.owner_id.is_none());
    assert_eq!(
        (closed.name.as_str(), closed.tags.clone(), closed.version),
        ("grpc incident", vec!["a".to_string()], 2)
    );
    let bad_status = registry
        .update_container(pb::UpdateContainerRequest {
            id: container.id,
            container: Some(pb::ContainerInput { status: Some("done".into()), ..Default::default() }),
            clear: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_status.message(), "'status' must be one of new, open, closed, got 'done'");
    let bad_clear = registry
        .update_container(pb::UpdateContainerRequest { id: container.id, container: None, clear: vec!["name".into()] })
        .await
        .unwrap_err();
    assert!(bad_clear.message().starts_with("cannot clear 'name'"));
    assert_eq!(
        registry.get_container(pb::GetContainerRequest { id: 9999 }).await.unwrap_err().message(),
        "container 9999 not found"
    );

    let artifact_input = || pb::ArtifactInput {
        container_id: container.id,
        cef_json: Some(json!({"sourceAddress": "1.2.3.4"}).to_string()),
        source_data_identifier: Some("evt-1".into()),
        ..Default::default()
    };
    let artifact = registry
        .create_artifact(pb::CreateArtifactRequest { artifact: Some(artifact_input()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((artifact.container, artifact.label.as_str()), (container.id, "event"));
    let again =
        registry.create_artifact(pb::CreateArtifactRequest { artifact: Some(artifact_input()) }).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    assert!(again.message().contains(&artifact.id.to_string()));
    let artifacts = registry
        .list_artifacts(pb::ListArtifactsRequest { container_id: container.id, query: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((artifacts.count, artifacts.data[0].id), (1, artifact.id));
    let containers = registry
        .list_containers(pb::ListContainersRequest {
            query: Some(pb::ListQuery {
                filters: [("artifact_count".to_string(), "1".to_string())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(containers.data[0].artifact_count, 1);

    // Delete: refused once app runs refer to the asset.
    let deleted = registry.delete_asset(pb::DeleteAssetRequest { id: asset.id }).await.unwrap().into_inner();
    assert_eq!(deleted.message, "asset 'lookup' deleted");
    assert_eq!(
        registry.delete_asset(pb::DeleteAssetRequest { id: asset.id }).await.unwrap_err().code(),
        Code::NotFound
    );

    // Authentication is the same as REST's.
    let mut anonymous = RegistryServiceClient::new(grpc::channel(&outpost.grpc_url).await);
    let denied = anonymous.list_apps(pb::ListAppsRequest::default()).await.unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);

    // Health knows the new service.
    let mut health = tonic_health::pb::health_client::HealthClient::new(grpc::channel(&outpost.grpc_url).await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "outpost.v1.RegistryService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    // So does reflection.
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    // Reflection, like everything but the health check, needs a signed-in caller.
    let mut reflection =
        ServerReflectionClient::with_interceptor(grpc::channel(&outpost.grpc_url).await, Credentials(grpc::admin()));
    let list = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection.server_reflection_info(futures::stream::iter([list])).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(services)) = answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("reflection lists services");
    };
    let names: Vec<String> = services.service.into_iter().map(|s| s.name).collect();
    for service in ["outpost.v1.ActionService", "outpost.v1.RegistryService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == service), "{service} in {names:?}");
    }
    outpost.stop().await;
}
