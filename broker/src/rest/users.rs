//! `/rest/ph_user`: users, the roles they hold, and their `ph-auth-token` tokens.
//!
//! - `GET /rest/ph_user`, `POST /rest/ph_user` (create), `GET|POST /rest/ph_user/<id>`
//!   (read, update), `DELETE /rest/ph_user/<id>` (disable: SOAR's soft delete).
//! - `POST /rest/ph_user/<id>/token` issues a token and answers it once as `key`;
//!   `GET` lists the user's tokens (never the tokens themselves); `DELETE` revokes all of
//!   them, `DELETE /rest/ph_user/<id>/token/<token_id>` one.
//!
//! Passwords are argon2 hashes and never leave the broker; tokens are stored as sha256
//! hashes. Every change is audited and clears the remembered sign-ins, so it applies at
//! once. The last active administrator cannot be disabled or lose the role.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::ApiResult;
use super::input::{self, Fields};
use super::openapi::Routes;
use super::params::{ListingDoc, Params, PrettyDoc};
use super::render::{self, Deleted, Failure, ListBody, Saved, TokenBody, TokenIssued, TokensRevoked, UserBody};
use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::catalog::users::{self, UserChange};
use crate::listing::Value as FilterValue;
use crate::store::collections::{Named, TOKENS, USERS};
use crate::store::users::{User, UserFields};

pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_list, list)
        .add(__path_create, create)
        .add(__path_read, read)
        .add(__path_update, update)
        .add(__path_disable, disable)
        .add(__path_tokens, tokens)
        .add(__path_issue, issue)
        .add(__path_revoke_all, revoke_all)
        .add(__path_revoke, revoke)
}

/// The fields of a user body.
pub const FIELDS: &[&str] = &["username", "password", "email", "first_name", "last_name", "type", "roles", "is_active"];
/// The fields of a token body.
pub const TOKEN_FIELDS: &[&str] = &["label", "expires_in_days"];

/// A user to create, or the fields of one to change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserRequest {
    /// Unique, 1 to 150 printable characters without `:`, not a number. Required on
    /// create; the bootstrap `admin` cannot be renamed.
    username: Option<String>,
    /// 8 to 1024 characters; required on create for `normal` users, refused for
    /// `automation` users. Stored as an argon2 hash.
    password: Option<String>,
    /// Contact address.
    email: Option<String>,
    /// Given name.
    first_name: Option<String>,
    /// Family name.
    last_name: Option<String>,
    /// `normal` (default) or `automation` (signs in with tokens only).
    #[schema(rename = "type")]
    user_type: Option<String>,
    /// The roles it holds, by id or name; replaces the previous set.
    #[schema(value_type = Option<Vec<Object>>)]
    roles: Option<Vec<Value>>,
    /// False disables it; default true.
    is_active: Option<bool>,
}

/// A token to issue; the body may be left empty.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// What the token is for, at most 200 characters.
    label: Option<String>,
    /// Days until it expires, 1 to 3650; left out, it never expires.
    expires_in_days: Option<i64>,
}

/// Resolves `roles` (ids or names) to role ids.
async fn role_ids(broker: &Broker, f: &Fields<'_>) -> Result<Option<Vec<i64>>, OutpostError> {
    let Some(items) = f.array("roles")? else { return Ok(None) };
    let keys = items
        .iter()
        .enumerate()
        .map(|(i, item)| input::id_or_name(item, &format!("roles[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(broker.role_ids("roles", &keys).await?))
}

/// The user a path names.
pub async fn load_user(broker: &Broker, id: &str) -> Result<User, OutpostError> {
    broker.user(input::id(id, "user")?).await
}

/// Users as shown, with `_pretty_roles` when `pretty`.
async fn show(broker: &Broker, users: &[User], pretty: bool) -> ApiResult<Vec<UserBody>> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let roles = broker.store.roles_of_users(&ids).await?;
    let mut shown: Vec<UserBody> =
        users.iter().map(|u| render::user(u, roles.get(&u.id).map_or(&[][..], Vec::as_slice))).collect();
    if pretty {
        let names = broker.store.names(Named::Role, shown.iter().flat_map(|body| body.roles.clone())).await?;
        for body in &mut shown {
            body.pretty_roles = Some(body.roles.iter().map(|id| names.get(id).cloned().unwrap_or_default()).collect());
        }
    }
    Ok(shown)
}

/// List users, filtered and sorted as every collection is; never a password.
#[utoipa::path(get, path = "/rest/ph_user", tag = "users", params(ListingDoc), description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<UserBody>), (status = 400, body = Failure)))]
pub async fn list(State(broker): State<Arc<Broker>>, params: Params) -> ApiResult<Json<ListBody<UserBody>>> {
    let listing = broker.store.list_users(&params.list(&USERS)?).await?;
    let data = show(&broker, &listing.data, params.pretty).await?;
    Ok(Json(ListBody { count: listing.count, num_pages: listing.num_pages, data }))
}

/// Read a user (audited).
#[utoipa::path(get, path = "/rest/ph_user/{id}", tag = "users", params(("id" = i64, Path), PrettyDoc),
    responses((status = 200, body = UserBody), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn read(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<UserBody>> {
    let user = load_user(&broker, &id).await?;
    Ok(Json(show(&broker, std::slice::from_ref(&user), params.pretty).await?.remove(0)))
}

/// Create a user.
#[utoipa::path(post, path = "/rest/ph_user", tag = "users", request_body = UserRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure), (status = 409, body = Failure)))]
pub async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<Saved>> {
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    let fields = UserFields {
        username: users::check_username(&f.required_string("username")?)?,
        email: f.string("email")?.unwrap_or_default().trim().to_string(),
        first_name: f.string("first_name")?.unwrap_or_default(),
        last_name: f.string("last_name")?.unwrap_or_default(),
        is_active: f.bool("is_active")?.unwrap_or(true),
        user_type: users::check_user_type(&f.string("type")?.unwrap_or_else(|| "normal".into()))?,
    };
    let password = f.string("password")?;
    let roles = Some(role_ids(&broker, &f).await?.unwrap_or_default());
    let user = broker.create_user(&Actor::from(&who), UserChange { fields, password, roles }).await?;
    Ok(Json(Saved::new(user.id)))
}

/// Change a user: only the fields given change. The last active administrator cannot
/// lose the role or be disabled.
#[utoipa::path(post, path = "/rest/ph_user/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = Saved), (status = 400, body = Failure), (status = 404, body = Failure), (status = 409, body = Failure)))]
pub async fn update(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Saved>> {
    let before = load_user(&broker, &id).await?;
    let map = input::object(&body)?;
    let f = Fields::new(&map);
    f.only(FIELDS)?;
    let fields = UserFields {
        username: match f.string("username")? {
            Some(name) => users::check_username(&name)?,
            None => before.username.clone(),
        },
        email: f.string("email")?.map(|e| e.trim().to_string()).unwrap_or_else(|| before.email.clone()),
        first_name: f.string("first_name")?.unwrap_or_else(|| before.first_name.clone()),
        last_name: f.string("last_name")?.unwrap_or_else(|| before.last_name.clone()),
        is_active: f.bool("is_active")?.unwrap_or(before.is_active),
        user_type: users::check_user_type(&f.string("type")?.unwrap_or_else(|| before.user_type.clone()))?,
    };
    let roles = role_ids(&broker, &f).await?;
    let password = f.string("password")?;
    let after = broker.update_user(&Actor::from(&who), &before, UserChange { fields, password, roles }).await?;
    Ok(Json(Saved::new(after.id)))
}

/// Disable a user (SOAR's soft delete): it then signs in with nothing.
#[utoipa::path(delete, path = "/rest/ph_user/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn disable(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    let before = load_user(&broker, &id).await?;
    let after = broker.disable_user(&Actor::from(&who), &before).await?;
    Ok(Json(Deleted { success: true, id: after.id, message: format!("user '{}' disabled", after.username) }))
}

/// List a user's tokens, revoked and expired ones included, filtered and sorted as every
/// collection is; never the tokens themselves.
#[utoipa::path(get, path = "/rest/ph_user/{id}/token", tag = "users", params(("id" = i64, Path), ListingDoc),
    description = super::params::FILTER_HELP,
    responses((status = 200, body = ListBody<TokenBody>), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn tokens(
    State(broker): State<Arc<Broker>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ListBody<TokenBody>>> {
    let user = load_user(&broker, &id).await?;
    let query = params.list(&TOKENS)?.with_eq("user", FilterValue::Int(user.id));
    let listing = broker.store.list_tokens_by(&query).await?;
    let now = outpost_proto::time::now_ms();
    Ok(Json(ListBody::new(&listing, |t| TokenBody {
        pretty_user: params.pretty.then(|| user.username.clone()),
        ..render::token(t, now)
    })))
}

/// Reads the optional token body: `label` and `expires_in_days`.
fn parse_token_body(body: &[u8]) -> Result<(String, Option<i64>), OutpostError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((String::new(), None));
    }
    let map: Map<String, Value> = input::object(body)?;
    let f = Fields::new(&map);
    f.only(TOKEN_FIELDS)?;
    let label = f.string("label")?.unwrap_or_default().trim().to_string();
    if label.chars().count() > 200 {
        return Err(OutpostError::invalid("'label' must be at most 200 characters"));
    }
    let days = f.int("expires_in_days")?.map(users::check_token_days).transpose()?;
    Ok((label, days))
}

/// Issue a token for the `ph-auth-token` header; its key is answered this once.
#[utoipa::path(post, path = "/rest/ph_user/{id}/token", tag = "users", params(("id" = i64, Path)),
    request_body(content = Option<TokenRequest>, description = "optional: the body may be empty"),
    responses((status = 200, body = TokenIssued), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn issue(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<TokenIssued>> {
    let user = load_user(&broker, &id).await?;
    let (label, days) = parse_token_body(&body)?;
    let (token, key) = broker.issue_token(&Actor::from(&who), &user, &label, days).await?;
    Ok(Json(TokenIssued {
        success: true,
        id: token.id,
        key,
        expires_on: outpost_proto::time::iso_opt(token.expires_ms),
        message: "keep the key now: it is not shown again".into(),
    }))
}

/// Revoke one of a user's tokens.
#[utoipa::path(delete, path = "/rest/ph_user/{id}/token/{token_id}", tag = "users",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 200, body = TokensRevoked), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn revoke(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path((id, token_id)): Path<(String, String)>,
) -> ApiResult<Json<TokensRevoked>> {
    let user = load_user(&broker, &id).await?;
    let token_id = input::id(&token_id, "token")?;
    broker.revoke_token(&Actor::from(&who), &user, token_id).await?;
    Ok(Json(TokensRevoked { success: true, revoked: 1 }))
}

/// Revoke every live token of a user.
#[utoipa::path(delete, path = "/rest/ph_user/{id}/token", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = TokensRevoked), (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn revoke_all(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<TokensRevoked>> {
    let user = load_user(&broker, &id).await?;
    let revoked = broker.revoke_tokens(&Actor::from(&who), &user).await?;
    Ok(Json(TokensRevoked { success: true, revoked }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_name_the_culprit() {
        assert_eq!(parse_token_body(b"").unwrap(), (String::new(), None));
        assert_eq!(parse_token_body(br#"{"label": "ci", "expires_in_days": 30}"#).unwrap(), ("ci".into(), Some(30)));
        assert!(parse_token_body(br#"{"expires_in_days": 0}"#).unwrap_err().message.contains("between 1 and"));
        assert!(parse_token_body(br#"{"key": "x"}"#).unwrap_err().message.starts_with("unknown field 'key'"));
    }
}
