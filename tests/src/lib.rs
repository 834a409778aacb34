//! The test kit every crate's integration tests share, and (in `tests/tests/`) the
//! end-to-end scenarios that drive the real `outpost` binary.
//!
//! Crates use it as a dev-dependency (`outpost-tests.workspace = true`; the broker with
//! `features = ["broker"]`). Tests talk the real protocols against the machine's real
//! RabbitMQ and PostgreSQL; nothing here mocks a component of Outpost.
//!
//! Needs what the README's test command builds first: the sample apps
//! (`bash apps/build.sh`, or `OUTPOST_APPS_DIST`) and, for the process tests, the binary
//! (`cargo build -p outpost`, or `OUTPOST_BIN`). A missing one fails the test and says how
//! to build it.
//!
//! # Layout
//! - [`apps`]: where the built apps, the binary and the component fixtures are.
//! - [`bundle`]: app bundles (tgz) built in the test, and the test apps' manifests.
//! - [`rest`]: the REST client (async, and a blocking one for process tests), and
//!   [`rest::assert_soar_error`].
//! - [`fake_worker`]: plays the worker on an in-process bus: takes tasks, publishes results.
//! - [`grpc`]: channels and credentials for the gRPC API.
//! - [`amqp`]: the machine's RabbitMQ: topology scopes deleted after the test, a test bus.
//! - [`proxy`]: a TCP proxy in front of RabbitMQ that a test can cut.
//! - [`process`]: `outpost up`, `outpost broker` and `outpost worker` as processes.
//! - `broker` (feature `broker`): a broker started in this process, on port 0.

pub mod amqp;
pub mod apps;
#[cfg(feature = "broker")]
pub mod broker;
pub mod bundle;
pub mod fake_worker;
pub mod grpc;
pub mod process;
pub mod proxy;
pub mod rest;

/// The administrator's password every broker the kit starts gets, in-process or not.
pub const PASSWORD: &str = "test-kit-admin-password";

/// A name no other test (or test run) uses: for queues, prefixes, databases, files.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A loopback port nobody listens on right now (bound, then freed): for "nothing
/// answers there" cases. Never for a server a test starts: a port picked here could be
/// taken before it is bound there (bind port 0 and read the port instead).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("a loopback port: {e}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("a loopback port: {e}"))
}

/// Installs rustls's ring provider once per process. Both providers are compiled into
/// the workspace (see FIELD-NOTES), and a client built with rustls's default builder
/// panics unless one is chosen.
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
