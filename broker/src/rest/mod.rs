//! The SOAR-compatible REST API.
//!
//! Every response error is SOAR's `{"failed": true, "message": ...}` with the status of
//! its [`outpost_proto::ErrorCode`]; unknown routes and methods answer the same way.
//! Authentication (HTTP Basic or `ph-auth-token`) is required on every route, and the
//! route's permission from [`crate::access::permissions::REST`] (and of its query parameters,
//! [`crate::access::permissions::REST_PARAMETERS`]) is checked in the same middleware: 401
//! unauthenticated, 403 not allowed (audited), 429 while sign-ins are locked. Successful
//! reads of audited objects (`/rest/container/<id>...`, `/rest/ph_user/<id>...`,
//! `/rest/role/<id>...`) are audited there too.
//!
//! # Layout
//! - [`input`]: reading JSON bodies and fields with precise errors.
//! - [`params`]: the query string of reads (paging, sorting, `_filter_`, `pretty`, times).
//! - [`render`]: the JSON (and audit CSV) shapes of SOAR's records, one file per resource.
//! - [`openapi`]: the route table and the OpenAPI document built from the same handlers.
//! - [`action_runs`], [`app_runs`], [`containers`], [`artifacts`], [`assets`], [`apps`],
//!   [`automation_proxy`], [`system`], [`users`], [`roles`], [`audit_reads`]: the endpoints.

pub mod action_runs;
pub mod app_runs;
pub mod apps;
pub mod artifacts;
pub mod assets;
pub mod audit_reads;
pub mod automation_proxy;
pub mod containers;
pub mod input;
pub mod openapi;
pub mod params;
pub mod render;
pub mod roles;
pub mod system;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use outpost_proto::OutpostError;
use tokio_util::sync::CancellationToken;

use crate::Broker;
use crate::access::audit::AuditObject;
use crate::access::auth::Principal;
use crate::access::permissions::{self, Required};
use crate::catalog::bundle::MAX_BUNDLE_BYTES;

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
    router_with(broker, Router::new())
}

/// The REST router plus `extra` routes behind the same authentication and permission
/// middleware (tests use it to show that a route without a permission row is
/// Administrator-only).
pub fn router_with(broker: Arc<Broker>, extra: Router<Arc<Broker>>) -> Router {
    // Every route is documented (OpenAPI); `extra` is for tests.
    let (documented, _) = openapi::routes().into_parts();
    let api = documented.merge(extra).route_layer(middleware::from_fn_with_state(broker.clone(), authenticate));
    api.fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(broker)
}

/// Serves REST until `shutdown`.
pub async fn serve(broker: Arc<Broker>, listener: tokio::net::TcpListener, shutdown: CancellationToken) {
    let app = router(broker).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "REST server stopped");
    }
}

/// Authenticates the caller, checks the route's permission from the one table
/// ([`crate::access::permissions::rest_required`]; a route without a row is Administrator-only),
/// puts the [`crate::access::auth::Principal`] in the request's extensions, and audits reads of
/// audited objects.
async fn authenticate(State(broker): State<Arc<Broker>>, mut request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let required = permissions::rest_required(request.method(), &route);
    let ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (token, authorization) = {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        (header("ph-auth-token"), header("authorization"))
    };
    let principal = match broker.auth.authenticate_from(token.as_deref(), authorization.as_deref(), ip).await {
        Ok(principal) => principal,
        Err(denied) => {
            let mut response = ApiError(denied.error).into_response();
            let headers = response.headers_mut();
            headers.insert("www-authenticate", HeaderValue::from_static("Basic realm=\"outpost\""));
            if let Some(wait) = denied.retry_after {
                headers.insert("retry-after", HeaderValue::from(wait.as_secs()));
            }
            return response;
        }
    };
    if !principal.grants.allows(required) {
        return deny(&broker, &principal, required, &format!("{} {}", request.method(), request.uri().path())).await;
    }
    // Only a route with parameter rules reads the query string here, and it must read it
    // exactly: what it cannot decode is refused, not waved through.
    let parameters = if permissions::rest_guards_parameters(request.method(), &route) {
        match exact_parameters(request.uri().query().unwrap_or_default()) {
            Ok(parameters) => parameters,
            Err(error) => return ApiError(error).into_response(),
        }
    } else {
        vec![]
    };
    for (parameter, _) in parameters.iter() {
        let Some(required) = permissions::rest_parameter_required(request.method(), &route, parameter) else {
            continue;
        };
        if !principal.grants.allows(required) {
            let what = format!("use '{parameter}' on {} {}", request.method(), request.uri().path());
            return deny(&broker, &principal, required, &what).await;
        }
    }
    let read = audited_read(&request, &route);
    request.extensions_mut().insert(principal.clone());
    let response = next.run(request).await;
    if let Some((object, note)) = read
        && response.status().is_success()
    {
        broker.audit.record_read(&principal, object, &note).await;
    }
    response
}

/// The pairs of a query string, decoded as HTML forms are (`+` is a space, `%XX` a byte,
/// split on `&` then on the first `=`, as handlers read them), but exactly: a key or
/// value that is not UTF-8 once decoded is refused rather than read with replacement
/// characters.
fn exact_parameters(query: &str) -> Result<Vec<(String, String)>, OutpostError> {
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " ")).decode_utf8().map(|text| text.into_owned())
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(key)?, decode(value)?))
        })
        .collect::<Result<_, std::str::Utf8Error>>()
        .map_err(|_| OutpostError::invalid("malformed query string: a parameter is not UTF-8 once percent-decoded"))
}

/// A successful GET of a container, user or role (or anything under one) is audited as
/// a read of that object, noted `GET:<path and query>` as seed 002 shows. The audit
/// endpoints record their own reads.
fn audited_read(request: &Request, route: &str) -> Option<(AuditObject, String)> {
    if request.method() != Method::GET || route.ends_with("/audit") {
        return None;
    }
    let mut segments = request.uri().path().trim_start_matches('/').split('/');
    let (Some("rest"), Some(kind), Some(id)) = (segments.next(), segments.next(), segments.next()) else { return None };
    if !route.starts_with(&format!("/rest/{kind}/{{")) {
        return None;
    }
    let id = id.parse::<i64>().ok()?;
    let object = match kind {
        "container" => AuditObject::Container { id, name: String::new() },
        "ph_user" => AuditObject::User { id, name: String::new() },
        "role" => AuditObject::Role { id, name: String::new() },
        _ => return None,
    };
    let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(request.uri().path());
    Some((object, format!("GET:{target}")))
}

/// Refuses what `principal` may not do (`what`, e.g. `GET /rest/audit`), audited.
async fn deny(broker: &Broker, principal: &Principal, required: Required, what: &str) -> Response {
    broker.audit.record_denied(principal, required.name()).await;
    let message = format!("user '{}' may not {what}: it needs '{}'", principal.username, required.name());
    ApiError(OutpostError::forbidden(message)).into_response()
}

async fn unknown_route(request: Request) -> Response {
    ApiError(OutpostError::not_found(format!("no endpoint {} {}", request.method(), request.uri().path())))
        .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let body =
        OutpostError::invalid(format!("{} is not allowed on {}", request.method(), request.uri().path())).soar_body();
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_as_handlers_read_them_and_undecodable_ones_are_refused() {
        for query in ["", "user=1", "user", "a=1&&b=x%20y+z&user=%E2%9C%93", "role=*&format=csv&user=a=b", "us%65r=2"] {
            let uri: http::Uri = format!("/rest/audit?{query}").parse().unwrap();
            let axum::extract::Query(lossy) =
                axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri).unwrap();
            assert_eq!(exact_parameters(query).unwrap(), lossy, "{query}");
        }
        for query in ["user=%FF", "us%FFer=1", "a=1&role=%C3"] {
            let error = exact_parameters(query).unwrap_err();
            assert_eq!(
                error.message, "malformed query string: a parameter is not UTF-8 once percent-decoded",
                "{query}"
            );
        }
    }
}
