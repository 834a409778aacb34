//! The store contract: the same cases against SQLite and PostgreSQL.
//!
//! PostgreSQL cases use a fresh database on the machine's server (trust auth), dropped
//! at the end of each case.

use std::future::Future;

use outpost_broker::store::Store;
use outpost_broker::store::apps::Installed;
use outpost_broker::store::assets::NewAsset;
use outpost_broker::store::containers::ContainerFields;
use outpost_broker::store::runs::{Cancelled, Change, NewActionRun, NewAppRun};
use outpost_broker::store::{Page, db::Db};
use outpost_proto::manifest::Manifest;
use outpost_proto::seal::SealKey;
use outpost_proto::time::now_ms;
use outpost_proto::v1::{HttpExchange, ResultStatus, Task, TaskResult};
use serde_json::{Value, json};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn with_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    case(Store::open(&url, SealKey::generate()).await.unwrap()).await;
}

async fn with_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = format!("outpost_store_{}", uuid::Uuid::new_v4().simple());
    let admin = Db::connect_unmigrated(PG_ADMIN).await.expect("the machine's PostgreSQL at 127.0.0.1:5432");
    admin.execute(&format!("CREATE DATABASE {name}"), vec![]).await.unwrap();
    let store = Store::open(&format!("postgres://postgres@127.0.0.1:5432/{name}"), SealKey::generate()).await.unwrap();
    case(store.clone()).await;
    store.close().await;
    admin.execute(&format!("DROP DATABASE {name} WITH (FORCE)"), vec![]).await.unwrap();
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() { super::with_sqlite(super::$case).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() { super::with_postgres(super::$case).await; })*
        }
    };
}

both_backends!(
    apps_install_upgrade_and_keep_known_versions,
    asset_configuration_is_sealed_at_rest,
    an_action_run_is_queued_run_and_assembled_once,
    delayed_tasks_wait_in_the_store,
    cancel_keeps_finished_results_and_ignores_late_ones,
    progress_marks_runs_running,
    state_is_last_writer_wins_with_versions,
    paging_lists_results,
);

fn manifest(version: &str) -> Manifest {
    Manifest::parse(
        json!({
            "appid": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
            "name": "GeoIP",
            "app_version": version,
            "configuration": {"apikey": {"data_type": "password"}},
            "actions": [{"action": "geolocate ip", "identifier": "geolocate_ip", "type": "investigate",
                         "parameters": {"ip": {"data_type": "string", "required": true}}}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

struct Fixture {
    app_id: i64,
    asset_id: i64,
    container_id: i64,
}

async fn fixture(store: &Store) -> Fixture {
    let (app, _) = store.install_app(&manifest("1.0.0"), &"a".repeat(64), b"component").await.unwrap();
    let asset = store
        .create_asset(&NewAsset {
            name: "Geo".into(),
            app_id: app.id,
            description: String::new(),
            configuration: json!({"apikey": "s3cret-value"}).as_object().unwrap().clone(),
            automation_broker_id: None,
            tags: vec![],
        })
        .await
        .unwrap();
    let container = store.create_container(&ContainerFields { name: "c".into(), status: "new".into(), ..Default::default() }).await.unwrap();
    Fixture { app_id: app.id, asset_id: asset.id, container_id: container.id }
}

fn new_run(f: &Fixture, ips: &[&str], delay: i64) -> NewActionRun {
    NewActionRun {
        action: "geolocate ip".into(),
        name: "geo run".into(),
        action_type: "investigate".into(),
        container_id: f.container_id,
        creator: Some(1),
        exec_delay_secs: delay,
        targets: json!([{"app_id": f.app_id, "assets": [f.asset_id], "parameters": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>()}]),
        app_runs: vec![NewAppRun {
            asset_id: f.asset_id,
            app_id: f.app_id,
            app_name: "GeoIP".into(),
            app_version: "1.0.0".into(),
            segment: "default".into(),
            automation_broker_id: None,
            task: Task { action: "geolocate ip".into(), identifier: "geolocate_ip".into(), ..Default::default() },
            parameters: ips.iter().map(|ip| json!({"ip": ip, "context": {"guid": "g", "artifact_id": 0, "parent_action_run": []}})).collect(),
        }],
    }
}

fn result_for(task: &Task, ok: bool, message: &str) -> TaskResult {
    TaskResult {
        task_id: task.task_id.clone(),
        action_run_id: task.action_run_id,
        app_run_id: task.app_run_id,
        parameter_index: task.parameter_index,
        status: if ok { ResultStatus::Success } else { ResultStatus::Failed } as i32,
        message: message.into(),
        data_json: vec![json!({"country_iso_code": "US"}).to_string()],
        summary_json: json!({"country": "United States"}).to_string(),
        node_guid: "node-1".into(),
        started_unix_ms: now_ms(),
        finished_unix_ms: now_ms(),
        ..Default::default()
    }
}

async fn apps_install_upgrade_and_keep_known_versions(store: Store) {
    let (first, how) = store.install_app(&manifest("1.0.0"), &"a".repeat(64), b"v1").await.unwrap();
    assert_eq!(how, Installed::Created);
    let (same, how) = store.install_app(&manifest("1.0.0"), &"a".repeat(64), b"v1").await.unwrap();
    assert_eq!(how, Installed::Unchanged);
    assert_eq!(same.id, first.id);
    let (upgraded, how) = store.install_app(&manifest("1.1.0"), &"b".repeat(64), b"v2").await.unwrap();
    assert_eq!(how, Installed::Upgraded);
    assert_eq!(upgraded.id, first.id, "an upgrade keeps the numeric id");
    assert_eq!(upgraded.known_versions, vec!["1.0.0"]);
    assert_eq!(upgraded.digest, "b".repeat(64));
    assert_eq!(store.component(&"a".repeat(64)).await.unwrap().unwrap(), b"v1", "old components stay for in-flight tasks");
    assert_eq!(store.find_app(&first.appid.to_uppercase()).await.unwrap().unwrap().id, first.id);
    assert_eq!(store.find_app(&first.id.to_string()).await.unwrap().unwrap().app_version, "1.1.0");
    assert!(store.find_app("nope").await.unwrap().is_none());
}

async fn asset_configuration_is_sealed_at_rest(store: Store) {
    let f = fixture(&store).await;
    let raw = store.db().fetch_one("SELECT configuration FROM assets WHERE id = $1", vec![f.asset_id.into()]).await.unwrap();
    let bytes = raw.bytes("configuration").unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("s3cret-value"), "the secret is not stored in clear");
    let asset = store.get_asset(f.asset_id).await.unwrap().unwrap();
    assert_eq!(asset.name, "geo", "names are lowercased");
    assert_eq!(asset.configuration["apikey"], "s3cret-value");
    assert_eq!(store.find_asset("GEO").await.unwrap().unwrap().id, f.asset_id);
    let duplicate = store
        .create_asset(&NewAsset {
            name: "geo".into(),
            app_id: f.app_id,
            description: String::new(),
            configuration: Default::default(),
            automation_broker_id: None,
            tags: vec![],
        })
        .await
        .unwrap_err();
    assert!(duplicate.is_unique_violation());
}

async fn an_action_run_is_queued_run_and_assembled_once(store: Store) {
    let f = fixture(&store).await;
    let id = store.create_action_run(&new_run(&f, &["8.8.8.8", "1.1.1.1", "9.9.9.9"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 100).await.unwrap();
    assert_eq!(due.len(), 3);
    assert_eq!(due[0].task.task_id, format!("{}.0", due[0].task.app_run_id));
    assert_eq!(due[0].task.state.as_ref().unwrap().json, "{}");
    store.mark_sent(&due.iter().map(|t| t.row_id).collect::<Vec<_>>()).await.unwrap();
    assert!(store.due_tasks(now_ms(), 100).await.unwrap().is_empty(), "sent tasks are not sent again");

    let results: Vec<TaskResult> = due.iter().map(|t| result_for(&t.task, true, "Country: United States")).collect();
    let changes = store.ingest_results(&results[..2]).await.unwrap();
    assert!(changes.contains(&Change::Started { action_run_id: id }));
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "running");
    // The same result twice, and the last one: only the last counts.
    let changes = store.ingest_results(&[results[0].clone(), results[2].clone(), results[2].clone()]).await.unwrap();
    assert!(changes.contains(&Change::ActionRunDone { action_run_id: id }), "{changes:?}");
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "success");
    assert_eq!(run.message, "3 actions succeeded");
    assert!(run.close_ms.is_some());
    let app_run = &store.list_app_runs(Some(id), Page::default()).await.unwrap().data[0];
    assert_eq!(app_run.node_guid.as_deref(), Some("node-1"));
    assert_eq!(app_run.result_summary, json!({"total_objects": 3, "total_objects_successful": 3, "country": "United States"}));
    assert!(app_run.message.starts_with("'geo run' on asset 'geo': 3 actions succeeded. (1)For Parameter: {\"context\":"));
    let listed = store.list_results(app_run.id, Page { page: 0, page_size: 0 }).await.unwrap();
    assert_eq!(listed.count, 3, "one result per parameter set");
    assert_eq!(listed.data[1].parameter["ip"], "1.1.1.1");
    assert_eq!(listed.data[0].data, json!([{"country_iso_code": "US"}]));
    // A result after the run closed changes nothing.
    assert!(store.ingest_results(&results).await.unwrap().is_empty());
}

async fn delayed_tasks_wait_in_the_store(store: Store) {
    let f = fixture(&store).await;
    store.create_action_run(&new_run(&f, &["8.8.8.8"], 60)).await.unwrap();
    assert!(store.due_tasks(now_ms(), 10).await.unwrap().is_empty());
    let due = store.next_due().await.unwrap().unwrap();
    assert!(due > now_ms() + 55_000);
    assert_eq!(store.due_tasks(now_ms() + 61_000, 10).await.unwrap().len(), 1);
}

async fn cancel_keeps_finished_results_and_ignores_late_ones(store: Store) {
    let f = fixture(&store).await;
    let id = store.create_action_run(&new_run(&f, &["1", "2", "3"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    store.mark_sent(&[due[0].row_id]).await.unwrap();
    store.ingest_results(&[result_for(&due[0].task, true, "done")]).await.unwrap();
    assert_eq!(store.cancel_action_run(id, "cancelled by admin").await.unwrap(), Some(Cancelled::Done { stopped: 2 }));
    assert!(store.due_tasks(now_ms(), 10).await.unwrap().is_empty(), "unsent tasks of a cancelled run never go out");
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "failed");
    assert_eq!(run.cancelled, "cancelled by admin");
    let app_run = &store.list_app_runs(Some(id), Page::default()).await.unwrap().data[0];
    let results = store.list_results(app_run.id, Page { page: 0, page_size: 0 }).await.unwrap();
    assert_eq!(results.data[0].message, "done", "finished results are kept");
    assert_eq!(results.data[1].status.as_str(), "failed");
    assert!(store.ingest_results(&[result_for(&due[1].task, true, "late")]).await.unwrap().is_empty());
    assert_eq!(store.list_results(app_run.id, Page { page: 0, page_size: 0 }).await.unwrap().data[1].message, "Cancelled: cancelled by admin");
    assert!(matches!(store.cancel_action_run(id, "again").await.unwrap(), Some(Cancelled::AlreadyFinished(_))));
    assert_eq!(store.cancel_action_run(999_999, "x").await.unwrap(), None);
}

async fn progress_marks_runs_running(store: Store) {
    let f = fixture(&store).await;
    let id = store.create_action_run(&new_run(&f, &["1"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    let changes = store.record_progress(due[0].task.app_run_id, 0, "", now_ms()).await.unwrap();
    assert_eq!(changes, vec![Change::Started { action_run_id: id }]);
    let changes = store.record_progress(due[0].task.app_run_id, 0, "half way", now_ms()).await.unwrap();
    assert!(matches!(&changes[..], [Change::Progress { message, .. }] if message == "half way"));
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.message.as_str()), ("running", "half way"));
    assert!(run.start_ms.is_some());
}

async fn state_is_last_writer_wins_with_versions(store: Store) {
    let f = fixture(&store).await;
    store.create_action_run(&new_run(&f, &["1", "2"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    let mut first = result_for(&due[0].task, true, "a");
    first.saved_state_json = Some(json!({"n": 1}).to_string());
    first.http = vec![HttpExchange { method: "GET".into(), url: "https://x/y".into(), status: 200, bytes: 5, duration_ms: 3, denied: String::new() }];
    let mut second = result_for(&due[1].task, true, "b");
    second.saved_state_json = Some(json!({"n": 2}).to_string());
    store.ingest_results(&[first]).await.unwrap();
    store.ingest_results(&[second]).await.unwrap();
    let state = store.asset_state(f.app_id, f.asset_id).await.unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(serde_json::from_str::<Value>(&state.json).unwrap(), json!({"n": 2}));
    let app_run = store.get_app_run(due[0].task.app_run_id).await.unwrap().unwrap();
    assert_eq!(app_run.extra_data[0]["url"], "https://x/y", "what the connector contacted is recorded");
}

async fn paging_lists_results(store: Store) {
    let f = fixture(&store).await;
    store.create_action_run(&new_run(&f, &["1", "2", "3", "4", "5"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    let results: Vec<_> = due.iter().map(|t| result_for(&t.task, true, "ok")).collect();
    store.ingest_results(&results).await.unwrap();
    let app_run_id = due[0].task.app_run_id;
    let page = store.list_results(app_run_id, Page { page: 1, page_size: 2 }).await.unwrap();
    assert_eq!((page.count, page.num_pages, page.data.len()), (5, 3, 2));
    assert_eq!(page.data[0].parameter_index, 2);
    let last = store.list_results(app_run_id, Page { page: 2, page_size: 2 }).await.unwrap();
    assert_eq!(last.data.len(), 1);
    let beyond = store.list_results(app_run_id, Page { page: 9, page_size: 2 }).await.unwrap();
    assert!(beyond.data.is_empty());
}
