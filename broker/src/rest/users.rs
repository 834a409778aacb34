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
use crate::access::audit::{self, AuditObject};
use crate::access::auth::{self, Principal};
use crate::access::permissions::ADMINISTRATOR;
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
pub const USER_TYPES: &[&str] = &["normal", "automation"];
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest token lifetime accepted, in days (ten years).
pub const MAX_TOKEN_DAYS: i64 = 3650;

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

fn check_username(name: &str) -> Result<String, OutpostError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 150 || name.chars().any(|c| c.is_control() || c == ':') {
        return Err(OutpostError::invalid("'username' must be 1 to 150 printable characters without ':'"));
    }
    if name.parse::<i64>().is_ok() {
        return Err(OutpostError::invalid("'username' cannot be a number: users are found by id or name"));
    }
    Ok(name.to_string())
}

fn check_password(password: &str) -> Result<(), OutpostError> {
    if password.chars().count() < MIN_PASSWORD || password.len() > 1024 {
        return Err(OutpostError::invalid(format!("'password' must be {MIN_PASSWORD} to 1024 characters")));
    }
    Ok(())
}

fn check_type(value: String) -> Result<String, OutpostError> {
    let value = value.trim().to_lowercase();
    if USER_TYPES.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(OutpostError::invalid(format!("'type' must be one of {}, got '{value}'", USER_TYPES.join(", "))))
    }
}

/// Resolves `roles` (ids or names) to role ids.
async fn role_ids(broker: &Broker, f: &Fields<'_>) -> Result<Option<Vec<i64>>, OutpostError> {
    let Some(items) = f.array("roles")? else { return Ok(None) };
    let mut ids = vec![];
    for (i, item) in items.iter().enumerate() {
        let key = input::id_or_name(item, &format!("roles[{i}]"))?;
        let role = broker
            .store
            .find_role(&key)
            .await?
            .ok_or_else(|| OutpostError::not_found(format!("'roles[{i}]': role '{key}' not found")))?;
        if !ids.contains(&role.id) {
            ids.push(role.id);
        }
    }
    ids.sort_unstable();
    Ok(Some(ids))
}

pub async fn load_user(broker: &Broker, id: &str) -> Result<User, OutpostError> {
    let id = input::id(id, "user")?;
    broker.store.get_user(id).await?.ok_or_else(|| OutpostError::not_found(format!("user {id} not found")))
}

/// Refuses a change that would leave no active administrator.
pub async fn keep_an_administrator(broker: &Broker, user_id: i64, still_admin: bool) -> Result<(), OutpostError> {
    if still_admin {
        return Ok(());
    }
    let admins = broker.store.active_administrators().await?;
    if admins == [user_id] {
        return Err(OutpostError::precondition(format!(
            "user {user_id} is the last active administrator: give another active user the {ADMINISTRATOR} role first"
        )));
    }
    Ok(())
}

async fn is_administrator_role(broker: &Broker, role_ids: &[i64]) -> Result<bool, OutpostError> {
    let admin = broker.store.find_role(ADMINISTRATOR).await?.map(|r| r.id);
    Ok(admin.is_some_and(|id| role_ids.contains(&id)))
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
        username: check_username(&f.required_string("username")?)?,
        email: f.string("email")?.unwrap_or_default().trim().to_string(),
        first_name: f.string("first_name")?.unwrap_or_default(),
        last_name: f.string("last_name")?.unwrap_or_default(),
        is_active: f.bool("is_active")?.unwrap_or(true),
        user_type: check_type(f.string("type")?.unwrap_or_else(|| "normal".into()))?,
    };
    let password = f.string("password")?;
    let hash = match (fields.user_type.as_str(), password) {
        ("automation", Some(_)) => {
            return Err(OutpostError::invalid("automation users sign in with tokens only: leave 'password' out").into());
        }
        ("automation", None) => String::new(),
        (_, None) => return Err(OutpostError::invalid("'password' is required").into()),
        (_, Some(password)) => {
            check_password(&password)?;
            tokio::task::spawn_blocking(move || auth::hash_password(&password))
                .await
                .map_err(|e| OutpostError::internal(format!("password hashing failed: {e}")))?
        }
    };
    let roles = role_ids(&broker, &f).await?.unwrap_or_default();
    let user = match broker.store.create_user_with(&fields, &hash).await {
        Ok(user) => user,
        Err(e) if e.is_unique_violation() => {
            return Err(OutpostError::conflict(format!("a user named '{}' exists already", fields.username)).into());
        }
        Err(e) => return Err(e.into()),
    };
    broker.store.set_user_roles(user.id, &roles).await?;
    broker.auth.forget();
    broker.audit.record_change(&who, AuditObject::user(&user), None, Some(&audit::user_fields(&user, &roles))).await;
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
    let roles_before = broker.store.user_role_ids(before.id).await?;
    let fields = UserFields {
        username: match f.string("username")? {
            Some(name) => check_username(&name)?,
            None => before.username.clone(),
        },
        email: f.string("email")?.map(|e| e.trim().to_string()).unwrap_or_else(|| before.email.clone()),
        first_name: f.string("first_name")?.unwrap_or_else(|| before.first_name.clone()),
        last_name: f.string("last_name")?.unwrap_or_else(|| before.last_name.clone()),
        is_active: f.bool("is_active")?.unwrap_or(before.is_active),
        user_type: check_type(f.string("type")?.unwrap_or_else(|| before.user_type.clone()))?,
    };
    if before.username == auth::ADMIN_USER && fields.username != before.username {
        return Err(
            OutpostError::invalid(format!("the bootstrap user '{}' cannot be renamed", auth::ADMIN_USER)).into()
        );
    }
    let roles = role_ids(&broker, &f).await?.unwrap_or_else(|| roles_before.clone());
    let password = f.string("password")?;
    if password.is_some() && fields.user_type == "automation" {
        return Err(OutpostError::invalid("automation users sign in with tokens only: leave 'password' out").into());
    }
    keep_an_administrator(&broker, before.id, fields.is_active && is_administrator_role(&broker, &roles).await?)
        .await?;
    let hash = match password {
        Some(password) => {
            check_password(&password)?;
            Some(
                tokio::task::spawn_blocking(move || auth::hash_password(&password))
                    .await
                    .map_err(|e| OutpostError::internal(format!("password hashing failed: {e}")))?,
            )
        }
        None => None,
    };
    let after = match broker.store.update_user(before.id, &fields).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(OutpostError::not_found(format!("user {} not found", before.id)).into()),
        Err(e) if e.is_unique_violation() => {
            return Err(OutpostError::conflict(format!("a user named '{}' exists already", fields.username)).into());
        }
        Err(e) => return Err(e.into()),
    };
    if roles != roles_before {
        broker.store.set_user_roles(after.id, &roles).await?;
    }
    if let Some(hash) = &hash {
        broker.store.set_password_hash(after.id, hash).await?;
    }
    broker.auth.forget();
    let object = AuditObject::user(&after);
    broker
        .audit
        .record_change(
            &who,
            object.clone(),
            Some(&audit::user_fields(&before, &roles_before)),
            Some(&audit::user_fields(&after, &roles)),
        )
        .await;
    if hash.is_some() {
        broker
            .audit
            .record_field(&who, object, "password", Some(render::MASK), Some(render::MASK), "password changed")
            .await;
    }
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
    keep_an_administrator(&broker, before.id, false).await?;
    let roles = broker.store.user_role_ids(before.id).await?;
    let fields = UserFields {
        username: before.username.clone(),
        email: before.email.clone(),
        first_name: before.first_name.clone(),
        last_name: before.last_name.clone(),
        is_active: false,
        user_type: before.user_type.clone(),
    };
    let after = broker
        .store
        .update_user(before.id, &fields)
        .await?
        .ok_or_else(|| OutpostError::not_found(format!("user {} not found", before.id)))?;
    broker.auth.forget();
    broker
        .audit
        .record_change(
            &who,
            AuditObject::user(&after),
            Some(&audit::user_fields(&before, &roles)),
            Some(&audit::user_fields(&after, &roles)),
        )
        .await;
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
    let days = match f.int("expires_in_days")? {
        None => None,
        Some(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => Some(d),
        Some(d) => {
            return Err(OutpostError::invalid(format!(
                "'expires_in_days' must be between 1 and {MAX_TOKEN_DAYS}, got {d}"
            )));
        }
    };
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
    if !user.is_active {
        return Err(OutpostError::precondition(format!(
            "user '{}' is disabled; enable it before issuing tokens",
            user.username
        ))
        .into());
    }
    let (label, days) = parse_token_body(&body)?;
    let key = auth::new_token();
    let expires_ms = days.map(|d| outpost_proto::time::now_ms() + d * 24 * 3600 * 1000);
    let token = broker.store.add_token_expiring(user.id, &auth::token_hash(&key), &label, expires_ms).await?;
    broker
        .audit
        .record_field(
            &who,
            AuditObject::user(&user),
            "token",
            None,
            Some(&format!("token {} issued", token.id)),
            "token issued",
        )
        .await;
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
    if !broker.store.revoke_token(user.id, token_id).await? {
        return Err(OutpostError::not_found(format!("user '{}' has no live token {token_id}", user.username)).into());
    }
    broker.auth.forget();
    broker
        .audit
        .record_field(
            &who,
            AuditObject::user(&user),
            "token",
            Some(&format!("token {token_id} active")),
            Some(&format!("token {token_id} revoked")),
            "token revoked",
        )
        .await;
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
    let n = broker.store.revoke_all_tokens(user.id).await?;
    broker.auth.forget();
    if n > 0 {
        broker
            .audit
            .record_field(
                &who,
                AuditObject::user(&user),
                "token",
                None,
                Some(&format!("{n} tokens revoked")),
                "tokens revoked",
            )
            .await;
    }
    Ok(Json(TokensRevoked { success: true, revoked: n }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_name_the_culprit() {
        assert!(check_username("a:b").unwrap_err().message.contains("without ':'"));
        assert!(check_username("42").unwrap_err().message.contains("cannot be a number"));
        assert_eq!(check_username(" bob ").unwrap(), "bob");
        assert!(check_password("short").unwrap_err().message.contains("8 to 1024"));
        assert!(check_type("robot".into()).unwrap_err().message.contains("'type' must be one of normal, automation"));
        assert_eq!(parse_token_body(b"").unwrap(), (String::new(), None));
        assert_eq!(parse_token_body(br#"{"label": "ci", "expires_in_days": 30}"#).unwrap(), ("ci".into(), Some(30)));
        assert!(parse_token_body(br#"{"expires_in_days": 0}"#).unwrap_err().message.contains("between 1 and"));
        assert!(parse_token_body(br#"{"key": "x"}"#).unwrap_err().message.starts_with("unknown field 'key'"));
    }
}
