//! The OpenAPI 3.1 document of the REST API (`GET /rest/openapi.json`), generated from
//! the code so it cannot drift:
//!
//! - every handler carries `#[utoipa::path]`, and [`Routes::add`] registers it in the
//!   router at the path and methods that annotation declares, so a documented path is a
//!   routed path;
//! - every response body is a typed struct deriving `ToSchema` ([`super::render`]);
//! - [`ApiDoc`] lists the same handlers, and a test checks that its paths and the router's
//!   table are the same set.
//!
//! The document is served to authenticated callers, like everything else under `/rest`.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, header};
use axum::response::IntoResponse;
use axum::routing::MethodFilter;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{action_runs, app_runs, apps, artifacts, assets, containers, system};
use crate::Broker;

/// The router under construction, and the table of what it routes.
pub struct Routes {
    /// The axum router the handlers are added to.
    router: Router<Arc<Broker>>,
    /// Every (method, path) added, in order; the permission table and the OpenAPI test
    /// read it.
    table: Vec<(Method, String)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes { router: Router::new(), table: vec![] }
    }
}

fn method(m: &HttpMethod) -> (Method, MethodFilter) {
    match m {
        HttpMethod::Get => (Method::GET, MethodFilter::GET),
        HttpMethod::Post => (Method::POST, MethodFilter::POST),
        HttpMethod::Put => (Method::PUT, MethodFilter::PUT),
        HttpMethod::Delete => (Method::DELETE, MethodFilter::DELETE),
        HttpMethod::Options => (Method::OPTIONS, MethodFilter::OPTIONS),
        HttpMethod::Head => (Method::HEAD, MethodFilter::HEAD),
        HttpMethod::Patch => (Method::PATCH, MethodFilter::PATCH),
        HttpMethod::Trace => (Method::TRACE, MethodFilter::TRACE),
    }
}

impl Routes {
    /// Routes `handler` at the path and methods of its `#[utoipa::path]` annotation, whose
    /// generated `__path_<handler>` struct is `doc`.
    pub fn add<P: utoipa::Path, H: Handler<T, Arc<Broker>>, T: 'static>(mut self, doc: P, handler: H) -> Self {
        let _ = doc;
        let path = P::path();
        let mut filter: Option<MethodFilter> = None;
        for m in P::methods() {
            let (method, f) = method(&m);
            self.table.push((method, path.clone()));
            filter = Some(filter.map_or(f, |before| before.or(f)));
        }
        let filter = filter.unwrap_or_else(|| panic!("{path} is documented without a method"));
        self.router = self.router.route(&path, axum::routing::on(filter, handler));
        self
    }

    /// The router and its table.
    pub fn into_parts(self) -> (Router<Arc<Broker>>, Vec<(Method, String)>) {
        (self.router, self.table)
    }
}

/// Every documented endpoint, in the order the document lists them.
pub fn routes() -> Routes {
    let routes = Routes::default();
    let routes = action_runs::routes(routes);
    let routes = app_runs::routes(routes);
    let routes = apps::routes(routes);
    let routes = assets::routes(routes);
    let routes = containers::routes(routes);
    let routes = artifacts::routes(routes);
    let routes = system::routes(routes);
    routes.add(__path_openapi_json, openapi_json)
}

/// What the router serves: (method, path) with `{id}`-style parameters.
pub fn route_table() -> Vec<(Method, String)> {
    routes().into_parts().1
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Outpost REST API",
        description = "The SOAR-compatible REST API of the Outpost automation broker. Errors answer \
            `{\"failed\": true, \"message\": ...}` with a 4xx/5xx status. Lists answer `{count, num_pages, data}` \
            and take `page`, `page_size`, `sort`, `order`, `_filter_<field>[__<lookup>]` and `pretty`."
    ),
    paths(
        action_runs::run,
        action_runs::list,
        action_runs::read,
        action_runs::cancel,
        action_runs::app_runs,
        app_runs::list,
        app_runs::read,
        app_runs::results,
        apps::list,
        apps::read,
        apps::install,
        assets::create,
        assets::list,
        assets::read,
        assets::update,
        assets::delete,
        containers::create,
        containers::list,
        containers::read,
        containers::update,
        containers::artifacts,
        artifacts::create,
        artifacts::list,
        artifacts::read,
        system::version,
        openapi_json,
    ),
    modifiers(&Security),
    security(("basic" = []), ("ph-auth-token" = [])),
)]
pub struct ApiDoc;

/// Adds the two ways to authenticate.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "ph-auth-token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "ph-auth-token",
                "SOAR's API token header",
            ))),
        );
    }
}

/// The document, serialized once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi().to_json().unwrap_or_else(|e| format!("{{\"failed\": true, \"message\": \"{e}\"}}"))
});

/// This document.
#[utoipa::path(get, path = "/rest/openapi.json", tag = "system",
    responses((status = 200, description = "the OpenAPI 3.1 document of this API", body = serde_json::Value)))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}
