//! The operator's read commands and cancel: `outpost runs`, `app-runs <id>`, `workers`,
//! `apps`, `assets` and `cancel <id>`. Each prints a table, or JSON with `--json`.
//!
//! Everything comes over gRPC except the worker listing, which only REST offers
//! (`/rest/automation_proxy`: each segment with its live workers).

use std::collections::HashMap;

use outpost_proto::v1 as pb;
use serde_json::Value;

use super::connection::{Broker, ConnectionArgs, status_error};
use super::render::{self, clip, table, when};

#[derive(Debug, clap::Args)]
#[command(after_help = super::connection::CREDENTIALS_HELP)]
pub struct RunsArgs {
    /// Only runs with this status (pending, running, success, failed).
    #[arg(long)]
    pub status: Option<String>,
    /// How many runs, newest first (at most 1000).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
#[command(after_help = super::connection::CREDENTIALS_HELP)]
pub struct AppRunsArgs {
    /// The action run's id (`outpost runs` lists them).
    pub action_run: i64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
#[command(after_help = super::connection::CREDENTIALS_HELP)]
pub struct CancelArgs {
    /// The action run's id.
    pub action_run: i64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// The flags of the listings that take nothing else.
#[derive(Debug, clap::Args)]
#[command(after_help = super::connection::CREDENTIALS_HELP)]
pub struct ListArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

fn everything() -> Option<pb::ListQuery> {
    Some(pb::ListQuery { page_size: Some(0), ..Default::default() })
}

pub async fn runs(args: RunsArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=1000).contains(&args.limit), "--limit must be between 1 and 1000");
    let mut broker = Broker::connect(&args.connection).await?;
    let mut filters = HashMap::new();
    if let Some(status) = &args.status {
        filters.insert("status".to_string(), Value::String(status.trim().to_lowercase()).to_string());
    }
    let query =
        pb::ListQuery { page_size: Some(args.limit), sort: "id".into(), order: "desc".into(), filters, page: 0 };
    let listing = broker
        .actions
        .list_action_runs(pb::ListActionRunsRequest { query: Some(query) })
        .await
        .map_err(status_error)?
        .into_inner();
    if args.connection.json {
        let runs: Vec<Value> = listing.data.iter().map(render::action_run_json).collect();
        return render::print_json(&serde_json::json!({"count": listing.count, "data": runs}));
    }
    let rows = listing
        .data
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                clip(&r.name, 30),
                r.action.clone(),
                r.status.clone(),
                r.container.to_string(),
                when(&r.create_time),
                clip(&r.message, 70),
            ]
        })
        .collect();
    println!("{}", table(&["id", "name", "action", "status", "container", "created (UTC)", "message"], rows));
    println!("{} of {} action runs, newest first", listing.data.len(), listing.count);
    Ok(())
}

pub async fn app_runs(args: AppRunsArgs) -> anyhow::Result<()> {
    let mut broker = Broker::connect(&args.connection).await?;
    // Not found is told by the action run, not by an empty list.
    broker.actions.get_action_run(pb::GetActionRunRequest { id: args.action_run }).await.map_err(status_error)?;
    let listing = broker
        .actions
        .list_app_runs(pb::ListAppRunsRequest {
            action_run_id: args.action_run,
            include_expensive: args.connection.json,
            query: everything(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let names = asset_names(&mut broker).await;
    let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
    if args.connection.json {
        let runs: Vec<Value> = listing.data.iter().map(|r| render::app_run_json(r, &name(r.asset))).collect();
        return render::print_json(&serde_json::json!({"count": listing.count, "data": runs}));
    }
    let rows = listing
        .data
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                name(r.asset),
                format!("{} {}", r.app_name, r.app_version),
                r.status.clone(),
                r.node_guid.chars().take(8).collect(),
                when(&r.end_time),
                clip(&r.message, 90),
            ]
        })
        .collect();
    println!("{}", table(&["id", "asset", "app", "status", "node", "ended (UTC)", "message"], rows));
    Ok(())
}

/// Asset names by id; ids stand in for names a user may not list.
async fn asset_names(broker: &mut Broker) -> HashMap<i64, String> {
    match broker.registry.list_assets(pb::ListAssetsRequest { query: everything() }).await {
        Ok(listing) => listing.into_inner().data.into_iter().map(|a| (a.id, a.name)).collect(),
        Err(_) => HashMap::new(),
    }
}

pub async fn apps(args: ListArgs) -> anyhow::Result<()> {
    let mut broker = Broker::connect(&args.connection).await?;
    let listing = broker
        .registry
        .list_apps(pb::ListAppsRequest { query: everything() })
        .await
        .map_err(status_error)?
        .into_inner();
    if args.connection.json {
        let apps: Vec<Value> = listing.data.iter().map(render::app_json).collect();
        return render::print_json(&serde_json::json!({"count": listing.count, "data": apps}));
    }
    let rows = listing
        .data
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.name.clone(),
                a.app_version.clone(),
                format!("{} {}", a.product_vendor, a.product_name),
                a.appid.clone(),
                clip(&render::action_names(a).join(", "), 80),
            ]
        })
        .collect();
    println!("{}", table(&["id", "name", "version", "product", "appid", "actions"], rows));
    Ok(())
}

pub async fn assets(args: ListArgs) -> anyhow::Result<()> {
    let mut broker = Broker::connect(&args.connection).await?;
    let listing = broker
        .registry
        .list_assets(pb::ListAssetsRequest { query: everything() })
        .await
        .map_err(status_error)?
        .into_inner();
    if args.connection.json {
        let assets: Vec<Value> = listing.data.iter().map(render::asset_json).collect();
        return render::print_json(&serde_json::json!({"count": listing.count, "data": assets}));
    }
    let rows = listing
        .data
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.name.clone(),
                a.app_name.clone(),
                a.automation_broker_id.map(|s| format!("broker {s}")).unwrap_or_else(|| "default".into()),
                a.timeout_secs.map(|t| format!("{t} s")).unwrap_or_default(),
                a.tags.join(", "),
            ]
        })
        .collect();
    println!("{}", table(&["id", "name", "app", "segment", "timeout", "tags"], rows));
    Ok(())
}

pub async fn workers(args: ListArgs) -> anyhow::Result<()> {
    let broker = Broker::connect(&args.connection).await?;
    let listing = broker.rest_get("/rest/automation_proxy?page_size=0").await?;
    if args.connection.json {
        return render::print_json(&listing);
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut rows = vec![];
    for segment in listing["data"].as_array().into_iter().flatten() {
        let name = text(&segment["name"]);
        let workers = segment["workers"].as_array().cloned().unwrap_or_default();
        if workers.is_empty() {
            rows.push(vec![name.clone(), "(no worker)".into(), String::new(), String::new(), String::new()]);
        }
        for w in workers {
            let state = if w["draining"] == Value::Bool(true) { "draining" } else { "active" };
            rows.push(vec![
                name.clone(),
                text(&w["node_guid"]),
                format!("{} {}", text(&w["hostname"]), text(&w["version"])),
                format!(
                    "{}/{} busy, {} done, {state}",
                    text(&w["in_flight"]),
                    text(&w["concurrency"]),
                    text(&w["completed"])
                ),
                render::when_text(&text(&w["last_seen"])),
            ]);
        }
    }
    println!("{}", table(&["segment", "node_guid", "host, version", "slots", "last heartbeat (UTC)"], rows));
    Ok(())
}

pub async fn cancel(args: CancelArgs) -> anyhow::Result<()> {
    let mut broker = Broker::connect(&args.connection).await?;
    let answer = broker
        .actions
        .cancel_action_run(pb::CancelActionRunRequest { id: args.action_run })
        .await
        .map_err(status_error)?
        .into_inner();
    if args.connection.json {
        return render::print_json(&serde_json::json!({"cancelled": answer.cancelled, "message": answer.message}));
    }
    println!("{}", answer.message);
    Ok(())
}
