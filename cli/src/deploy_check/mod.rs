//! Tests that hold the deploy files (`deploy/`) to the binary they run: every
//! subcommand, flag and `OUTPOST_*` variable they use exists in `outpost`'s clap
//! definitions (what `--help` prints), every way they start it parses with the real
//! argument parser and passes the checks the binary makes at start, and the ports,
//! paths, users and names they share agree with each other.
//!
//! The schema checks (Kubernetes API schemas, the compose spec, yamllint, systemd's own
//! verifier) are `deploy/dev/check-deploy.sh`; these are the checks no schema knows.
//!
//! # Layout
//! - this file: the binary's side (clap definitions, parsing a start as the binary
//!   would) and the Dockerfile.
//! - [`systemd`]: the units, `deploy/systemd/*.service`.
//! - [`kubernetes`]: the manifests, `deploy/k8s/*.yaml`.
//! - [`compose`]: the compose file, `deploy/compose/docker-compose.yml`.

mod compose;
mod kubernetes;
mod systemd;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::{Cli, Command};

/// Variables the code reads itself (not clap env twins), with the subcommands that read
/// them and the source file that does, so the list cannot outlive the code.
const READ_BY_CODE: &[(&str, &[&str], &str)] = &[
    ("OUTPOST_ADMIN_PASSWORD", &["up", "broker"], include_str!("../broker_args.rs")),
    ("OUTPOST_LOG", &["up", "broker", "worker"], include_str!("../logging.rs")),
    ("OUTPOST_LOG_FORMAT", &["up", "broker", "worker"], include_str!("../logging.rs")),
];

/// The workspace root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ lives in the workspace").to_path_buf()
}

/// A deploy file's text.
fn read(path: &str) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// Every document of a YAML file, merge keys (`<<: *anchor`) applied, as JSON.
fn yaml_documents(path: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = serde_yaml_ng::Value::deserialize(document).unwrap_or_else(|e| panic!("{path}: {e}"));
            value.apply_merge().unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::to_value(value).unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The clap definition of `outpost <name>`, as `outpost <name> --help` shows it.
fn subcommand(name: &str) -> Result<clap::Command, String> {
    let cli = Cli::command();
    let names: Vec<String> = cli.get_subcommands().map(|s| s.get_name().to_string()).collect();
    cli.find_subcommand(name)
        .cloned()
        .ok_or_else(|| format!("`outpost {name}` is no subcommand ({})", names.join(", ")))
}

/// How one deployment starts `outpost`: its arguments and its environment.
#[derive(Debug, Clone)]
pub struct Start {
    /// Where it is written, for messages.
    pub origin: String,
    /// The arguments after `outpost`, the subcommand first.
    pub args: Vec<String>,
    /// `OUTPOST_*` variables (and others, which are ignored) with their values; secrets
    /// may be placeholders.
    pub env: BTreeMap<String, String>,
    /// The image's `ENV`, beneath `env`: one image serves every subcommand, so a
    /// variable the subcommand does not read is fine here.
    pub image_env: BTreeMap<String, String>,
}

impl Start {
    pub fn subcommand(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or_default()
    }

    /// The environment as the binary's parser sees it: each `OUTPOST_*` variable must be
    /// an env twin of the subcommand (becoming its flag) or one the code reads itself.
    fn argv(&self) -> Result<Vec<String>, String> {
        let name = self.subcommand();
        let command = subcommand(name)?;
        let mut argv = vec!["outpost".to_string()];
        argv.extend(self.args.iter().cloned());
        let twin = |key: &str| command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == key)).is_some();
        let inherited = self.image_env.iter().filter(|(k, _)| !self.env.contains_key(*k) && twin(k));
        for (key, value) in self.env.iter().chain(inherited).filter(|(k, _)| k.starts_with("OUTPOST_")) {
            if READ_BY_CODE.iter().any(|(k, commands, _)| k == key && commands.contains(&name)) {
                continue;
            }
            let arg = command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == key.as_str()));
            let Some(arg) = arg else {
                let twins: Vec<String> =
                    command.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into()).collect();
                return Err(format!(
                    "{}: sets {key}, which `outpost {name}` does not read (its env twins: {})",
                    self.origin,
                    twins.join(", ")
                ));
            };
            let long = format!("--{}", arg.get_long().expect("env twins belong to long flags"));
            // A flag given on the command line beats its twin, as clap has it.
            if self.args.contains(&long) || self.args.iter().any(|a| a.starts_with(&format!("{long}="))) {
                continue;
            }
            if arg.get_action().takes_values() {
                argv.extend([long, value.clone()]);
            } else if !matches!(value.as_str(), "" | "0" | "false" | "no" | "off") {
                argv.push(long);
            }
        }
        Ok(argv)
    }

    /// Parses the start as `outpost` would, then makes the checks the binary makes
    /// before it serves (segment name, sandbox limits); answers what was parsed.
    pub fn parse(&self) -> Result<Command, String> {
        let argv = self.argv()?;
        let cli = <Cli as clap::Parser>::try_parse_from(&argv)
            .map_err(|e| format!("{}: `{}` does not parse:\n{e}", self.origin, argv.join(" ")))?;
        let checked = match &cli.command {
            Command::Worker(w) => {
                if outpost_proto::topology::valid_segment(&w.segment) {
                    w.sandbox.apply(&mut outpost_worker::sandbox::SandboxConfig::default()).map_err(|e| e.to_string())
                } else {
                    Err(format!("segment '{}' is not a valid segment name", w.segment))
                }
            }
            Command::Up(up) => {
                up.sandbox.apply(&mut outpost_worker::sandbox::SandboxConfig::default()).map_err(|e| e.to_string())
            }
            _ => Ok(()),
        };
        checked.map_err(|e| format!("{}: `{}` would not start: {e}", self.origin, argv.join(" ")))?;
        Ok(cli.command)
    }

    /// The (REST, gRPC) addresses a broker or `up` started this way listens on.
    pub fn listens(&self) -> Result<Vec<SocketAddr>, String> {
        Ok(match self.parse()? {
            Command::Up(up) => vec![up.rest_addr, up.grpc_addr],
            Command::Broker(broker) => vec![broker.rest_addr, broker.grpc_addr],
            _ => vec![],
        })
    }

    /// The gRPC address of a broker started this way.
    pub fn grpc_port(&self) -> Result<Option<u16>, String> {
        Ok(match self.parse()? {
            Command::Up(up) => Some(up.grpc_addr.port()),
            Command::Broker(broker) => Some(broker.grpc_addr.port()),
            _ => None,
        })
    }

    /// The effective value of a setting: its variable, else the flag's default.
    pub fn setting(&self, env: &str) -> Option<String> {
        if let Some(value) = self.env.get(env).or_else(|| self.image_env.get(env)) {
            return Some(value.clone());
        }
        let command = subcommand(self.subcommand()).ok()?;
        let arg = command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == env))?;
        arg.get_default_values().first().map(|v| v.to_string_lossy().into_owned())
    }
}

/// The Dockerfile, as the other files rely on it.
pub struct Image {
    /// `ENV` lines.
    pub env: BTreeMap<String, String>,
    /// The uid the image runs as (`USER`, created with a fixed `--uid`).
    pub uid: u32,
    /// The home of that user: the data dir, created and owned by it.
    pub home: String,
    /// `ENTRYPOINT`.
    pub entrypoint: String,
}

/// Reads `deploy/Dockerfile`.
pub fn image() -> Image {
    let text = read("deploy/Dockerfile");
    let mut env = BTreeMap::new();
    let mut entrypoint = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("ENV K=V pairs");
                env.insert(k.to_string(), v.to_string());
            }
        }
        if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            let list: Vec<String> = serde_json::from_str(rest).expect("ENTRYPOINT in exec form");
            entrypoint = list.join(" ");
        }
    }
    let flag = |name: &str| -> Option<String> {
        let at = text.find("useradd ")?;
        let line = text[at..].lines().next()?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words.iter().position(|w| *w == name)?;
        words.get(i + 1).map(|w| w.to_string())
    };
    let uid = flag("--uid").and_then(|u| u.parse().ok()).expect("the Dockerfile creates its user with a fixed --uid");
    let home = flag("--home-dir").expect("the Dockerfile gives its user a --home-dir");
    Image { env, uid, home, entrypoint }
}

#[test]
fn the_dockerfile_matches_the_binary_and_the_workspace() {
    let text = read("deploy/Dockerfile");
    let image = image();
    // Its ENV are env twins (as `outpost broker` and `outpost worker` read them).
    for (key, value) in &image.env {
        let start = |command: &str| Start {
            origin: "deploy/Dockerfile".into(),
            args: vec![command.into()],
            env: BTreeMap::from([(key.clone(), value.clone())]),
            image_env: BTreeMap::new(),
        };
        start("broker").parse().unwrap();
        if key != "OUTPOST_APPS_DIR" {
            start("worker").parse().unwrap();
        }
    }
    // The binary runs from where it is copied, as the user that owns the data dir.
    assert!(text.contains(&format!("target/release/outpost {}", image.entrypoint)), "ENTRYPOINT is the copied binary");
    assert_eq!(image.env.get("OUTPOST_DATA_DIR"), Some(&image.home), "the data dir is the user's home");
    assert!(
        text.contains("--create-home"),
        "the data dir must exist and belong to the user (a volume there copies it)"
    );
    assert!(
        text.contains(&format!("apps/dist/*.tgz {}/", image.env["OUTPOST_APPS_DIR"])),
        "the bundles are where OUTPOST_APPS_DIR says"
    );
    // The build stage has what apps/build.sh needs and the workspace's toolchain.
    let version = read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = ").map(|v| v.trim_matches('"').to_string()))
        .expect("rust-version");
    assert!(text.contains(&format!("FROM rust:{version}-")), "the build stage uses Rust {version}");
    assert!(read("apps/build.sh").contains("node -e"), "apps/build.sh runs node");
    assert!(text.contains(" nodejs"), "the build stage installs nodejs for apps/build.sh");
}

#[test]
fn variables_read_by_code_are_read_by_it() {
    for (name, _, source) in READ_BY_CODE {
        assert!(source.contains(&format!("\"{name}\"")), "{name} is no longer read where READ_BY_CODE says");
    }
}

#[test]
fn a_start_with_an_unknown_variable_or_a_bad_value_is_refused() {
    let start = |args: &[&str], env: &[(&str, &str)]| Start {
        origin: "test".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        image_env: BTreeMap::new(),
    };
    let unknown = start(&["worker"], &[("OUTPOST_REST_ADDR", "0.0.0.0:8080")]).parse().unwrap_err();
    assert!(unknown.contains("sets OUTPOST_REST_ADDR, which `outpost worker` does not read"), "{unknown}");
    let bad = start(&["worker"], &[("OUTPOST_CONCURRENCY", "eight")]).parse().unwrap_err();
    assert!(bad.contains("does not parse"), "{bad}");
    let segment = start(&["worker"], &[("OUTPOST_SEGMENT", "d m z")]).parse().unwrap_err();
    assert!(segment.contains("not a valid segment name"), "{segment}");
    let limits = start(&["worker", "--max-memory-mb", "0"], &[]).parse().unwrap_err();
    assert!(limits.contains("would not start: --max-memory-mb must be between 1 and 4096"), "{limits}");
    assert!(start(&["brokr"], &[]).parse().unwrap_err().contains("`outpost brokr` is no subcommand"));
    // A flag on the command line beats its twin; a twin fills a flag's place.
    let both = start(&["broker", "--rest-addr", "127.0.0.1:1"], &[("OUTPOST_REST_ADDR", "0.0.0.0:2")]);
    assert_eq!(both.listens().unwrap()[0].port(), 1);
    assert_eq!(start(&["broker"], &[("OUTPOST_GRPC_ADDR", "0.0.0.0:7")]).grpc_port().unwrap(), Some(7));
    assert_eq!(start(&["broker"], &[]).setting("OUTPOST_AMQP_PREFIX").as_deref(), Some("outpost"));
}
