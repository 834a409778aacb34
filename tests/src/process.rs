//! `outpost` as real processes: `outpost up` and `outpost broker` ([`Outpost`]) and
//! `outpost worker` ([`WorkerProcess`]), each with a data dir and a log of its own,
//! started the way an operator starts them and stopped with signals.
//!
//! A process binds port 0 and the kit reads the ports it got from what it prints: a
//! port picked here and bound there could be taken in between by another test's
//! process (a listener, or an outgoing connection's ephemeral port).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::amqp::Amqp;
use crate::apps;
use crate::rest::BlockingRest;
use crate::{PASSWORD, unique};

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

/// What a process wrote to its log so far.
pub fn printed(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// How many lines of `log` contain `needle`.
pub fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

/// Waits until the log at `log` contains `needle`; answers the log. Fails at once, with
/// the log, if the process exits first.
pub fn wait_printed(log: &Path, needle: &str, child: &mut Child, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let out = printed(log);
        if out.contains(needle) {
            return out;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the process exited with {status} before printing {needle:?}:\n{out}");
        }
        assert!(Instant::now() < deadline, "no {needle:?} within {within:?}:\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a signal (`TERM`, `INT`) to a process, as an operator's `kill` does.
pub fn signal(child: &Child, name: &str) {
    let _ = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status();
}

/// Waits for a process to exit; fails with `log` after `within`.
fn wait_exit(child: &mut Child, within: Duration, log: impl Fn() -> String) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        assert!(Instant::now() < deadline, "the process did not exit within {within:?}; log:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a process still running (SIGKILL) and reaps it.
fn kill(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The log level of spawned processes: the test's `OUTPOST_LOG`, or `info`.
fn log_level() -> String {
    std::env::var("OUTPOST_LOG").unwrap_or_else(|_| "info".into())
}

/// One running `outpost up` or `outpost broker`.
pub struct Outpost {
    /// The process, for signals and its exit status.
    pub child: Child,
    /// (REST, gRPC) ports, kept across restarts.
    pub ports: (u16, u16),
    /// `http://127.0.0.1:<port>` of REST.
    pub rest_url: String,
    /// `http://127.0.0.1:<port>` of gRPC, where workers fetch components.
    pub grpc_url: String,
    /// The administrator's password ([`PASSWORD`]).
    pub password: String,
    /// Holds the store, the keys and the log; kept across restarts.
    pub data_dir: PathBuf,
    /// Keeps the data dir alive (and removes it) unless the test keeps it.
    _temp: Option<tempfile::TempDir>,
    /// What the process prints.
    log: PathBuf,
}

impl Outpost {
    /// Starts `outpost up` with its own data dir, ports and the sample apps.
    pub fn up(extra_args: &[&str]) -> Outpost {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("a temp dir: {e}"));
        let data_dir = temp.path().to_path_buf();
        let mut args = vec!["up"];
        args.extend_from_slice(extra_args);
        Self::spawn(&args, data_dir, Some(temp), &[])
    }

    /// Starts `outpost broker` on RabbitMQ, in `data_dir` (kept by the caller, so the
    /// broker can be restarted on it).
    pub fn broker(amqp: &Amqp, data_dir: PathBuf, env: &[(&str, String)]) -> Outpost {
        Self::broker_on(amqp, data_dir, env, (0, 0))
    }

    /// Like [`Outpost::broker`], on given (REST, gRPC) ports: a restart keeps its address.
    pub fn broker_on(amqp: &Amqp, data_dir: PathBuf, env: &[(&str, String)], ports: (u16, u16)) -> Outpost {
        let mut all: Vec<(&str, String)> = amqp.env().into();
        all.extend(env.iter().cloned());
        Self::spawn_on(&["broker"], data_dir, None, &all, ports)
    }

    /// Starts `outpost <args>` with the kit's env (data dir, ports, admin password, apps
    /// dir) plus `env`, and waits until REST answers.
    pub fn spawn(args: &[&str], data_dir: PathBuf, temp: Option<tempfile::TempDir>, env: &[(&str, String)]) -> Outpost {
        Self::spawn_on(args, data_dir, temp, env, (0, 0))
    }

    /// Like [`Outpost::spawn`], on given (REST, gRPC) ports (0: any).
    pub fn spawn_on(
        args: &[&str],
        data_dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        env: &[(&str, String)],
        (rest, grpc): (u16, u16),
    ) -> Outpost {
        let log = data_dir.join(format!("{}.log", unique("outpost-")));
        std::fs::create_dir_all(&data_dir).unwrap_or_else(|e| panic!("data dir {}: {e}", data_dir.display()));
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log file: {e}"));
        let log_copy = log_file.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
        let mut command = Command::new(apps::outpost_bin());
        command
            .args(args)
            .env("OUTPOST_REST_ADDR", format!("127.0.0.1:{rest}"))
            .env("OUTPOST_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("OUTPOST_DATA_DIR", &data_dir)
            .env("OUTPOST_ADMIN_PASSWORD", PASSWORD)
            .env("OUTPOST_APPS_DIR", apps::dist())
            .env("OUTPOST_LOG", log_level())
            .stdin(Stdio::null())
            .stdout(log_copy)
            .stderr(log_file);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("outpost starts: {e}"));
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
        printed(&self.log)
    }

    /// A client signed in as the administrator.
    pub fn rest(&self) -> BlockingRest {
        BlockingRest::new(&self.rest_url, "admin", &self.password)
    }

    /// Sends SIGTERM and waits for a clean exit; the data dir stays.
    pub fn stop(&mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        let log = self.log.clone();
        wait_exit(&mut self.child, Duration::from_secs(60), || printed(&log))
    }

    /// SIGKILL: the process dies at once, as on a power cut.
    pub fn kill9(mut self) {
        kill(&mut self.child);
    }

    /// Calls gRPC `ActionService.CancelActionRun` as the administrator.
    pub fn cancel_over_grpc(&self, id: i64) -> Result<outpost_proto::v1::CancelActionRunResponse, tonic::Status> {
        use outpost_proto::v1::CancelActionRunRequest;
        use outpost_proto::v1::action_service_client::ActionServiceClient;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(self.grpc_url.clone())
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
                .connect()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let mut request = tonic::Request::new(CancelActionRunRequest { id });
            request.metadata_mut().insert("authorization", crate::grpc::authorization("admin", &self.password));
            Ok(ActionServiceClient::new(channel).cancel_action_run(request).await?.into_inner())
        })
    }

    /// The store's row of each parameter set of an app run (SQLite in the data dir), for
    /// what REST does not show per result.
    pub fn parameter_rows(&self, app_run: i64) -> Vec<ParameterRow> {
        use sqlx::Row;
        let url = format!("sqlite://{}", self.data_dir.join("outpost.db").display());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime: {e}"));
        runtime.block_on(async {
            let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("the broker's store: {e}"));
            let rows = sqlx::query(
                "SELECT parameter_index, status, message, exception_occured, node_guid, finished_ms
                 FROM tasks WHERE app_run_id = ? ORDER BY parameter_index",
            )
            .bind(app_run)
            .fetch_all(&mut db)
            .await
            .unwrap_or_else(|e| panic!("parameter rows: {e}"));
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

impl Drop for Outpost {
    fn drop(&mut self) {
        kill(&mut self.child);
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

/// One running `outpost worker`.
pub struct WorkerProcess {
    /// The process, for signals and its exit status.
    pub child: Child,
    /// Holds its node_guid, bus key and component caches.
    pub data_dir: PathBuf,
    /// The segment it serves.
    pub segment: String,
    /// What the process prints.
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
        let mut worker = Self::spawn(broker, amqp, segment, data_dir, extra);
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
        std::fs::create_dir_all(&data_dir).unwrap_or_else(|e| panic!("worker data dir: {e}"));
        let key = data_dir.join("bus.key");
        std::fs::copy(broker.data_dir.join("bus.key"), &key).unwrap_or_else(|e| panic!("the broker's bus key: {e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("bus key mode: {e}"));
        }
        let log = data_dir.join(format!("worker-{}.log", unique("")));
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log file: {e}"));
        let log_copy = log_file.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
        let mut command = Command::new(apps::outpost_bin());
        command
            .arg("worker")
            .envs(amqp.env())
            .env("OUTPOST_BROKER_GRPC", &broker.grpc_url)
            .env("OUTPOST_SEGMENT", segment)
            .env("OUTPOST_DATA_DIR", &data_dir)
            .env_remove("OUTPOST_BUS_KEY_FILE")
            .env("OUTPOST_LOG", log_level())
            .stdin(Stdio::null())
            .stdout(log_copy)
            .stderr(log_file);
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("outpost worker starts: {e}"));
        WorkerProcess { child, data_dir, segment: segment.into(), log }
    }

    /// Waits until the worker says it serves its segment.
    pub fn wait_serving(&mut self, within: Duration) {
        wait_printed(&self.log, "serving segment", &mut self.child, within);
    }

    /// What the process wrote so far.
    pub fn log(&self) -> String {
        printed(&self.log)
    }

    /// How many log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        count_lines(&self.log(), needle)
    }

    /// The node_guid the worker wrote at start.
    pub fn node_guid(&self) -> String {
        let path = self.data_dir.join("node_guid");
        let guid =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} written at start: {e}", path.display()));
        guid.trim().to_string()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the worker dies mid-task, as on a power cut.
    pub fn kill9(mut self) {
        kill(&mut self.child);
    }

    /// SIGTERM, without waiting.
    pub fn terminate(&self) {
        signal(&self.child, "TERM");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(mut self, within: Duration) -> ExitStatus {
        let log = self.log.clone();
        wait_exit(&mut self.child, within, || printed(&log))
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(self) -> ExitStatus {
        self.terminate();
        self.wait_exit(Duration::from_secs(90))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
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
