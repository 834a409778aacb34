//! `outpost app test <bundle|DIR> --action ... --param ... --config ...`: one action run
//! in the sandbox and limits a worker uses, without a broker; `--record`/`--replay`
//! keep or answer its HTTP exchanges (a tape, see `outpost_worker::sandbox::tape`).
//!
//! Prints the action, every progress message and HTTP request, then SOAR's result as
//! JSON (`--json`: only the result). Exits with an error when the result is `failed`,
//! so a connector's tests fail in CI when an action does.

use std::path::PathBuf;

use anyhow::{Context, bail};
use outpost_worker::local::{self, LocalRun};
use outpost_worker::sandbox::tape::Tape;
use outpost_worker::sandbox::{Sandbox, SandboxConfig, Status};
use serde_json::{Map, Value, json};

use super::project::{self, Loaded};
use crate::sandbox_args::SandboxArgs;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// A connector folder (built) or a bundle.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The action's name (`lookup ip`) or identifier (`lookup_ip`).
    #[arg(long)]
    pub action: String,
    /// One parameter set, a JSON object.
    #[arg(long, default_value = "{}")]
    pub param: String,
    /// The asset configuration, a JSON object (defaults filled in from the manifest).
    /// Secrets may rather come from a file: --config-file.
    #[arg(long, default_value = "{}")]
    pub config: String,
    /// A JSON file holding the asset configuration (keeps API keys off the command line);
    /// its keys come before --config's.
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// The asset's saved state, a JSON object.
    #[arg(long, default_value = "{}")]
    pub state: String,
    /// Send HTTP for real and keep every exchange in FILE (password values written ********).
    #[arg(long, conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer HTTP from FILE, with no network; a request it does not hold fails the run.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Print only the result, as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

fn object(flag: &str, text: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => bail!("{flag} must be a JSON object, got {}", outpost_proto::manifest::json_type(&other)),
        Err(e) => bail!("{flag} is not JSON: {e}"),
    }
}

pub async fn run(args: TestArgs) -> anyhow::Result<()> {
    let Loaded { manifest, component, .. } = project::load(&args.path)?;
    let parameters = object("--param", &args.param)?;
    let mut configuration = match &args.config_file {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            object(&format!("{}", file.display()), &text)?
        }
        None => Map::new(),
    };
    configuration.extend(object("--config", &args.config)?);
    let state = object("--state", &args.state)?;
    let secrets: Vec<String> = manifest
        .secret_fields()
        .iter()
        .filter_map(|field| configuration.get(*field).and_then(Value::as_str).map(str::to_string))
        .collect();
    // Printed URLs hide them too: an API that takes its key in the query string
    // (`?customerKey=`) must not put it on the terminal or in a CI log.
    let hide = |text: &str| {
        secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |t, s| t.replace(s.as_str(), "********"))
    };
    let tape = match (&args.record, &args.replay) {
        (Some(file), _) => Some(Tape::record(file, secrets.clone())),
        (_, Some(file)) => Some(Tape::replay(file, secrets.clone())?),
        _ => None,
    };
    let mut config = SandboxConfig { concurrency: 1, cache_dir: project::compile_cache(), ..SandboxConfig::default() };
    args.sandbox.apply(&mut config)?;
    config.egress.tape = tape.clone();
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::new(config)).await??;
    let run = LocalRun { action: args.action.clone(), parameters, configuration, state, asset_timeout_secs: None };
    let ran = local::run_action(&sandbox, &manifest, &component, run).await?;
    let outcome = &ran.outcome;
    if let Some(tape) = &tape
        && tape.is_recording()
    {
        tape.save()?;
    }
    let result = json!({
        "status": if outcome.status == Status::Success { "success" } else { "failed" },
        "message": hide(&outcome.message),
        "exception_occured": outcome.exception,
        "parameter": ran.parameters,
        "data": outcome.data.iter().map(|d| serde_json::from_str(d).unwrap_or(Value::Null)).collect::<Vec<Value>>(),
        "summary": serde_json::from_str::<Value>(&outcome.summary).unwrap_or_default(),
        "saved_state": outcome.saved_state.as_deref().map(|s| serde_json::from_str::<Value>(s).unwrap_or_default()),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "action: {} ({}) of {} {}",
            ran.action.action, ran.action.identifier, manifest.name, manifest.app_version
        );
        println!("egress: {}", if ran.egress.is_empty() { "none".to_string() } else { ran.egress.join(", ") });
        for message in &ran.progress {
            println!("progress: {message}");
        }
        let how = match &tape {
            Some(tape) if tape.is_recording() => " [recorded]",
            Some(_) => " [replayed]",
            None => "",
        };
        for exchange in &outcome.http {
            let url = hide(&exchange.url);
            if exchange.denied.is_empty() {
                println!(
                    "http: {} {url} -> {} ({} bytes, {} ms){how}",
                    exchange.method, exchange.status, exchange.bytes, exchange.duration_ms
                );
            } else {
                println!("http: {} {url} -> denied: {}", exchange.method, hide(&exchange.denied));
            }
        }
        println!("log lines: {}   took: {} ms", outcome.log_lines, outcome.duration.as_millis());
        if let Some(tape) = &tape
            && tape.is_recording()
        {
            println!("recorded {} exchange(s) into {}", tape.exchanges().len(), tape.path().display());
        }
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    if outcome.status != Status::Success {
        bail!("the action failed: {}", outcome.message);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_must_hold_json_objects() {
        assert_eq!(object("--param", r#"{"ip": "8.8.8.8"}"#).unwrap()["ip"], "8.8.8.8");
        assert_eq!(object("--param", "[1]").unwrap_err().to_string(), "--param must be a JSON object, got a list");
        assert!(object("--config", "{nope").unwrap_err().to_string().starts_with("--config is not JSON"));
    }
}
