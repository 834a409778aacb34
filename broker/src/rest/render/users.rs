//! Users and their `ph-auth-token` tokens.

use outpost_proto::time::{iso, iso_opt};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::users::{Token, User};

/// A user (`/rest/ph_user`); never the password.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Unique; the Basic sign-in name.
    pub username: String,
    /// Contact address.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `normal`, or `automation` (signs in with tokens only).
    #[serde(rename = "type")]
    pub user_type: String,
    /// False once disabled: it then signs in with nothing.
    pub is_active: bool,
    /// The ids of the roles it holds.
    pub roles: Vec<i64>,
    /// `?pretty`: the names of the roles it holds, in the order of `roles`.
    #[serde(rename = "_pretty_roles", skip_serializing_if = "Option::is_none")]
    pub pretty_roles: Option<Vec<String>>,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
}

/// A user; `pretty_roles` is for the caller to fill with `?pretty`.
pub fn user(u: &User, role_ids: &[i64]) -> UserBody {
    UserBody {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        user_type: u.user_type.clone(),
        is_active: u.is_active,
        roles: role_ids.to_vec(),
        pretty_roles: None,
        create_time: iso(u.created_ms),
        update_time: iso(u.updated_ms),
    }
}

/// A `ph-auth-token` token; never the token itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    /// Its numeric id, for revoking it.
    pub id: i64,
    /// The user it acts as.
    pub user: i64,
    /// `?pretty`: the user's name.
    #[serde(rename = "_pretty_user", skip_serializing_if = "Option::is_none")]
    pub pretty_user: Option<String>,
    /// What it is for.
    pub label: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// When it was issued.
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it stops working; null: never.
    #[schema(required = true, format = DateTime)]
    pub expires_on: Option<String>,
    /// When it was revoked; null while not.
    #[schema(required = true, format = DateTime)]
    pub revoked_time: Option<String>,
}

/// A token as shown at `now` (Unix ms), which decides `expired`; `pretty_user` is for
/// the caller to fill with `?pretty`.
pub fn token(t: &Token, now: i64) -> TokenBody {
    let status = match (t.revoked_ms, t.expires_ms) {
        (Some(_), _) => "revoked",
        (None, Some(e)) if e <= now => "expired",
        _ => "active",
    };
    TokenBody {
        id: t.id,
        user: t.user_id,
        pretty_user: None,
        label: t.label.clone(),
        status: status.into(),
        create_time: iso(t.created_ms),
        expires_on: iso_opt(t.expires_ms),
        revoked_time: iso_opt(t.revoked_ms),
    }
}

/// The answer to `POST /rest/ph_user/<id>/token`: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenIssued {
    /// Always true.
    pub success: bool,
    /// The token's id, for revoking it.
    pub id: i64,
    /// The token, for the `ph-auth-token` header.
    pub key: String,
    /// When it stops working; null: never.
    #[schema(required = true, format = DateTime)]
    pub expires_on: Option<String>,
    /// Says the key is not shown again.
    pub message: String,
}

/// The answer to revoking tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensRevoked {
    /// Always true.
    pub success: bool,
    /// How many live tokens were revoked.
    pub revoked: u64,
}
