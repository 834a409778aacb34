//! The end-to-end harness: starts real `outpost` processes on free ports and talks to
//! them over HTTP and gRPC, as a client would.
//!
//! The binary must be built first (`cargo build -p outpost`, which the README's test
//! command does) and the sample bundles must exist (`bash apps/build.sh`).
//!
//! # Layout
//! - [`paths`]: where the binary and the app bundles are.
//! - [`Outpost`]: one running `outpost` process and its data dir.
//! - [`Rest`]: a REST client that returns status and JSON body.
//! - [`AmqpScope`] and [`Amqp`]: a topology prefix of its own on the machine's RabbitMQ.
//! - [`Proxy`]: a TCP proxy in front of RabbitMQ that a test can cut.
//! - [`WorkerProcess`]: one running `outpost worker`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod paths {
    use std::path::PathBuf;

    /// The workspace root.
    pub fn workspace() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives in the workspace").to_path_buf()
    }

    /// The `outpost` binary: `OUTPOST_BIN`, or the workspace's debug build.
    pub fn outpost_bin() -> PathBuf {
        let path = std::env::var_os("OUTPOST_BIN").map(PathBuf::from).unwrap_or_else(|| {
            let target =
                std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"));
            target.join("debug").join("outpost")
        });
        assert!(
            path.exists(),
            "{} is missing: run `cargo build -p outpost` first (the README's test command does)",
            path.display()
        );
        path
    }

    /// The folder of built app bundles: `OUTPOST_APPS_DIST`, or `apps/dist`.
    pub fn apps_dist() -> PathBuf {
        let dir = std::env::var_os("OUTPOST_APPS_DIST")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("apps").join("dist"));
        assert!(
            dir.join("qa.tgz").exists(),
            "{} holds no app bundles: run `bash apps/build.sh` first (the README's test command does)",
            dir.display()
        );
        dir
    }
}

/// The (REST, gRPC) ports `outpost up` and `outpost broker` print once they listen:
/// `REST: http://127.0.0.1:<port>/rest   gRPC: http://127.0.0.1:<port>`.
fn listening_ports(log: &str) -> Option<(u16, u16)> {
    let port_after = |line: &str, marker: &str| -> Option<u16> {
        let rest = &line[line.find(marker)? + marker.len()..];
        let address = rest.split(|c: char| c == '/' || c.is_whitespace()).next()?;
        address.rsplit(':').next()?.parse().ok()
    };
    log.lines().find_map(|line| Some((port_after(line, "REST: http://")?, port_after(line, "gRPC: http://")?)))
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A unique name for this test run (queues, vhosts, schemas).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// One running `outpost` process.
pub struct Outpost {
    pub child: Child,
    /// (REST, gRPC) ports, kept across restarts.
    pub ports: (u16, u16),
    pub rest_url: String,
    pub grpc_url: String,
    pub password: String,
    pub data_dir: PathBuf,
    /// Keeps the data dir alive (and removes it) unless the test keeps it.
    _temp: Option<tempfile::TempDir>,
    log: PathBuf,
}

/// The admin password the harness gives every process.
pub const PASSWORD: &str = "harness-admin-password";

impl Outpost {
    /// Starts `outpost up` with its own data dir, ports and the sample apps.
    pub fn up(extra_args: &[&str]) -> Outpost {
        let temp = tempfile::tempdir().expect("a temp dir");
        let data_dir = temp.path().to_path_buf();
        let mut args = vec!["up"];
        args.extend_from_slice(extra_args);
        Self::spawn(&args, data_dir, Some(temp), &[])
    }

    /// Starts `outpost <args>` with the harness's env (data dir, ports, admin password,
    /// apps dir) plus `env`, and waits until REST answers.
    ///
    /// The process binds port 0 and the harness reads the ports it got from what it
    /// prints: a port picked here and bound there could be taken in between by another
    /// test's process (a listener, or an outgoing connection's ephemeral port).
    pub fn spawn(args: &[&str], data_dir: PathBuf, temp: Option<tempfile::TempDir>, env: &[(&str, String)]) -> Outpost {
        Self::spawn_on(args, data_dir, temp, env, (0, 0))
    }

    /// Like [`Outpost::spawn`], on given (REST, gRPC) ports (0: any): a restart keeps its
    /// address.
    pub fn spawn_on(
        args: &[&str],
        data_dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        env: &[(&str, String)],
        (rest, grpc): (u16, u16),
    ) -> Outpost {
        let log = data_dir.join(format!("{}.log", unique("outpost-")));
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(paths::outpost_bin());
        command
            .args(args)
            .env("OUTPOST_REST_ADDR", format!("127.0.0.1:{rest}"))
            .env("OUTPOST_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("OUTPOST_DATA_DIR", &data_dir)
            .env("OUTPOST_ADMIN_PASSWORD", PASSWORD)
            .env("OUTPOST_APPS_DIR", paths::apps_dist())
            .env("OUTPOST_LOG", std::env::var("OUTPOST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("outpost starts");
        let mut outpost = Outpost {
            child,
            ports: (rest, grpc),
            rest_url: String::new(),
            grpc_url: String::new(),
            password: PASSWORD.into(),
            data_dir,
            _temp: temp,
            log,
        };
        outpost.wait_ready(Duration::from_secs(120));
        outpost
    }

    /// Waits until the process says where it listens and REST answers there; fails at
    /// once, with the log, if the process exits.
    fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("outpost exited ({status}) before answering; log:\n{}", self.log());
            }
            if self.rest_url.is_empty()
                && let Some(ports) = listening_ports(&self.log())
            {
                self.ports = ports;
                self.rest_url = format!("http://127.0.0.1:{}", ports.0);
                self.grpc_url = format!("http://127.0.0.1:{}", ports.1);
            }
            if !self.rest_url.is_empty()
                && let Ok((200, _)) = self.rest().try_get("/rest/version")
            {
                return;
            }
            assert!(Instant::now() < deadline, "outpost did not answer within {within:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn rest(&self) -> Rest {
        Rest::new(&self.rest_url, "admin", &self.password)
    }

    /// Sends SIGTERM and waits for a clean exit; the data dir stays.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "outpost did not stop within 60 s of SIGTERM; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Outpost {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A blocking REST client that answers (status, JSON body).
#[derive(Clone)]
pub struct Rest {
    base: String,
    http: reqwest::blocking::Client,
    auth: Option<(String, String)>,
    token: Option<String>,
}

impl Rest {
    pub fn new(base: &str, user: &str, password: &str) -> Rest {
        Rest {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client"),
            auth: Some((user.into(), password.into())),
            token: None,
        }
    }

    /// The same client without credentials.
    pub fn anonymous(&self) -> Rest {
        Rest { auth: None, token: None, ..self.clone() }
    }

    /// The same client authenticating with `ph-auth-token`.
    pub fn with_token(&self, token: &str) -> Rest {
        Rest { auth: None, token: Some(token.into()), ..self.clone() }
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> reqwest::Result<(u16, Value)> {
        let request = match (&self.auth, &self.token) {
            (_, Some(token)) => request.header("ph-auth-token", token),
            (Some((u, p)), None) => request.basic_auth(u, Some(p)),
            _ => request,
        };
        let response = request.send()?;
        let status = response.status().as_u16();
        let text = response.text()?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    pub fn try_get(&self, path: &str) -> reqwest::Result<(u16, Value)> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.try_get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// POSTs raw bytes (for malformed bodies).
    pub fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.http.delete(format!("{}{path}", self.base))).unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// GETs and asserts 200.
    pub fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    /// POSTs and asserts 200.
    pub fn created(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body);
        assert_eq!(status, 200, "POST {path} {body} answered {status}: {answer}");
        answer
    }

    /// Polls an action run until it is final; answers it.
    pub fn wait_action_run(&self, id: i64, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let run = self.ok(&format!("/rest/action_run/{id}"));
            if run["status"] == "success" || run["status"] == "failed" {
                return run;
            }
            assert!(Instant::now() < deadline, "action run {id} not finished within {within:?}: {run}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Asserts a SOAR error body with a message containing `needle`.
pub fn assert_soar_error(answer: &(u16, Value), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "expected {status}, got {}: {}", answer.0, answer.1);
    assert_eq!(answer.1["failed"], true, "not a SOAR error body: {}", answer.1);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "message {message:?} should contain {needle:?}");
}

/// Where a process reaches RabbitMQ, and the topology prefix it uses there.
#[derive(Debug, Clone)]
pub struct Amqp {
    pub url: String,
    pub prefix: String,
}

impl Amqp {
    /// The env that points an `outpost` process at it.
    fn env(&self) -> [(&'static str, String); 2] {
        [("OUTPOST_AMQP_URL", self.url.clone()), ("OUTPOST_AMQP_PREFIX", self.prefix.clone())]
    }
}

/// A topology prefix of its own for one test on the machine's RabbitMQ (vhost `/`),
/// whose queues and exchanges are deleted at the end. Cheaper than a vhost of its own:
/// no `rabbitmqctl`, which costs one to two seconds a call on a busy machine.
///
/// Declare it before the processes using it, so it is dropped after them and nothing
/// re-declares a queue behind the clean-up.
pub struct AmqpScope {
    pub prefix: String,
    /// Segments whose task queues to delete, `default` included.
    segments: Vec<String>,
}

/// The machine's RabbitMQ, as the tests reach it (through a [`Proxy`] too).
pub const RABBITMQ: &str = "127.0.0.1:5672";
const RABBITMQ_PORT: u16 = 5672;

impl AmqpScope {
    /// A fresh prefix; `segments` names the segments the test creates besides `default`.
    pub fn new(segments: &[&str]) -> AmqpScope {
        let mut all = vec!["default".to_string()];
        all.extend(segments.iter().map(|s| s.to_string()));
        AmqpScope { prefix: unique("outpost-test-"), segments: all }
    }

    /// RabbitMQ directly.
    pub fn direct(&self) -> Amqp {
        self.via(RABBITMQ_PORT)
    }

    /// RabbitMQ through a local port, e.g. a [`Proxy`]'s.
    pub fn via(&self, port: u16) -> Amqp {
        Amqp { url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), prefix: self.prefix.clone() }
    }

    async fn delete(&self) -> lapin::Result<()> {
        let connection = lapin::Connection::connect(&self.direct().url, lapin::ConnectionProperties::default()).await?;
        let p = &self.prefix;
        let mut queues: Vec<String> = self.segments.iter().map(|s| format!("{p}.tasks.{s}")).collect();
        queues.extend([format!("{p}.results"), format!("{p}.dead")]);
        // A channel per deletion: a refused one closes its channel.
        for queue in queues {
            let channel = connection.create_channel().await?;
            let _ = channel.queue_delete(queue.into(), Default::default()).await;
        }
        for exchange in ["tasks", "dlx", "control", "heartbeats"] {
            let channel = connection.create_channel().await?;
            let _ = channel.exchange_delete(format!("{p}.{exchange}").into(), Default::default()).await;
        }
        let _ = connection.close(200, "cleaned up".into()).await;
        Ok(())
    }
}

impl Drop for AmqpScope {
    fn drop(&mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(_) => return,
        };
        let deleted = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), self.delete()).await });
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!("could not clean up rabbitmq topology '{}': {deleted:?}", self.prefix);
        }
    }
}

/// A TCP proxy the test controls, to cut RabbitMQ off without touching the machine's
/// shared node.
pub struct Proxy {
    pub port: u16,
    state: std::sync::Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    refusing: std::sync::atomic::AtomicBool,
    open: std::sync::Mutex<Vec<std::net::TcpStream>>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<port> to `upstream`.
    pub fn start(upstream: &str) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy addr").port();
        let state = std::sync::Arc::new(ProxyState::default());
        let upstream = upstream.to_string();
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if shared.refusing.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                };
                {
                    let mut open = shared.open.lock().expect("proxy lock");
                    open.push(client.try_clone().expect("clone"));
                    open.push(server.try_clone().expect("clone"));
                }
                for (mut from, mut to) in
                    [(client.try_clone().expect("clone"), server.try_clone().expect("clone")), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, state }
    }

    /// Severs every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.state.refusing.store(true, std::sync::atomic::Ordering::SeqCst);
        for stream in self.state.open.lock().expect("proxy lock").drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.state.refusing.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One running `outpost worker` process.
pub struct WorkerProcess {
    pub child: Child,
    pub data_dir: PathBuf,
    pub segment: String,
    log: PathBuf,
}

impl WorkerProcess {
    /// Starts `outpost worker` for `segment` against a broker, and waits until it serves.
    pub fn start(
        broker: &Outpost,
        amqp: &Amqp,
        segment: &str,
        data_dir: PathBuf,
        extra: &[(&str, String)],
    ) -> WorkerProcess {
        let worker = Self::spawn(broker, amqp, segment, data_dir, extra);
        worker.wait_serving(Duration::from_secs(60));
        worker
    }

    /// Starts `outpost worker` without waiting for it to serve. Its data dir gets a copy
    /// of the broker's bus key, where a worker looks by default, as an operator copies it.
    pub fn spawn(
        broker: &Outpost,
        amqp: &Amqp,
        segment: &str,
        data_dir: PathBuf,
        extra: &[(&str, String)],
    ) -> WorkerProcess {
        std::fs::create_dir_all(&data_dir).expect("worker data dir");
        let key = data_dir.join("bus.key");
        std::fs::copy(broker.data_dir.join("bus.key"), &key).expect("the broker's bus key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("bus key mode");
        }
        let log = data_dir.join(format!("worker-{}.log", unique("")));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(paths::outpost_bin());
        command
            .arg("worker")
            .envs(amqp.env())
            .env("OUTPOST_BROKER_GRPC", &broker.grpc_url)
            .env("OUTPOST_SEGMENT", segment)
            .env("OUTPOST_DATA_DIR", &data_dir)
            .env_remove("OUTPOST_BUS_KEY_FILE")
            .env("OUTPOST_LOG", std::env::var("OUTPOST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file);
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("outpost worker starts");
        WorkerProcess { child, data_dir, segment: segment.into(), log }
    }

    /// Waits until the worker says it serves its segment.
    pub fn wait_serving(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains("serving segment") {
            assert!(Instant::now() < deadline, "worker did not start within {within:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    pub fn node_guid(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("node_guid")).expect("node_guid written at start").trim().to_string()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the worker dies mid-task, as on a power cut.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, without waiting.
    pub fn terminate(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// Waits for the process to exit.
    pub fn wait_exit(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "worker did not exit within {within:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(self) -> std::process::ExitStatus {
        self.terminate();
        self.wait_exit(Duration::from_secs(90))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Outpost {
    /// Starts `outpost broker` on RabbitMQ, in `data_dir` (kept by the caller, so the
    /// broker can be restarted on it).
    pub fn broker(amqp: &Amqp, data_dir: PathBuf, env: &[(&str, String)]) -> Outpost {
        Self::broker_on(amqp, data_dir, env, (0, 0))
    }

    pub fn broker_on(amqp: &Amqp, data_dir: PathBuf, env: &[(&str, String)], ports: (u16, u16)) -> Outpost {
        let mut all: Vec<(&str, String)> = amqp.env().into();
        all.extend(env.iter().cloned());
        Self::spawn_on(&["broker"], data_dir, None, &all, ports)
    }

    /// SIGKILL: the process dies at once, as on a power cut.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Calls gRPC `ActionService.CancelActionRun` as the administrator.
    pub fn cancel_over_grpc(&self, id: i64) -> Result<outpost_proto::v1::CancelActionRunResponse, tonic::Status> {
        use base64::Engine;
        use outpost_proto::v1::CancelActionRunRequest;
        use outpost_proto::v1::action_service_client::ActionServiceClient;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(self.grpc_url.clone())
                .expect("grpc url")
                .connect()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", self.password));
            let mut request = tonic::Request::new(CancelActionRunRequest { id });
            request.metadata_mut().insert("authorization", format!("Basic {basic}").parse().expect("ascii"));
            Ok(ActionServiceClient::new(channel).cancel_action_run(request).await?.into_inner())
        })
    }

    /// The store's row of each parameter set of an app run (SQLite in the data dir), for
    /// what REST does not show per result.
    pub fn parameter_rows(&self, app_run: i64) -> Vec<ParameterRow> {
        use sqlx::Row;
        let url = format!("sqlite://{}", self.data_dir.join("outpost.db").display());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.expect("the broker's store");
            let rows = sqlx::query(
                "SELECT parameter_index, status, message, exception_occured, node_guid, finished_ms
                 FROM tasks WHERE app_run_id = ? ORDER BY parameter_index",
            )
            .bind(app_run)
            .fetch_all(&mut db)
            .await
            .expect("parameter rows");
            rows.iter()
                .map(|r| ParameterRow {
                    parameter_index: r.get("parameter_index"),
                    status: r.get("status"),
                    message: r.get("message"),
                    exception_occured: r.get::<Option<bool>, _>("exception_occured").unwrap_or(false),
                    node_guid: r.get("node_guid"),
                    finished_ms: r.get("finished_ms"),
                })
                .collect()
        })
    }
}

/// One parameter set of an app run as the store keeps it: the task and its result.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterRow {
    pub parameter_index: i64,
    /// `success` or `failed`; `None` until a result is recorded.
    pub status: Option<String>,
    pub message: Option<String>,
    pub exception_occured: bool,
    /// The worker that ran it.
    pub node_guid: Option<String>,
    /// When it finished (Unix ms).
    pub finished_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn listening_ports_come_from_what_outpost_prints() {
        let up = "Outpost 0.1.0 is up.\n  REST: http://127.0.0.1:41234/rest   gRPC: http://127.0.0.1:41235\n";
        assert_eq!(super::listening_ports(up), Some((41234, 41235)));
        assert_eq!(super::listening_ports("starting\n"), None);
    }
}
