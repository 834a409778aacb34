//! A real broker started in this process on `127.0.0.1:0`, with the in-process bus and
//! a data dir of its own, driven over HTTP and gRPC as a client would; the test plays
//! the worker with [`crate::fake_worker`] on the same bus.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use outpost_broker::{Broker, BrokerConfig, RunningBroker};
use outpost_bus::InProcessBus;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::rest::{Auth, Reply, Rest};
use crate::{PASSWORD, apps, bundle};

/// The sample apps [`TestBroker::start`] installs.
const SAMPLES: [&str; 3] = ["qa", "whois", "reputation"];

/// One broker for one test; stopped when dropped.
pub struct TestBroker {
    /// The broker's shared state, for looking behind the API (the store, the router).
    pub broker: Arc<Broker>,
    /// The bus the broker uses; the fake worker consumes from it.
    pub bus: Arc<InProcessBus>,
    /// `http://127.0.0.1:<port>` of the gRPC API.
    pub grpc_url: String,
    /// A client signed in as the administrator.
    pub rest: Rest,
    /// Cancelled when the test ends; servers a test adds may stop on it too.
    pub shutdown: CancellationToken,
    /// Kept so the broker's tasks are awaited on [`TestBroker::stop`].
    running: Option<RunningBroker>,
    /// Keeps the data dir until the test ends.
    _dir: tempfile::TempDir,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestBroker {
    /// A broker with the QA, WHOIS and Reputation apps installed.
    pub async fn start() -> TestBroker {
        let dist = apps::dist();
        Self::start_with(|config| config.bundles = SAMPLES.iter().map(|app| dist.join(format!("{app}.tgz"))).collect())
            .await
    }

    /// A broker without apps, its configuration changed by `configure` first.
    pub async fn start_with(configure: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        crate::install_crypto();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temp dir: {e}"));
        let mut config = BrokerConfig::new(dir.path());
        config.rest_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.grpc_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.admin_password = Some(PASSWORD.into());
        configure(&mut config);
        let bus = Arc::new(InProcessBus::default());
        let shutdown = CancellationToken::new();
        let running = outpost_broker::start(config, bus.clone(), shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("the broker starts: {e}"));
        TestBroker {
            broker: running.broker.clone(),
            bus,
            grpc_url: format!("http://{}", running.grpc_addr),
            rest: Rest::new(&format!("http://{}", running.rest_addr), Auth::admin()),
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

    /// `method path` as `who`, with a JSON body when given; answers in full.
    pub async fn call(&self, method: Method, path: &str, who: &Auth, body: Option<Value>) -> Reply {
        self.rest.with_auth(who.clone()).call(method, path, body.as_ref()).await
    }

    /// GET as `who`.
    pub async fn get(&self, path: &str, who: &Auth) -> Reply {
        self.call(Method::GET, path, who, None).await
    }

    /// POST as `who`.
    pub async fn post(&self, path: &str, who: &Auth, body: Value) -> Reply {
        self.call(Method::POST, path, who, Some(body)).await
    }

    /// A GET as `who` that must succeed; answers its JSON.
    pub async fn ok(&self, path: &str, who: &Auth) -> Value {
        let reply = self.get(path, who).await;
        assert_eq!(reply.status, reqwest::StatusCode::OK, "GET {path}: {}", reply.text);
        reply.body
    }

    /// The id of an installed app by name.
    pub async fn app_id(&self, name: &str) -> i64 {
        self.rest.app_id(name).await
    }

    /// The GUID of an installed app by name.
    pub async fn appid(&self, name: &str) -> String {
        let app = self.rest.app(name).await;
        app["appid"].as_str().unwrap_or_else(|| panic!("app without an appid: {app}")).to_string()
    }

    /// Creates a container; answers its id.
    pub async fn container(&self, name: &str) -> i64 {
        id(&self.rest.created("/rest/container", &json!({"name": name})).await)
    }

    /// Creates an asset; answers its id.
    pub async fn asset(&self, body: Value) -> i64 {
        id(&self.rest.created("/rest/asset", &body).await)
    }

    /// Creates a user holding `roles`, and a token for it; answers its id and the token.
    pub async fn user(&self, name: &str, password: &str, roles: &[&str]) -> (i64, Auth) {
        let user = json!({"username": name, "password": password, "roles": roles});
        let id = id(&self.rest.created("/rest/ph_user", &user).await);
        let token = self.rest.created(&format!("/rest/ph_user/{id}/token"), &json!({"label": "tests"})).await;
        let key = token["key"].as_str().unwrap_or_else(|| panic!("a token key: {token}"));
        (id, Auth::Token(key.to_string()))
    }

    /// Installs (or upgrades to) `version` of the Checker app through `POST /rest/app`,
    /// so through the broker's install and its audit; answers the app's id.
    pub async fn checker(&self, version: &str) -> i64 {
        id(&self.rest.created("/rest/app", &json!({"app": bundle::checker_bundle(version)})).await)
    }

    /// Polls an action run until it is final; answers it.
    pub async fn wait_action_run(&self, id: i64) -> Value {
        self.rest.wait_action_run(id, Duration::from_secs(20)).await
    }
}

/// The `id` of a created record.
fn id(answer: &Value) -> i64 {
    answer["id"].as_i64().unwrap_or_else(|| panic!("no id in {answer}"))
}
