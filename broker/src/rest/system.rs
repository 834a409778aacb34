//! System information (seed 003): `/rest/version`, `/rest/system_info`, `/rest/license`,
//! `/rest/health`, `/rest/app_status` (the outcome of connectivity tests, which
//! [`super::assets`] starts), `/rest/widget_data`; and runtime settings
//! (`/rest/system_settings`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::Duration as Days;
use outpost_proto::OutpostError;
use outpost_proto::time::now_ms;
use utoipa::{IntoParams, ToSchema};

use super::ApiResult;
use super::input::{self, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params};
use super::render::{
    ActionUse, AppStatusBody, AppStatusList, DayCount, Failure, HealthBody, LicenseBody, LicenseInfo, LicenseUsage,
    PlaybooksActionsStats, SettingsChanged, SystemInfoBody, TopPlaybooksActions, VersionBody, WidgetBody,
    WidgetDataBody,
};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::catalog::settings::{BASE_URL, Settings, TIME_ZONE, check_base_url, check_time_zone};
use crate::store::collections::APP_STATUSES;
use crate::store::system::{ActionRunFilter, AppStatus};

/// The routes of seed 003, runtime settings and test connectivity.
pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_version, version)
        .add(__path_system_info, system_info)
        .add(__path_settings, settings)
        .add(__path_change_settings, change_settings)
        .add(__path_license, license)
        .add(__path_health, health)
        .add(__path_app_status, app_status)
        .add(__path_all_widgets, all_widgets)
        .add(__path_widget, widget)
}

/// The broker's version.
#[utoipa::path(get, path = "/rest/version", tag = "system", responses((status = 200, body = VersionBody)))]
pub async fn version() -> Json<VersionBody> {
    Json(VersionBody { version: outpost_proto::VERSION.into() })
}

/// The fields of a settings body.
pub const SETTINGS_FIELDS: &[&str] = &[BASE_URL, TIME_ZONE];

/// The settings to change; at least one.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SettingsRequest {
    /// An `http://` or `https://` URL (a trailing `/` is dropped), or "" to clear it.
    base_url: Option<String>,
    /// An IANA time zone name such as `UTC` or `Europe/Paris`.
    time_zone: Option<String>,
}

/// The base URL and time zone of this instance (seed 003).
#[utoipa::path(get, path = "/rest/system_info", tag = "system", responses((status = 200, body = SystemInfoBody)))]
pub async fn system_info(State(broker): State<Arc<Broker>>) -> ApiResult<Json<SystemInfoBody>> {
    let Settings { base_url, time_zone } = broker.settings().await?;
    Ok(Json(SystemInfoBody { base_url, time_zone }))
}

/// The runtime settings: what `/rest/system_info` shows.
#[utoipa::path(get, path = "/rest/system_settings", tag = "system", responses((status = 200, body = SystemInfoBody)))]
pub async fn settings(State(broker): State<Arc<Broker>>) -> ApiResult<Json<SystemInfoBody>> {
    let Settings { base_url, time_zone } = broker.settings().await?;
    Ok(Json(SystemInfoBody { base_url, time_zone }))
}

/// Change the base URL and/or the time zone; audited, in force at once.
#[utoipa::path(post, path = "/rest/system_settings", tag = "system", request_body = SettingsRequest,
    responses((status = 200, body = SettingsChanged), (status = 400, body = Failure)))]
pub async fn change_settings(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<SettingsChanged>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(SETTINGS_FIELDS)?;
    let base_url = f.string(BASE_URL)?.map(|u| check_base_url(&u)).transpose()?;
    let time_zone = f.string(TIME_ZONE)?.map(|z| check_time_zone(&z)).transpose()?;
    let now = broker.change_settings(&Actor::from(&who), base_url, time_zone).await?;
    Ok(Json(SettingsChanged { success: true, base_url: now.base_url, time_zone: now.time_zone }))
}

/// The license and usage counters (seed 003): Outpost is unlimited.
#[utoipa::path(get, path = "/rest/license", tag = "system", responses((status = 200, body = LicenseBody)))]
pub async fn license(State(broker): State<Arc<Broker>>) -> ApiResult<Json<LicenseBody>> {
    let store = &broker.store;
    let day_ago = now_ms() - 24 * 3600 * 1000;
    let (actions, app_runs) = store.runs_since(day_ago).await?;
    Ok(Json(LicenseBody {
        status: "valid".into(),
        license_info: LicenseInfo {
            case_management: false,
            issue_date: store.installed_ms().await?,
            maximum_apps: 0,
            expiration_date: None,
            maximum_users: 0,
            contact_information: String::new(),
            company_name: String::new(),
            maximum_assets: 0,
            license_number: String::new(),
            license_type: "unlimited".into(),
            maximum_actions_per_day: 0,
            maximum_containers: 0,
        },
        current_usage: LicenseUsage {
            recent_playbook_run_count: 0,
            recent_app_run_count: app_runs,
            recent_debug_run_count: 0,
            recent_action_run_count: actions,
            apps: store.count_rows("apps").await?,
            assets: store.count_rows("assets").await?,
            users: store.count_rows("users").await?,
            containers: store.count_rows("containers").await?,
        },
    }))
}

/// Readings of the machine and of Outpost's services, workers included (seed 003).
#[utoipa::path(get, path = "/rest/health", tag = "system", responses((status = 200, body = HealthBody)))]
pub async fn health(State(broker): State<Arc<Broker>>) -> Json<HealthBody> {
    Json(HealthBody::from(&crate::workers::health::health(&broker).await))
}

/// "13 minutes ago", as SOAR's `_pretty_*` times read.
pub fn ago(ms: i64, now: i64) -> String {
    let secs = (now - ms).max(0) / 1000;
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

fn render_status(s: &AppStatus, pretty: bool, now: i64) -> AppStatusBody {
    let tail = match s.status.as_str() {
        "success" => format!("1 action succeeded. {}", s.result_message),
        "failed" => format!("1 action failed. {}", s.result_message),
        _ => String::new(),
    };
    let when_pretty = |value: String| pretty.then_some(value);
    AppStatusBody {
        pretty_app: when_pretty(s.app_name.clone()),
        pretty_asset: when_pretty(s.asset_name.clone()),
        pretty_create_time: when_pretty(ago(s.create_ms, now)),
        pretty_icon: when_pretty(String::new()),
        app: s.app_id,
        asset: s.asset_id,
        create_time: outpost_proto::time::iso(s.create_ms),
        id: s.id,
        message: format!("Testing asset connectivity for '{}' using app '{}' {tail}", s.asset_name, s.app_name),
        status: s.status.clone(),
    }
}

/// The latest connectivity test of each asset (seed 003), by asset unless sorted
/// otherwise; the standard query parameters and filters apply.
#[utoipa::path(get, path = "/rest/app_status", tag = "system", params(ListingDoc),
    description = super::params::FILTER_HELP,
    responses((status = 200, body = AppStatusList), (status = 400, body = Failure)))]
pub async fn app_status(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<AppStatusList>> {
    let listing = broker.store.app_statuses(&params.list(&APP_STATUSES)?).await?;
    let now = now_ms();
    let pretty = params.pretty;
    Ok(Json(AppStatusList {
        count: listing.count,
        data: listing.data.iter().map(|s| render_status(s, pretty, now)).collect(),
        num_pages: listing.num_pages,
    }))
}

/// The widgets Outpost computes; the others answer "not supported".
pub const WIDGETS: &[&str] = &["top_playbooks_actions", "playbooks_actions_stats"];
/// Every widget SOAR documents.
const SOAR_WIDGETS: &[&str] = &[
    "playbook_stats",
    "sla_trend",
    "containers_new",
    "container_stats",
    "label_stats",
    "containers_open",
    "containers_workload",
    "pending_approvals",
    "containers_filtered_by_status",
    "top_playbooks_actions",
    "playbooks_actions_stats",
    "containers_resolved",
    "roi_summary",
    "roi_stats",
    "sla_stats",
    "containers_performance",
    "artifact_stats",
];

/// The widgets' parameters (seed 003's table).
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WidgetQuery {
    /// ISO 8601; with `end_time`, else the last 7 days.
    start_time: Option<String>,
    /// ISO 8601; with `start_time`.
    end_time: Option<String>,
    /// Only runs on containers with this label.
    label: Option<String>,
    /// Only runs this user started.
    user_id: Option<String>,
    /// `manual` or `automated`.
    action_filter: Option<String>,
    /// Narrows the playbooks listed; Outpost has none, so it is accepted and changes nothing.
    #[allow(dead_code)]
    playbook_category: Option<String>,
}

impl WidgetQuery {
    /// The window: `start_time` and `end_time` together, else the last 7 days.
    fn filter(&self, now: i64) -> Result<ActionRunFilter, OutpostError> {
        let (start_ms, end_ms) = match (&self.start_time, &self.end_time) {
            (Some(s), Some(e)) => {
                (super::params::parse_when("start_time", s)?, super::params::parse_when("end_time", e)?)
            }
            (None, None) => (now - 7 * 24 * 3600 * 1000, now + 1),
            _ => {
                return Err(OutpostError::invalid(
                    "give 'start_time' and 'end_time' together, or neither for the last 7 days",
                ));
            }
        };
        if start_ms >= end_ms {
            return Err(OutpostError::invalid("'start_time' must be before 'end_time'"));
        }
        let user_id = match self.user_id.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Some(
                u.parse::<i64>()
                    .map_err(|_| OutpostError::invalid(format!("'user_id' must be an integer, got '{u}'")))?,
            ),
            None => None,
        };
        Ok(ActionRunFilter { start_ms, end_ms, label: self.label.clone().filter(|l| !l.trim().is_empty()), user_id })
    }

    /// `action_filter`: `manual` (every Outpost run: a person or client asked for it) or
    /// `automated` (playbook runs: Outpost has none).
    fn automated_only(&self) -> Result<bool, OutpostError> {
        match self.action_filter.as_deref().map(|f| f.trim().to_lowercase()) {
            None => Ok(false),
            Some(f) if f.is_empty() || f == "manual" => Ok(false),
            Some(f) if f == "automated" => Ok(true),
            Some(f) => Err(OutpostError::invalid(format!("'action_filter' must be manual or automated, got '{f}'"))),
        }
    }
}

async fn top_playbooks_actions(broker: &Broker, q: &WidgetQuery) -> Result<TopPlaybooksActions, OutpostError> {
    let filter = q.filter(now_ms())?;
    let actions = if q.automated_only()? { vec![] } else { broker.store.action_stats(&filter, 10).await? };
    Ok(TopPlaybooksActions {
        actions: actions
            .iter()
            .map(|a| ActionUse {
                action_name: a.action.clone(),
                average_duration: a.average_duration_secs.map(|d| (d * 10.0).round() / 10.0),
                total: a.total,
            })
            .collect(),
        playbooks: vec![],
    })
}

async fn playbooks_actions_stats(broker: &Broker, q: &WidgetQuery) -> Result<PlaybooksActionsStats, OutpostError> {
    let filter = q.filter(now_ms())?;
    let times = broker.store.action_run_times(&filter).await?;
    let day = outpost_proto::time::day;
    let (first, last) = (day(filter.start_ms), day(filter.end_ms - 1));
    let mut days = vec![];
    let mut d = first;
    while d <= last && days.len() < 3660 {
        let actions = times.iter().filter(|t| day(**t) == d).count() as u64;
        days.push(DayCount { date: d.format("%Y-%m-%d").to_string(), playbooks: 0, actions });
        d += Days::days(1);
    }
    Ok(PlaybooksActionsStats {
        start_time: outpost_proto::time::iso(filter.start_ms),
        end_time: outpost_proto::time::iso(filter.end_ms),
        total_playbooks: 0,
        total_actions: times.len() as u64,
        days,
    })
}

async fn compute(broker: &Broker, name: &str, q: &WidgetQuery) -> Result<WidgetBody, OutpostError> {
    match name {
        "top_playbooks_actions" => Ok(WidgetBody::TopPlaybooksActions(top_playbooks_actions(broker, q).await?)),
        "playbooks_actions_stats" => Ok(WidgetBody::PlaybooksActionsStats(playbooks_actions_stats(broker, q).await?)),
        other if SOAR_WIDGETS.contains(&other) => Err(OutpostError::new(
            outpost_proto::ErrorCode::Unimplemented,
            format!("widget '{other}' is not supported by outpost (supported: {})", WIDGETS.join(", ")),
        )),
        other => {
            Err(OutpostError::not_found(format!("no widget '{other}' (outpost supports: {})", WIDGETS.join(", "))))
        }
    }
}

fn widget_query(
    q: Result<Query<WidgetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<WidgetQuery, OutpostError> {
    q.map(|Query(q)| q).map_err(|e| OutpostError::invalid(format!("bad widget parameters: {}", e.body_text())))
}

/// One home-page widget (seed 003). Outpost computes `top_playbooks_actions` and
/// `playbooks_actions_stats`; SOAR's other widgets answer 501.
#[utoipa::path(get, path = "/rest/widget_data/{name}", tag = "system",
    params(("name" = String, Path, description = "The widget, e.g. `top_playbooks_actions`"), WidgetQuery),
    responses((status = 200, body = WidgetBody), (status = 400, body = Failure), (status = 404, body = Failure),
        (status = 501, body = Failure)))]
pub async fn widget(
    State(broker): State<Arc<Broker>>,
    Path(name): Path<String>,
    q: Result<Query<WidgetQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<WidgetBody>> {
    let q = widget_query(q)?;
    Ok(Json(compute(&broker, &name, &q).await?))
}

/// Every widget Outpost computes, keyed by name (seed 003).
#[utoipa::path(get, path = "/rest/widget_data", tag = "system", params(WidgetQuery),
    responses((status = 200, body = WidgetDataBody), (status = 400, body = Failure)))]
pub async fn all_widgets(
    State(broker): State<Arc<Broker>>,
    q: Result<Query<WidgetQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<WidgetDataBody>> {
    let q = widget_query(q)?;
    Ok(Json(WidgetDataBody {
        top_playbooks_actions: top_playbooks_actions(&broker, &q).await?,
        playbooks_actions_stats: playbooks_actions_stats(&broker, &q).await?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_times() {
        assert_eq!(ago(0, 13 * 60_000), "13 minutes ago");
        assert_eq!(ago(0, 3_600_000), "1 hour ago");
        assert_eq!(ago(0, 5_000), "just now");
    }
}
