//! The store contract of apps, assets, containers and artifacts, action runs and their
//! results, listings and asset state: the same cases against SQLite and PostgreSQL.

use outpost_broker::listing;
use outpost_broker::listing::{ListQuery, MAX_UNPAGED};
use outpost_broker::runs::settle::{self, Cancelled};
use outpost_broker::runs::watch::Change;
use outpost_broker::store::Page;
use outpost_broker::store::Store;
use outpost_broker::store::apps::Installed;
use outpost_broker::store::artifacts::{Created, NewArtifact};
use outpost_broker::store::assets::NewAsset;
use outpost_broker::store::collections::{APP_RUNS, APPS, ARTIFACTS, CONTAINERS, Collection, Named};
use outpost_broker::store::containers::ContainerFields;
use outpost_broker::store::runs::{NewActionRun, NewAppRun, NewParameterSet};
use outpost_proto::manifest::Manifest;
use outpost_proto::time::now_ms;
use outpost_proto::v1::{HttpExchange, ParameterContext, ResultStatus, Task, TaskResult};
use serde_json::{Value, json};

both_backends!(
    apps_install_upgrade_and_keep_known_versions,
    asset_configuration_is_sealed_at_rest,
    an_action_run_is_queued_run_and_assembled_once,
    delayed_tasks_wait_in_the_store,
    cancel_keeps_finished_results_and_ignores_late_ones,
    progress_marks_runs_running,
    state_is_last_writer_wins_with_versions,
    paging_lists_results,
    listings_filter_sort_and_page_alike,
    hostile_filter_values_are_only_values,
    page_size_zero_is_capped,
    artifacts_count_in_their_container,
    app_runs_filter_on_status_and_run,
    apps_filter_on_product_and_names_resolve,
    an_asset_deadline_is_kept_and_cleared,
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
            timeout_secs: None,
        })
        .await
        .unwrap();
    let container = store
        .create_container(&ContainerFields { name: "c".into(), status: "new".into(), ..Default::default() })
        .await
        .unwrap();
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
            parameters: ips
                .iter()
                .map(|ip| NewParameterSet {
                    parameters: json!({"ip": ip}).as_object().cloned().unwrap_or_default(),
                    context: ParameterContext { guid: "g".into(), ..Default::default() },
                })
                .collect(),
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
    assert_eq!(
        store.component(&"a".repeat(64)).await.unwrap().unwrap(),
        b"v1",
        "old components stay for in-flight tasks"
    );
    assert_eq!(store.find_app(&first.appid.to_uppercase()).await.unwrap().unwrap().id, first.id);
    assert_eq!(store.find_app(&first.id.to_string()).await.unwrap().unwrap().app_version, "1.1.0");
    assert!(store.find_app("nope").await.unwrap().is_none());

    // Re-installing 1.1.0 with another component, then going back to 1.0.0: each other
    // version once, never the current one.
    let (rebuilt, how) = store.install_app(&manifest("1.1.0"), &"c".repeat(64), b"v2b").await.unwrap();
    assert_eq!((how, rebuilt.known_versions), (Installed::Upgraded, vec!["1.0.0".to_string()]));
    let (downgraded, how) = store.install_app(&manifest("1.0.0"), &"a".repeat(64), b"v1").await.unwrap();
    assert_eq!(how, Installed::Upgraded);
    assert_eq!((downgraded.app_version.as_str(), downgraded.known_versions), ("1.0.0", vec!["1.1.0".to_string()]));
}

async fn an_asset_deadline_is_kept_and_cleared(store: Store) {
    let f = fixture(&store).await;
    assert_eq!(store.get_asset(f.asset_id).await.unwrap().unwrap().timeout_secs, None);
    let asset = store.get_asset(f.asset_id).await.unwrap().unwrap();
    let mut changed = NewAsset {
        name: asset.name.clone(),
        app_id: asset.app_id,
        description: asset.description.clone(),
        configuration: asset.configuration.clone(),
        automation_broker_id: None,
        tags: vec![],
        timeout_secs: Some(1799),
    };
    assert_eq!(store.update_asset(f.asset_id, &changed).await.unwrap().unwrap().timeout_secs, Some(1799));
    assert_eq!(store.find_asset("geo").await.unwrap().unwrap().timeout_secs, Some(1799));
    changed.timeout_secs = None;
    assert_eq!(store.update_asset(f.asset_id, &changed).await.unwrap().unwrap().timeout_secs, None);
    let created =
        store.create_asset(&NewAsset { name: "Quick".into(), timeout_secs: Some(5), ..changed.clone() }).await.unwrap();
    assert_eq!(store.get_asset(created.id).await.unwrap().unwrap().timeout_secs, Some(5));
}

async fn asset_configuration_is_sealed_at_rest(store: Store) {
    let f = fixture(&store).await;
    let raw =
        store.db().fetch_one("SELECT configuration FROM assets WHERE id = $1", vec![f.asset_id.into()]).await.unwrap();
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
            timeout_secs: None,
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
    let changes = settle::record_results(&store, &results[..2]).await.unwrap();
    assert!(changes.contains(&Change::Started { action_run_id: id }));
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "running");
    // The same result twice, and the last one: only the last counts.
    let changes =
        settle::record_results(&store, &[results[0].clone(), results[2].clone(), results[2].clone()]).await.unwrap();
    assert!(changes.contains(&Change::ActionRunDone { action_run_id: id }), "{changes:?}");
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "success");
    assert_eq!(run.message, "3 actions succeeded");
    assert!(run.close_ms.is_some());
    let app_run = &store.app_runs_of(Some(id), Page::default()).await.unwrap().data[0];
    assert_eq!(app_run.node_guid.as_deref(), Some("node-1"));
    assert_eq!(
        app_run.result_summary,
        json!({"total_objects": 3, "total_objects_successful": 3, "country": "United States"})
    );
    assert!(
        app_run.message.starts_with("'geo run' on asset 'geo': 3 actions succeeded. (1)For Parameter: {\"context\":")
    );
    let listed = store.list_results(app_run.id, Page { page: 0, page_size: 0 }).await.unwrap();
    assert_eq!(listed.count, 3, "one result per parameter set");
    assert_eq!(listed.data[1].parameter["ip"], "1.1.1.1");
    assert_eq!(listed.data[0].data, json!([{"country_iso_code": "US"}]));
    // A result after the run closed changes nothing.
    assert!(settle::record_results(&store, &results).await.unwrap().is_empty());
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
    settle::record_results(&store, &[result_for(&due[0].task, true, "done")]).await.unwrap();
    assert_eq!(
        settle::cancel(&store, id, "cancelled by admin").await.unwrap().map(|(_, c)| c),
        Some(Cancelled::Done { stopped: 2 })
    );
    assert!(store.due_tasks(now_ms(), 10).await.unwrap().is_empty(), "unsent tasks of a cancelled run never go out");
    let run = store.get_action_run(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "failed");
    assert_eq!(run.cancelled, "cancelled by admin");
    let app_run = &store.app_runs_of(Some(id), Page::default()).await.unwrap().data[0];
    let results = store.list_results(app_run.id, Page { page: 0, page_size: 0 }).await.unwrap();
    assert_eq!(results.data[0].message, "done", "finished results are kept");
    assert_eq!(results.data[1].status.as_str(), "failed");
    assert!(settle::record_results(&store, &[result_for(&due[1].task, true, "late")]).await.unwrap().is_empty());
    assert_eq!(
        store.list_results(app_run.id, Page { page: 0, page_size: 0 }).await.unwrap().data[1].message,
        "Cancelled: cancelled by admin"
    );
    assert!(matches!(settle::cancel(&store, id, "again").await.unwrap(), Some((_, Cancelled::AlreadyFinished(_)))));
    assert_eq!(settle::cancel(&store, 999_999, "x").await.unwrap(), None);
}

async fn progress_marks_runs_running(store: Store) {
    let f = fixture(&store).await;
    let id = store.create_action_run(&new_run(&f, &["1"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    let changes = settle::record_progress(&store, due[0].task.app_run_id, 0, "", now_ms()).await.unwrap();
    assert_eq!(changes, vec![Change::Started { action_run_id: id }]);
    let changes = settle::record_progress(&store, due[0].task.app_run_id, 0, "half way", now_ms()).await.unwrap();
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
    first.http = vec![HttpExchange {
        method: "GET".into(),
        url: "https://x/y".into(),
        status: 200,
        bytes: 5,
        duration_ms: 3,
        denied: String::new(),
    }];
    let mut second = result_for(&due[1].task, true, "b");
    second.saved_state_json = Some(json!({"n": 2}).to_string());
    settle::record_results(&store, &[first]).await.unwrap();
    settle::record_results(&store, &[second]).await.unwrap();
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
    settle::record_results(&store, &results).await.unwrap();
    let app_run_id = due[0].task.app_run_id;
    let page = store.list_results(app_run_id, Page { page: 1, page_size: 2 }).await.unwrap();
    assert_eq!((page.count, page.num_pages, page.data.len()), (5, 3, 2));
    assert_eq!(page.data[0].parameter_index, 2);
    let last = store.list_results(app_run_id, Page { page: 2, page_size: 2 }).await.unwrap();
    assert_eq!(last.data.len(), 1);
    let beyond = store.list_results(app_run_id, Page { page: 9, page_size: 2 }).await.unwrap();
    assert!(beyond.data.is_empty());
}

/// Parses listing parameters as REST would, or panics with the message.
fn query(collection: &'static Collection, params: &[(&str, &str)]) -> ListQuery {
    listing::parse(collection, params.iter().copied()).unwrap_or_else(|e| panic!("{params:?}: {}", e.message))
}

async fn container_names(store: &Store, params: &[(&str, &str)]) -> (u64, Vec<String>) {
    let listing = store.list_containers(&query(&CONTAINERS, params)).await.unwrap();
    (listing.count, listing.data.into_iter().map(|c| c.name).collect())
}

async fn add_container(store: &Store, name: &str, status: &str, due_ms: Option<i64>) -> i64 {
    let fields = ContainerFields {
        name: name.into(),
        status: status.into(),
        due_ms,
        label: "events".into(),
        ..Default::default()
    };
    store.create_container(&fields).await.unwrap().id
}

async fn listings_filter_sort_and_page_alike(store: Store) {
    let alpha = add_container(&store, "alpha", "new", Some(3_000)).await;
    let bravo = add_container(&store, "Bravo", "open", None).await;
    let charlie = add_container(&store, "charlie_1", "open", Some(1_000)).await;
    let off = add_container(&store, "50%off", "closed", Some(2_000)).await;
    let plain = add_container(&store, "charlieX1", "new", None).await;

    assert_eq!(container_names(&store, &[("_filter_name", "\"alpha\"")]).await, (1, vec!["alpha".into()]));
    assert_eq!(
        container_names(&store, &[("_filter_status", "'open'"), ("sort", "id")]).await.1,
        ["Bravo", "charlie_1"]
    );
    assert_eq!(container_names(&store, &[("_filter_status__in", "[\"new\",\"closed\"]")]).await.0, 3);
    assert_eq!(
        container_names(&store, &[("_filter_status__in", "new,closed"), ("_filter_name__icontains", "CHAR")]).await.1,
        ["charlieX1"]
    );
    assert_eq!(container_names(&store, &[("_filter_name__icontains", "AL")]).await.1, ["alpha"]);
    // LIKE wildcards in the value match themselves.
    assert_eq!(container_names(&store, &[("_filter_name__icontains", "%")]).await.1, ["50%off"]);
    assert_eq!(container_names(&store, &[("_filter_name__icontains", "_")]).await.1, ["charlie_1"]);
    assert_eq!(container_names(&store, &[("_filter_status__in", "[]")]).await.0, 0);
    let id_range = [("_filter_id__gt", alpha.to_string()), ("_filter_id__lte", off.to_string())];
    let id_range: Vec<(&str, &str)> = id_range.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(container_names(&store, &id_range).await.1, ["Bravo", "charlie_1", "50%off"]);
    assert_eq!(
        container_names(&store, &[("_filter_id__gte", &bravo.to_string()), ("_filter_id__lt", &charlie.to_string())])
            .await
            .1,
        ["Bravo"]
    );
    assert_eq!(container_names(&store, &[("_filter_due_time__isnull", "true")]).await.1, ["Bravo", "charlieX1"]);
    assert_eq!(container_names(&store, &[("_filter_due_time__isnull", "false")]).await.0, 3);
    assert_eq!(container_names(&store, &[("_filter_owner_id", "null")]).await.0, 5);
    assert_eq!(
        container_names(&store, &[("_filter_name__gt", "\"Z\""), ("sort", "name")]).await.1,
        ["alpha", "charlieX1", "charlie_1"]
    );
    assert_eq!(container_names(&store, &[("_filter_name__lte", "\"Bravo\"")]).await.1, ["Bravo", "50%off"]);
    assert_eq!(
        container_names(&store, &[("_filter_due_time__gte", "\"1970-01-01T00:00:02Z\"")]).await.1,
        ["alpha", "50%off"]
    );

    // Text sorts by bytes on both backends; NULLs last ascending, first descending.
    assert_eq!(
        container_names(&store, &[("sort", "name"), ("page_size", "0")]).await.1,
        ["50%off", "Bravo", "alpha", "charlieX1", "charlie_1"]
    );
    assert_eq!(
        container_names(&store, &[("sort", "due_time")]).await.1,
        ["charlie_1", "50%off", "alpha", "Bravo", "charlieX1"]
    );
    assert_eq!(
        container_names(&store, &[("sort", "due_time"), ("order", "desc")]).await.1,
        ["charlieX1", "Bravo", "alpha", "50%off", "charlie_1"]
    );
    // Equal sort values are ordered by id, in the same direction.
    assert_eq!(
        container_names(&store, &[("sort", "status"), ("order", "desc")]).await.1,
        ["charlie_1", "Bravo", "charlieX1", "alpha", "50%off"]
    );

    // Paging: the count is of everything matching; pages never overlap.
    let page = store.list_containers(&query(&CONTAINERS, &[("page", "1"), ("page_size", "2")])).await.unwrap();
    assert_eq!((page.count, page.num_pages), (5, 3));
    assert_eq!(page.data.iter().map(|c| c.id).collect::<Vec<_>>(), [charlie, off]);
    let last = store.list_containers(&query(&CONTAINERS, &[("page", "2"), ("page_size", "2")])).await.unwrap();
    assert_eq!(last.data.iter().map(|c| c.id).collect::<Vec<_>>(), [plain]);
    let beyond = store.list_containers(&query(&CONTAINERS, &[("page", "99"), ("page_size", "2")])).await.unwrap();
    assert_eq!((beyond.count, beyond.num_pages, beyond.data.len()), (5, 3, 0));
    let far = store
        .list_containers(&query(&CONTAINERS, &[("page", "18446744073709551615"), ("page_size", "1000")]))
        .await
        .unwrap();
    assert!(far.data.is_empty(), "a page far beyond the end is empty, not an overflow");
    let all = store.list_containers(&query(&CONTAINERS, &[("page_size", "0")])).await.unwrap();
    assert_eq!((all.count, all.num_pages, all.data.len()), (5, 1, 5));
    let none = store.list_containers(&query(&CONTAINERS, &[("_filter_name", "nobody")])).await.unwrap();
    assert_eq!((none.count, none.num_pages), (0, 0));
}

async fn hostile_filter_values_are_only_values(store: Store) {
    add_container(&store, "victim", "new", None).await;
    for hostile in [
        "\"x' OR '1'='1\"",
        "\"'; DROP TABLE containers; --\"",
        "\"\\\"; DELETE FROM containers; --\"",
        "x) OR (1=1",
        "\"%' OR name LIKE '%\"",
    ] {
        assert_eq!(container_names(&store, &[("_filter_name", hostile)]).await.0, 0, "{hostile}");
        assert_eq!(container_names(&store, &[("_filter_name__icontains", hostile)]).await.0, 0, "{hostile}");
        assert_eq!(container_names(&store, &[("_filter_name__in", hostile)]).await.0, 0, "{hostile}");
    }
    assert_eq!(container_names(&store, &[]).await.1, ["victim"], "the table is intact");
}

async fn page_size_zero_is_capped(store: Store) {
    let rows = MAX_UNPAGED as i64 + 1;
    store
        .db()
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
             INSERT INTO containers (name, source_data_identifier, create_ms, start_ms, update_ms)
             SELECT 'bulk', 'sdi-' || i, 0, 0, 0 FROM n",
            vec![rows.into()],
        )
        .await
        .unwrap();
    let err = store.list_containers(&query(&CONTAINERS, &[("page_size", "0")])).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{rows} containers match, more than the {MAX_UNPAGED} page_size=0 answers at once; page through them")
    );
    let page = store.list_containers(&query(&CONTAINERS, &[("page_size", "1000"), ("page", "10")])).await.unwrap();
    assert_eq!((page.count, page.num_pages, page.data.len()), (rows as u64, 11, 1));
}

async fn artifacts_count_in_their_container(store: Store) {
    let f = fixture(&store).await;
    let other = add_container(&store, "other", "new", None).await;
    let new = |container_id, sdi: &str| NewArtifact {
        container_id,
        name: "Source IP".into(),
        label: "event".into(),
        severity: "medium".into(),
        source_data_identifier: sdi.into(),
        cef: json!({"sourceAddress": "1.2.3.4"}),
        cef_types: json!({"sourceAddress": ["ip"]}),
        data: json!({}),
        ..Default::default()
    };
    let Created::New(first) = store.create_artifact(&new(f.container_id, "a-1")).await.unwrap() else {
        panic!("created")
    };
    assert_eq!(first.cef["sourceAddress"], "1.2.3.4");
    let container = store.get_container(f.container_id).await.unwrap().unwrap();
    assert_eq!(container.artifact_count, 1);
    assert!(container.artifact_update_ms.is_some());
    assert_eq!(store.create_artifact(&new(f.container_id, "a-1")).await.unwrap(), Created::Existing(first.id));
    assert!(
        matches!(store.create_artifact(&new(other, "a-1")).await.unwrap(), Created::New(_)),
        "identifiers are per container"
    );
    assert_eq!(
        store.get_container(f.container_id).await.unwrap().unwrap().artifact_count,
        1,
        "a duplicate is not counted"
    );
    assert!(store.artifact_in_container(first.id, f.container_id).await.unwrap());
    assert!(!store.artifact_in_container(first.id, other).await.unwrap());
    let listed =
        store.list_artifacts(&query(&ARTIFACTS, &[("_filter_container", &f.container_id.to_string())])).await.unwrap();
    assert_eq!((listed.count, listed.data[0].id), (1, first.id));
    assert_eq!(store.get_artifact(first.id).await.unwrap().unwrap(), *first);
}

async fn app_runs_filter_on_status_and_run(store: Store) {
    let f = fixture(&store).await;
    let first = store.create_action_run(&new_run(&f, &["1"], 0)).await.unwrap();
    let second = store.create_action_run(&new_run(&f, &["2", "3"], 0)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    let done: Vec<_> =
        due.iter().filter(|t| t.task.action_run_id == first).map(|t| result_for(&t.task, false, "boom")).collect();
    settle::record_results(&store, &done).await.unwrap();

    let app_runs = |params: Vec<(&'static str, String)>| {
        let store = store.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            store
                .list_app_runs(&query(&APP_RUNS, &params))
                .await
                .unwrap()
                .data
                .into_iter()
                .map(|r| r.action_run_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(app_runs(vec![("_filter_status", "\"failed\"".into())]).await, [first]);
    assert_eq!(app_runs(vec![("_filter_action_run", second.to_string())]).await, [second]);
    assert_eq!(
        app_runs(vec![("_filter_exception_occured", "false".into()), ("order", "desc".into())]).await,
        [second, first]
    );
    assert_eq!(app_runs(vec![("_filter_end_time__isnull", "True".into())]).await, [second]);
    assert_eq!(app_runs(vec![("_filter_node_guid", "\"node-1\"".into())]).await, [first]);
    let ids: Vec<i64> =
        store.app_runs_of(None, Page { page: 0, page_size: 0 }).await.unwrap().data.iter().map(|r| r.id).collect();
    let results = store.results_of_app_runs(&ids).await.unwrap();
    assert_eq!(results[&ids[0]].len(), 1);
    assert!(results[&ids[1]].is_empty(), "an app run without results has an empty list");
}

async fn apps_filter_on_product_and_names_resolve(store: Store) {
    let f = fixture(&store).await;
    let mut other = manifest("1.0.0");
    other.appid = "1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9".into();
    other.name = "WHOIS".into();
    other.product_vendor = "Acme".into();
    other.product_name = "Lookup".into();
    store.install_app(&other, &"c".repeat(64), b"w").await.unwrap();
    let apps = store.list_apps_by(&query(&APPS, &[("_filter_product_vendor", "\"Acme\"")])).await.unwrap();
    assert_eq!(apps.data.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["WHOIS"]);
    assert_eq!(store.find_app_by_product("ACME", "lookup").await.unwrap().unwrap().name, "WHOIS");
    assert!(store.find_app_by_product("Acme", "nothing").await.unwrap().is_none());

    let user = store.create_user("analyst", "x").await.unwrap();
    let names = store.names(Named::User, [user.id, 999_999, user.id]).await.unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(names[&user.id], "analyst");
    assert_eq!(store.names(Named::Asset, [f.asset_id]).await.unwrap()[&f.asset_id], "geo");
    assert_eq!(store.names(Named::App, [f.app_id]).await.unwrap()[&f.app_id], "GeoIP");
    assert_eq!(store.names(Named::Container, [f.container_id]).await.unwrap()[&f.container_id], "c");
    assert!(store.names(Named::Segment, []).await.unwrap().is_empty());
}
