//! Roles, their permissions and their members.

use outpost_proto::time::iso;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::permissions::builtin_permissions;
use crate::store::roles::Role;

/// A role (`/rest/role`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    /// Its numeric id, as clients address it.
    pub id: i64,
    /// Unique; what messages show.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Permission names such as `containers:view`; a built-in role shows its fixed ones.
    pub permissions: Vec<String>,
    /// Administrator, Automation and Observer are built in: fixed name and permissions.
    pub builtin: bool,
    /// False once disabled: it then grants nothing.
    pub is_active: bool,
    /// The ids of its members.
    pub users: Vec<i64>,
    /// `?pretty`: the user names of its members, in the order of `users`.
    #[serde(rename = "_pretty_users", skip_serializing_if = "Option::is_none")]
    pub pretty_users: Option<Vec<String>>,
    /// When it was created (UTC).
    #[schema(format = DateTime)]
    pub create_time: String,
    /// When it last changed (UTC).
    #[schema(format = DateTime)]
    pub update_time: String,
}

/// A role; `pretty_users` is for the caller to fill with `?pretty`.
pub fn role(r: &Role, member_ids: &[i64]) -> RoleBody {
    let permissions: Vec<String> = if r.builtin {
        builtin_permissions(&r.name).unwrap_or_default().iter().map(|p| p.name().to_string()).collect()
    } else {
        r.permissions.clone()
    };
    RoleBody {
        id: r.id,
        name: r.name.clone(),
        description: r.description.clone(),
        permissions,
        builtin: r.builtin,
        is_active: r.is_active,
        users: member_ids.to_vec(),
        pretty_users: None,
        create_time: iso(r.created_ms),
        update_time: iso(r.updated_ms),
    }
}
