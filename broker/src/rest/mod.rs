//! The SOAR-compatible REST API.
//!
//! Every response error is SOAR's `{"failed": true, "message": ...}` with the status of
//! its [`outpost_proto::ErrorCode`]; unknown routes and methods answer the same way.
//! Authentication (HTTP Basic or `ph-auth-token`) is required on every route.
//!
//! # Layout
//! - [`input`]: reading JSON bodies and fields with precise errors.
//! - [`listing`]: the query string of reads (paging, sorting, `_filter_`, `pretty`).
//! - [`render`]: the JSON shapes of SOAR's records and timestamps (typed, documented).
//! - [`openapi`]: the route table and the OpenAPI document built from the same handlers.
//! - [`action_runs`], [`app_runs`], [`containers`], [`artifacts`], [`assets`], [`apps`],
//!   [`system`]: the endpoints.

pub mod action_runs;
pub mod app_runs;
pub mod apps;
pub mod artifacts;
pub mod assets;
pub mod containers;
pub mod input;
pub mod listing;
pub mod openapi;
pub mod render;
pub mod system;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use outpost_proto::OutpostError;
use tokio_util::sync::CancellationToken;

use crate::Broker;
use crate::bundle::MAX_BUNDLE_BYTES;

/// Largest request body: an app bundle, base64-encoded, in JSON.
pub const MAX_BODY_BYTES: usize = MAX_BUNDLE_BYTES / 3 * 4 + 64 * 1024;

/// An error answered with SOAR's body.
#[derive(Debug)]
pub struct ApiError(pub OutpostError);

impl From<OutpostError> for ApiError {
    fn from(e: OutpostError) -> Self {
        ApiError(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.code.http_status();
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        (status, axum::Json(self.0.soar_body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The REST router.
pub fn router(broker: Arc<Broker>) -> Router {
    let (api, _) = openapi::routes().into_parts();
    let api = api.route_layer(middleware::from_fn_with_state(broker.clone(), authenticate));
    api.fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(broker)
}

/// Serves REST until `shutdown`.
pub async fn serve(broker: Arc<Broker>, listener: tokio::net::TcpListener, shutdown: CancellationToken) {
    let app = router(broker);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "REST server stopped");
    }
}

/// Puts the caller's [`crate::auth::Principal`] in the request's extensions, or answers 401.
async fn authenticate(State(broker): State<Arc<Broker>>, mut request: Request, next: Next) -> Response {
    let (token, authorization) = {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        (header("ph-auth-token"), header("authorization"))
    };
    match broker.auth.authenticate(token.as_deref(), authorization.as_deref()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => {
            let mut response = ApiError(e).into_response();
            response.headers_mut().insert("www-authenticate", "Basic realm=\"outpost\"".parse().expect("static header"));
            response
        }
    }
}

async fn unknown_route(request: Request) -> Response {
    ApiError(OutpostError::not_found(format!("no endpoint {} {}", request.method(), request.uri().path()))).into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let body = OutpostError::invalid(format!("{} is not allowed on {}", request.method(), request.uri().path())).soar_body();
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
