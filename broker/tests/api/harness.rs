//! Starting a broker in-process, talking to it, and playing the worker.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use outpost_broker::{Broker, BrokerConfig, RunningBroker};
use outpost_bus::{Bus, InProcessBus};
use outpost_proto::time::now_ms;
use outpost_proto::v1::{Progress, ResultStatus, Task, TaskResult, WorkerEvent, worker_event};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The administrator's password every test broker gets.
pub const PASSWORD: &str = "api-test-password";

/// The folder of built app bundles: `OUTPOST_APPS_DIST`, or `<workspace>/apps/dist`.
pub fn apps_dist() -> PathBuf {
    let dir = std::env::var_os("OUTPOST_APPS_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apps/dist"));
    for bundle in ["qa.tgz", "whois.tgz", "reputation.tgz", "qa.wasm"] {
        assert!(
            dir.join(bundle).exists(),
            "{} lacks {bundle}: run `bash apps/build.sh` or set OUTPOST_APPS_DIST",
            dir.display()
        );
    }
    dir
}

/// A broker running in this process, and a REST client for it.
pub struct Outpost {
    /// The broker's shared state, for looking behind the API.
    pub broker: Arc<Broker>,
    /// The bus the broker uses; the fake worker consumes from it.
    pub bus: Arc<InProcessBus>,
    /// `http://127.0.0.1:<port>` of the gRPC API.
    pub grpc_url: String,
    /// A client authenticated as the administrator.
    pub rest: Rest,
    /// Stops the broker when dropped.
    shutdown: CancellationToken,
    /// Kept so the broker's tasks are awaited on [`Outpost::stop`].
    running: Option<RunningBroker>,
    /// Keeps the data dir until the test ends.
    _dir: tempfile::TempDir,
}

impl Drop for Outpost {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

static CRYPTO: Once = Once::new();

impl Outpost {
    /// Starts a broker with the QA, WHOIS and Reputation apps installed.
    pub async fn start() -> Outpost {
        CRYPTO.call_once(|| {
            // Both rustls providers are compiled in (see FIELD-NOTES): pick one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let dist = apps_dist();
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::new(dir.path());
        config.rest_addr = "127.0.0.1:0".parse().unwrap();
        config.grpc_addr = "127.0.0.1:0".parse().unwrap();
        config.admin_password = Some(PASSWORD.into());
        config.bundles = ["qa.tgz", "whois.tgz", "reputation.tgz"].iter().map(|b| dist.join(b)).collect();
        let bus = Arc::new(InProcessBus::default());
        let shutdown = CancellationToken::new();
        let running = outpost_broker::start(config, bus.clone(), shutdown.clone()).await.expect("the broker starts");
        let rest_url = format!("http://{}", running.rest_addr);
        Outpost {
            broker: running.broker.clone(),
            bus,
            rest: Rest::new(&rest_url),
            grpc_url: format!("http://{}", running.grpc_addr),
            shutdown,
            running: Some(running),
            _dir: dir,
        }
    }

    /// Stops the broker and waits for every part of it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.wait().await;
        }
    }

    /// The id of an installed app by name.
    pub async fn app_id(&self, name: &str) -> i64 {
        let apps = self.rest.ok("/rest/app?page_size=0").await;
        apps["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} installed: {apps}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// The GUID of an installed app by name.
    pub async fn appid(&self, name: &str) -> String {
        let id = self.app_id(name).await;
        self.rest.ok(&format!("/rest/app/{id}")).await["appid"].as_str().unwrap().to_string()
    }

    /// Creates a container; answers its id.
    pub async fn container(&self, name: &str) -> i64 {
        self.rest.created("/rest/container", &json!({"name": name})).await["id"].as_i64().unwrap()
    }

    /// Creates an asset; answers its id.
    pub async fn asset(&self, body: Value) -> i64 {
        self.rest.created("/rest/asset", &body).await["id"].as_i64().unwrap()
    }

    /// Polls an action run until it is final; answers it.
    pub async fn wait_action_run(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let run = self.rest.ok(&format!("/rest/action_run/{id}")).await;
            if run["status"] == "success" || run["status"] == "failed" {
                return run;
            }
            assert!(Instant::now() < deadline, "action run {id} not finished: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What the fake worker answers for one parameter set.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub message: String,
    pub data: Vec<Value>,
    pub summary: Value,
}

impl Outcome {
    pub fn success(message: &str, data: Vec<Value>, summary: Value) -> Outcome {
        Outcome { ok: true, message: message.into(), data, summary }
    }
}

/// The node_guid the fake worker reports.
pub const NODE_GUID: &str = "ec05c5c5-0e22-4f3e-a48d-48a67f498dc3";

/// The parameter object of a task, as a connector sees it (`context` included).
pub fn parameter(task: &Task) -> Value {
    let context = task.context.clone().unwrap_or_default();
    serde_json::from_str(&outpost_proto::parameters::connector_parameter(&task.parameter_json, &context).unwrap())
        .unwrap()
}

pub fn result_event(task: &Task, outcome: &Outcome) -> WorkerEvent {
    WorkerEvent {
        event: Some(worker_event::Event::Result(TaskResult {
            task_id: task.task_id.clone(),
            action_run_id: task.action_run_id,
            app_run_id: task.app_run_id,
            parameter_index: task.parameter_index,
            status: if outcome.ok { ResultStatus::Success } else { ResultStatus::Failed } as i32,
            message: outcome.message.clone(),
            data_json: outcome.data.iter().map(Value::to_string).collect(),
            summary_json: outcome.summary.to_string(),
            node_guid: NODE_GUID.into(),
            started_unix_ms: now_ms(),
            finished_unix_ms: now_ms(),
            ..Default::default()
        })),
    }
}

pub fn progress_event(task: &Task, message: &str) -> WorkerEvent {
    WorkerEvent {
        event: Some(worker_event::Event::Progress(Progress {
            task_id: task.task_id.clone(),
            action_run_id: task.action_run_id,
            app_run_id: task.app_run_id,
            parameter_index: task.parameter_index,
            message: message.into(),
            node_guid: NODE_GUID.into(),
            unix_ms: now_ms(),
        })),
    }
}

/// Plays a worker of the default segment: every task gets `answer(task)`, published as a
/// result before the task is acknowledged. Stops with the bus.
pub fn fake_worker(bus: Arc<InProcessBus>, answer: impl Fn(&Task) -> Outcome + Send + 'static) {
    tokio::spawn(async move {
        let mut tasks = bus.consume_tasks("default", 64).await.expect("consume tasks");
        while let Some(delivery) = tasks.next().await {
            let outcome = answer(&delivery.message);
            if bus.publish_event(&result_event(&delivery.message, &outcome)).await.is_err() {
                return;
            }
            let _ = delivery.ack().await;
        }
    });
}

/// Hands the test every task of the default segment (acknowledged), to answer by hand.
pub async fn take_tasks(bus: Arc<InProcessBus>) -> mpsc::UnboundedReceiver<Task> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = bus.consume_tasks("default", 64).await.expect("consume tasks");
    tokio::spawn(async move {
        while let Some(delivery) = tasks.next().await {
            let task = delivery.message.clone();
            let _ = delivery.ack().await;
            if tx.send(task).is_err() {
                return;
            }
        }
    });
    rx
}

/// The QA connector's behaviour, as far as the tests need it: echo returns its parameter,
/// fail fails, anything else succeeds.
pub fn qa(task: &Task) -> Outcome {
    let parameter = parameter(task);
    match task.action.as_str() {
        "fail" => Outcome {
            ok: false,
            message: parameter["message"].as_str().unwrap_or("").into(),
            data: vec![],
            summary: json!({}),
        },
        "echo" => {
            Outcome::success("echoed", vec![parameter.clone()], json!({"keys": parameter.as_object().unwrap().len()}))
        }
        _ => Outcome::success("done", vec![], json!({})),
    }
}

/// A REST client answering (status, JSON body).
#[derive(Clone)]
pub struct Rest {
    base: String,
    http: reqwest::Client,
    /// `None`: no credentials; `Some(Ok((user, password)))`: Basic; `Some(Err(token))`: ph-auth-token.
    auth: Option<Result<(String, String), String>>,
}

impl Rest {
    pub fn new(base: &str) -> Rest {
        Rest {
            base: base.to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            auth: Some(Ok(("admin".into(), PASSWORD.into()))),
        }
    }

    pub fn anonymous(&self) -> Rest {
        Rest { auth: None, ..self.clone() }
    }

    pub fn with_token(&self, token: &str) -> Rest {
        Rest { auth: Some(Err(token.into())), ..self.clone() }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let request = match &self.auth {
            Some(Ok((user, password))) => request.basic_auth(user, Some(password)),
            Some(Err(token)) => request.header("ph-auth-token", token),
            None => request,
        };
        let response = request.send().await.expect("the broker answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(body)).await
    }

    /// POSTs raw text as `curl -d` does (form content type).
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let request =
            self.request(reqwest::Method::POST, path).header("content-type", "application/x-www-form-urlencoded");
        self.send(request.body(body.to_string())).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// GETs and asserts 200.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    /// POSTs and asserts 200.
    pub async fn created(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "POST {path} {body} answered {status}: {answer}");
        answer
    }
}

/// Asserts a SOAR error body with a message containing `needle`.
#[track_caller]
pub fn assert_soar_error(answer: &(u16, Value), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "expected {status}, got {}: {}", answer.0, answer.1);
    assert_eq!(answer.1["failed"], true, "not a SOAR error body: {}", answer.1);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "message {message:?} should contain {needle:?}");
}

/// A gzip-compressed tar of the given files.
pub fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // set_path refuses "..": write the name bytes directly to build hostile bundles.
        let name = header.as_old_mut().name.as_mut();
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The QA connector's component: a real one, implementing the world.
pub fn qa_component() -> Vec<u8> {
    std::fs::read(apps_dist().join("qa.wasm")).unwrap()
}

/// The GUID of the "Lookup" test app.
pub const LOOKUP_APPID: &str = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0";

/// A manifest for a test app that runs on the QA component, with what the sample apps
/// lack: a `value_list`, a numeric parameter, defaults and a secret.
pub fn lookup_manifest(version: &str) -> Value {
    json!({
        "appid": LOOKUP_APPID,
        "name": "Lookup",
        "app_version": version,
        "product_vendor": "Outpost Tests",
        "product_name": "Lookup",
        "configuration": {
            "base_url": {"data_type": "string", "required": true, "order": 0},
            "token": {"data_type": "password", "required": false, "order": 1},
            "retries": {"data_type": "numeric", "default": 3, "order": 2}
        },
        "actions": [
            {"action": "test connectivity", "identifier": "test_connectivity", "type": "test", "parameters": {}},
            {"action": "lookup", "identifier": "echo", "type": "investigate", "read_only": true,
             "parameters": {
                "value": {"data_type": "string", "required": true, "primary": true},
                "number": {"data_type": "numeric", "default": 5},
                "blob": {"data_type": "string", "value_list": ["fast", "full"], "default": "fast"}
             }}
        ]
    })
}

/// The test app's bundle, base64 as `POST /rest/app` takes it.
pub fn lookup_bundle(version: &str) -> String {
    let manifest = lookup_manifest(version).to_string();
    let bundle = tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", &qa_component())]);
    base64::engine::general_purpose::STANDARD.encode(bundle)
}
