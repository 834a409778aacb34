//! The OpenAPI 3.1 document of the whole REST API (`GET /rest/openapi.json`), generated
//! from the code so it cannot drift:
//!
//! - every handler carries `#[utoipa::path]`, and [`Routes::add`] registers it in the
//!   router at the path and methods that annotation declares, so a documented path is a
//!   routed path; [`routes`] is the whole REST router;
//! - response bodies are typed structs deriving `ToSchema` ([`super::render`]); the two
//!   built outside `rest` (`/rest/health`, audit records) have schemas there that the
//!   OpenAPI test checks real answers against;
//! - [`ApiDoc`] lists the same handlers, and a test checks that its paths, the router's
//!   table and the permission table ([`crate::access::permissions::REST`]) are the same set;
//! - each operation says who may call it, from that permission table.
//!
//! The document is served to authenticated callers, like everything else under `/rest`.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, header};
use axum::response::IntoResponse;
use axum::routing::MethodFilter;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    action_runs, app_runs, apps, artifacts, assets, audit_reads, automation_proxy, containers, roles, system, users,
};
use crate::Broker;
use crate::access::permissions::{self, Required};

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

/// Every REST endpoint, all documented.
pub fn routes() -> Routes {
    let routes = Routes::default();
    let routes = action_runs::routes(routes);
    let routes = app_runs::routes(routes);
    let routes = apps::routes(routes);
    let routes = assets::routes(routes);
    let routes = containers::routes(routes);
    let routes = artifacts::routes(routes);
    let routes = automation_proxy::routes(routes);
    let routes = system::routes(routes);
    let routes = users::routes(routes);
    let routes = roles::routes(routes);
    let routes = audit_reads::routes(routes);
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
        assets::test_asset,
        automation_proxy::list,
        automation_proxy::create,
        automation_proxy::read,
        system::version,
        system::system_info,
        system::settings,
        system::change_settings,
        system::license,
        system::health,
        system::app_status,
        system::all_widgets,
        system::widget,
        users::list,
        users::create,
        users::read,
        users::update,
        users::disable,
        users::tokens,
        users::issue,
        users::revoke_all,
        users::revoke,
        roles::list,
        roles::create,
        roles::read,
        roles::update,
        roles::disable,
        audit_reads::all,
        audit_reads::of_user,
        audit_reads::of_user_alias,
        audit_reads::of_role,
        audit_reads::of_container,
        audit_reads::of_playbook,
        openapi_json,
    ),
    modifiers(&Security, &Access),
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

/// Says on every operation who may call it, from the one permission table
/// ([`crate::access::permissions::REST`]), adds the errors the authentication middleware answers
/// before any handler runs, and names each operation uniquely by method and path.
struct Access;

impl Modify for Access {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::DELETE, &mut item.delete),
                (Method::PATCH, &mut item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    describe_access(&method, path, operation);
                }
            }
        }
    }
}

fn describe_access(method: &Method, path: &str, operation: &mut Operation) {
    let required = permissions::rest_required(method, path);
    let who = match required {
        Required::Permission(p) => format!("Requires the `{}` permission (or the Administrator role).", p.name()),
        Required::Administrator => "Requires the Administrator role.".to_string(),
        Required::Public | Required::Worker | Required::Authenticated => "Open to every signed-in user.".to_string(),
    };
    operation.description = Some(match operation.description.take().filter(|d| !d.is_empty()) {
        Some(description) => format!("{description}\n\n{who}"),
        None => who,
    });
    let id = path.trim_start_matches("/rest/").replace(['/', '.'], "_").replace(['{', '}'], "");
    operation.operation_id = Some(format!("{}_{id}", method.as_str().to_lowercase()));
    let failure = |description: &str| {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Failure"))).build();
        RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
    };
    let responses = &mut operation.responses.responses;
    responses.insert("401".into(), failure("no or wrong credentials (HTTP Basic or `ph-auth-token`)"));
    if required != Required::Authenticated {
        responses.insert("403".into(), failure("the caller's roles do not allow this (the denial is audited)"));
    }
    responses.insert("429".into(), failure("too many failed sign-ins: retry after `retry-after` seconds"));
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
