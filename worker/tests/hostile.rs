//! The hostile suite: the `hostile` connector attacks one limit per case. Each case
//! must end as a failed result with the right message within its deadline plus a
//! second, and the same `Sandbox` must then run `echo` normally.
//!
//! Needs `bash apps/build.sh` (or `OUTPOST_APPS_DIST`). Three sandboxes are shared by
//! the cases: a strict one (no private ranges allowed), one that allows 127.0.0.1/32
//! for the cases that reach a local HTTP server, and an impatient one like it with
//! short connect and first-byte timeouts.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::StreamBody;
use hyper::body::{Bytes, Frame};
use hyper_util::rt::TokioIo;
use outpost_worker::sandbox::EgressConfig;
use outpost_worker::sandbox::{Context, Invocation, Limits, Outcome, PreparedApp, Sandbox, SandboxConfig, Status};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use outpost_tests::apps::{compile_cache_dir, component, digest};

/// The worker's ceiling in this suite: high enough for the 100 MiB result to be built,
/// so that it is the result cap, not the memory cap, that stops it.
const SUITE_MAX_MEMORY: u64 = 512 << 20;

/// A sandbox plus the hostile app prepared in it, shared by the cases.
struct Suite {
    /// The settings the sandbox was built with: the limits the cases expect.
    config: SandboxConfig,
    sandbox: Sandbox,
    hostile: Arc<PreparedApp>,
}

/// The egress settings of the suites: loopback allowed or not, the test CA trusted.
fn egress(allow_loopback: bool) -> EgressConfig {
    EgressConfig {
        allow_cidrs: if allow_loopback { vec!["127.0.0.1/32".parse().unwrap()] } else { vec![] },
        extra_root_certificates: vec![CertificateDer::from_pem_slice(TEST_CA.as_bytes()).unwrap()],
        ..EgressConfig::default()
    }
}

async fn suite(egress: EgressConfig) -> Suite {
    let config = SandboxConfig {
        concurrency: 4,
        max_memory_bytes: SUITE_MAX_MEMORY,
        cache_dir: compile_cache_dir(),
        egress,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(config.clone()).expect("sandbox");
    let wasm = component("hostile");
    let hostile = sandbox.prepare(&digest(&wasm), &wasm).await.expect("prepare hostile");
    Suite { config, sandbox, hostile }
}

/// The strict sandbox, created once for the whole suite.
async fn strict() -> &'static Suite {
    static SUITE: OnceCell<Suite> = OnceCell::const_new();
    SUITE.get_or_init(|| suite(egress(false))).await
}

/// The sandbox that lets connectors reach 127.0.0.1.
async fn open() -> &'static Suite {
    static SUITE: OnceCell<Suite> = OnceCell::const_new();
    SUITE.get_or_init(|| suite(egress(true))).await
}

/// How long the impatient sandbox waits for a connection and for a response head.
const IMPATIENT: Duration = Duration::from_millis(300);

/// Like [`open`], with short connect and first-byte timeouts.
async fn impatient() -> &'static Suite {
    static SUITE: OnceCell<Suite> = OnceCell::const_new();
    SUITE
        .get_or_init(|| {
            suite(EgressConfig { connect_timeout: IMPATIENT, first_byte_timeout: IMPATIENT, ..egress(true) })
        })
        .await
}

fn invocation(action: &str, parameters: Value, timeout: Duration) -> Invocation {
    let mut parameters = parameters;
    parameters["context"] = json!({"guid": "hostile-guid", "artifact_id": 0, "parent_action_run": []});
    Invocation {
        action: action.to_string(),
        identifier: action.replace(' ', "_"),
        parameter_json: parameters.to_string(),
        asset_config_json: "{}".into(),
        asset_id: 1,
        asset_name: "hostile".into(),
        container_id: 2,
        action_run_id: 3,
        app_run_id: 4,
        context: Context { guid: "hostile-guid".into(), ..Context::default() },
        limits: Limits { timeout, memory_bytes: 64 << 20, ..Limits::default() },
        egress: Vec::new(),
        state_json: "{}".into(),
        progress: None,
        cancel: CancellationToken::new(),
        task_id: format!("4.{action}"),
    }
}

/// Runs one attack and checks it ends within its deadline plus a second.
async fn attack(suite: &Suite, invocation: Invocation) -> Outcome {
    let deadline = invocation.limits.timeout;
    let started = Instant::now();
    let outcome = suite.sandbox.run(&suite.hostile, invocation).await;
    let took = started.elapsed();
    assert!(took <= deadline + Duration::from_secs(1), "took {took:?}, deadline {deadline:?}: {outcome:?}");
    outcome
}

fn assert_failed_with(outcome: &Outcome, message: &str) {
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(outcome.exception, "{outcome:?}");
    assert!(outcome.message.contains(message), "expected {message:?} in {:?}", outcome.message);
}

/// The sandbox is still healthy: `echo` runs normally.
async fn assert_echo_works(suite: &Suite) {
    let outcome = suite.sandbox.run(&suite.hostile, invocation("echo", json!({"value": "still here"}), secs(10))).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert!(!outcome.exception);
    let data: Value = serde_json::from_str(&outcome.data[0]).unwrap();
    assert_eq!(data["value"], "still here");
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_stops_at_the_deadline() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("spin", json!({}), secs(2))).await;
    assert_failed_with(&outcome, "the connector exceeded its 2 s deadline");
    assert!(outcome.duration >= secs(2));
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_the_stack_not_the_worker() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("recurse", json!({}), secs(10))).await;
    assert_failed_with(&outcome, "the connector overflowed its stack");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_memory_to_4_gib_stops_at_the_cap() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("grow memory", json!({}), secs(10))).await;
    assert_failed_with(&outcome, "the connector ran out of memory (limit 64 MiB)");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_result_is_refused() {
    let suite = strict().await;
    let mut invocation = invocation("big result", json!({"megabytes": 100}), secs(20));
    invocation.limits.memory_bytes = SUITE_MAX_MEMORY;
    let outcome = attack(suite, invocation).await;
    assert_failed_with(&outcome, "the connector's result is ");
    assert!(outcome.message.ends_with("bytes, more than the 4 MiB allowed"), "{}", outcome.message);
    let size: u64 = outcome.message.split(' ').nth(4).unwrap().parse().unwrap();
    assert!(size >= 100 << 20, "{size}");
    assert!(outcome.data.is_empty());
    assert_echo_works(suite).await;
}

/// What an operator sees with the defaults: a 100 MiB result cannot even be built in
/// 64 MiB, so the memory cap, not the result cap, stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_result_at_the_default_memory_cap_runs_out_of_memory_first() {
    let suite = strict().await;
    let invocation = invocation("big result", json!({"megabytes": 100}), secs(20));
    assert_eq!(invocation.limits.memory_bytes, SandboxConfig::default().max_memory_bytes);
    let outcome = attack(suite, invocation).await;
    assert_failed_with(&outcome, "the connector ran out of memory (limit 64 MiB)");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_host_the_asset_does_not_allow_is_denied() {
    let suite = strict().await;
    let mut invocation = invocation("fetch", json!({"url": "http://denied.example/secrets?x=1"}), secs(10));
    invocation.egress = vec!["https://allowed.example".into()];
    let outcome = attack(suite, invocation).await;
    assert_failed_with(
        &outcome,
        "request to http://denied.example:80/secrets?x=1 denied: host not allowed for this asset",
    );
    assert_eq!(outcome.http.len(), 1);
    assert_eq!(outcome.http[0].method, "GET");
    assert_eq!(outcome.http[0].status, 0);
    assert_eq!(outcome.http[0].denied, "host not allowed for this asset");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_name_that_resolves_to_loopback_is_denied() {
    let suite = strict().await;
    // Something listens there, so only the address check can stop the request.
    let server = serve_hello().await;
    let port = server.port();
    let mut invocation = invocation("fetch", json!({"url": format!("http://localhost:{port}/")}), secs(10));
    invocation.egress = vec![format!("http://localhost:{port}")];
    let outcome = attack(suite, invocation).await;
    assert_failed_with(&outcome, &format!("request to http://localhost:{port}/ denied: localhost resolves to "));
    assert!(outcome.message.contains("a loopback address"), "{}", outcome.message);
    assert_eq!(outcome.http.len(), 1);
    assert!(outcome.http[0].denied.contains("loopback"));
    assert_eq!(server.hits(), 0, "the request must not reach the server");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_reaches_the_server_and_is_recorded() {
    let suite = open().await;
    let server = serve_hello().await;
    let port = server.port();
    let url = format!("http://127.0.0.1:{port}/hello?name=outpost");
    let mut invocation = invocation("fetch", json!({"url": url}), secs(10));
    invocation.egress = vec![format!("http://127.0.0.1:{port}")];
    let outcome = attack(suite, invocation).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert!(!outcome.exception);
    let data: Value = serde_json::from_str(&outcome.data[0]).unwrap();
    assert_eq!(data["status"], 200);
    assert_eq!(data["bytes"], HELLO.len());
    assert_eq!(server.hits(), 1);
    assert_eq!(outcome.http.len(), 1);
    let exchange = &outcome.http[0];
    assert_eq!(exchange.method, "GET");
    assert_eq!(exchange.url, format!("http://127.0.0.1:{port}/hello?name=outpost"));
    assert_eq!(exchange.status, 200);
    assert_eq!(exchange.bytes, HELLO.len() as u64);
    assert_eq!(exchange.denied, "");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_stopped_at_the_line_limit() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("log flood", json!({"lines": 10000}), secs(2))).await;
    // A hard limit, like memory: host log, stdout and stderr lines count together, the
    // first `max_log_lines` reach the worker's log and the next one stops the connector.
    assert_failed_with(&outcome, "the connector wrote more than 1000 log lines (the limit)");
    assert_eq!(outcome.log_lines, suite.config.max_log_lines, "the lines up to the limit are kept");
    assert!(outcome.duration < secs(1), "stopped at the limit, not after 30000 lines: {:?}", outcome.duration);
    assert_echo_works(suite).await;
}

/// What `snoop` reported finding.
fn found(outcome: &Outcome) -> Value {
    serde_json::from_str(&outcome.data[0]).expect("snoop returns what it found")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_capability_a_connector_is_denied_finds_nothing_and_fails_the_run() {
    let suite = strict().await;
    for (what, denied, field) in [
        ("files", "open files", "files"),
        ("tcp", "open a tcp socket", "socket"),
        ("udp", "open a udp socket", "udp"),
        ("dns", "look up a host name", "lookup"),
    ] {
        let outcome = attack(suite, invocation("snoop", json!({"what": what}), secs(2))).await;
        assert_failed_with(&outcome, "");
        assert_eq!(outcome.message, format!("the connector tried to {denied}, which the sandbox denies"), "{what}");
        let found = found(&outcome);
        match &found[field] {
            Value::Array(items) => assert!(items.is_empty(), "{what}: {found}"),
            Value::String(error) => assert!(error.starts_with("error"), "{what}: {found}"),
            other => panic!("{what}: {other}"),
        }
        assert_echo_works(suite).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snooping_everywhere_finds_nothing_and_names_every_denial() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("snoop", json!({}), secs(2))).await;
    assert_failed_with(&outcome, "");
    assert_eq!(
        outcome.message,
        "the connector tried to open files, open a tcp socket, open a udp socket and look up a host name, \
         which the sandbox denies"
    );
    let found = found(&outcome);
    assert_eq!(found["files"], json!([]), "{found}");
    assert_eq!(found["passwd"], Value::Null, "{found}");
    assert_eq!(found["env"], json!([]), "{found}");
    assert_eq!(found["args"], json!([]), "{found}");
    for refused in ["socket", "udp", "lookup"] {
        assert!(found[refused].as_str().is_some_and(|s| s.starts_with("error")), "{refused}: {found}");
    }
    assert_echo_works(suite).await;
}

/// Arguments are an empty list, and reading them is not reported: componentize-py's
/// Python runtime reads them (for `sys.argv`) on the first call into every component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_arguments_finds_nothing() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("snoop", json!({"what": "args"}), secs(2))).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert_eq!(outcome.message, "Nothing found");
    assert_eq!(found(&outcome)["args"], json!([]));
    assert_echo_works(suite).await;
}

/// A gap on purpose, as with the arguments: `wasi:cli/environment.get-environment` names no variable,
/// and Rust's own panic and backtrace code calls it on every error path, so reading the
/// environment cannot be told apart and is not reported. There is nothing to find.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_environment_finds_nothing() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("snoop", json!({"what": "env"}), secs(2))).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert_eq!(outcome.message, "Nothing found");
    assert_eq!(found(&outcome)["env"], json!([]));
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_with_the_panic_message() {
    let suite = strict().await;
    let outcome = attack(suite, invocation("panic", json!({}), secs(10))).await;
    assert_failed_with(&outcome, "the connector trapped: panicked at ");
    assert!(outcome.message.contains("hostile connector panicked on purpose"), "{}", outcome.message);
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_state_larger_than_1_mib_is_refused() {
    let suite = strict().await;
    let value = "x".repeat(1 << 20);
    let outcome = attack(suite, invocation("write state", json!({"value": value}), secs(10))).await;
    // The connector sees the host's error and fails on its own: not an exception.
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(!outcome.exception);
    assert!(outcome.message.contains("more than the 1 MiB allowed"), "{}", outcome.message);
    assert_eq!(outcome.saved_state, None);
    assert_echo_works(suite).await;
}

const HELLO: &str = "hello from the test server";

/// A tiny HTTP server on 127.0.0.1:0 that answers every request with [`HELLO`].
struct HelloServer {
    port: u16,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    _stop: tokio::task::JoinHandle<()>,
}

impl HelloServer {
    fn port(&self) -> u16 {
        self.port
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for HelloServer {
    fn drop(&mut self) {
        self._stop.abort();
    }
}

async fn serve_hello() -> HelloServer {
    serve_bytes(HELLO.as_bytes().to_vec()).await
}

/// Like [`serve_hello`], with any body; sent without a content-length so that only
/// counting the bytes as they stream can stop an oversized one.
async fn serve_bytes(body: Vec<u8>) -> HelloServer {
    let body = Bytes::from(body);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (counter, body) = (counter.clone(), body.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let chunks =
                        body.chunks(64 * 1024).map(|c| Ok::<_, Infallible>(Frame::data(Bytes::copy_from_slice(c))));
                    let stream = futures::stream::iter(chunks.collect::<Vec<_>>());
                    async move { Ok::<_, Infallible>(hyper::Response::new(StreamBody::new(stream))) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    HelloServer { port, hits, _stop: task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_larger_than_the_worker_allows_is_cut_off() {
    let suite = open().await;
    let max = suite.config.egress.max_response_bytes;
    let server = serve_bytes(vec![b'x'; max as usize + (1 << 20)]).await;
    let port = server.port();
    let mut invocation = invocation("fetch", json!({"url": format!("http://127.0.0.1:{port}/big")}), secs(20));
    invocation.egress = vec![format!("http://127.0.0.1:{port}")];
    let outcome = attack(suite, invocation).await;
    // The connector sees an error and fails on its own; nothing was denied.
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(!outcome.exception, "{outcome:?}");
    assert_eq!(outcome.http.len(), 1);
    assert_eq!(outcome.http[0].status, 200);
    assert!(outcome.http[0].bytes > max && outcome.http[0].bytes <= max + (1 << 20), "{:?}", outcome.http[0]);
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_but_never_answers_hits_the_first_byte_timeout() {
    let suite = impatient().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, reads the request, and never answers.
    let silent = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut invocation = invocation("fetch", json!({"url": format!("http://127.0.0.1:{port}/slow")}), secs(10));
    invocation.egress = vec![format!("http://127.0.0.1:{port}")];
    let started = Instant::now();
    let outcome = attack(suite, invocation).await;
    let took = started.elapsed();
    silent.abort();
    // The connector sees a timeout and fails on its own; nothing was denied.
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(!outcome.exception, "{outcome:?}");
    assert!(outcome.message.contains("timed out"), "{}", outcome.message);
    assert!(took >= IMPATIENT && took < IMPATIENT + secs(1), "the worker's 300 ms clamp, not the SDK's 30 s: {took:?}");
    assert_eq!(outcome.http.len(), 1);
    assert_eq!((outcome.http[0].status, outcome.http[0].denied.as_str()), (0, ""));
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_never_accepts_hits_the_connect_timeout() {
    let suite = impatient().await;
    // A listener with a full accept queue: Linux drops further SYNs, so a connect hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = vec![];
    while let Ok(Ok(stream)) =
        tokio::time::timeout(Duration::from_millis(100), tokio::net::TcpStream::connect(addr)).await
    {
        queued.push(stream);
        assert!(queued.len() < 16, "the accept queue never filled up");
    }
    let mut invocation = invocation("fetch", json!({"url": format!("http://{addr}/")}), secs(10));
    invocation.egress = vec![format!("http://{addr}")];
    let started = Instant::now();
    let outcome = attack(suite, invocation).await;
    let took = started.elapsed();
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(!outcome.exception, "{outcome:?}");
    assert!(outcome.message.contains("timed out"), "{}", outcome.message);
    assert!(took < IMPATIENT + secs(1), "the worker's 300 ms clamp, not the SDK's 10 s: {took:?}");
    assert_echo_works(suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_reaches_the_checked_address_with_the_host_name_as_sni() {
    let suite = open().await;
    let server = serve_tls().await;
    let port = server.port;
    let mut invocation = invocation("fetch", json!({"url": format!("https://localhost:{port}/tls")}), secs(10));
    invocation.egress = vec![format!("https://localhost:{port}")];
    let outcome = attack(suite, invocation).await;
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let data: Value = serde_json::from_str(&outcome.data[0]).unwrap();
    assert_eq!(data["status"], 200);
    assert_eq!(data["bytes"], HELLO.len());
    assert_eq!(server.sni.lock().unwrap().as_deref(), Some("localhost"));
    assert_eq!(outcome.http[0].url, format!("https://localhost:{port}/tls"));
    assert_echo_works(suite).await;
}

/// A test-only certificate authority and a `localhost` / 127.0.0.1 certificate it
/// signed (P-256, valid until 2126). Trusted only by this suite's sandboxes.
const TEST_CA: &str = r"-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIULp6GtvwSzrdl28F7gi9HxFAhaTowCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPT3V0cG9zdCB0ZXN0IENBMCAXDTI2MTEyNTE5Mjk0OFoYDzIx
MjYxMTAxMTkyOTQ4WjAaMRgwFgYDVQQDDA9PdXRwb3N0IHRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAARHCEd8sG7Zu+XUwaz+0gsCn2AskspJQu1KYiYE
ddfvWYb06OsMzktKhF7VrgQdTUOve0hYOdXOz5ti/OPsqOi3o2MwYTAdBgNVHQ4E
FgQUoUnUOu/+/uZvaerYyCv2VTYONXYwHwYDVR0jBBgwFoAUoUnUOu/+/uZvaerY
yCv2VTYONXYwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAgQwCgYIKoZI
zj0EAwIDSAAwRQIhANSQYYXH+3UBfduui7+67yiuYiYdEvOMPmsHzF6Ztps5AiA0
uO4b6SFF+YatnPVfCWxa+ngbpEITaDaVRqEVk/zfww==
-----END CERTIFICATE-----";
const TEST_LEAF: &str = r"-----BEGIN CERTIFICATE-----
MIIBxTCCAWugAwIBAgIUERfuuFu1a+iXxcWIGaUeEy+hBk0wCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPT3V0cG9zdCB0ZXN0IENBMCAXDTI2MTEyNTE5Mjk0OFoYDzIx
MjYxMTAxMTkyOTQ4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARJ2ggCDeKdppDF7bOxZI5oyXKzd41ZE68lORzgvtDmqIcY
VFVbV17Hh1N6VC+dKFhAk/jH/4Rm59VG2Ytwc/QTo4GSMIGPMBoGA1UdEQQTMBGC
CWxvY2FsaG9zdIcEfwAAATAMBgNVHRMBAf8EAjAAMBMGA1UdJQQMMAoGCCsGAQUF
BwMBMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQUgnO+tF+hYPLVK9ShGzmdnsAz
F38wHwYDVR0jBBgwFoAUoUnUOu/+/uZvaerYyCv2VTYONXYwCgYIKoZIzj0EAwID
SAAwRQIgPRAk57PAANTPDnqxd/PMOMdUgP1BdNTdsYCljYxHVjwCIQDGDzicBuQG
6OgiGFlZnNESiVv21GuK9pl7yOGQtEvBAQ==
-----END CERTIFICATE-----";
const TEST_LEAF_KEY: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmFIh4MGUDEz/c3rT
++CAU5ZsoqCNUIzmY4nKk7mZ4NKhRANCAARJ2ggCDeKdppDF7bOxZI5oyXKzd41Z
E68lORzgvtDmqIcYVFVbV17Hh1N6VC+dKFhAk/jH/4Rm59VG2Ytwc/QT
-----END PRIVATE KEY-----";

struct TlsServer {
    port: u16,
    /// The server name the client asked for in its TLS hello.
    sni: Arc<std::sync::Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An https server on 127.0.0.1:0 answering [`HELLO`] with the test certificate.
async fn serve_tls() -> TlsServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(TEST_LEAF.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(TEST_LEAF_KEY.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sni = Arc::new(std::sync::Mutex::new(None));
    let seen = sni.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else { return };
                *seen.lock().unwrap() = tls.get_ref().1.server_name().map(str::to_string);
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::from_static(
                        HELLO.as_bytes(),
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
            });
        }
    });
    TlsServer { port, sni, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_a_busy_loop_promptly() {
    let suite = strict().await;
    let invocation = invocation("spin", json!({}), secs(30));
    let cancel = invocation.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let outcome = suite.sandbox.run(&suite.hostile, invocation).await;
    assert!(started.elapsed() < secs(1), "{:?}", started.elapsed());
    assert_failed_with(&outcome, "the action run was cancelled");
    assert_echo_works(suite).await;
}

/// On a single-threaded runtime: a connector burning CPU yields every epoch tick, so a
/// parameter set next to it is not held up until the spinner's deadline.
#[tokio::test(flavor = "current_thread")]
async fn a_busy_connector_does_not_starve_its_neighbours() {
    let suite = strict().await;
    let spin = suite.sandbox.run(&suite.hostile, invocation("spin", json!({}), secs(3)));
    let echo = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let outcome = suite.sandbox.run(&suite.hostile, invocation("echo", json!({}), secs(10))).await;
        (outcome, started.elapsed())
    };
    let (spun, (echoed, echo_took)) = tokio::join!(spin, echo);
    assert_failed_with(&spun, "the connector exceeded its 3 s deadline");
    assert_eq!(echoed.status, Status::Success, "{echoed:?}");
    assert!(echo_took < secs(1), "echo waited {echo_took:?} behind the spinning connector");
}
