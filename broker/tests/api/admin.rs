//! Issue 6 over the real protocols: users, roles and permissions (every role against
//! every route of the permission table), tokens, slowed sign-ins, the audit trail (every
//! filter the seed shows, json and csv), system information, health, connectivity tests
//! and widgets. Each test starts its own broker without apps ([`TestBroker::start_with`]).
//!
//! # Layout
//! - [`permissions`]: every role against every REST route, and routes outside the table.
//! - [`grpc_permissions`]: every role against every gRPC method; audited gRPC reads.
//! - [`users_and_roles`]: managing users and roles; the last administrator is kept.
//! - [`tokens`]: `ph-auth-token` tokens.
//! - [`sign_in`]: slowed and locked sign-ins.
//! - [`audit_trail`]: reading the audit trail: filters, formats, who sees what.
//! - [`audit_changes`]: what changes record: values, installs, retention.
//! - [`health`]: health from the workers' heartbeats.
//! - [`system_info`]: system information, license, connectivity tests, widgets.
//! - [`listings`]: listing conventions on users, roles, tokens and app status.

mod audit_changes;
mod audit_trail;
mod grpc_permissions;
mod health;
mod listings;
mod permissions;
mod sign_in;
mod system_info;
mod tokens;
mod users_and_roles;

use outpost_tests::broker::TestBroker;
use outpost_tests::rest::Auth;
use reqwest::StatusCode;
use serde_json::json;

/// The Checker asset's secret: it must never show in an answer, a log or the audit.
const SECRET_APIKEY: &str = "s3cret-apikey-value";

/// Installs the Checker app (a test connectivity action and a secret) and one asset of
/// it holding [`SECRET_APIKEY`]; answers (app, asset).
async fn app_and_asset(h: &TestBroker, asset_name: &str) -> (i64, i64) {
    let app = h.checker("1.0.0").await;
    let reply = h
        .post(
            "/rest/asset",
            &Auth::admin(),
            json!({"name": asset_name, "app": app, "configuration": {"base_url": "https://x", "apikey": SECRET_APIKEY}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    (app, reply.body["id"].as_i64().unwrap())
}
