//! `/rest/role`: roles, their permissions and their members.
//!
//! The built-in roles (Administrator, Automation, Observer) keep their names and
//! permissions; only their members (`users`) and description change. Custom roles hold
//! permission names from [`crate::access::permissions::Permission`]. `DELETE` disables a role:
//! it then grants nothing, and keeps its members for re-enabling.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use serde_json::Value;
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params, PrettyDoc};
use super::render::{self, Deleted, Failure, ListBody, RoleBody, Saved};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::catalog::roles::{self, RoleChange};
use crate::store::collections::{Named, ROLES};
use crate::store::roles::{Role, RoleFields};

pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_list, list)
        .add(__path_create, create)
        .add(__path_read, read)
        .add(__path_update, update)
        .add(__path_disable, disable)
}

/// The fields of a role body.
pub const FIELDS: &[&str] = &["name", "description", "permissions", "users", "is_active"];

/// A role to create, or the fields of one to change. A built-in role changes only its
/// `users` and `description`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleRequest {
    /// Unique, 1 to 100 printable characters, not a number. Required on create.
    name: Option<String>,
    /// What the role is for.
    description: Option<String>,
    /// Permission names such as `containers:view`; replaces the previous set.
    permissions: Option<Vec<String>>,
    /// Its members, by id or user name; replaces the previous set.
    #[schema(value_type = Option<Vec<Object>>)]
    users: Option<Vec<Value>>,
    /// False disables it; default true.
    is_active: Option<bool>,
}

fn permissions_of(f: &Fields<'_>) -> Result<Option<Vec<String>>, OutpostError> {
    f.strings("permissions")?.map(|names| roles::check_permissions(&names)).transpose()
}

/// Resolves `users` (ids or names) to user ids.
async fn member_ids(broker: &Broker, f: &Fields<'_>) -> Result<Option<Vec<i64>>, OutpostError> {
    let Some(items) = f.array("users")? else { return Ok(None) };
    let keys = items
        .iter()
        .enumerate()
        .map(|(i, item)| input::id_or_name(item, &format!("users[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(broker.user_ids("users", &keys).await?))
}

/// The role a path names.
pub async fn load_role(broker: &Broker, id: &str) -> Result<Role, OutpostError> {
    broker.role(input::id(id, "role")?).await
}

/// Roles as shown, with `_pretty_users` when `pretty`.
async fn show(broker: &Broker, roles: &[Role], pretty: bool) -> ApiResult<Vec<RoleBody>> {
    let ids: Vec<i64> = roles.iter().map(|r| r.id).collect();
    let members = broker.store.members_of_roles(&ids).await?;
    let mut shown: Vec<RoleBody> =
        roles.iter().map(|r| render::role(r, members.get(&r.id).map_or(&[][..], Vec::as_slice))).collect();
    if pretty {
        let names = broker.store.names(Named::User, shown.iter().flat_map(|body| body.users.clone())).await?;
        for body in &mut shown {
            body.pretty_users = Some(body.users.iter().map(|id| names.get(id).cloned().unwrap_or_default()).collect());
        }
    }
    Ok(shown)
}

/// List roles, built-in ones included, filtered and sorted as every collection is.
#[utoipa::path(get, path = "/rest/role", tag = "roles", params(ListingDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<RoleBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<RoleBody>>> {
    let listing = broker.store.list_roles_by(&params.list(&ROLES)?).await?;
    let data = show(&broker, &listing.data, params.pretty).await?;
    Ok(Json(ListBody { count: listing.count, num_pages: listing.num_pages, data }))
}

/// Read a role (audited).
#[utoipa::path(get, path = "/rest/role/{id}", tag = "roles", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = RoleBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<RoleBody>> {
    let role = load_role(&broker, &id).await?;
    Ok(Json(show(&broker, std::slice::from_ref(&role), params.pretty).await?.remove(0)))
}

/// Create a custom role.
#[utoipa::path(post, path = "/rest/role", tag = "roles", request_body = RoleRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure), (status = 409, body = Failure)))]
pub async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<Saved>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    let fields = RoleFields {
        name: roles::check_role_name(&f.required_string("name")?)?,
        description: f.string("description")?.unwrap_or_default(),
        permissions: permissions_of(&f)?.unwrap_or_default(),
        is_active: f.bool("is_active")?.unwrap_or(true),
    };
    let members = member_ids(&broker, &f).await?.unwrap_or_default();
    let role = broker.create_role(&Actor::from(&who), fields, members).await?;
    Ok(Json(Saved::new(role.id)))
}

/// Change a role: only the fields given change. The Administrator role keeps at least
/// one active member.
#[utoipa::path(post, path = "/rest/role/{id}", tag = "roles", params(("id" = i64, Path)), request_body = RoleRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure), (status = 409, body = Failure)))]
pub async fn update(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Saved>> {
    let before = load_role(&broker, &id).await?;
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    let fields = RoleFields {
        name: match f.string("name")? {
            Some(name) => roles::check_role_name(&name)?,
            None => before.name.clone(),
        },
        description: f.string("description")?.unwrap_or_else(|| before.description.clone()),
        permissions: permissions_of(&f)?.unwrap_or_else(|| before.permissions.clone()),
        is_active: f.bool("is_active")?.unwrap_or(before.is_active),
    };
    let change =
        RoleChange { fields, permissions_given: f.has("permissions"), members: member_ids(&broker, &f).await? };
    let after = broker.update_role(&Actor::from(&who), &before, change).await?;
    Ok(Json(Saved::new(after.id)))
}

/// Disable a custom role: it then grants nothing, and keeps its members.
#[utoipa::path(delete, path = "/rest/role/{id}", tag = "roles", params(("id" = i64, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn disable(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    let before = load_role(&broker, &id).await?;
    let after = broker.disable_role(&Actor::from(&who), &before).await?;
    Ok(Json(Deleted { success: true, id: after.id, message: format!("role '{}' disabled", after.name) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn permissions_are_checked_by_name() {
        let map: Map<String, Value> =
            json!({"permissions": ["audit:view", "containers:view", "audit:view"]}).as_object().unwrap().clone();
        assert_eq!(permissions_of(&Fields::new(&map)).unwrap().unwrap(), vec!["audit:view", "containers:view"]);
        let map: Map<String, Value> = json!({"permissions": ["root"]}).as_object().unwrap().clone();
        assert!(
            permissions_of(&Fields::new(&map))
                .unwrap_err()
                .message
                .starts_with("'permissions[0]': unknown permission 'root'")
        );
    }
}
