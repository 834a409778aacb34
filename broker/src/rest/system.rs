//! System information (seed 003).

use axum::Json;

use super::openapi::Routes;
use super::render::VersionBody;

pub fn routes(routes: Routes) -> Routes {
    routes.add(__path_version, version)
}

/// The broker's version.
#[utoipa::path(get, path = "/rest/version", tag = "system", responses((status = 200, body = VersionBody)))]
pub async fn version() -> Json<VersionBody> {
    Json(VersionBody { version: outpost_proto::VERSION.into() })
}
