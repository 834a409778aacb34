//! The sandbox as the consume loop uses it, against the `qa` and `hostile` connectors
//! built by `bash apps/build.sh` (set `OUTPOST_APPS_DIST` to use another dist folder).

use std::sync::Arc;
use std::time::{Duration, Instant};

use outpost_worker::sandbox::{
    Context, Invocation, Limits, Outcome, PreparedApp, Sandbox, SandboxConfig, SandboxError, Status,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use outpost_tests::apps::{self, compile_cache_dir, component, digest};

fn sandbox() -> Sandbox {
    sandbox_in(&compile_cache_dir())
}

fn sandbox_in(cache_dir: &std::path::Path) -> Sandbox {
    Sandbox::new(SandboxConfig { concurrency: 2, cache_dir: cache_dir.to_path_buf(), ..SandboxConfig::default() })
        .expect("sandbox")
}

async fn prepare(sandbox: &Sandbox, app: &str) -> Arc<PreparedApp> {
    let wasm = component(app);
    sandbox.prepare(&digest(&wasm), &wasm).await.expect("prepare")
}

/// An invocation as the consume loop builds it; `action` is the manifest's name and the
/// identifier is the same with underscores.
fn invocation(action: &str, mut parameters: Value) -> Invocation {
    let context = json!({"guid": "6f0e2c1a-guid", "artifact_id": 7, "parent_action_run": [3, 4]});
    parameters["context"] = context;
    Invocation {
        action: action.to_string(),
        identifier: action.replace(' ', "_"),
        parameter_json: parameters.to_string(),
        asset_config_json: json!({"base_url": "https://example.com"}).to_string(),
        asset_id: 11,
        asset_name: "qa asset".into(),
        container_id: 12,
        action_run_id: 13,
        app_run_id: 14,
        context: Context { guid: "6f0e2c1a-guid".into(), artifact_id: 7, parent_action_run: vec![3, 4] },
        limits: Limits { timeout: Duration::from_secs(20), ..Limits::default() },
        egress: Vec::new(),
        state_json: "{}".into(),
        progress: None,
        cancel: CancellationToken::new(),
        task_id: "14.0".into(),
    }
}

fn data(outcome: &Outcome, index: usize) -> Value {
    serde_json::from_str(&outcome.data[index]).expect("data items are JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_returns_its_parameter_object() {
    let sandbox = sandbox();
    let qa = prepare(&sandbox, "qa").await;
    let parameters = json!({"value": "hello", "number": 4.5, "nested": {"list": [1, 2]}});
    let invocation = invocation("echo", parameters.clone());
    let sent: Value = serde_json::from_str(&invocation.parameter_json).unwrap();
    let outcome = sandbox.run(&qa, invocation).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert!(!outcome.exception);
    assert_eq!(outcome.data.len(), 1);
    assert_eq!(data(&outcome, 0), sent);
    assert_eq!(serde_json::from_str::<Value>(&outcome.summary).unwrap()["keys"], 4);
    assert!(outcome.http.is_empty());
    assert_eq!(outcome.saved_state, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_failure_is_not_an_exception() {
    let sandbox = sandbox();
    let qa = prepare(&sandbox, "qa").await;
    let outcome = sandbox.run(&qa, invocation("fail", json!({"message": "the device said no"}))).await;
    assert_eq!(outcome.status, Status::Failed);
    assert!(!outcome.exception, "{outcome:?}");
    assert_eq!(outcome.message, "the device said no");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_a_failed_result_with_an_exception() {
    let sandbox = sandbox();
    let qa = prepare(&sandbox, "qa").await;
    let outcome = sandbox.run(&qa, invocation("crash", json!({}))).await;
    assert_eq!(outcome.status, Status::Failed);
    assert!(outcome.exception);
    assert!(outcome.message.starts_with("the connector trapped: "), "{}", outcome.message);
    assert!(outcome.message.contains("crash requested"), "{}", outcome.message);
    // The same sandbox keeps working.
    let outcome = sandbox.run(&qa, invocation("test connectivity", json!({}))).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_reports_progress_while_it_runs() {
    let sandbox = sandbox();
    let qa = prepare(&sandbox, "qa").await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let mut invocation = invocation("sleep", json!({"seconds": 1}));
    invocation.progress = Some(tx);
    let started = Instant::now();
    let outcome = sandbox.run(&qa, invocation).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let first = rx.recv().await.expect("a progress message");
    assert!(first.contains("Slept 1"), "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_also_stops_a_connector_waiting_in_the_host() {
    let sandbox = sandbox();
    let qa = prepare(&sandbox, "qa").await;
    let mut invocation = invocation("sleep", json!({"seconds": 30}));
    invocation.limits.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let outcome = sandbox.run(&qa, invocation).await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(outcome.exception);
    assert_eq!(outcome.message, "the connector exceeded its 1 s deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_a_run_promptly() {
    let sandbox = sandbox();
    let qa = prepare(&sandbox, "qa").await;
    let invocation = invocation("sleep", json!({"seconds": 30}));
    let cancel = invocation.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let outcome = sandbox.run(&qa, invocation).await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(outcome.status, Status::Failed);
    assert!(outcome.exception);
    assert_eq!(outcome.message, "the action run was cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_saved_by_one_run_is_loaded_by_the_next() {
    let sandbox = sandbox();
    let hostile = prepare(&sandbox, "hostile").await;
    let outcome = sandbox.run(&hostile, invocation("write state", json!({"value": "remember me"}))).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let saved = outcome.saved_state.expect("saved state");
    assert_eq!(serde_json::from_str::<Value>(&saved).unwrap(), json!({"value": "remember me"}));

    let mut next = invocation("read state", json!({}));
    next.state_json = saved;
    let outcome = sandbox.run(&hostile, next).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert_eq!(data(&outcome, 0), json!({"value": "remember me"}));
    assert_eq!(outcome.saved_state, None, "reading does not save");
}

/// The precompiled artifacts in a cache directory (wasmtime's own bookkeeping, `.stats`
/// and unfinished `.wip-*` files, left out), each with its size and modification time:
/// compiling writes one, loading it leaves it as it was.
fn artifacts(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, (u64, std::time::SystemTime)> {
    let mut found = std::collections::BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                folders.push(path);
            } else if path.extension().is_none() {
                found.insert(path, (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_is_compiled_once_and_its_artifact_reused_after_a_restart() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = component("qa");
    let digest = digest(&wasm);

    let first = sandbox_in(cache.path());
    assert!(artifacts(cache.path()).is_empty());
    let started = Instant::now();
    let app = first.prepare(&digest, &wasm).await.unwrap();
    let compile = started.elapsed();
    let written = artifacts(cache.path());
    assert!(!written.is_empty(), "compiling writes the artifact to the cache directory");
    let started = Instant::now();
    let again = first.prepare(&digest, &wasm).await.unwrap();
    let in_memory = started.elapsed();
    assert!(Arc::ptr_eq(&app, &again), "the second prepare returns the same app");
    assert!(Arc::ptr_eq(&app, &first.prepared(&digest).unwrap()));
    assert_eq!(artifacts(cache.path()), written, "nothing is compiled again");
    drop(first);

    // A restarted worker: a new engine on the same cache directory.
    let second = sandbox_in(cache.path());
    assert!(second.prepared(&digest).is_none());
    let started = Instant::now();
    let loaded = second.prepare(&digest, &wasm).await.unwrap();
    let from_disk = started.elapsed();
    assert_eq!(artifacts(cache.path()), written, "the artifact is loaded, not compiled and written again");
    assert!(Arc::ptr_eq(&loaded, &second.prepared(&digest).unwrap()), "and kept in memory");
    eprintln!("compile {compile:?}, from disk {from_disk:?}, in memory {in_memory:?}");
    assert!(in_memory < Duration::from_millis(5), "{in_memory:?}");
    assert!(from_disk * 3 < compile, "loading ({from_disk:?}) should be much faster than compiling ({compile:?})");
    let outcome = second.run(&loaded, invocation("echo", json!({"value": 1}))).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_without_the_handler_is_rejected_naming_what_is_missing() {
    let sandbox = sandbox();
    // Binary, as bundles carry it: the worker's wasmtime has no WAT text parser.
    let wasm = wat::parse_str(
        r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $other (export "f" (func $f)))
        (export "acme:other/thing@1.0.0" (instance $other))
    )"#,
    )
    .expect("the fixture is valid component text");
    let wat = wasm.as_slice();
    let error = sandbox.prepare(&digest(wat), wat).await.unwrap_err();
    assert!(matches!(error, SandboxError::MissingHandler { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the component does not export outpost:connector/handler@0.1.x (it exports: acme:other/thing@1.0.0)"
    );
    assert!(sandbox.prepared(&digest(wat)).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_match_their_digest_are_refused() {
    let sandbox = sandbox();
    let wasm = component("qa");
    let error = sandbox.prepare(&"0".repeat(64), &wasm).await.unwrap_err();
    assert!(matches!(error, SandboxError::DigestMismatch { .. }), "{error:?}");
    let error = sandbox.prepare(&digest(b"junk"), b"junk").await.unwrap_err();
    assert!(matches!(error, SandboxError::InvalidComponent(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_sets_run_side_by_side_in_separate_instances() {
    let sandbox = Arc::new(sandbox());
    let qa = prepare(&sandbox, "qa").await;
    let runs = (0..8).map(|index| {
        let (sandbox, qa) = (sandbox.clone(), qa.clone());
        tokio::spawn(async move { sandbox.run(&qa, invocation("echo", json!({"index": index}))).await })
    });
    for (index, run) in runs.enumerate() {
        let outcome = run.await.unwrap();
        assert_eq!(outcome.status, Status::Success, "{outcome:?}");
        assert_eq!(data(&outcome, 0)["index"], index);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_connector_prepares_and_instantiates_within_the_default_limits() {
    let sandbox = sandbox();
    for app in ["qa", "geoip", "whois", "reputation", "hostile"] {
        let prepared = prepare(&sandbox, app).await;
        eprintln!("{app} imports: {}", prepared.imports.join(", "));
        assert!(
            prepared.imports.iter().any(|name| name.starts_with("outpost:connector/host@0.1.")),
            "{app} imports {:?}",
            prepared.imports
        );
        sandbox.instantiate(&prepared).await.unwrap_or_else(|e| panic!("{app}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_outside_the_world_is_refused_at_link_time_naming_the_import() {
    let sandbox = sandbox();
    let wasm = apps::foreign_import();
    let error = sandbox.prepare(&digest(&wasm), &wasm).await.unwrap_err();
    assert!(matches!(error, SandboxError::Link(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("the component cannot be linked: "), "{message}");
    assert!(message.contains("evil:fs/files@1.0.0"), "the refusal names the import: {message}");
    assert!(sandbox.prepared(&digest(&wasm)).is_none());

    // The import is the only defect: without it the same component links, and its
    // handler (a trap) runs.
    let clean = apps::handler_only();
    let app = sandbox.prepare(&digest(&clean), &clean).await.expect("the fixture without its import links");
    let outcome = sandbox.run(&app, invocation("echo", json!({}))).await;
    assert!(outcome.exception, "{outcome:?}");
    assert!(outcome.message.starts_with("the connector trapped: "), "{}", outcome.message);
}

/// Serves one component, whatever the digest asked for.
struct OneComponent(Vec<u8>);

#[async_trait::async_trait]
impl outpost_worker::app_cache::AppSource for OneComponent {
    async fn fetch(&self, _digest: &str) -> Result<Vec<u8>, String> {
        Ok(self.0.clone())
    }
}

/// A component the broker would never install (a tampered store, say) reaches a real
/// worker: the task ends as a failed result that says why, and the worker carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_answers_a_task_of_an_unlinkable_component_with_a_failed_result() {
    use futures::StreamExt;
    use outpost_bus::{Bus, InProcessBus};
    use outpost_proto::v1::{AppRef, Task, worker_event};

    let dir = tempfile::tempdir().unwrap();
    let key = outpost_proto::seal::SealKey::generate();
    let bus = Arc::new(InProcessBus::default());
    bus.declare_segment("default").await.unwrap();
    let wasm = apps::foreign_import();
    let mut config = outpost_worker::WorkerConfig::new(dir.path(), key.clone());
    config.concurrency = 1;
    config.sandbox.cache_dir = compile_cache_dir();
    let shutdown = CancellationToken::new();
    let worker = outpost_worker::start(config, bus.clone(), Arc::new(OneComponent(wasm.clone())), shutdown.clone())
        .await
        .unwrap();
    let mut events = bus.consume_events(16).await.unwrap();
    let task = Task {
        task_id: "41.0".into(),
        action_run_id: 40,
        app_run_id: 41,
        action: "echo".into(),
        identifier: "echo".into(),
        parameter_json: r#"{"context":{"guid":"g","artifact_id":0,"parent_action_run":[]}}"#.into(),
        sealed_asset_config: key.seal(b"{}"),
        app: Some(AppRef {
            app_id: 1,
            name: "Evil".into(),
            version: "1.0.0".into(),
            digest: digest(&wasm),
            ..AppRef::default()
        }),
        ..Task::default()
    };
    bus.publish_task("default", &task).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let delivery = events.next().await.expect("the worker publishes a result");
            let event = delivery.message.clone();
            let _ = delivery.ack().await;
            if let Some(worker_event::Event::Result(result)) = event.event {
                return result;
            }
        }
    })
    .await
    .expect("a result within 30 s");
    assert_eq!(result.task_id, "41.0");
    assert_eq!(result.status, outpost_proto::v1::ResultStatus::Failed as i32);
    assert!(result.exception_occured, "{result:?}");
    assert!(
        result.message.starts_with("app 'Evil' 1.0.0 cannot run: the component cannot be linked: "),
        "{}",
        result.message
    );
    assert!(result.message.contains("evil:fs/files@1.0.0"), "{}", result.message);
    shutdown.cancel();
    worker.wait().await;
}
