//! A REST client as a SOAR client uses Outpost: Basic or `ph-auth-token`
//! authentication, JSON bodies, answers as (status, JSON). [`Rest`] is async, for tests
//! on tokio; [`BlockingRest`] is the same client for tests that drive processes from
//! plain threads.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

/// How a request authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials at all.
    None,
    /// HTTP Basic: user name, password.
    Basic(String, String),
    /// A `ph-auth-token` header.
    Token(String),
}

impl Auth {
    /// The administrator with the kit's [`crate::PASSWORD`].
    pub fn admin() -> Auth {
        Auth::Basic("admin".into(), crate::PASSWORD.into())
    }
}

/// `Basic <base64(user:password)>`, for gRPC's `authorization` metadata.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// An answer in full.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// For `Retry-After`, `Content-Type` and the like.
    pub headers: HeaderMap,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
    /// The body as sent.
    pub text: String,
}

/// An async REST client for one base URL and one identity.
#[derive(Clone)]
pub struct Rest {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    base: String,
    /// One connection pool per client and its clones.
    http: reqwest::Client,
    /// Applied to every request this client sends.
    auth: Auth,
}

impl Rest {
    /// A client for `base` (`http://host:port`) authenticating as `auth`.
    pub fn new(base: &str, auth: Auth) -> Rest {
        crate::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|e| panic!("an http client: {e}"));
        Rest { base: base.trim_end_matches('/').to_string(), http, auth }
    }

    /// The same client as someone else.
    pub fn with_auth(&self, auth: Auth) -> Rest {
        Rest { auth, ..self.clone() }
    }

    /// The same client without credentials.
    pub fn anonymous(&self) -> Rest {
        self.with_auth(Auth::None)
    }

    /// The same client authenticating with `ph-auth-token`.
    pub fn with_token(&self, token: &str) -> Rest {
        self.with_auth(Auth::Token(token.into()))
    }

    /// A request to `path`, without credentials yet: [`Rest::send`] adds them.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends with this client's credentials; answers in full.
    pub async fn try_reply(&self, request: reqwest::RequestBuilder) -> reqwest::Result<Reply> {
        let request = match &self.auth {
            Auth::None => request,
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Token(token) => request.header("ph-auth-token", token),
        };
        let response = request.send().await?;
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        Ok(Reply { status, headers, body, text })
    }

    /// Sends with this client's credentials; answers (status, JSON body).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let reply = self.try_reply(request).await.unwrap_or_else(|e| panic!("the server does not answer: {e}"));
        (reply.status.as_u16(), reply.body)
    }

    /// `method path`, with a JSON body when given; answers in full.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.try_reply(request).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// GET, failing softly while a server starts.
    pub async fn try_get(&self, path: &str) -> reqwest::Result<(u16, Value)> {
        let reply = self.try_reply(self.request(Method::GET, path)).await?;
        Ok((reply.status.as_u16(), reply.body))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let reply = self.call(Method::GET, path, None).await;
        (reply.status.as_u16(), reply.body)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let reply = self.call(Method::POST, path, Some(body)).await;
        (reply.status.as_u16(), reply.body)
    }

    /// POSTs raw text as `curl -d` does (form content type).
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_text(path, "application/x-www-form-urlencoded", body).await
    }

    /// POSTs raw text labelled as JSON (for malformed JSON bodies).
    pub async fn post_json_text(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_text(path, "application/json", body).await
    }

    async fn post_text(&self, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let request = self.request(Method::POST, path).header("content-type", content_type).body(body.to_string());
        self.send(request).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let reply = self.call(Method::DELETE, path, None).await;
        (reply.status.as_u16(), reply.body)
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

    /// An installed app by its manifest name, as `GET /rest/app` lists it.
    pub async fn app(&self, name: &str) -> Value {
        let apps = self.ok("/rest/app?page_size=0").await;
        let found = apps["data"].as_array().and_then(|apps| apps.iter().find(|a| a["name"] == name)).cloned();
        found.unwrap_or_else(|| panic!("app {name} is not installed: {apps}"))
    }

    /// The numeric id of an installed app by its manifest name.
    pub async fn app_id(&self, name: &str) -> i64 {
        let app = self.app(name).await;
        app["id"].as_i64().unwrap_or_else(|| panic!("app without an id: {app}"))
    }

    /// Polls an action run until it is final; answers it.
    pub async fn wait_action_run(&self, id: i64, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let run = self.ok(&format!("/rest/action_run/{id}")).await;
            if run["status"] == "success" || run["status"] == "failed" {
                return run;
            }
            assert!(Instant::now() < deadline, "action run {id} not finished within {within:?}: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Asserts a SOAR error body (`{"failed": true, "message": ...}`) with `status` and a
/// message containing `needle`.
#[track_caller]
pub fn assert_soar_error(answer: &(u16, Value), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "expected {status}, got {}: {}", answer.0, answer.1);
    assert_eq!(answer.1["failed"], true, "not a SOAR error body: {}", answer.1);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "message {message:?} should contain {needle:?}");
}

/// [`Rest`] for tests that run on plain threads (the process tests): every call runs
/// on a runtime the kit keeps for the whole test process.
#[derive(Clone)]
pub struct BlockingRest {
    /// Does the work.
    inner: Rest,
}

/// The runtime blocking calls run on; never dropped, so never dropped inside another.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-kit-rest")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("the test kit's runtime: {e}"))
    })
}

impl BlockingRest {
    /// A client for `base` (`http://host:port`) as `user` with `password`.
    pub fn new(base: &str, user: &str, password: &str) -> BlockingRest {
        BlockingRest { inner: Rest::new(base, Auth::Basic(user.into(), password.into())) }
    }

    /// The same client without credentials.
    pub fn anonymous(&self) -> BlockingRest {
        BlockingRest { inner: self.inner.anonymous() }
    }

    pub fn try_get(&self, path: &str) -> reqwest::Result<(u16, Value)> {
        runtime().block_on(self.inner.try_get(path))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        runtime().block_on(self.inner.get(path))
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        runtime().block_on(self.inner.post(path, body))
    }

    /// POSTs raw text labelled as JSON (for malformed JSON bodies).
    pub fn post_json_text(&self, path: &str, body: &str) -> (u16, Value) {
        runtime().block_on(self.inner.post_json_text(path, body))
    }

    /// GETs and asserts 200.
    pub fn ok(&self, path: &str) -> Value {
        runtime().block_on(self.inner.ok(path))
    }

    /// POSTs and asserts 200.
    pub fn created(&self, path: &str, body: &Value) -> Value {
        runtime().block_on(self.inner.created(path, body))
    }

    /// An installed app by its manifest name.
    pub fn app(&self, name: &str) -> Value {
        runtime().block_on(self.inner.app(name))
    }

    /// The numeric id of an installed app by its manifest name.
    pub fn app_id(&self, name: &str) -> i64 {
        runtime().block_on(self.inner.app_id(name))
    }

    /// Polls an action run until it is final; answers it.
    pub fn wait_action_run(&self, id: i64, within: Duration) -> Value {
        runtime().block_on(self.inner.wait_action_run(id, within))
    }
}
