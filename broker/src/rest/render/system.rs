//! System information (seed 003): version, settings, license, connectivity tests and widgets.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::runs::connectivity::TestStarted;

/// `GET /rest/version`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionBody {
    /// The broker's version.
    pub version: String,
}

/// `GET /rest/system_info` and `GET /rest/system_settings` (seed 003).
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemInfoBody {
    /// The base URL clients reach this instance at; "" when not configured.
    pub base_url: String,
    /// The instance's IANA time zone, e.g. "UTC".
    pub time_zone: String,
}

/// The answer to `POST /rest/system_settings`: the settings now in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsChanged {
    /// Always true.
    pub success: bool,
    /// The base URL now in force.
    pub base_url: String,
    /// The time zone now in force.
    pub time_zone: String,
}

/// `GET /rest/license` (seed 003). Outpost is unlicensed: every limit is 0, which SOAR
/// reads as unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseBody {
    /// Always "valid".
    pub status: String,
    /// The license's terms.
    pub license_info: LicenseInfo,
    /// What is in use.
    pub current_usage: LicenseUsage,
}

/// The terms of the license; 0 means unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseInfo {
    /// Always false.
    pub case_management: bool,
    /// When this instance was installed (its first user), Unix milliseconds.
    #[schema(required = true)]
    pub issue_date: Option<i64>,
    /// Always 0: unlimited.
    pub maximum_apps: i64,
    /// Always null: no expiry.
    #[schema(required = true)]
    pub expiration_date: Option<i64>,
    /// Always 0: unlimited.
    pub maximum_users: i64,
    /// Always "".
    pub contact_information: String,
    /// Always "".
    pub company_name: String,
    /// Always 0: unlimited.
    pub maximum_assets: i64,
    /// Always "".
    pub license_number: String,
    /// Always "unlimited".
    pub license_type: String,
    /// Always 0: unlimited.
    pub maximum_actions_per_day: i64,
    /// Always 0: unlimited.
    pub maximum_containers: i64,
}

/// Usage counters; "recent" is the last 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseUsage {
    /// Always 0: Outpost runs no playbooks.
    pub recent_playbook_run_count: i64,
    /// App runs created in the last 24 hours.
    pub recent_app_run_count: i64,
    /// Always 0: Outpost has no debug runs.
    pub recent_debug_run_count: i64,
    /// Action runs created in the last 24 hours.
    pub recent_action_run_count: i64,
    /// Apps installed.
    pub apps: i64,
    /// Assets configured.
    pub assets: i64,
    /// Users, disabled ones included.
    pub users: i64,
    /// Containers.
    pub containers: i64,
}

/// A connectivity test of an asset (`/rest/app_status`, seed 003).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppStatusBody {
    /// `?pretty`: the app's name.
    #[serde(rename = "_pretty_app", skip_serializing_if = "Option::is_none")]
    pub pretty_app: Option<String>,
    /// `?pretty`: the asset's name.
    #[serde(rename = "_pretty_asset", skip_serializing_if = "Option::is_none")]
    pub pretty_asset: Option<String>,
    /// `?pretty`: how long ago the test was requested, e.g. "13 minutes ago".
    #[serde(rename = "_pretty_create_time", skip_serializing_if = "Option::is_none")]
    pub pretty_create_time: Option<String>,
    /// `?pretty`: the app's icon; always "".
    #[serde(rename = "_pretty_icon", skip_serializing_if = "Option::is_none")]
    pub pretty_icon: Option<String>,
    /// The app tested.
    pub app: i64,
    /// The asset tested.
    pub asset: i64,
    /// When the test was requested.
    #[schema(format = DateTime)]
    pub create_time: String,
    /// The test's app run.
    pub id: i64,
    /// `Testing asset connectivity for '<asset>' using app '<app>'`, then the outcome.
    pub message: String,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
}

/// `GET /rest/app_status`: SOAR's list, in the seed's key order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppStatusList {
    /// How many tests there are, on every page.
    pub count: u64,
    /// The tests of the requested page, by asset unless sorted otherwise.
    pub data: Vec<AppStatusBody>,
    /// How many pages of `page_size` tests that makes.
    pub num_pages: u64,
}

/// The answer to a started connectivity test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestStartedBody {
    /// Always true.
    pub success: bool,
    /// The test's action run, to poll like any other.
    pub action_run_id: i64,
    /// The system container test runs belong to.
    pub container_id: i64,
    /// `Testing asset connectivity for '<asset>' using app '<app>'`.
    pub message: String,
}

/// The widget `top_playbooks_actions`: the most run actions of the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopPlaybooksActions {
    /// Up to 10 actions, most run first.
    pub actions: Vec<ActionUse>,
    /// Always empty: Outpost runs no playbooks.
    #[schema(value_type = Vec<Object>)]
    pub playbooks: Vec<Value>,
}

/// How often an action ran.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionUse {
    /// The action, e.g. "url reputation".
    pub action_name: String,
    /// Mean seconds from start to close, one decimal; null when none finished.
    #[schema(required = true)]
    pub average_duration: Option<f64>,
    /// How many runs of it the window holds.
    pub total: i64,
}

/// The widget `playbooks_actions_stats`: action runs per day of the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybooksActionsStats {
    /// The window's start.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// The window's end.
    #[schema(format = DateTime)]
    pub end_time: String,
    /// Always 0: Outpost runs no playbooks.
    pub total_playbooks: u64,
    /// Action runs in the window.
    pub total_actions: u64,
    /// One entry per UTC day of the window.
    pub days: Vec<DayCount>,
}

/// Runs of one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    #[schema(format = Date)]
    pub date: String,
    /// Always 0: Outpost runs no playbooks.
    pub playbooks: u64,
    /// Action runs created that day.
    pub actions: u64,
}

/// One widget, by the name in the path.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WidgetBody {
    /// `top_playbooks_actions`.
    TopPlaybooksActions(TopPlaybooksActions),
    /// `playbooks_actions_stats`.
    PlaybooksActionsStats(PlaybooksActionsStats),
}

/// `GET /rest/widget_data`: every widget Outpost computes, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetDataBody {
    /// See `/rest/widget_data/top_playbooks_actions`.
    pub top_playbooks_actions: TopPlaybooksActions,
    /// See `/rest/widget_data/playbooks_actions_stats`.
    pub playbooks_actions_stats: PlaybooksActionsStats,
}

impl From<&TestStarted> for TestStartedBody {
    fn from(started: &TestStarted) -> Self {
        TestStartedBody {
            success: true,
            action_run_id: started.action_run_id,
            container_id: started.container_id,
            message: started.message.clone(),
        }
    }
}
