//! Issue 6 over the real protocols: a broker started in-process on `127.0.0.1:0` with the
//! in-process bus, driven over HTTP (reqwest) and gRPC (tonic) as a client would.
//!
//! Users, roles and permissions (every role against every route of the permission
//! table), tokens, slowed sign-ins, the audit trail (every filter the seed shows, json
//! and csv), system information, health, connectivity tests and widgets.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use outpost_broker::access::permissions::REST;
use outpost_broker::{BrokerConfig, RunningBroker};
use outpost_bus::{Bus, InProcessBus};
use outpost_proto::time::now_ms;
use outpost_proto::v1::{Heartbeat, ResultStatus, TaskResult, WorkerEvent, worker_event};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const SECRET_APIKEY: &str = "s3cret-apikey-value";

/// How a request authenticates.
#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic(String, String),
    Token(String),
}

fn admin() -> Auth {
    Auth::Basic("admin".into(), ADMIN_PASSWORD.into())
}

/// A response: status, headers and the body as JSON (or as a JSON string when it is not).
struct Reply {
    /// The HTTP status.
    status: StatusCode,
    /// For `Retry-After` and `Content-Type`.
    headers: reqwest::header::HeaderMap,
    /// The body as JSON, or a JSON string when it is not JSON.
    body: Value,
    /// The body as sent.
    text: String,
}

/// One broker for one test; stopped when dropped.
struct Harness {
    /// The broker under test, with its addresses.
    running: RunningBroker,
    /// The bus, to play worker.
    bus: InProcessBus,
    /// Stops everything when the test ends.
    shutdown: CancellationToken,
    /// One client, one connection pool.
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    base: String,
    /// The data dir, removed at the end.
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    async fn start(configure: impl FnOnce(&mut BrokerConfig)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::new(dir.path());
        config.rest_addr = "127.0.0.1:0".parse().unwrap();
        config.grpc_addr = "127.0.0.1:0".parse().unwrap();
        config.admin_password = Some(ADMIN_PASSWORD.into());
        configure(&mut config);
        let bus = InProcessBus::default();
        let shutdown = CancellationToken::new();
        let running = outpost_broker::start(config, Arc::new(bus.clone()), shutdown.clone()).await.unwrap();
        let base = format!("http://{}", running.rest_addr);
        Harness { running, bus, shutdown, http: reqwest::Client::new(), base, _dir: dir }
    }

    async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        request = match auth {
            Auth::None => request,
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Token(token) => request.header("ph-auth-token", token),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        Reply { status, headers, body, text }
    }

    async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.call(Method::GET, path, auth, None).await
    }

    async fn post(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    /// A GET that must succeed; answers its JSON.
    async fn ok(&self, path: &str, auth: &Auth) -> Value {
        let reply = self.get(path, auth).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.text);
        reply.body
    }

    /// Creates a user holding `roles` and a token for it.
    async fn user(&self, name: &str, password: &str, roles: &[&str]) -> (i64, Auth) {
        let reply =
            self.post("/rest/ph_user", &admin(), json!({"username": name, "password": password, "roles": roles})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let id = reply.body["id"].as_i64().unwrap();
        let token = self.post(&format!("/rest/ph_user/{id}/token"), &admin(), json!({"label": "tests"})).await;
        assert_eq!(token.status, StatusCode::OK, "{}", token.text);
        (id, Auth::Token(token.body["key"].as_str().unwrap().to_string()))
    }

    /// Installs (or upgrades to) `version` of the Checker app through `POST /rest/app`, so
    /// through `broker.install_app` and its audit; answers the app's id.
    async fn checker(&self, version: &str) -> i64 {
        let reply = self.post("/rest/app", &admin(), json!({"app": checker_bundle(version)})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["id"].as_i64().unwrap()
    }

    /// Installs an app with a test connectivity action and a secret, and one asset of it.
    async fn app_and_asset(&self, asset_name: &str) -> (i64, i64) {
        let app = self.checker("1.0.0").await;
        let reply = self
            .post(
                "/rest/asset",
                &admin(),
                json!({"name": asset_name, "app": app, "configuration": {"base_url": "https://x", "apikey": SECRET_APIKEY}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        (app, reply.body["id"].as_i64().unwrap())
    }

    async fn container(&self, name: &str) -> i64 {
        let reply = self.post("/rest/container", &admin(), json!({"name": name})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["id"].as_i64().unwrap()
    }

    /// A worker stand-in on the in-process bus: every task of the default segment
    /// succeeds at once.
    fn fake_worker(&self) {
        let bus = self.bus.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut tasks = bus.consume_tasks("default", 16).await.unwrap();
            loop {
                let delivery = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    d = tasks.next() => match d { Some(d) => d, None => return },
                };
                let task = delivery.message.clone();
                let message =
                    if task.identifier == "test_connectivity" { "Connectivity test succeeded" } else { "looked up" };
                let result = TaskResult {
                    task_id: task.task_id.clone(),
                    action_run_id: task.action_run_id,
                    app_run_id: task.app_run_id,
                    parameter_index: task.parameter_index,
                    status: ResultStatus::Success as i32,
                    message: message.into(),
                    summary_json: "{}".into(),
                    node_guid: "fake-node".into(),
                    started_unix_ms: now_ms(),
                    finished_unix_ms: now_ms() + 5,
                    ..Default::default()
                };
                bus.publish_event(&WorkerEvent { event: Some(worker_event::Event::Result(result)) }).await.unwrap();
                delivery.ack().await.unwrap();
            }
        });
    }
}

/// The folder of built app bundles: `OUTPOST_APPS_DIST`, or `<workspace>/apps/dist`.
fn apps_dist() -> std::path::PathBuf {
    std::env::var_os("OUTPOST_APPS_DIST")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apps/dist"))
}

/// A bundle (base64, as `POST /rest/app` takes it) of the Checker app: a test
/// connectivity action, a lookup and a secret, on the QA connector's real component.
fn checker_bundle(version: &str) -> String {
    use base64::Engine;
    let manifest = json!({
        "appid": "2b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        "name": "Checker",
        "app_version": version,
        "configuration": {"base_url": {"data_type": "string"}, "apikey": {"data_type": "password"}},
        "actions": [
            {"action": "test connectivity", "identifier": "test_connectivity", "type": "test"},
            {"action": "lookup", "identifier": "lookup", "type": "investigate",
             "parameters": {"ip": {"data_type": "string", "required": true}}}
        ]
    })
    .to_string();
    let component = std::fs::read(apps_dist().join("qa.wasm")).unwrap_or_else(|e| {
        panic!("{}: {e}; run `bash apps/build.sh` or set OUTPOST_APPS_DIST", apps_dist().display())
    });
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, content) in [("checker.json", manifest.as_bytes()), ("checker.wasm", &component[..])] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, content).unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(tar.into_inner().unwrap().finish().unwrap())
}

// ---------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------

/// Who is calling, for the expectations.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    NoRole,
    Observer,
    Automation,
    Administrator,
}

/// The words, independent of the table: Administrator everything; Automation
/// runs and cancels actions and reads everything but users; Observer reads; everyone
/// signed in reads system information (seed 003).
fn allowed(who: Who, method: &str, path: &str) -> bool {
    let system = [
        "/rest/version",
        "/rest/system_info",
        "/rest/license",
        "/rest/health",
        "/rest/app_status",
        "/rest/widget_data",
        "/rest/openapi.json",
    ]
    .iter()
    .any(|p| path == *p || path.starts_with(&format!("{p}/")))
        || (method == "GET" && path == "/rest/system_settings");
    let users = path.starts_with("/rest/ph_user") || path.starts_with("/rest/user/") || path.starts_with("/rest/role");
    match who {
        Who::Anonymous => false,
        Who::NoRole => system,
        Who::Observer => method == "GET",
        Who::Automation => {
            (method == "GET" && !users)
                || (method == "POST"
                    && ["/rest/action_run", "/rest/action_run/{id}", "/rest/asset/{id}/test"].contains(&path))
        }
        Who::Administrator => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_meets_every_route_of_the_permission_table() {
    let h = Harness::start(|_| {}).await;
    let (_, observer) = h.user("olga", "observer-password", &["Observer"]).await;
    let (_, automation) = h.user("auto", "automation-password", &["Automation"]).await;
    let (_, second_admin) = h.user("root2", "administrator-password", &["Administrator"]).await;
    let (_, no_role) = h.user("nobody", "nobody-password", &[]).await;
    let (victim, _) = h.user("victim", "victim-password", &[]).await;
    let role = h.post("/rest/role", &admin(), json!({"name": "Sacrificial", "permissions": ["apps:view"]})).await.body
        ["id"]
        .as_i64()
        .unwrap();
    let container = h.container("permissions").await;
    let (app, asset) = h.app_and_asset("perm-asset").await;

    let principals = [
        (Who::Anonymous, Auth::None),
        (Who::NoRole, no_role),
        (Who::Observer, observer.clone()),
        (Who::Automation, automation.clone()),
        (Who::Administrator, second_admin),
    ];
    let mut checked = 0;
    for rule in REST {
        let path = rule
            .path
            .replace("/rest/ph_user/{id}", &format!("/rest/ph_user/{victim}"))
            .replace("/rest/user/{id}", &format!("/rest/user/{victim}"))
            .replace("/rest/role/{id}", &format!("/rest/role/{role}"))
            .replace("/rest/container/{id}", &format!("/rest/container/{container}"))
            .replace("/rest/asset/{id}", &format!("/rest/asset/{asset}"))
            .replace("/rest/app/{id}", &format!("/rest/app/{app}"))
            .replace("{token_id}", "999999")
            .replace("{name}", "top_playbooks_actions")
            .replace("{id}", "999999");
        assert!(!path.contains('{'), "{path}");
        for (who, auth) in &principals {
            let method = Method::from_bytes(rule.method.as_bytes()).unwrap();
            let body = (rule.method == "POST").then(|| json!({}));
            let reply = h.call(method, &path, auth, body).await;
            let context = format!("{who:?} {} {path}: {} {}", rule.method, reply.status, reply.text);
            if *who == Who::Anonymous {
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{context}");
                assert_eq!(reply.body["failed"], true, "{context}");
            } else if allowed(*who, rule.method, rule.path) {
                assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&reply.status), "{context}");
                assert!(!reply.status.is_server_error(), "{context}");
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{context}");
                assert_eq!(reply.body["failed"], true, "{context}");
                assert!(reply.body["message"].as_str().unwrap().contains("may not"), "{context}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, REST.len() * 5);

    // Denials are audited as the seed shows them: `<permission>:Failed`.
    let denied = h.ok("/rest/audit?authentication=*", &admin()).await;
    let notes: Vec<&str> = denied.as_array().unwrap().iter().filter_map(|r| r["NOTE"].as_str()).collect();
    assert!(notes.contains(&"users_roles:view:Failed"), "{notes:?}");
    assert!(notes.contains(&"containers:edit:Failed"), "{notes:?}");

    // A route without a row in the table is Administrator-only.
    let extra = axum::Router::new().route("/rest/unlisted", axum::routing::get(|| async { "reached" }));
    let app = outpost_broker::rest::router_with(h.running.broker.clone(), extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = h.shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .unwrap()
    });
    let unlisted = |auth: Auth| {
        let http = h.http.clone();
        async move {
            let request = http.get(format!("http://{addr}/rest/unlisted"));
            let request = match auth {
                Auth::Token(t) => request.header("ph-auth-token", t),
                Auth::Basic(u, p) => request.basic_auth(u, Some(p)),
                Auth::None => request,
            };
            request.send().await.unwrap().status()
        }
    };
    assert_eq!(unlisted(observer.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(unlisted(automation.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(unlisted(Auth::None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(unlisted(admin()).await, StatusCode::OK);

    // gRPC: the same table, the same answers.
    use outpost_proto::v1::action_service_client::ActionServiceClient;
    use outpost_proto::v1::{CancelActionRunRequest, GetActionRunRequest};
    let mut client = ActionServiceClient::connect(format!("http://{}", h.running.grpc_addr)).await.unwrap();
    let with = |auth: &Auth, id: i64| {
        let mut request = tonic::Request::new(GetActionRunRequest { id });
        if let Auth::Token(t) = auth {
            request.metadata_mut().insert("ph-auth-token", t.parse().unwrap());
        }
        request
    };
    fn code<T>(r: Result<T, tonic::Status>) -> Option<tonic::Code> {
        r.err().map(|s| s.code())
    }
    assert_eq!(code(client.get_action_run(with(&Auth::None, 999_999)).await), Some(tonic::Code::Unauthenticated));
    assert_eq!(code(client.get_action_run(with(&principals[1].1, 999_999)).await), Some(tonic::Code::PermissionDenied));
    assert_eq!(code(client.get_action_run(with(&observer, 999_999)).await), Some(tonic::Code::NotFound));
    let cancel = |auth: &Auth| {
        let mut request = tonic::Request::new(CancelActionRunRequest { id: 999_999 });
        if let Auth::Token(t) = auth {
            request.metadata_mut().insert("ph-auth-token", t.parse().unwrap());
        }
        request
    };
    assert_eq!(code(client.cancel_action_run(cancel(&observer)).await), Some(tonic::Code::PermissionDenied));
    assert_eq!(code(client.cancel_action_run(cancel(&automation)).await), Some(tonic::Code::NotFound));
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await;
    assert!(serving.is_ok(), "the standard health check needs no credentials: {serving:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_roles_are_managed_and_the_last_administrator_is_kept() {
    let h = Harness::start(|_| {}).await;
    let users = h.ok("/rest/ph_user", &admin()).await;
    assert_eq!(users["count"], 1);
    assert_eq!(users["data"][0]["username"], "admin");
    assert_eq!(users["data"][0]["roles"], json!([1]), "the bootstrap admin holds the Administrator role");
    assert!(users["data"][0].get("password").is_none() && !users.to_string().contains("argon2"));
    let roles = h.ok("/rest/role", &admin()).await;
    assert_eq!(roles["count"], 3);
    assert_eq!(roles["data"][1]["name"], "Automation");
    assert!(roles["data"][1]["permissions"].as_array().unwrap().contains(&json!("actions:execute")));

    // Bad input names the culprit.
    let bad = |body: Value, culprit: &'static str| {
        let h = &h;
        async move {
            let reply = h.post("/rest/ph_user", &admin(), body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
            assert!(reply.body["message"].as_str().unwrap().contains(culprit), "{}", reply.text);
        }
    };
    bad(json!({"username": "x"}), "'password' is required").await;
    bad(json!({"username": "x", "password": "short"}), "'password'").await;
    bad(json!({"username": "x", "password": "long-enough", "colour": 1}), "unknown field 'colour'").await;
    bad(json!({"username": "bot", "type": "automation", "password": "long-enough"}), "tokens only").await;
    let missing_role =
        h.post("/rest/ph_user", &admin(), json!({"username": "x", "password": "long-enough", "roles": ["Nope"]})).await;
    assert_eq!(missing_role.status, StatusCode::NOT_FOUND);
    assert!(missing_role.body["message"].as_str().unwrap().contains("'roles[0]': role 'Nope' not found"));

    let (carol, _) = h.user("carol", "carol-password", &["Observer"]).await;
    let duplicate = h.post("/rest/ph_user", &admin(), json!({"username": "carol", "password": "carol-password"})).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let carol_auth = Auth::Basic("carol".into(), "carol-password".into());
    assert_eq!(h.get("/rest/container/1", &carol_auth).await.status, StatusCode::NOT_FOUND, "an observer reads");
    // Roles change what a user may do at once.
    let reply = h
        .post(&format!("/rest/ph_user/{carol}"), &admin(), json!({"roles": ["Automation"], "first_name": "Carol"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(h.get("/rest/ph_user", &carol_auth).await.status, StatusCode::FORBIDDEN);
    let shown = h.ok(&format!("/rest/ph_user/{carol}"), &admin()).await;
    assert_eq!((shown["first_name"].as_str(), shown["roles"].clone()), (Some("Carol"), json!([2])));
    // A new password works at once; the old one does not.
    h.post(&format!("/rest/ph_user/{carol}"), &admin(), json!({"password": "carol-new-password"})).await;
    assert_eq!(h.get("/rest/version", &carol_auth).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.get("/rest/version", &Auth::Basic("carol".into(), "carol-new-password".into())).await.status,
        StatusCode::OK
    );
    // Disabling (SOAR's DELETE is a soft delete).
    let reply = h.call(Method::DELETE, &format!("/rest/ph_user/{carol}"), &admin(), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(h.ok(&format!("/rest/ph_user/{carol}"), &admin()).await["is_active"], false);
    let disabled = h.get("/rest/version", &Auth::Basic("carol".into(), "carol-new-password".into())).await;
    assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
    assert!(disabled.body["message"].as_str().unwrap().contains("disabled"));

    // Custom roles: permissions by name; built-in roles keep theirs.
    let reply = h
        .post("/rest/role", &admin(), json!({"name": "Auditors", "permissions": ["audit:view"], "users": ["carol"]}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let auditors = reply.body["id"].as_i64().unwrap();
    let unknown = h.post("/rest/role", &admin(), json!({"name": "X", "permissions": ["root"]})).await;
    assert!(unknown.body["message"].as_str().unwrap().starts_with("'permissions[0]': unknown permission 'root'"));
    let builtin = h.post("/rest/role/1", &admin(), json!({"permissions": []})).await;
    assert_eq!(builtin.status, StatusCode::BAD_REQUEST);
    assert!(builtin.body["message"].as_str().unwrap().contains("built in"));
    assert_eq!(h.call(Method::DELETE, "/rest/role/3", &admin(), None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.call(Method::DELETE, &format!("/rest/role/{auditors}"), &admin(), None).await.status, StatusCode::OK);
    assert_eq!(h.ok(&format!("/rest/role/{auditors}"), &admin()).await["is_active"], false);
    assert_eq!(h.get("/rest/role/999", &admin()).await.status, StatusCode::NOT_FOUND);
    assert!(h.get("/rest/role/abc", &admin()).await.body["message"].as_str().unwrap().contains("not a valid role id"));

    // The last active administrator cannot be disabled or demoted.
    let last = h.call(Method::DELETE, "/rest/ph_user/1", &admin(), None).await;
    assert_eq!(last.status, StatusCode::BAD_REQUEST);
    assert!(last.body["message"].as_str().unwrap().contains("last active administrator"));
    assert_eq!(h.post("/rest/ph_user/1", &admin(), json!({"roles": []})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.post("/rest/role/1", &admin(), json!({"users": []})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.post("/rest/ph_user/1", &admin(), json!({"username": "root"})).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_issued_used_listed_and_revoked() {
    let h = Harness::start(|_| {}).await;
    let (dave, token) = h.user("dave", "dave-password", &["Observer"]).await;
    let Auth::Token(key) = token.clone() else { unreachable!() };
    assert_eq!(h.get("/rest/version", &token).await.status, StatusCode::OK);
    assert_eq!(h.get("/rest/version", &token).await.status, StatusCode::OK);

    let listed = h.ok(&format!("/rest/ph_user/{dave}/token"), &admin()).await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["data"][0]["status"], "active");
    assert!(!listed.to_string().contains(&key), "the token is never shown again");
    let stored: Vec<String> = h
        .running
        .broker
        .store
        .db()
        .fetch_all("SELECT token_hash FROM tokens", vec![])
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("token_hash").unwrap())
        .collect();
    assert!(stored.iter().all(|t| t != &key && t.len() == 64), "tokens are stored hashed");

    let second =
        h.post(&format!("/rest/ph_user/{dave}/token"), &admin(), json!({"label": "ci", "expires_in_days": 30})).await;
    assert!(second.body["expires_on"].as_str().is_some());
    let second_token = Auth::Token(second.body["key"].as_str().unwrap().to_string());
    let token_id = listed["data"][0]["id"].as_i64().unwrap();
    let revoked = h.call(Method::DELETE, &format!("/rest/ph_user/{dave}/token/{token_id}"), &admin(), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let refused = h.get("/rest/version", &token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a revoked token stops at once");
    assert_eq!(refused.body["failed"], true);
    assert_eq!(h.get("/rest/version", &second_token).await.status, StatusCode::OK);
    assert_eq!(
        h.call(Method::DELETE, &format!("/rest/ph_user/{dave}/token/{token_id}"), &admin(), None).await.status,
        StatusCode::NOT_FOUND
    );
    let all = h.call(Method::DELETE, &format!("/rest/ph_user/{dave}/token"), &admin(), None).await;
    assert_eq!(all.body["revoked"], 1);
    assert_eq!(h.get("/rest/version", &second_token).await.status, StatusCode::UNAUTHORIZED);

    // Automation users sign in with tokens only.
    let bot = h
        .post("/rest/ph_user", &admin(), json!({"username": "bot", "type": "automation", "roles": ["Automation"]}))
        .await;
    let bot = bot.body["id"].as_i64().unwrap();
    let bot_token = Auth::Token(
        h.post(&format!("/rest/ph_user/{bot}/token"), &admin(), json!({})).await.body["key"].as_str().unwrap().into(),
    );
    assert_eq!(h.get("/rest/action_run/1", &bot_token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get("/rest/version", &Auth::Basic("bot".into(), String::new())).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Token use is audited once per window, failures always; issue and revoke as changes.
    let audit = h.ok(&format!("/rest/audit?user={dave}&authentication=*"), &admin()).await;
    let notes: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}",
                r["NOTE"].as_str().unwrap(),
                r["CHANGED FIELD"].as_str().unwrap(),
                r["USER"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(notes.iter().filter(|n| n.starts_with("token:Success||dave")).count(), 2, "{notes:?}");
    assert!(notes.iter().filter(|n| n.starts_with("token:Failed")).count() >= 2, "{notes:?}");
    assert!(notes.iter().any(|n| n == "dave:token issued|token|admin"), "{notes:?}");
    assert!(notes.iter().any(|n| n == "dave:token revoked|token|admin"), "{notes:?}");
    assert!(!audit.to_string().contains(&key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locks_refusals_are_recorded_soon_after_it_ends_without_another_sign_in() {
    let h = Harness::start(|_| {}).await;
    h.user("frank", "frank-password", &["Observer"]).await;
    let wrong = Auth::Basic("frank".into(), "not-his-password".into());
    for _ in 0..outpost_broker::access::auth::FREE_FAILURES_PER_USER {
        assert_eq!(h.get("/rest/version", &wrong).await.status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..7 {
        assert_eq!(h.get("/rest/version", &wrong).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    // Nobody signs in afterwards: the broker's own sweep records the refusals.
    let store = &h.running.broker.store;
    let query = outpost_broker::store::audit_records::AuditQuery {
        end_ms: i64::MAX,
        authentication: true,
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let records = store.query_audit(&query).await.unwrap();
        if let Some(record) = records.iter().find(|r| r.note.contains("refused")) {
            assert_eq!(record.note, "login:Locked:refused:7");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no refusal record: {records:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_slowed_down_and_audited() {
    let h = Harness::start(|_| {}).await;
    let (erin, _) = h.user("erin", "erin-password", &["Observer"]).await;
    let wrong = Auth::Basic("erin".into(), "not-her-password".into());
    for _ in 0..outpost_broker::access::auth::FREE_FAILURES_PER_USER {
        let reply = h.get("/rest/version", &wrong).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
        assert_eq!(reply.body["message"], "invalid user name or password");
    }
    let right = Auth::Basic("erin".into(), "erin-password".into());
    let locked = h.get("/rest/version", &right).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.text);
    assert_eq!(locked.body["failed"], true);
    assert!(locked.body["message"].as_str().unwrap().contains("too many failed sign-ins for 'erin'"));
    let wait: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait));
    // Hammering the locked name is refused without flooding the trail.
    for _ in 1..50 {
        assert_eq!(h.get("/rest/version", &wrong).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    assert_eq!(h.get("/rest/version", &right).await.status, StatusCode::OK, "the lock is temporary");

    let audit = h.ok(&format!("/rest/audit?user={erin}&authentication=*"), &admin()).await;
    let notes: Vec<&str> = audit.as_array().unwrap().iter().map(|r| r["NOTE"].as_str().unwrap()).collect();
    assert_eq!(notes.iter().filter(|n| **n == "login:Failed").count(), 5, "{notes:?}");
    assert!(notes.contains(&"login:Locked:1s"), "{notes:?}");
    assert!(notes.contains(&"login:Success"), "{notes:?}");
    let refused: Vec<&Value> =
        audit.as_array().unwrap().iter().filter(|r| r["NOTE"].as_str().unwrap().contains("refused")).collect();
    assert_eq!(refused.len(), 1, "one record for the lock, however many attempts it refused: {notes:?}");
    assert_eq!(refused[0]["NOTE"], "login:Locked:refused:50");
    assert_eq!((refused[0]["USER ID"].as_i64(), refused[0]["USER"].as_str()), (Some(erin), Some("erin")));
    assert_eq!(refused[0]["IP ADDRESS"], "127.0.0.1");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["IP ADDRESS"] == "127.0.0.1" || r["NOTE"].as_str().unwrap().starts_with("GET:"))
    );

    // Guessing across names from one address locks the address.
    for i in 0..outpost_broker::access::auth::FREE_FAILURES_PER_SOURCE {
        h.get("/rest/version", &Auth::Basic(format!("ghost{i}"), "x".into())).await;
    }
    let address = h.get("/rest/version", &Auth::Basic("someone".into(), "x".into())).await;
    assert_eq!(address.status, StatusCode::TOO_MANY_REQUESTS);
}

// ---------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------

/// One audit record, from json or csv.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rec {
    /// `AUDIT SOURCE`.
    source: String,
    /// `AUDIT ID`.
    id: i64,
    /// `USER ID`.
    user_id: Option<i64>,
    /// `OBJECT TYPE`.
    object_type: String,
    /// `OBJECT ID`.
    object_id: Option<i64>,
    /// `RELATED OBJECT TYPE`.
    related_type: String,
    /// `RELATED OBJECT ID`.
    related_id: Option<i64>,
    /// `NOTE`.
    note: String,
    /// `CHANGED FIELD`.
    field: String,
}

fn from_json(v: &Value) -> Rec {
    Rec {
        source: v["AUDIT SOURCE"].as_str().unwrap().into(),
        id: v["AUDIT ID"].as_i64().unwrap(),
        user_id: v["USER ID"].as_i64(),
        object_type: v["OBJECT TYPE"].as_str().unwrap().into(),
        object_id: v["OBJECT ID"].as_i64(),
        related_type: v["RELATED OBJECT TYPE"].as_str().unwrap_or("").into(),
        related_id: v["RELATED OBJECT ID"].as_i64(),
        note: v["NOTE"].as_str().unwrap().into(),
        field: v["CHANGED FIELD"].as_str().unwrap().into(),
    }
}

fn from_csv(text: &str) -> Vec<Rec> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, outpost_broker::rest::render::CSV_COLUMNS);
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let id = |i: usize| r[i].parse::<i64>().ok();
            Rec {
                source: r[0].into(),
                id: id(1).unwrap(),
                user_id: id(3),
                object_type: r[7].into(),
                object_id: id(6),
                related_type: r[8].into(),
                related_id: id(9),
                note: r[10].into(),
                field: r[11].into(),
            }
        })
        .collect()
}

/// Fetches an audit URL as json and as csv; both must hold records matching `filter`.
async fn both_formats(h: &Harness, url: &str, filter: impl Fn(&Rec) -> bool) -> Vec<Rec> {
    let json = h.ok(url, &admin()).await;
    let records: Vec<Rec> = json.as_array().unwrap_or_else(|| panic!("{url}: {json}")).iter().map(from_json).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    let csv = h.get(&format!("{url}{sep}format=csv"), &admin()).await;
    assert_eq!(csv.status, StatusCode::OK, "{url}: {}", csv.text);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv_records = from_csv(&csv.text);
    for r in records.iter().chain(&csv_records) {
        assert!(filter(r), "{url}: {r:?} does not belong");
    }
    let json_keys: HashSet<_> = records.iter().map(|r| (r.source.clone(), r.id)).collect();
    let csv_keys: HashSet<_> = csv_records.iter().map(|r| (r.source.clone(), r.id)).collect();
    assert!(json_keys.is_subset(&csv_keys), "{url}: the csv read came later and holds at least as much");
    assert_eq!(json_keys.len(), records.len(), "{url}: (AUDIT SOURCE, AUDIT ID) is unique");
    records
}

/// Without the audit reads themselves, which differ between two calls by design, and
/// sign-ins, which a long test may renew between two calls.
fn without_reads(records: &[Rec]) -> HashSet<Rec> {
    records.iter().filter(|r| !r.note.starts_with("GET:") && r.object_type != "authentication").cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_answers_every_query_the_seed_shows() {
    let h = Harness::start(|_| {}).await;
    h.fake_worker();
    let (ana, ana_token) = h.user("ana", "ana-password-secret", &["Observer"]).await;
    let (bot, bot_token) = h.user("bot", "bot-password-secret", &["Automation"]).await;
    let analysts = h
        .post("/rest/role", &admin(), json!({"name": "Analysts", "permissions": ["containers:view"], "users": [ana]}))
        .await;
    let analysts = analysts.body["id"].as_i64().unwrap();
    let (app, asset) = h.app_and_asset("geo").await;
    let alpha = h.container("alpha").await;
    let beta = h.container("beta").await;
    let run = h
        .post("/rest/action_run", &bot_token, json!({"action": "lookup", "container_id": alpha, "targets": [{"app_id": app, "assets": [asset], "parameters": [{"ip": "8.8.8.8"}]}]}))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let run_id = run.body["action_run_id"].as_i64().unwrap();
    assert_eq!(h.get(&format!("/rest/container/{alpha}"), &ana_token).await.status, StatusCode::OK);
    assert_eq!(h.post("/rest/container", &ana_token, json!({"name": "nope"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.get("/rest/version", &Auth::Basic("ana".into(), "wrong-password".into())).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.post("/rest/system_settings", &admin(), json!({"base_url": "https://soar.example.com"})).await.status,
        StatusCode::OK
    );

    // The record shape: the seed's keys in the seed's order.
    let all = h.ok("/rest/audit", &admin()).await;
    let keys: Vec<&str> = all[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "AUDIT ID",
            "AUDIT SOURCE",
            "CHANGED FIELD",
            "IP ADDRESS",
            "NEW VALUE",
            "NOTE",
            "OBJECT ID",
            "OBJECT TYPE",
            "OLD VALUE",
            "RELATED OBJECT ID",
            "RELATED OBJECT TYPE",
            "TIME",
            "USER",
            "USER ID"
        ]
    );
    assert_eq!(all[0]["NOTE"], "GET:/rest/audit", "reading audit is audited, in its own answer");
    let action_run = all.as_array().unwrap().iter().find(|r| r["AUDIT SOURCE"] == "Action Run").unwrap();
    assert_eq!(action_run["AUDIT ID"], run_id);
    assert_eq!(action_run["NOTE"], "user initiated lookup action");
    assert_eq!((action_run["OBJECT TYPE"].as_str(), action_run["OBJECT ID"].as_str()), (Some("action"), Some("")));
    assert_eq!(
        (action_run["RELATED OBJECT TYPE"].as_str(), action_run["RELATED OBJECT ID"].as_i64()),
        (Some("container"), Some(alpha))
    );
    assert_eq!((action_run["USER"].as_str(), action_run["IP ADDRESS"].as_str()), (Some("bot"), Some("127.0.0.1")));
    assert!(all[0]["TIME"].as_str().unwrap().ends_with('Z'));
    // Secrets never show; changes of secret fields show masked.
    for text in [all.to_string(), h.get("/rest/audit?format=csv", &admin()).await.text] {
        assert!(!text.contains(SECRET_APIKEY) && !text.contains("ana-password-secret") && !text.contains("argon2"));
    }
    let secret = all.as_array().unwrap().iter().find(|r| r["CHANGED FIELD"] == "configuration.apikey").unwrap();
    assert_eq!((secret["NEW VALUE"].as_str(), secret["OBJECT TYPE"].as_str()), (Some("********"), Some("asset")));

    // Two successive reads differ: the first is in the second.
    let first = h.ok("/rest/audit", &admin()).await;
    let second = h.ok("/rest/audit", &admin()).await;
    assert!(second.as_array().unwrap().len() > first.as_array().unwrap().len());
    assert_eq!(second[1]["AUDIT ID"], first[0]["AUDIT ID"]);

    // Each pair of the seed answers alike (but for the reads they record).
    let by_user =
        |id: i64| move |r: &Rec| r.user_id == Some(id) || (r.object_type == "ph_user" && r.object_id == Some(id));
    let a = both_formats(&h, "/rest/audit?user=1", by_user(1)).await;
    let b = both_formats(&h, "/rest/user/1/audit", by_user(1)).await;
    let c = both_formats(&h, "/rest/ph_user/1/audit", by_user(1)).await;
    assert_eq!(without_reads(&a), without_reads(&b));
    assert_eq!(without_reads(&b), without_reads(&c));
    assert!(c[0].note == "GET:/rest/ph_user/1/audit" && c[0].object_type == "ph_user" && c[0].object_id == Some(1));

    // A role is a group of users: its audit is its own changes and the union of its
    // current members' audits, what they did and what was done to them.
    let by_role = |role: i64, members: Vec<i64>| {
        move |r: &Rec| {
            (r.object_type == "role" && r.object_id == Some(role))
                || members.contains(&r.user_id.unwrap_or(0))
                || (r.object_type == "ph_user" && members.contains(&r.object_id.unwrap_or(0)))
        }
    };
    let a = both_formats(&h, &format!("/rest/audit?role={analysts}"), by_role(analysts, vec![ana])).await;
    let b = both_formats(&h, &format!("/rest/role/{analysts}/audit"), by_role(analysts, vec![ana])).await;
    assert_eq!(without_reads(&a), without_reads(&b));
    assert!(
        a.iter().any(|r| r.user_id == Some(ana) && r.note == "containers:edit:Failed"),
        "a role's audit holds its members' events"
    );
    let ana_audit = both_formats(&h, &format!("/rest/ph_user/{ana}/audit"), by_user(ana)).await;
    let done_to_ana: HashSet<Rec> = without_reads(&ana_audit).into_iter().filter(|r| r.user_id != Some(ana)).collect();
    assert!(done_to_ana.iter().any(|r| r.note == "ana:created" && r.user_id == Some(1)), "{done_to_ana:?}");
    assert!(
        done_to_ana.is_subset(&without_reads(&b)),
        "what was done to a member is in the role's audit, as in the member's own"
    );

    for url in [
        "/rest/audit?playbook=1",
        "/rest/playbook/1/audit",
        "/rest/audit?playbook=*",
        "/rest/playbook/59/audit?sort=asc",
    ] {
        assert!(both_formats(&h, url, |_| false).await.is_empty(), "{url}: outpost has no playbooks");
    }

    let in_container = |id: i64| {
        move |r: &Rec| {
            (r.object_type == "container" && r.object_id == Some(id))
                || (r.related_type == "container" && r.related_id == Some(id))
        }
    };
    let a = both_formats(&h, &format!("/rest/audit?container={alpha}"), in_container(alpha)).await;
    let b = both_formats(&h, &format!("/rest/container/{alpha}/audit"), in_container(alpha)).await;
    assert_eq!(without_reads(&a), without_reads(&b));
    assert!(a.iter().any(|r| r.source == "Action Run" && r.id == run_id));
    assert!(
        a.iter().any(|r| r.note == format!("GET:/rest/container/{alpha}") && r.user_id == Some(ana)),
        "reads of a container are audited"
    );
    let by_name = both_formats(&h, "/rest/audit?container=alpha", in_container(alpha)).await;
    assert_eq!(without_reads(&by_name), without_reads(&a));
    assert!(
        both_formats(&h, &format!("/rest/audit?container={beta}"), in_container(beta))
            .await
            .iter()
            .any(|r| r.field == "name")
    );

    let categories = |r: &Rec| {
        ["authentication", "authorization", "asset", "app", "system_settings", "audit"]
            .contains(&r.object_type.as_str())
    };
    let events = both_formats(&h, "/rest/audit?authentication=*&administration=*", categories).await;
    let notes: Vec<&str> = events.iter().map(|r| r.note.as_str()).collect();
    for expected in ["login:Failed", "containers:edit:Failed", "token:Success", "system settings:updated"] {
        assert!(notes.contains(&expected), "{expected} in {notes:?}");
    }
    assert!(events.iter().any(|r| r.object_type == "system_settings" && r.field == "base_url"));

    let either = |r: &Rec| by_user(ana)(r) || by_user(bot)(r);
    let both = both_formats(&h, &format!("/rest/audit?user={ana}%1E{bot}"), either).await;
    assert!(both.iter().any(|r| r.user_id == Some(ana)) && both.iter().any(|r| r.user_id == Some(bot)));
    let by_names = both_formats(&h, "/rest/audit?user=ana%1Ebot", either).await;
    assert_eq!(without_reads(&by_names), without_reads(&both));

    let container_or_admin = |r: &Rec| {
        categories(r) && r.object_type != "authentication" && r.object_type != "authorization"
            || r.object_type == "container"
            || r.related_type == "container"
            || r.object_type == "action_run"
    };
    let mixed = both_formats(&h, "/rest/audit?container&admnistration&tenant=4%1E2", container_or_admin).await;
    assert!(mixed.iter().any(|r| r.object_type == "container") && mixed.iter().any(|r| r.object_type == "asset"));

    // The seed's csv example, byte for byte in its header.
    let csv = h.get(&format!("/rest/role/{analysts}/audit?format=csv"), &admin()).await;
    assert!(csv.text.starts_with("AUDIT SOURCE,AUDIT ID,TIME,USER ID,USER,IP ADDRESS,OBJECT ID,OBJECT TYPE,RELATED OBJECT TYPE,RELATED OBJECT ID,NOTE,CHANGED FIELD,OLD VALUE,NEW VALUE\n"));
    assert!(csv.text.lines().nth(1).unwrap().contains("+00:00,"));

    // Time windows and order.
    assert!(
        both_formats(&h, &format!("/rest/container/{alpha}/audit?end=2017-07-07&sort=asc"), |_| true).await.is_empty()
    );
    let ascending = h.ok(&format!("/rest/container/{alpha}/audit?sort=asc"), &admin()).await;
    let times: Vec<&str> = ascending.as_array().unwrap().iter().map(|r| r["TIME"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]) && times.len() >= 3, "{times:?}");
    assert!(
        h.ok("/rest/audit?start=2000-01-01&end=2000-01-02T00:00:00Z", &admin()).await.as_array().unwrap().is_empty()
    );
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let windowed = h.ok(&format!("/rest/audit?start={yesterday}&end={tomorrow}&sort=asc"), &admin()).await;
    assert!(windowed.as_array().unwrap().len() > 10);
    let paged = h.ok("/rest/audit?page=0&page_size=2", &admin()).await;
    assert_eq!(paged.as_array().unwrap().len(), 2);

    // Mistakes answer SOAR errors naming the culprit; the trail is append-only.
    for (url, status, culprit) in [
        ("/rest/audit?format=xml", 400, "'format'"),
        ("/rest/audit?sort=sideways", 400, "'sort'"),
        ("/rest/audit?start=yesterday", 400, "'start'"),
        ("/rest/audit?authentication=5", 400, "only takes *"),
        ("/rest/audit?usr=1", 400, "unknown parameter 'usr'"),
        ("/rest/container/1/audit?user=1", 400, "unknown parameter 'user'"),
        ("/rest/ph_user/99999/audit", 404, "user 99999 not found"),
        ("/rest/role/99999/audit", 404, "role 99999 not found"),
        ("/rest/container/99999/audit", 404, "container 99999 not found"),
        ("/rest/ph_user/x/audit", 400, "not a valid user id"),
    ] {
        let reply = h.get(url, &admin()).await;
        assert_eq!(reply.status.as_u16(), status, "{url}: {}", reply.text);
        assert_eq!(reply.body["failed"], true);
        assert!(reply.body["message"].as_str().unwrap().contains(culprit), "{url}: {}", reply.text);
    }
    for method in [Method::POST, Method::DELETE, Method::PUT] {
        assert_eq!(
            h.call(method, "/rest/audit", &admin(), Some(json!({}))).await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    // A member who leaves a role takes their events out of its audit.
    h.post(&format!("/rest/role/{analysts}"), &admin(), json!({"users": []})).await;
    let after = both_formats(&h, &format!("/rest/role/{analysts}/audit"), by_role(analysts, vec![])).await;
    assert!(after.iter().all(|r| r.user_id != Some(ana)));
    assert!(after.iter().all(|r| !(r.object_type == "ph_user" && r.object_id == Some(ana))));
    assert!(after.iter().any(|r| r.field == "users"), "the membership change is a change to the role");
}

// ---------------------------------------------------------------------------------------
// System information
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_red_when_a_worker_stops_heartbeating() {
    let h = Harness::start(|c| c.worker_stale_after = Duration::from_millis(800)).await;
    let (_, nobody) = h.user("nobody", "nobody-password", &[]).await;
    let beat = |guid: &str, draining: bool| Heartbeat {
        node_guid: guid.into(),
        segment: "default".into(),
        version: "0.1.0".into(),
        concurrency: 4,
        hostname: "host-a".into(),
        unix_ms: now_ms(),
        started_unix_ms: now_ms() - 1000,
        draining,
        ..Default::default()
    };
    let beating = CancellationToken::new();
    let (bus, stop) = (h.bus.clone(), beating.clone());
    let heartbeats = tokio::spawn(async move {
        while !stop.is_cancelled() {
            bus.publish_heartbeat(&beat("node-a", false)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = h.ok("/rest/health", &nobody).await;
    assert_eq!(
        health["status"],
        json!({"broker_api": "running", "store": "running", "bus": "running", "node-a": "running"}),
        "{health}"
    );
    assert_eq!(health["all_running"], true);
    let worker = &health["services"]["node-a"][0];
    assert_eq!(
        (worker["name"].as_str(), worker["segment"].as_str(), worker["concurrency"].as_u64()),
        (Some("node-a"), Some("default"), Some(4))
    );
    assert!(worker["last_heartbeat"].as_str().unwrap().ends_with('Z'));
    let api = &health["services"]["broker_api"][0];
    assert!(api["rs_kb"].as_u64().unwrap() > 0 && api["pid"].as_u64().unwrap() == u64::from(std::process::id()));
    assert_eq!(health["services"]["store"][0]["backend"], "sqlite");
    // Real readings, in the seed's shape.
    let labels = |key: &str| {
        health[key].as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(labels("memory_data"), ["Free", "Used", "Cached"]);
    assert_eq!(labels("swap_data"), ["Free", "Used"]);
    assert_eq!(labels("db_data"), ["Free", "Used"]);
    assert_eq!(labels("vault_data"), ["Free", "Used"]);
    assert!(health["memory_data"].as_array().unwrap().iter().map(|e| e["value"].as_u64().unwrap()).sum::<u64>() > 0);
    assert!(
        health["vault_data"][0]["value"].as_u64().unwrap() + health["vault_data"][1]["value"].as_u64().unwrap() > 0
    );
    let times: Vec<&str> =
        health["load_data"].as_array().unwrap().iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert_eq!(times, ["1 minute", "5 minutes", "15 minutes"]);
    assert!(health["load_data"][0]["load"].as_f64().is_some());
    assert!(health["last_snapshot_time"].as_str().unwrap().ends_with('Z'));

    beating.cancel();
    heartbeats.await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let health = h.ok("/rest/health", &nobody).await;
    assert_eq!(health["status"]["node-a"], "stopped", "{health}");
    assert_eq!(health["all_running"], false);
    assert_eq!(
        (health["status"]["store"].as_str(), health["status"]["bus"].as_str()),
        (Some("running"), Some("running"))
    );

    // A worker that drained and went quiet shut down cleanly: it leaves the picture.
    h.bus.publish_heartbeat(&beat("node-b", true)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.ok("/rest/health", &nobody).await["status"]["node-b"], "stopped");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(h.ok("/rest/health", &nobody).await["status"].get("node-b").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_info_license_connectivity_tests_and_widgets() {
    let h = Harness::start(|c| {
        c.base_url = "https://soar.example.com".into();
        c.time_zone = "Europe/Paris".into();
    })
    .await;
    h.fake_worker();
    let (_, nobody) = h.user("nobody", "nobody-password", &[]).await;
    let (_, automation) = h.user("auto", "automation-password", &["Automation"]).await;

    assert_eq!(h.ok("/rest/version", &nobody).await, json!({"version": outpost_proto::VERSION}));
    assert_eq!(
        h.ok("/rest/system_info", &nobody).await,
        json!({"base_url": "https://soar.example.com", "time_zone": "Europe/Paris"})
    );
    let changed = h.post("/rest/system_settings", &admin(), json!({"time_zone": "UTC"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(h.ok("/rest/system_info", &nobody).await["time_zone"], "UTC");
    assert_eq!(
        h.post("/rest/system_settings", &admin(), json!({"time_zone": "../x"})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.post("/rest/system_info", &admin(), json!({})).await.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "read-only, as the seed says"
    );

    let (app, asset) = h.app_and_asset("checker-one").await;
    let started = h.post(&format!("/rest/asset/{asset}/test"), &automation, json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.body["message"], "Testing asset connectivity for 'checker-one' using app 'Checker'");
    let system_container = started.body["container_id"].as_i64().unwrap();
    let second = h.post(&format!("/rest/asset/{asset}"), &admin(), json!({"test_connectivity": true})).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["container_id"], system_container, "tests share the system container");
    // The same route changes the asset otherwise; a test flag set to false is no field of
    // an asset.
    assert_eq!(
        h.post(&format!("/rest/asset/{asset}"), &admin(), json!({"test_connectivity": false})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.post("/rest/asset/99999/test", &admin(), json!({})).await.status, StatusCode::NOT_FOUND);

    let mut status = json!(null);
    for _ in 0..100 {
        status = h.ok("/rest/app_status", &nobody).await;
        if status["data"][0]["status"] == "success" && status["data"][0]["id"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((status["count"].as_u64(), status["num_pages"].as_u64()), (Some(1), Some(1)), "{status}");
    let entry = &status["data"][0];
    assert_eq!(
        (entry["app"].as_i64(), entry["asset"].as_i64(), entry["status"].as_str()),
        (Some(app), Some(asset), Some("success")),
        "{status}"
    );
    assert_eq!(
        entry["message"],
        "Testing asset connectivity for 'checker-one' using app 'Checker' 1 action succeeded. Connectivity test succeeded"
    );
    let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["app", "asset", "create_time", "id", "message", "status"]);
    let pretty = h.ok("/rest/app_status?pretty", &nobody).await;
    assert_eq!(
        (pretty["data"][0]["_pretty_app"].as_str(), pretty["data"][0]["_pretty_asset"].as_str()),
        (Some("Checker"), Some("checker-one"))
    );
    assert!(pretty["data"][0]["_pretty_create_time"].as_str().unwrap().contains("just now"));
    let (_, asset2) = h.app_and_asset("checker-two").await;
    h.post(&format!("/rest/asset/{asset2}/test"), &admin(), json!({})).await;
    let paged = h.ok("/rest/app_status?page=1&page_size=1", &nobody).await;
    assert_eq!(
        (paged["count"].as_u64(), paged["num_pages"].as_u64(), paged["data"][0]["asset"].as_i64()),
        (Some(2), Some(2), Some(asset2))
    );

    // The tests are action runs on the system container, audited as such; the broker
    // created the container, and that is audited too.
    let container_audit = h.ok(&format!("/rest/container/{system_container}/audit"), &admin()).await;
    let created: Vec<&Value> =
        container_audit.as_array().unwrap().iter().filter(|r| r["NOTE"] == "outpost system checks:created").collect();
    assert!(
        created.iter().any(|r| r["CHANGED FIELD"] == "label" && r["NEW VALUE"] == "outpost_system"),
        "{container_audit}"
    );
    assert!(created.iter().all(|r| r["USER ID"].is_null() && r["USER"] == "" && r["OBJECT TYPE"] == "container"));
    assert!(
        container_audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["AUDIT SOURCE"] == "Action Run" && r["NOTE"] == "test connectivity of asset 'checker-one'")
    );

    let license = h.ok("/rest/license", &nobody).await;
    assert_eq!(license["status"], "valid");
    assert_eq!(license["license_info"]["license_type"], "unlimited");
    for key in ["maximum_apps", "maximum_users", "maximum_assets", "maximum_actions_per_day", "maximum_containers"] {
        assert_eq!(license["license_info"][key], 0, "{key}");
    }
    assert_eq!(license["current_usage"]["recent_app_run_count"], 3);
    assert_eq!(license["current_usage"]["recent_playbook_run_count"], 0);
    assert!(license["license_info"]["issue_date"].as_i64().unwrap() > 0);

    let top = h.ok("/rest/widget_data/top_playbooks_actions", &nobody).await;
    assert_eq!(top["playbooks"], json!([]));
    assert_eq!(
        (top["actions"][0]["action_name"].as_str(), top["actions"][0]["total"].as_i64()),
        (Some("test connectivity"), Some(3)),
        "{top}"
    );
    assert!(top["actions"][0]["average_duration"].as_f64().is_some());
    assert!(
        h.ok("/rest/widget_data/top_playbooks_actions?action_filter=automated", &nobody).await["actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let old = h
        .ok(
            "/rest/widget_data/top_playbooks_actions?start_time=2017-01-01T00:00:00Z&end_time=2017-01-08T00:00:00Z",
            &nobody,
        )
        .await;
    assert!(old["actions"].as_array().unwrap().is_empty());
    let labelled = h.ok("/rest/widget_data/top_playbooks_actions?label=outpost_system", &nobody).await;
    assert_eq!(labelled["actions"][0]["total"], 3);
    let stats = h.ok("/rest/widget_data/playbooks_actions_stats", &nobody).await;
    assert_eq!(stats["total_actions"], 3);
    assert_eq!(stats["days"].as_array().unwrap().len(), 8, "7 days back, today included");
    assert_eq!(stats["days"].as_array().unwrap().last().unwrap()["actions"], 3);
    let all = h.ok("/rest/widget_data", &nobody).await;
    assert!(all.get("top_playbooks_actions").is_some() && all.get("playbooks_actions_stats").is_some());
    let unsupported = h.get("/rest/widget_data/container_stats", &nobody).await;
    assert_eq!(unsupported.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(unsupported.body["failed"], true);
    assert!(unsupported.body["message"].as_str().unwrap().contains("widget 'container_stats' is not supported"));
    assert_eq!(h.get("/rest/widget_data/nonsense", &nobody).await.status, StatusCode::NOT_FOUND);
    let half = h.get("/rest/widget_data/top_playbooks_actions?start_time=2017-01-01", &nobody).await;
    assert!(half.body["message"].as_str().unwrap().contains("together"));
}

// ---------------------------------------------------------------------------------------
// Audit: who sees what
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automation_reads_the_audit_trail_but_not_users_and_roles() {
    let h = Harness::start(|_| {}).await;
    let (ana, _) = h.user("ana", "ana-password", &["Observer"]).await;
    let (bot, bot_token) = h.user("bot", "bot-password", &["Automation"]).await;
    let reply = h
        .post(&format!("/rest/ph_user/{ana}"), &admin(), json!({"email": "ana@example.com", "first_name": "Ana"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    h.post("/rest/role", &admin(), json!({"name": "Analysts", "users": [ana]})).await;
    h.get("/rest/version", &Auth::Basic("ana".into(), "wrong-password".into())).await;
    h.ok(&format!("/rest/ph_user/{ana}"), &admin()).await;
    let container = h.container("case").await;
    assert_eq!(h.get(&format!("/rest/container/{container}"), &bot_token).await.status, StatusCode::OK);

    // The administrator sees everything, people included.
    let everything = h.ok("/rest/audit", &admin()).await.to_string();
    for needle in ["ana@example.com", "\"ph_user\"", "\"role\"", "login:Failed"] {
        assert!(everything.contains(needle), "{needle} in {everything}");
    }

    // Selecting users or roles is reading users: 403, audited, json or csv.
    for url in [
        "/rest/audit?user=1",
        &format!("/rest/audit?user={ana}&format=csv"),
        "/rest/audit?role=*",
        "/rest/audit?container&role=2&format=csv",
    ] {
        let reply = h.get(url, &bot_token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{url}: {}", reply.text);
        assert_eq!(reply.body["failed"], true, "{url}");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains("may not use") && message.contains("'users_roles:view'"), "{url}: {message}");
    }
    let denials = h.ok(&format!("/rest/audit?user={bot}&authentication=*"), &admin()).await;
    assert!(denials.as_array().unwrap().iter().any(|r| r["NOTE"] == "users_roles:view:Failed"), "{denials}");

    // Everything else, without the records about users and roles or others' sign-ins.
    let people = |r: &Rec| {
        ["ph_user", "role"].contains(&r.object_type.as_str())
            || (["authentication", "authorization"].contains(&r.object_type.as_str()) && r.user_id != Some(bot))
    };
    for url in ["/rest/audit", "/rest/audit?authentication=*&administration=*", "/rest/audit?container"] {
        let json = h.ok(url, &bot_token).await;
        let csv = h.get(&format!("{url}{}format=csv", if url.contains('?') { '&' } else { '?' }), &bot_token).await;
        assert_eq!(csv.status, StatusCode::OK, "{url}: {}", csv.text);
        let records: Vec<Rec> = json.as_array().unwrap().iter().map(from_json).chain(from_csv(&csv.text)).collect();
        assert!(!records.is_empty(), "{url}");
        for r in &records {
            assert!(!people(r), "{url}: {r:?} is about people");
        }
        for text in [json.to_string(), csv.text] {
            assert!(!text.contains("ana@example.com") && !text.contains("Analysts"), "{url}: {text}");
        }
    }
    let own = h.ok("/rest/audit?authentication=*", &bot_token).await;
    let notes: Vec<&str> = own.as_array().unwrap().iter().map(|r| r["NOTE"].as_str().unwrap()).collect();
    assert!(notes.contains(&"token:Success") && notes.contains(&"users_roles:view:Failed"), "its own: {notes:?}");
    let trail = h.ok("/rest/audit", &bot_token).await;
    assert!(
        trail.as_array().unwrap().iter().any(|r| r["NOTE"] == format!("GET:/rest/container/{container}")),
        "the rest of the trail is there"
    );
    assert!(trail.as_array().unwrap().iter().any(|r| r["NOTE"] == "case:created" && r["CHANGED FIELD"] == "name"));
    // The container audit is open to it and never held people.
    assert_eq!(h.get(&format!("/rest/container/{container}/audit"), &bot_token).await.status, StatusCode::OK);
    // An Observer holds users_roles:view: everything.
    let observer = Auth::Basic("ana".into(), "ana-password".into());
    assert_eq!(h.get("/rest/audit?user=1", &observer).await.status, StatusCode::OK);
    assert!(h.ok("/rest/audit", &observer).await.to_string().contains("ana@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_query_string_that_cannot_be_decoded_is_refused_before_its_parameters_are_checked() {
    let h = Harness::start(|_| {}).await;
    let (_, bot_token) = h.user("bot", "bot-password", &["Automation"]).await;
    // `user` needs users_roles:view on /rest/audit: a spelling the check cannot read is
    // refused for everyone, rather than let through unchecked.
    for (url, auth) in [
        ("/rest/audit?us%FFer=1", &bot_token),
        ("/rest/audit?user=%FF", &bot_token),
        ("/rest/audit?container&user=%C3", &admin()),
    ] {
        let reply = h.get(url, auth).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}: {}", reply.text);
        assert_eq!(
            reply.body,
            json!({"failed": true, "message": "malformed query string: a parameter is not UTF-8 once percent-decoded"}),
            "{url}"
        );
    }
    // A route without parameter rules leaves its query string to its handler, as before.
    assert_eq!(h.get("/rest/container?x=%FF", &admin()).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Listing conventions on the issue-6 collections
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_conventions_hold_on_users_roles_tokens_and_app_status() {
    let h = Harness::start(|_| {}).await;
    h.fake_worker();
    let mut users = vec![];
    for name in ["carol", "bob", "alice", "dave"] {
        users.push(h.user(name, &format!("{name}-password"), &["Observer"]).await.0);
    }
    let carol = users[0];
    h.call(Method::DELETE, &format!("/rest/ph_user/{}", users[3]), &admin(), None).await;
    for label in ["ci", "splunk", "old"] {
        h.post(&format!("/rest/ph_user/{carol}/token"), &admin(), json!({"label": label})).await;
    }
    let tokens = h.ok(&format!("/rest/ph_user/{carol}/token?page_size=0"), &admin()).await;
    let old = tokens["data"].as_array().unwrap().iter().find(|t| t["label"] == "old").unwrap()["id"].as_i64().unwrap();
    h.call(Method::DELETE, &format!("/rest/ph_user/{carol}/token/{old}"), &admin(), None).await;
    h.post("/rest/role", &admin(), json!({"name": "Analysts", "permissions": ["containers:view"], "users": [carol]}))
        .await;
    let (_, one) = h.app_and_asset("checker-one").await;
    let (_, two) = h.app_and_asset("checker-two").await;
    for asset in [one, two] {
        assert_eq!(h.post(&format!("/rest/asset/{asset}/test"), &admin(), json!({})).await.status, StatusCode::OK);
    }
    let mut done = json!(null);
    for _ in 0..100 {
        done = h.ok("/rest/app_status?_filter_status=\"success\"", &admin()).await;
        if done["count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["count"], 2, "both connectivity tests succeeded within 10 s: {done}");

    // The envelope, paging and refusals, as on every other collection.
    for path in [
        "/rest/ph_user".to_string(),
        "/rest/role".into(),
        format!("/rest/ph_user/{carol}/token"),
        "/rest/app_status".into(),
    ] {
        let page = h.ok(&path, &admin()).await;
        let count = page["count"].as_u64().unwrap_or_else(|| panic!("{path}: {page}"));
        assert!(count > 1, "{path}: {page}");
        assert_eq!(page["num_pages"].as_u64().unwrap(), count.div_ceil(10), "{path}");
        assert_eq!(page["data"].as_array().unwrap().len() as u64, count.min(10), "{path}");
        let all = h.ok(&format!("{path}?page_size=0"), &admin()).await;
        assert_eq!((all["data"].as_array().unwrap().len() as u64, all["num_pages"].as_u64()), (count, Some(1)));
        let one = h.ok(&format!("{path}?page=1&page_size=1"), &admin()).await;
        assert_eq!((one["num_pages"].as_u64(), one["data"].as_array().unwrap().len()), (Some(count), 1), "{path}");
        assert_eq!(one["data"][0]["id"], all["data"][1]["id"], "{path}: pages follow the same order");
        let beyond = h.ok(&format!("{path}?page=50&page_size=3"), &admin()).await;
        assert_eq!((beyond["count"].as_u64(), beyond["data"].as_array().map(Vec::len)), (Some(count), Some(0)));
        let desc = h.ok(&format!("{path}?sort=id&order=desc&page_size=0"), &admin()).await;
        let ids =
            |v: &Value| v["data"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>();
        assert_eq!(ids(&desc), ids(&all).into_iter().rev().collect::<Vec<_>>(), "{path}");
        let first = all["data"][0]["id"].as_i64().unwrap();
        let filtered = h.ok(&format!("{path}?_filter_id={first}"), &admin()).await;
        assert_eq!((filtered["count"].as_u64(), ids(&filtered)), (Some(1), vec![first]), "{path}");
        assert_eq!(h.ok(&format!("{path}?_filter_id__gt={first}"), &admin()).await["count"].as_u64(), Some(count - 1));
        assert_eq!(h.ok(&format!("{path}?_filter_id__lte={first}"), &admin()).await["count"].as_u64(), Some(1));
        for (query, culprit) in [
            ("page=-1", "'page' must be a non-negative integer, got '-1'"),
            ("page_size=many", "'page_size' must be a non-negative integer, got 'many'"),
            ("page_size=1001", "'page_size' is at most 1000"),
            ("_filter_colour=1", "(filterable: "),
            ("_filter_id__regex=1", "unknown lookup '__regex'"),
            ("_filter_id=\"abc\"", "expected an integer"),
            ("sort=colour", "(sortable: "),
            ("order=up", "'order' must be asc or desc, got 'up'"),
        ] {
            let reply = h.get(&format!("{path}?{query}"), &admin()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}?{query}: {}", reply.text);
            assert_eq!(reply.body["failed"], true);
            assert!(reply.body["message"].as_str().unwrap().contains(culprit), "{path}?{query}: {}", reply.text);
        }
    }

    // Users: the filter is no longer ignored; secrets stay out, and cannot be filtered on.
    let count = |path: String| {
        let h = &h;
        async move { h.ok(&path, &admin()).await["count"].as_u64().unwrap() }
    };
    let bob = h.ok("/rest/ph_user?_filter_username=\"bob\"", &admin()).await;
    assert_eq!((bob["count"].as_u64(), bob["data"][0]["username"].as_str()), (Some(1), Some("bob")));
    assert_eq!(count("/rest/ph_user?_filter_username__in=[\"alice\",\"carol\"]".into()).await, 2);
    assert_eq!(count("/rest/ph_user?_filter_username__icontains=\"AR\"".into()).await, 1);
    assert_eq!(count("/rest/ph_user?_filter_is_active=false".into()).await, 1);
    assert_eq!(count("/rest/ph_user?_filter_email__isnull=false".into()).await, 5);
    assert_eq!(count("/rest/ph_user?_filter_create_time__gte=\"2020-01-01T00:00:00Z\"".into()).await, 5);
    assert_eq!(count("/rest/ph_user?_filter_create_time__lt=\"2020-01-01T00:00:00Z\"".into()).await, 0);
    let sorted = h.ok("/rest/ph_user?sort=username&order=desc&page_size=2", &admin()).await;
    let names: Vec<&str> = sorted["data"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["dave", "carol"]);
    let all_users = h.get("/rest/ph_user?page_size=0&pretty", &admin()).await;
    assert!(!all_users.text.contains("argon2") && !all_users.text.contains("password"), "{}", all_users.text);
    let carol_shown = all_users.body["data"].as_array().unwrap().iter().find(|u| u["id"] == carol).unwrap().clone();
    assert_eq!(carol_shown["_pretty_roles"], json!(["Observer", "Analysts"]), "{carol_shown}");
    assert!(h.ok("/rest/ph_user", &admin()).await["data"][0].get("_pretty_roles").is_none());
    assert_eq!(h.ok(&format!("/rest/ph_user/{carol}?pretty"), &admin()).await["_pretty_roles"][1], "Analysts");
    for secret in ["_filter_password_hash=\"x\"", "_filter_password=\"x\"", "sort=password_hash"] {
        assert_eq!(h.get(&format!("/rest/ph_user?{secret}"), &admin()).await.status, StatusCode::BAD_REQUEST);
    }

    // Roles.
    let builtin = h.ok("/rest/role?_filter_builtin=true&sort=name&order=desc", &admin()).await;
    assert_eq!(builtin["count"], 3);
    assert_eq!(builtin["data"][0]["name"], "Observer");
    assert_eq!(count("/rest/role?_filter_name__icontains=\"analyst\"".into()).await, 1);
    let analysts = h.ok("/rest/role?_filter_name=\"Analysts\"&pretty", &admin()).await;
    assert_eq!(analysts["data"][0]["_pretty_users"], json!(["carol"]));

    // Tokens: the user's only, never a key or a hash.
    let path = format!("/rest/ph_user/{carol}/token");
    assert_eq!(count(format!("{path}?page_size=0")).await, 4, "the one from `user`, and three more");
    assert_eq!(count(format!("{path}?_filter_revoked_time__isnull=false")).await, 1);
    assert_eq!(count(format!("{path}?_filter_label__in=ci,splunk")).await, 2);
    let pretty = h.get(&format!("{path}?_filter_label=\"ci\"&pretty"), &admin()).await;
    assert_eq!(
        (pretty.body["count"].as_u64(), pretty.body["data"][0]["_pretty_user"].as_str()),
        (Some(1), Some("carol"))
    );
    assert!(!pretty.text.contains("hash"), "{}", pretty.text);
    assert_eq!(h.get(&format!("{path}?_filter_token_hash=\"x\""), &admin()).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(format!("/rest/ph_user/{}/token", users[1])).await, 1, "bob's own");

    // App status: the standard parameters and filters apply (seed 003).
    assert_eq!(count(format!("/rest/app_status?_filter_asset={two}")).await, 1);
    assert_eq!(count("/rest/app_status?_filter_status=\"failed\"".into()).await, 0);
    let backwards = h.ok("/rest/app_status?sort=asset&order=desc&pretty", &admin()).await;
    assert_eq!(
        (backwards["data"][0]["asset"].as_i64(), backwards["data"][0]["_pretty_asset"].as_str()),
        (Some(two), Some("checker-two"))
    );
}

// ---------------------------------------------------------------------------------------
// gRPC: permissions of every method, audited reads and runs
// ---------------------------------------------------------------------------------------

/// Sends any message as bytes: an empty message is a valid request of every method.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let bytes = bytes::Buf::copy_to_bytes(src, bytes::Buf::remaining(src));
        Ok(Some(bytes.to_vec()))
    }
}

/// Calls a method with an empty message; answers the status code of its first answer
/// (`Ok` when the first message came).
async fn call_empty(channel: &tonic::transport::Channel, method: &str, auth: &Auth) -> tonic::Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(tokio_stream::once(Vec::<u8>::new()));
    match auth {
        Auth::None => {}
        Auth::Token(t) => {
            request.metadata_mut().insert("ph-auth-token", t.parse().unwrap());
        }
        Auth::Basic(user, password) => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.metadata_mut().insert("authorization", format!("Basic {encoded}").parse().unwrap());
        }
    }
    let path = http::uri::PathAndQuery::try_from(method).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        match grpc.streaming(request, path, RawCodec).await {
            Err(status) => status.code(),
            Ok(response) => match response.into_inner().message().await {
                Ok(_) => tonic::Code::Ok,
                Err(status) => status.code(),
            },
        }
    })
    .await;
    answer.unwrap_or_else(|_| panic!("{method} did not answer"))
}

/// Every method the broker serves, from the descriptors it registers for reflection.
fn grpc_methods() -> Vec<String> {
    use prost::Message;
    let mut methods = vec!["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_string()];
    for set in [outpost_proto::v1::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
        let set = prost_types::FileDescriptorSet::decode(set).unwrap();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.push(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    methods
}

/// The words for gRPC: the same roles as REST; the health check for anyone, the
/// component fetch for workers only, reflection for any signed-in user.
fn grpc_allowed(who: Who, method: &str) -> bool {
    let name = method.rsplit('/').next().unwrap();
    let read = ["Get", "List", "Watch"].iter().any(|p| name.starts_with(p));
    match who {
        _ if method.starts_with("/grpc.health.v1.") => true,
        _ if name == "FetchApp" => false,
        Who::Anonymous => false,
        _ if method.starts_with("/grpc.reflection.") => true,
        Who::NoRole => false,
        Who::Observer => read,
        Who::Automation => read || ["RunAction", "CancelActionRun"].contains(&name),
        Who::Administrator => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_meets_every_grpc_method() {
    let h = Harness::start(|_| {}).await;
    let (_, observer) = h.user("olga", "observer-password", &["Observer"]).await;
    let (_, automation) = h.user("auto", "automation-password", &["Automation"]).await;
    let (_, no_role) = h.user("nobody", "nobody-password", &[]).await;
    let principals = [
        (Who::Anonymous, Auth::None),
        (Who::NoRole, no_role),
        (Who::Observer, observer),
        (Who::Automation, automation),
        (Who::Administrator, admin()),
    ];
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let methods = grpc_methods();
    for expected in [
        "/outpost.v1.ActionService/RunAction",
        "/outpost.v1.RegistryService/InstallApp",
        "/outpost.v1.RegistryService/ListArtifacts",
        "/grpc.health.v1.Health/Check",
    ] {
        assert!(methods.iter().any(|m| m == expected), "{expected} in {methods:?}");
    }
    let mut checked = 0;
    for method in &methods {
        let required = outpost_broker::access::permissions::grpc_required(method);
        for (who, auth) in &principals {
            let code = call_empty(&channel, method, auth).await;
            let context = format!("{who:?} {method} ({required:?}): {code:?}");
            if method.ends_with("/FetchApp") {
                assert_eq!(code, tonic::Code::Unauthenticated, "{context}: the worker token only");
            } else if grpc_allowed(*who, method) {
                assert!(
                    ![
                        tonic::Code::Unauthenticated,
                        tonic::Code::PermissionDenied,
                        tonic::Code::Internal,
                        tonic::Code::Unknown
                    ]
                    .contains(&code),
                    "{context}"
                );
            } else if *who == Who::Anonymous {
                assert_eq!(code, tonic::Code::Unauthenticated, "{context}");
            } else {
                assert_eq!(code, tonic::Code::PermissionDenied, "{context}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, methods.len() * principals.len());
    // Refusals over gRPC are audited as over REST.
    let denied = h.ok("/rest/audit?authentication=*", &admin()).await;
    let notes: Vec<&str> = denied.as_array().unwrap().iter().filter_map(|r| r["NOTE"].as_str()).collect();
    for expected in ["actions:execute:Failed", "apps:edit:Failed", "containers:edit:Failed", "assets:view:Failed"] {
        assert!(notes.contains(&expected), "{expected} in {notes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_reads_of_containers_and_runs_are_audited() {
    use outpost_proto::v1::action_service_client::ActionServiceClient;
    use outpost_proto::v1::registry_service_client::RegistryServiceClient;
    use outpost_proto::v1::{GetContainerRequest, ListArtifactsRequest, RunActionRequest, Target};
    let h = Harness::start(|_| {}).await;
    h.fake_worker();
    let (bot, bot_token) = h.user("bot", "bot-password", &["Automation"]).await;
    let Auth::Token(key) = bot_token else { unreachable!() };
    let (app, asset) = h.app_and_asset("geo").await;
    let container = h.container("case").await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    fn with_token<T>(key: &str, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("ph-auth-token", key.parse().unwrap());
        request
    }
    let mut registry = RegistryServiceClient::new(channel.clone());
    registry.get_container(with_token(&key, GetContainerRequest { id: container })).await.unwrap();
    registry
        .list_artifacts(with_token(&key, ListArtifactsRequest { container_id: container, query: None }))
        .await
        .unwrap();
    registry.list_artifacts(with_token(&key, ListArtifactsRequest { container_id: 0, query: None })).await.unwrap();
    assert!(registry.get_container(with_token(&key, GetContainerRequest { id: 999_999 })).await.is_err());

    let mut actions = ActionServiceClient::new(channel);
    let run = actions
        .run_action(with_token(
            &key,
            RunActionRequest {
                action: "lookup".into(),
                container_id: container,
                targets: vec![Target {
                    app_id: app.to_string(),
                    assets: vec![asset.to_string()],
                    parameters_json: vec![json!({"ip": "8.8.8.8"}).to_string()],
                }],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();

    let audit = h.ok(&format!("/rest/container/{container}/audit?sort=asc"), &admin()).await;
    let records = audit.as_array().unwrap();
    let grpc_reads: Vec<&str> = records
        .iter()
        .filter(|r| r["NOTE"].as_str().unwrap().starts_with("grpc:"))
        .map(|r| r["NOTE"].as_str().unwrap())
        .collect();
    assert_eq!(
        grpc_reads,
        ["grpc:/outpost.v1.RegistryService/GetContainer", "grpc:/outpost.v1.RegistryService/ListArtifacts"],
        "reads of the container, as REST's are; not the list of every container's artifacts"
    );
    for read in records.iter().filter(|r| r["NOTE"].as_str().unwrap().starts_with("grpc:")) {
        assert_eq!((read["USER ID"].as_i64(), read["USER"].as_str()), (Some(bot), Some("bot")));
        assert_eq!((read["OBJECT TYPE"].as_str(), read["OBJECT ID"].as_i64()), (Some("container"), Some(container)));
        assert_eq!(read["IP ADDRESS"], "127.0.0.1");
    }
    let action_run = records
        .iter()
        .find(|r| r["AUDIT SOURCE"] == "Action Run")
        .unwrap_or_else(|| panic!("a gRPC RunAction leaves an Action Run record: {audit}"));
    assert_eq!(action_run["AUDIT ID"], run.action_run_id);
    assert_eq!(
        (action_run["USER ID"].as_i64(), action_run["NOTE"].as_str()),
        (Some(bot), Some("user initiated lookup action"))
    );
    assert_eq!(action_run["RELATED OBJECT ID"], container);
    let unknown = h.ok("/rest/audit?container=999999", &admin()).await;
    assert!(
        unknown.as_array().unwrap().iter().all(|r| r["NOTE"] == "GET:/rest/audit?container=999999"),
        "a failed read is not a read: {unknown}"
    );
}

// ---------------------------------------------------------------------------------------
// Audit: values, installs, retention
// ---------------------------------------------------------------------------------------

/// `(CHANGED FIELD, OLD VALUE, NEW VALUE)` of the records of one object with one note.
fn changes(audit: &Value, object_type: &str, id: i64, note: &str) -> Vec<(String, Value, Value)> {
    let mut out: Vec<(String, Value, Value)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["OBJECT TYPE"] == object_type && r["OBJECT ID"] == id && r["NOTE"] == note)
        .map(|r| (r["CHANGED FIELD"].as_str().unwrap().to_string(), r["OLD VALUE"].clone(), r["NEW VALUE"].clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_show_old_and_new_values_with_secrets_masked() {
    let h = Harness::start(|_| {}).await;
    let (ana, _) = h.user("ana", "ana-first-password", &["Observer"]).await;
    let reply = h
        .post(
            &format!("/rest/ph_user/{ana}"),
            &admin(),
            json!({"email": "ana@example.com", "roles": ["Automation"], "password": "ana-second-password"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let role = h
        .post(
            "/rest/role",
            &admin(),
            json!({"name": "Analysts", "description": "one", "permissions": ["containers:view"]}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let reply = h
        .post(
            &format!("/rest/role/{role}"),
            &admin(),
            json!({"description": "two", "permissions": ["audit:view"], "users": [ana]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let container = h.container("case").await;
    let reply =
        h.post(&format!("/rest/container/{container}"), &admin(), json!({"severity": "high", "status": "open"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (app, asset) = h.app_and_asset("geo").await;
    let reply = h
        .post(
            &format!("/rest/asset/{asset}"),
            &admin(),
            json!({"configuration": {"base_url": "https://y", "apikey": "another-s3cret"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let run = h
        .post(
            "/rest/action_run",
            &admin(),
            json!({"action": "lookup", "container_id": container, "exec_delay_secs": 600,
            "targets": [{"app_id": app, "assets": [asset], "parameters": [{"ip": "1.1.1.1"}]}]}),
        )
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let run_id = run.body["action_run_id"].as_i64().unwrap();
    let cancel = h.post(&format!("/rest/action_run/{run_id}"), &admin(), json!({"cancel": true})).await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.text);

    let audit = h.ok("/rest/audit?page_size=0", &admin()).await;
    let s = |v: &str| json!(v);
    assert_eq!(
        changes(&audit, "ph_user", ana, "ana:updated"),
        [("email".into(), s(""), s("ana@example.com")), ("roles".into(), s("[3]"), s("[2]"))]
    );
    assert_eq!(
        changes(&audit, "ph_user", ana, "ana:password changed"),
        [("password".into(), s("********"), s("********"))],
        "a password change shows, its values never"
    );
    assert_eq!(
        changes(&audit, "role", role, "Analysts:updated"),
        [
            ("description".into(), s("one"), s("two")),
            ("permissions".into(), s("[\"containers:view\"]"), s("[\"audit:view\"]")),
            ("users".into(), s("[]"), s(&format!("[{ana}]"))),
        ]
    );
    assert_eq!(
        changes(&audit, "container", container, "case:updated"),
        [("severity".into(), s("medium"), s("high")), ("status".into(), s("new"), s("open"))]
    );
    assert_eq!(
        changes(&audit, "asset", asset, "geo:updated"),
        [
            ("configuration.apikey".into(), s("********"), s("********")),
            ("configuration.base_url".into(), s("https://x"), s("https://y")),
        ]
    );
    let cancelled = changes(&audit, "action_run", run_id, &format!("{}:cancelled", "user initiated lookup action"));
    assert_eq!(cancelled, [("cancelled".into(), s(""), s("cancelled by admin"))]);
    let record = audit.as_array().unwrap().iter().find(|r| r["OBJECT TYPE"] == "action_run").unwrap();
    assert_eq!(
        (record["RELATED OBJECT TYPE"].as_str(), record["RELATED OBJECT ID"].as_i64()),
        (Some("container"), Some(container))
    );
    let text = format!("{audit}{}", h.get("/rest/audit?format=csv", &admin()).await.text);
    for secret in [SECRET_APIKEY, "another-s3cret", "ana-first-password", "ana-second-password", "argon2"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_installs_and_upgrades_are_audited_once() {
    let qa_bundle = apps_dist().join("qa.tgz");
    let h = Harness::start(|c| c.bundles = vec![qa_bundle.clone()]).await;
    let app_records = |audit: &Value, name: &str| -> Vec<(String, Value, Value, Value)> {
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["OBJECT TYPE"] == "app" && r["NOTE"].as_str().unwrap().starts_with(&format!("{name}:")))
            .map(|r| {
                (
                    r["NOTE"].as_str().unwrap().to_string(),
                    r["CHANGED FIELD"].clone(),
                    r["NEW VALUE"].clone(),
                    r["USER ID"].clone(),
                )
            })
            .collect()
    };
    let audit = h.ok("/rest/audit?administration=*", &admin()).await;
    let started = app_records(&audit, "QA");
    assert_eq!(
        started.iter().filter(|r| r.1 == "app_version").count(),
        1,
        "a bundle installed at start is audited once, as the broker's: {started:?}"
    );
    assert!(started.iter().all(|r| r.0 == "QA:created" && r.3.is_null()));

    let app = h.checker("1.0.0").await;
    assert_eq!(h.checker("1.1.0").await, app, "an upgrade keeps the id");
    assert_eq!(h.checker("1.1.0").await, app);
    let audit = h.ok("/rest/audit?administration=*", &admin()).await;
    let mut checker = app_records(&audit, "Checker");
    checker.reverse();
    let fields: Vec<(&str, &str)> = checker.iter().map(|r| (r.0.as_str(), r.1.as_str().unwrap())).collect();
    assert_eq!(
        fields,
        [
            ("Checker:created", "name"),
            ("Checker:created", "appid"),
            ("Checker:created", "app_version"),
            ("Checker:created", "digest"),
            ("Checker:upgraded", "app_version"),
        ],
        "an unchanged re-install records nothing"
    );
    assert!(checker.iter().all(|r| r.3 == 1), "by the administrator");
    let upgraded = audit.as_array().unwrap().iter().find(|r| r["NOTE"] == "Checker:upgraded").unwrap();
    assert_eq!((upgraded["OLD VALUE"].as_str(), upgraded["NEW VALUE"].as_str()), (Some("1.0.0"), Some("1.1.0")));
    assert_eq!(upgraded["OBJECT ID"], app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_records_on_its_interval() {
    use outpost_broker::store::audit_records::AuditRecord;
    let h = Harness::start(|c| c.audit_retention_days = 1).await;
    let broker = h.running.broker.clone();
    let old = |note: &str, days_ago: i64| AuditRecord {
        source: "Audit".into(),
        audit_id: 0,
        time_ms: now_ms() - days_ago * 24 * 3600 * 1000,
        user_id: None,
        username: String::new(),
        ip: String::new(),
        category: "administration".into(),
        object_type: "system_settings".into(),
        object_id: None,
        related_type: None,
        related_id: None,
        note: note.into(),
        changed_field: String::new(),
        old_value: None,
        new_value: None,
    };
    broker.store.append_audit(&[old("three days old", 3), old("recent", 0)]).await.unwrap();
    let loop_stop = h.shutdown.child_token();
    let retention = tokio::spawn(outpost_broker::access::audit::retention::run_retention_every(
        broker.clone(),
        loop_stop.clone(),
        Duration::from_millis(50),
    ));
    let window = format!(
        "/rest/audit?administration=*&start={}",
        (chrono::Utc::now() - chrono::Duration::days(10)).format("%Y-%m-%d")
    );
    let notes = |audit: Value| {
        audit.as_array().unwrap().iter().map(|r| r["NOTE"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let until_gone = |note: &'static str| {
        let (h, window) = (&h, window.clone());
        async move {
            for _ in 0..100 {
                let now = notes(h.ok(&window, &admin()).await);
                if !now.iter().any(|n| n == note) {
                    return now;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("{note} was never purged");
        }
    };
    let after = until_gone("three days old").await;
    assert!(after.iter().any(|n| n == "recent"), "recent records stay: {after:?}");
    assert!(after.iter().any(|n| n == "retention:purged 1 records older than 1 days"), "{after:?}");
    // It keeps running on its interval.
    broker.store.append_audit(&[old("two days old", 2)]).await.unwrap();
    let after = until_gone("two days old").await;
    assert_eq!(after.iter().filter(|n| n.starts_with("retention:purged 1 records")).count(), 2, "{after:?}");
    loop_stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), retention).await.unwrap().unwrap();
}
