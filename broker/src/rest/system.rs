//! System information (seed 003).

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::Broker;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new().route("/rest/version", get(version))
}

async fn version() -> Json<Value> {
    Json(json!({"version": outpost_proto::VERSION}))
}
