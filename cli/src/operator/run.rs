//! `outpost run`: submit an action run over gRPC, follow it live (`WatchActionRun`)
//! with a progress bar of parameter sets done and the latest progress message, then
//! print its results; exit non-zero when the run failed.
//!
//! Input is checked before anything is sent: every `--param` must be a JSON object.
//! Apps and assets may be named: names are resolved over gRPC (`--app` is optional,
//! the assets' apps are used), and without `--container` the run goes to one container
//! kept for the CLI's runs (`outpost cli`), created on first use.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use outpost_proto::v1 as pb;
use outpost_proto::v1::action_run_event::Change;
use serde_json::{Map, Value};

use super::connection::{Broker, ConnectionArgs, status_error};
use super::render;

/// The container the CLI's runs go to when none is named.
pub const CLI_CONTAINER: &str = "outpost cli";

#[derive(Debug, clap::Args)]
#[command(after_help = super::connection::CREDENTIALS_HELP)]
pub struct RunArgs {
    /// The action, as the app's manifest names it, e.g. "geolocate ip".
    #[arg(long)]
    pub action: String,
    /// The asset to run on, by name or id; repeat for several.
    #[arg(long = "asset", required = true)]
    pub assets: Vec<String>,
    /// The app, by name, id or GUID; by default each asset's own app.
    #[arg(long)]
    pub app: Option<String>,
    /// One parameter set, a JSON object such as '{"ip": "8.8.8.8"}'; repeat for several.
    /// None: one empty set.
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// The container (id or name) the run belongs to; by default the container
    /// "outpost cli", created on first use.
    #[arg(long)]
    pub container: Option<String>,
    /// The run's name; by default SOAR's "user initiated <action> action".
    #[arg(long)]
    pub name: Option<String>,
    /// Print the run's id and return at once, without following it.
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Every `--param`, parsed; a clear error names the one that is not a JSON object.
pub fn parse_params(params: &[String]) -> anyhow::Result<Vec<Map<String, Value>>> {
    if params.is_empty() {
        return Ok(vec![Map::new()]);
    }
    params
        .iter()
        .enumerate()
        .map(|(i, text)| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => Ok(fields),
            Ok(other) => anyhow::bail!(
                "--param #{} is not a JSON object (got {}): write it as '{{\"name\": value}}'",
                i + 1,
                kind(&other)
            ),
            Err(e) => anyhow::bail!("--param #{} is not valid JSON ({e}): {text}", i + 1),
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let params = parse_params(&args.params)?;
    let mut broker = Broker::connect(&args.connection).await?;
    let assets = list_assets(&mut broker).await?;
    let apps = list_apps(&mut broker).await?;
    let targets = targets(&args, &params, &assets, &apps)?;
    let container_id = container(&mut broker, args.container.as_deref()).await?;

    let request = pb::RunActionRequest {
        action: args.action.clone(),
        container_id,
        name: args.name.clone().unwrap_or_default(),
        targets,
        ..Default::default()
    };
    let answer = broker.actions.run_action(request).await.map_err(status_error)?.into_inner();
    let id = answer.action_run_id;
    if args.detach {
        if args.connection.json {
            render::print_json(&serde_json::json!({"action_run_id": id, "message": answer.message}))?;
        } else {
            println!("action run {id} queued; follow it with `outpost app-runs {id}`");
        }
        return Ok(());
    }

    let total: u64 = params.len() as u64 * args.assets.len() as u64;
    let follow = tokio::select! {
        followed = follow(&mut broker, id, total) => followed?,
        _ = tokio::signal::ctrl_c() => {
            anyhow::bail!("stopped following action run {id}; it goes on (cancel it with `outpost cancel {id}`)")
        }
    };
    let app_runs = app_runs_with_results(&mut broker, id).await?;
    let names: HashMap<i64, String> = assets.iter().map(|a| (a.id, a.name.clone())).collect();
    if args.connection.json {
        let runs: Vec<Value> = app_runs
            .iter()
            .map(|r| render::app_run_json(r, names.get(&r.asset).map(String::as_str).unwrap_or_default()))
            .collect();
        render::print_json(&serde_json::json!({"action_run": render::action_run_json(&follow), "app_runs": runs}))?;
    } else {
        print_results(&follow, &app_runs, &names);
    }
    match follow.status.as_str() {
        "success" => Ok(()),
        status => anyhow::bail!("action run {id} {status}: {}", follow.message),
    }
}

/// Every asset the operator may see (names are resolved against them).
async fn list_assets(broker: &mut Broker) -> anyhow::Result<Vec<pb::Asset>> {
    let query = pb::ListQuery { page_size: Some(0), ..Default::default() };
    let listing =
        broker.registry.list_assets(pb::ListAssetsRequest { query: Some(query) }).await.map_err(status_error)?;
    Ok(listing.into_inner().data)
}

async fn list_apps(broker: &mut Broker) -> anyhow::Result<Vec<pb::App>> {
    let query = pb::ListQuery { page_size: Some(0), ..Default::default() };
    let listing = broker.registry.list_apps(pb::ListAppsRequest { query: Some(query) }).await.map_err(status_error)?;
    Ok(listing.into_inner().data)
}

/// Finds an asset by id or (case-insensitive) name.
fn find_asset<'a>(assets: &'a [pb::Asset], wanted: &str) -> anyhow::Result<&'a pb::Asset> {
    let wanted = wanted.trim();
    let by_id = wanted.parse::<i64>().ok();
    assets.iter().find(|a| Some(a.id) == by_id || a.name.eq_ignore_ascii_case(wanted)).ok_or_else(|| {
        let known: Vec<&str> = assets.iter().map(|a| a.name.as_str()).collect();
        anyhow::anyhow!(
            "no asset '{wanted}' (assets: {}); create one with POST /rest/asset or gRPC CreateAsset",
            if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
        )
    })
}

/// Finds an app by id, GUID or (case-insensitive) name.
fn find_app<'a>(apps: &'a [pb::App], wanted: &str) -> anyhow::Result<&'a pb::App> {
    let wanted = wanted.trim();
    let by_id = wanted.parse::<i64>().ok();
    apps.iter()
        .find(|a| Some(a.id) == by_id || a.appid.eq_ignore_ascii_case(wanted) || a.name.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| {
            let known: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
            anyhow::anyhow!("no app '{wanted}' (installed: {})", known.join(", "))
        })
}

/// One target per app: the named app with every asset, or each asset's own app.
fn targets(
    args: &RunArgs,
    params: &[Map<String, Value>],
    assets: &[pb::Asset],
    apps: &[pb::App],
) -> anyhow::Result<Vec<pb::Target>> {
    let forced = args.app.as_deref().map(|name| find_app(apps, name)).transpose()?;
    let mut by_app: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for wanted in &args.assets {
        let asset = find_asset(assets, wanted)?;
        let app = forced.map(|a| a.id).unwrap_or(asset.app);
        by_app.entry(app).or_default().push(asset.name.clone());
    }
    let parameters_json: Vec<String> = params.iter().map(|p| Value::Object(p.clone()).to_string()).collect();
    Ok(by_app
        .into_iter()
        .map(|(app, assets)| pb::Target { app_id: app.to_string(), assets, parameters_json: parameters_json.clone() })
        .collect())
}

/// The container's id: the one named (id or name), else the CLI's own, created once.
async fn container(broker: &mut Broker, wanted: Option<&str>) -> anyhow::Result<i64> {
    if let Some(id) = wanted.and_then(|w| w.trim().parse::<i64>().ok()) {
        return Ok(id);
    }
    let name = wanted.map(str::trim).unwrap_or(CLI_CONTAINER);
    let mut filters = HashMap::new();
    filters.insert("name".to_string(), Value::String(name.to_string()).to_string());
    let query = pb::ListQuery { page_size: Some(1), filters, ..Default::default() };
    let found = broker
        .registry
        .list_containers(pb::ListContainersRequest { query: Some(query) })
        .await
        .map_err(status_error)?
        .into_inner();
    if let Some(container) = found.data.first() {
        return Ok(container.id);
    }
    anyhow::ensure!(wanted.is_none(), "no container named '{name}'");
    let input = pb::ContainerInput {
        name: Some(CLI_CONTAINER.into()),
        label: Some("events".into()),
        description: Some("action runs started with `outpost run` without --container".into()),
        ..Default::default()
    };
    let created = broker
        .registry
        .create_container(pb::CreateContainerRequest { container: Some(input) })
        .await
        .map_err(status_error)
        .context("creating the container for the CLI's runs (or name one with --container)")?;
    Ok(created.into_inner().id)
}

/// Parameter sets recorded so far, per app run: finished ones from their event, the
/// others counted by `ListActionResults` (the stream carries no per-set completions).
struct Counts {
    /// Results recorded per app run at the last count; its keys are the run's app runs.
    per_app_run: BTreeMap<i64, u64>,
    /// App runs that finished, with their result count: no need to ask again.
    finished: BTreeMap<i64, u64>,
}

impl Counts {
    async fn refresh(&mut self, broker: &mut Broker, action_run_id: i64) -> anyhow::Result<u64> {
        if self.per_app_run.is_empty() {
            let query = pb::ListQuery { page_size: Some(0), ..Default::default() };
            let listing = broker
                .actions
                .list_app_runs(pb::ListAppRunsRequest { action_run_id, query: Some(query), ..Default::default() })
                .await
                .map_err(status_error)?;
            self.per_app_run = listing.into_inner().data.iter().map(|r| (r.id, 0)).collect();
        }
        let pending: Vec<i64> = self.per_app_run.keys().filter(|id| !self.finished.contains_key(id)).copied().collect();
        for app_run_id in pending {
            let query = pb::ListQuery { page_size: Some(1), ..Default::default() };
            let results = broker
                .actions
                .list_action_results(pb::ListActionResultsRequest { app_run_id, query: Some(query) })
                .await
                .map_err(status_error)?;
            self.per_app_run.insert(app_run_id, results.into_inner().count);
        }
        for (id, done) in &self.finished {
            self.per_app_run.insert(*id, *done);
        }
        Ok(self.per_app_run.values().sum())
    }
}

/// How progress shows: a bar on a terminal, plain lines otherwise (a log, CI).
enum Display {
    Bar(ProgressBar),
    /// The last line printed: a line is printed only when it says something new.
    Lines {
        last: String,
    },
}

impl Display {
    fn new(total: u64) -> Display {
        if !std::io::stderr().is_terminal() {
            return Display::Lines { last: String::new() };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} parameter sets  {wide_msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Display::Bar(bar)
    }

    fn show(&mut self, done: u64, total: u64, status: &str, message: &str) {
        let state =
            if message.is_empty() { status.to_string() } else { format!("{status}: {}", render::clip(message, 200)) };
        match self {
            Display::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(state);
            }
            Display::Lines { last } => {
                let line = format!("{done}/{total} parameter sets done, {state}");
                if *last != line {
                    eprintln!("{line}");
                    *last = line;
                }
            }
        }
    }

    fn finish(self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Follows the run until it is final; answers it as it ended.
async fn follow(broker: &mut Broker, id: i64, total: u64) -> anyhow::Result<pb::ActionRun> {
    let mut stream =
        broker.actions.watch_action_run(pb::WatchActionRunRequest { id }).await.map_err(status_error)?.into_inner();
    let mut display = Display::new(total);
    let mut counts = Counts { per_app_run: BTreeMap::new(), finished: BTreeMap::new() };
    let mut latest: Option<pb::ActionRun> = None;
    let mut message = String::new();
    let mut last_count: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let event = tokio::select! {
            event = stream.next() => match event {
                Some(event) => Some(event.map_err(status_error)?),
                None => break,
            },
            _ = tick.tick() => None,
        };
        if let Some(event) = event {
            if let Some(run) = event.action_run {
                latest = Some(run);
            }
            match event.change {
                Some(Change::Progress(progress)) => message = progress.message,
                Some(Change::AppRunDone(app_run)) => {
                    counts.finished.insert(app_run.id, app_run.result_data.len() as u64);
                    message = app_run.message;
                }
                _ => {}
            }
        }
        let Some(run) = &latest else { continue };
        // Counting costs a call per unfinished app run: at most twice a second.
        if last_count.is_none_or(|at| at.elapsed() >= Duration::from_millis(400)) {
            let done = counts.refresh(broker, id).await?;
            last_count = Some(Instant::now());
            let shown = if message.is_empty() { run.message.as_str() } else { message.as_str() };
            display.show(done.min(total), total, &run.status, shown);
        }
    }
    let run = broker.actions.get_action_run(pb::GetActionRunRequest { id }).await.map_err(status_error)?.into_inner();
    let done = counts.refresh(broker, id).await?;
    display.show(done.min(total), total, &run.status, &run.message);
    display.finish();
    Ok(run)
}

/// The run's app runs with every result.
async fn app_runs_with_results(broker: &mut Broker, action_run_id: i64) -> anyhow::Result<Vec<pb::AppRun>> {
    let query = pb::ListQuery { page_size: Some(0), ..Default::default() };
    let listing = broker
        .actions
        .list_app_runs(pb::ListAppRunsRequest { action_run_id, include_expensive: true, query: Some(query) })
        .await
        .map_err(status_error)?;
    Ok(listing.into_inner().data)
}

fn print_results(run: &pb::ActionRun, app_runs: &[pb::AppRun], names: &HashMap<i64, String>) {
    let mut rows = vec![];
    for app_run in app_runs {
        let asset = names.get(&app_run.asset).cloned().unwrap_or_else(|| app_run.asset.to_string());
        for (i, result) in app_run.result_data.iter().enumerate() {
            rows.push(vec![
                asset.clone(),
                (i + 1).to_string(),
                result.status.clone(),
                render::clip(&render::parameters_shown(&result.parameter_json), 60),
                render::clip(&result.message, 100),
            ]);
        }
    }
    println!("{}", render::table(&["asset", "#", "status", "parameters", "message"], rows));
    println!("action run {} '{}': {}, {}", run.id, run.name, run.status, run.message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_sets_must_be_json_objects() {
        let sets = parse_params(&[r#"{"ip": "8.8.8.8"}"#.into(), "{}".into()]).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0]["ip"], "8.8.8.8");
        assert_eq!(parse_params(&[]).unwrap(), vec![Map::new()], "no --param is one empty set");

        let broken = parse_params(&["{}".into(), r#"{"ip": 8.8.8.8}"#.into()]).unwrap_err().to_string();
        assert!(broken.starts_with("--param #2 is not valid JSON"), "{broken}");
        let array = parse_params(&["[1, 2]".into()]).unwrap_err().to_string();
        assert!(array.contains("--param #1 is not a JSON object (got an array)"), "{array}");
    }

    fn asset(id: i64, name: &str, app: i64) -> pb::Asset {
        pb::Asset { id, name: name.into(), app, ..Default::default() }
    }

    fn app(id: i64, name: &str) -> pb::App {
        pb::App { id, name: name.into(), appid: format!("guid-{id}"), ..Default::default() }
    }

    fn args(assets: &[&str], app: Option<&str>) -> RunArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            run: RunArgs,
        }
        let mut argv = vec!["run".to_string(), "--action".into(), "lookup".into()];
        for a in assets {
            argv.extend(["--asset".to_string(), a.to_string()]);
        }
        if let Some(app) = app {
            argv.extend(["--app".to_string(), app.to_string()]);
        }
        Wrap::parse_from(argv).run
    }

    #[test]
    fn assets_are_grouped_by_their_app_unless_one_is_named() {
        let assets = [asset(1, "geoip", 10), asset(2, "whois", 20), asset(3, "geoip-2", 10)];
        let apps = [app(10, "GeoIP"), app(20, "WHOIS")];
        let params = parse_params(&[]).unwrap();

        let grouped = targets(&args(&["GEOIP", "2", "geoip-2"], None), &params, &assets, &apps).unwrap();
        let shape: Vec<(&str, Vec<&str>)> =
            grouped.iter().map(|t| (t.app_id.as_str(), t.assets.iter().map(String::as_str).collect())).collect();
        assert_eq!(shape, vec![("10", vec!["geoip", "geoip-2"]), ("20", vec!["whois"])]);

        let forced = targets(&args(&["geoip", "whois"], Some("whois")), &params, &assets, &apps).unwrap();
        assert_eq!(forced.len(), 1);
        assert_eq!(forced[0].app_id, "20");
    }

    #[test]
    fn unknown_assets_and_apps_are_named_with_what_exists() {
        let assets = [asset(1, "geoip", 10)];
        let apps = [app(10, "GeoIP")];
        let params = parse_params(&[]).unwrap();
        let missing = targets(&args(&["nope"], None), &params, &assets, &apps).unwrap_err().to_string();
        assert!(missing.starts_with("no asset 'nope' (assets: geoip)"), "{missing}");
        let no_app = targets(&args(&["geoip"], Some("nope")), &params, &assets, &apps).unwrap_err().to_string();
        assert_eq!(no_app, "no app 'nope' (installed: GeoIP)");
    }
}
